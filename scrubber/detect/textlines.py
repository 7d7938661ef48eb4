"""PP-OCR's text-line detector (DB), run directly with onnxruntime.

The model, ``models/ppocr_v3_det.onnx`` (2.4 MB), is PaddleOCR's PP-OCRv3 mobile detector
as converted to ONNX by RapidOCR and shipped in the ``rapidocr_onnxruntime`` 1.2.3 wheel
(both Apache-2.0; ``models/NOTICE``). It ships inside this package: nothing is downloaded.
It replaced the PP-OCRv6 "small" detector of the ``rapidocr`` 3 wheel: half the time (0.40 s
against 0.86 s for a 12-MP photo at 1600 px) and, on the surface benchmark, the same or
better recall (``bench/README.md``). Going through ``rapidocr``'s own API cost 0.8 s of
imports at every start (OmegaConf, requests, shapely) for a detector that is one ONNX call
plus the standard DB post-processing, written out here:

1. the picture (BGR, as PP-OCR was trained) is resized to a multiple of 32 on each side and
   normalised to [-1, 1];
2. the probability map is thresholded (``thresh``) and dilated 2x2; each connected region's
   minimum-area rectangle whose mean probability reaches ``box_thresh`` is a line;
3. the rectangle is grown by ``area * unclip_ratio / perimeter`` on every side (PP-OCR's
   "unclip": DB predicts shrunken text kernels) and scaled back to the input's pixels.

Quadrilaterals come back clockwise from the top-left corner, with the region's score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scrubber.detect.onnx_session import session
from scrubber.errors import DetectorFailed, ModelMissing


@dataclass(frozen=True)
class LineSettings:
    thresh: float = 0.3  # probability a pixel needs to belong to a text kernel
    box_thresh: float = 0.5  # mean probability a line needs
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_side: float = 3.0  # px on the model's input


MODEL = Path(__file__).parent / "models" / "ppocr_v3_det.onnx"


def model_path() -> Path:
    if not MODEL.is_file():
        raise ModelMissing(f"the text line model is missing from the installation: {MODEL}")
    return MODEL


class LineDetector:
    def __init__(self, settings: LineSettings | None = None, path: Path | None = None):
        self.settings = settings or LineSettings()
        self.path = path or model_path()
        self._session = session(self.path, f"text line model {self.path.name}")
        self._input = self._session.get_inputs()[0].name

    def __call__(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Lines in ``rgb`` (H x W x 3 uint8): [(quad (4, 2) float32 in its pixels, score)]."""
        import cv2

        h, w = rgb.shape[:2]
        rh, rw = max(32, int(round(h / 32) * 32)), max(32, int(round(w / 32) * 32))
        img = rgb[:, :, ::-1]
        if (rh, rw) != (h, w):
            img = cv2.resize(img, (rw, rh))
        blob = (img.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)).transpose(2, 0, 1)[None]
        try:
            prob = self._session.run(None, {self._input: np.ascontiguousarray(blob)})[0][0, 0]
        except Exception as err:
            raise DetectorFailed(f"text line detector failed ({type(err).__name__}: {err})") from err
        return self._lines(prob, w / rw, h / rh)

    def _lines(self, prob: np.ndarray, sx: float, sy: float) -> list[tuple[np.ndarray, float]]:
        import cv2

        s = self.settings
        mask = cv2.dilate((prob > s.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        height, width = prob.shape
        out = []
        for contour in contours[: s.max_candidates]:
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
            if min(rw, rh) < s.min_side:
                continue
            score = _mean_inside(prob, cv2.boxPoints(((cx, cy), (rw, rh), angle)))
            if score < s.box_thresh:
                continue
            grow = rw * rh * s.unclip_ratio / (2 * (rw + rh))
            if min(rw, rh) + 2 * grow < s.min_side + 2:
                continue
            quad = _clockwise(cv2.boxPoints(((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)))
            quad[:, 0] = np.clip(np.round(quad[:, 0] * sx), 0, width * sx)
            quad[:, 1] = np.clip(np.round(quad[:, 1] * sy), 0, height * sy)
            if np.linalg.norm(quad[0] - quad[1]) <= 3 or np.linalg.norm(quad[0] - quad[3]) <= 3:
                continue
            out.append((quad.astype(np.float32), float(score)))
        return _reading_order(out)


def _mean_inside(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean probability inside ``quad`` (DB's "fast" box score)."""
    import cv2

    h, w = prob.shape
    x0, x1 = int(np.clip(np.floor(quad[:, 0].min()), 0, w - 1)), int(np.clip(np.ceil(quad[:, 0].max()), 0, w - 1))
    y0, y1 = int(np.clip(np.floor(quad[:, 1].min()), 0, h - 1)), int(np.clip(np.ceil(quad[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(quad - np.float32([x0, y0])).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def _reading_order(lines: list[tuple[np.ndarray, float]], row: float = 10.0) -> list[tuple[np.ndarray, float]]:
    """Top to bottom; left to right among lines whose tops are within ``row`` px of the last."""
    lines = sorted(lines, key=lambda ln: float(ln[0][0, 1]))
    rows, current, last = [], -1, None
    for quad, _ in lines:
        y = float(quad[0, 1])
        current += last is None or y - last >= row
        rows.append(current)
        last = y
    order = sorted(range(len(lines)), key=lambda i: (rows[i], float(lines[i][0][0, 0])))
    return [lines[i] for i in order]


def _clockwise(pts: np.ndarray) -> np.ndarray:
    """Order four corners top-left, top-right, bottom-right, bottom-left."""
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.stack([tl, tr, br, bl]).astype(np.float32)
