"""Short test clips with their ground truth per frame: a face (scikit-image's astronaut)
moving across a room, a label with an MRN, optionally a sound track, a GPS location and a
display rotation. ``tests/test_video.py`` scans them; ``bench/video.py`` times and judges them.
Every name and number is invented."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

LABEL = "MRN 00482913"


class _Writer:
    """A QuickTime file of H.264 frames, as phones write them (GPS in a ``©xyz`` atom)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, metadata: dict | None = None,
                 rotation: int = 0, audio: bool = False):
        import av

        self.av, self.fps, self.frames = av, fps, 0
        self.out = av.open(str(path), "w", format="mov")
        self.out.metadata.update(metadata or {})
        self.video = self.out.add_stream("libx264", rate=fps)
        self.video.width, self.video.height, self.video.pix_fmt = size[0], size[1], "yuv420p"
        if rotation:
            self.video.set_display_rotation(rotation)
        self.sound = self.out.add_stream("aac", rate=44100) if audio else None

    def add(self, pixels: np.ndarray) -> None:
        frame = self.av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = self.frames
        self.frames += 1
        for packet in self.video.encode(frame):
            self.out.mux(packet)

    def close(self) -> None:
        """Flush the video, add silence as long as it when there is sound, and close the file."""
        for packet in self.video.encode():
            self.out.mux(packet)
        if self.sound is not None:
            for k in range(0, int(44100 * self.frames / self.fps), 1024):
                chunk = self.av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                                        layout="mono")
                chunk.sample_rate, chunk.pts = 44100, k
                for packet in self.sound.encode(chunk):
                    self.out.mux(packet)
            for packet in self.sound.encode():
                self.out.mux(packet)
        self.out.close()


def moving_face(path: Path, frames: int = 60, size: tuple[int, int] = (640, 480), fps: int = 30,
                face_px: int = 180, label: bool = True, audio: bool = True, location: bool = True,
                rotation: int = 0) -> list[dict]:
    """Write the clip; returns per frame ``{"face": box, "label": box}`` in the frame's own
    (stored, not rotated) pixels."""
    import cv2
    import skimage.data

    width, height = size
    face = cv2.resize(skimage.data.astronaut()[0:260, 100:360], (face_px, face_px), interpolation=cv2.INTER_AREA)
    metadata = {"location": "+37.7749-122.4194/", "title": "Ward tour",
                "creation_time": "2026-11-30T10:00:00Z"} if location else {}
    writer = _Writer(path, size, fps, metadata, rotation, audio)
    truth = []
    step = (width - face_px - 40) / max(1, frames - 1)
    for i in range(frames):
        px = np.full((height, width, 3), 150, np.uint8)
        px[:, :, 2] = 170
        x, y = int(20 + i * step), height // 2 - face_px // 2 - 40
        px[y : y + face_px, x : x + face_px] = face
        entry = {"face": [x, y, x + face_px, y + face_px]}
        if label:
            scale = height / 480
            org = (int(30 * scale), int(height - 40 * scale))
            cv2.putText(px, LABEL, org, cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, (0, 0, 0), max(2, int(3 * scale)))
            entry["label"] = [org[0], int(org[1] - 40 * scale), int(org[0] + 330 * scale), int(org[1] + 10 * scale)]
        truth.append(entry)
        writer.add(px)
    writer.close()
    return truth


def frames_of(path: Path) -> list[np.ndarray]:
    """Every frame of a clip as RGB, as stored (no rotation applied)."""
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def rate_of(path: Path) -> Fraction:
    import av

    with av.open(str(path)) as c:
        return Fraction(c.streams.video[0].average_rate)


ROWS = ("DOE, JANE      MRN 00482913", "OKAFOR, NGOZI  MRN 00571226", "LINDQVIST, KAREN  MRN 00390415")


def _room(size: tuple[int, int], wall=(168, 160, 150), floor=(120, 110, 100), floor_at: float = 0.72) -> np.ndarray:
    """An empty room: a wall, and the floor from ``floor_at`` of the height down."""
    width, height = size
    px = np.full((height, width, 3), wall, np.uint8)
    px[int(height * floor_at):] = floor
    return px


def panning_monitor(path: Path, frames: int = 90, size: tuple[int, int] = (1280, 720), fps: int = 30) -> list[dict]:
    """The camera pans across a ward: a monitor showing a patient list slides through the frame
    from right to left. Returns per frame ``{"rows": [(text, box), ...]}`` for the rows in view."""
    import cv2

    width, height = size
    scale = height / 720
    screen_w, screen_h = int(620 * scale), int(330 * scale)
    writer = _Writer(path, size, fps)
    truth = []
    travel = width + screen_w
    for i in range(frames):
        px = _room(size, (170, 160, 140), (110, 100, 90), 0.7)
        x = int(width - i * travel / max(1, frames - 1) * 0.8)
        y = int(120 * scale)
        cv2.rectangle(px, (x - 12, y - 12), (x + screen_w + 12, y + screen_h + 12), (30, 30, 30), -1)
        cv2.rectangle(px, (x, y), (x + screen_w, y + screen_h), (235, 240, 245), -1)
        rows = []
        for k, text in enumerate(ROWS):
            org = (x + int(20 * scale), y + int((70 + 90 * k) * scale))
            cv2.putText(px, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (20, 20, 20), max(1, int(2 * scale)))
            box = [org[0], org[1] - int(30 * scale), org[0] + int(560 * scale), org[1] + int(10 * scale)]
            if box[0] >= 0 and box[2] <= width:
                rows.append((text, box))
        truth.append({"rows": rows})
        writer.add(px)
    writer.close()
    return truth


BAND = ("DOE, JANE", "MRN 00482913", "DOB 07/22/1984")


def _band(scale: float) -> np.ndarray:
    """A white wristband strip with a name, MRN, DOB and a Code 128 symbol of the MRN."""
    import cv2
    import zxingcpp

    w, h = int(520 * scale), int(120 * scale)
    band = np.full((h, w, 3), 250, np.uint8)
    for k, text in enumerate(BAND):
        cv2.putText(band, text, (int(12 * scale), int((32 + 34 * k) * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.85 * scale, (10, 10, 10), max(1, int(2 * scale)))
    code = np.asarray(zxingcpp.create_barcode("00482913", zxingcpp.BarcodeFormat.Code128).to_image(scale=2))
    code = cv2.resize(code, (int(200 * scale), int(90 * scale)), interpolation=cv2.INTER_NEAREST)
    band[int(15 * scale):int(15 * scale) + code.shape[0], w - code.shape[1] - int(10 * scale):w - int(10 * scale)] = \
        code[:, :, None] if code.ndim == 2 else code[:, :, :3]
    return band


def _paste_turned(px: np.ndarray, patch: np.ndarray, centre: tuple[float, float], angle: float,
                  squeeze: float = 1.0) -> list[int]:
    """Paste ``patch`` onto ``px`` turned by ``angle`` degrees and narrowed to ``squeeze`` of its
    width (a label turning away) about ``centre``; returns the box it covers."""
    import cv2

    h, w = patch.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 0] *= squeeze
    cx, cy = m @ np.array([w / 2, h / 2, 1.0])  # where the patch's centre lands; moved onto ``centre``
    m[:, 2] += (centre[0] - cx, centre[1] - cy)
    height, width = px.shape[:2]
    warped = cv2.warpAffine(patch, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (width, height), flags=cv2.INTER_NEAREST)
    px[mask > 0] = warped[mask > 0]
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else []


def moving_band(path: Path, frames: int = 90, size: tuple[int, int] = (1280, 720), fps: int = 30) -> list[dict]:
    """A wristband on an arm that swings across the frame, turning from -35 to 35 degrees.
    Returns per frame ``{"band": box, "angle": degrees}``."""
    import cv2

    width, height = size
    scale = height / 720
    band = _band(scale)
    writer = _Writer(path, size, fps)
    truth = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        px = _room(size)
        cx, cy = width * (0.25 + 0.5 * t), height * (0.45 + 0.1 * np.sin(np.pi * t))
        cv2.line(px, (int(cx - 420 * scale), int(cy + 160 * scale)), (int(cx + 60 * scale), int(cy)),
                 (150, 120, 100), int(110 * scale))  # the forearm under the band
        angle = -35 + 70 * t
        truth.append({"band": _paste_turned(px, band, (cx, cy), angle), "angle": angle})
        writer.add(px)
    writer.close()
    return truth


def faces_passing(path: Path, frames: int = 90, size: tuple[int, int] = (1280, 720), fps: int = 30,
                  face_px: int = 200) -> list[dict]:
    """Two faces walk through: one enters from the left edge and leaves at the right, the other
    comes the other way, each cut by the frame's edges as it enters and leaves. Returns per
    frame ``{"faces": [box, ...], "face_px": face_px}`` (the visible part of each face)."""
    import cv2
    import skimage.data
    from matplotlib import cbook
    from PIL import Image

    width, height = size
    one = cv2.resize(skimage.data.astronaut()[0:260, 100:360], (face_px, face_px), interpolation=cv2.INTER_AREA)
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        two = cv2.resize(np.asarray(im.convert("RGB"))[40:380, 80:420], (face_px, face_px), interpolation=cv2.INTER_AREA)
    writer = _Writer(path, size, fps)
    truth = []
    travel = width + face_px
    for i in range(frames):
        px = _room(size)
        boxes = []
        for face, x, y in ((one, int(-face_px + i * travel / max(1, frames - 1)), height // 5),
                           (two, int(width - i * travel / max(1, frames - 1)), height // 2)):
            x0, x1 = max(0, x), min(width, x + face_px)
            if x1 - x0 >= face_px // 5:  # a fifth of a face or more is in view
                px[y:y + face_px, x0:x1] = face[:, x0 - x:x1 - x]
                boxes.append([x0, y, x1, y + face_px])
        truth.append({"faces": boxes, "face_px": face_px})
        writer.add(px)
    writer.close()
    return truth


def turning_label(path: Path, frames: int = 90, size: tuple[int, int] = (1280, 720), fps: int = 30) -> list[dict]:
    """A specimen label (a name, an MRN, a date of birth) on a tube turning about its axis: seen
    face on, then narrowing to a sliver and back. Returns per frame ``{"label": box, "squeeze": w}``."""
    import cv2

    width, height = size
    scale = height / 720
    label = np.full((int(150 * scale), int(460 * scale), 3), 245, np.uint8)
    for k, text in enumerate(BAND):
        cv2.putText(label, text, (int(14 * scale), int((40 + 42 * k) * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    1.0 * scale, (15, 15, 15), max(1, int(2 * scale)))
    writer = _Writer(path, size, fps)
    truth = []
    for i in range(frames):
        px = _room(size)
        squeeze = max(0.1, abs(np.cos(np.pi * i / max(1, frames - 1))))
        box = _paste_turned(px, label, (width / 2, height / 2), 0.0, squeeze)
        truth.append({"label": box, "squeeze": round(float(squeeze), 3)})
        writer.add(px)
    writer.close()
    return truth
