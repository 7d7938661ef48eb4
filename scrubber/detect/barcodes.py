"""Barcodes and QR codes with zxing-cpp. A wristband's Code128 usually encodes the MRN, so
every symbol zxing can locate is returned, decoded or not (``return_errors=True`` keeps
symbols whose checksum failed). Linear codes get lost when a frame is shrunk, so frames
larger than ``side`` pixels are read at full resolution (zxing shrinks for large symbols itself).
The decoded content is kept in ``text`` (memory only) and its kind in ``label``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, grow, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


# symbols without a distinctive finder pattern: kept only when they decode
_NO_FINDER = {"DataMatrix", "Aztec", "MaxiCode", "PDF417", "MicroPDF417", "DXFilmEdge"}


@dataclass(frozen=True)
class BarcodeSettings:
    side: int = 2048
    full_resolution: bool = True  # also read the full frame when it is larger than ``side``
    margin: float = 0.08  # grown around the symbol so quiet-zone bars are covered too


class Barcodes:
    name = "barcodes"
    version = "zxing-cpp/2"
    kinds = frozenset({Kind.BARCODE})
    needs_context = False
    rereads = False

    def __init__(self, settings: BarcodeSettings | None = None):
        self.settings = settings or BarcodeSettings()
        try:
            import zxingcpp
        except ImportError as err:
            raise ModelMissing("zxing-cpp is not installed: pip install zxing-cpp") from err
        self._zx = zxingcpp

    def _read(self, gray: np.ndarray, back: float, frame: Frame, **options) -> list[Detection]:
        try:
            found = self._zx.read_barcodes(np.ascontiguousarray(gray), return_errors=True, **options)
        except Exception as err:
            raise DetectorFailed(f"zxing-cpp failed ({type(err).__name__}: {err})") from err
        out = []
        for code in found:
            p = code.position
            pts = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)
            pts *= back
            box = Box(int(pts[:, 0].min()), int(pts[:, 1].min()), int(np.ceil(pts[:, 0].max())) + 1,
                      int(np.ceil(pts[:, 1].max())) + 1)
            # linear codes report a thin line through the bars: widen to a band
            if box.height < box.width * 0.2 and "QR" not in str(code.format):
                box = Box(box.x0, box.y0 - box.width // 4, box.x1, box.y1 + box.width // 4)
            elif box.width < box.height * 0.2:
                box = Box(box.x0 - box.height // 4, box.y0, box.x1 + box.height // 4, box.y1)
            box = clip(grow(box, self.settings.margin), frame.width, frame.height)
            decoded = bool(code.valid) and bool(code.text)
            fmt = str(code.format).rsplit(".", 1)[-1]
            if not decoded and fmt.replace(" ", "") in _NO_FINDER:
                continue  # zxing's error results for these formats fire on faces and textures
            out.append(
                Detection(
                    Kind.BARCODE,
                    box,
                    1.0 if decoded else 0.6,
                    self.name,
                    label=fmt,
                    text=code.text if decoded else None,
                    evidence=("decoded",) if decoded else ("undecoded",),
                )
            )
        return out

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        if not (self.settings.full_resolution and frame.scale_for(self.settings.side) < 1.0):
            gray, back = frame.gray(self.settings.side)
            return nms(self._read(gray, back, frame), 0.3)
        # a larger frame is read at full resolution only: zxing's own pyramid (try_downscale)
        # reads the large and blurred symbols a shrunk copy would, and a pass at ``side`` found
        # no symbol the full-resolution passes missed on the 20 12-MP benchmark photos (0.065 s
        # each). Linear codes are tried turned 90 degrees too (a vertical band), 2-D codes as
        # they are (their finder patterns read at any angle; turning them cost 0.2 s of 0.24 s)
        full, _ = frame.gray(max(frame.width, frame.height))
        formats = self._zx.BarcodeFormat
        found = self._read(full, 1.0, frame, formats=formats.LinearCodes)
        found += self._read(full, 1.0, frame, formats=formats.MatrixCodes, try_rotate=False)
        return nms(found, 0.3)
