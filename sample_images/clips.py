"""Short test clips with their ground truth per frame: a face (scikit-image's astronaut)
moving across a room, a label with an MRN, optionally a sound track, a GPS location and a
display rotation. ``tests/test_video.py`` scans them; ``bench/video.py`` times and judges them.
Every name and number is invented."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

LABEL = "MRN 00482913"


def moving_face(path: Path, frames: int = 60, size: tuple[int, int] = (640, 480), fps: int = 30,
                face_px: int = 180, label: bool = True, audio: bool = True, location: bool = True,
                rotation: int = 0) -> list[dict]:
    """Write the clip; returns per frame ``{"face": box, "label": box}`` in the frame's own
    (stored, not rotated) pixels."""
    import av
    import cv2
    import skimage.data

    width, height = size
    face = cv2.resize(skimage.data.astronaut()[0:260, 100:360], (face_px, face_px), interpolation=cv2.INTER_AREA)
    out = av.open(str(path), "w", format="mov")  # as phones write them: QuickTime, GPS in a ©xyz atom
    if location:
        out.metadata["location"] = "+37.7749-122.4194/"
        out.metadata["title"] = "Ward tour"
        out.metadata["creation_time"] = "2026-11-30T10:00:00Z"
    video = out.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    if rotation:
        video.set_display_rotation(rotation)
    sound = out.add_stream("aac", rate=44100) if audio else None
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
        frame = av.VideoFrame.from_ndarray(px, format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    if sound is not None:
        samples = int(44100 * frames / fps)
        for k in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, k
            for packet in sound.encode(chunk):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    out.close()
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
