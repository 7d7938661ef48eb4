"""Surfaces that carry PHI: screens, paper (charts, forms, labels, whiteboards) and wristbands.

Reading such a surface word by word is fragile (one OCR miss leaks a name), so the whole
surface is found and filled. No PyPI package ships a screen or document detector, so this is
classical geometry built on what the text and barcode detectors already found:

1. **text blocks**: text lines (OCR words grouped by line, plus lines found but unreadable)
   are linked when they are close, of similar height and aligned; barcodes join the block
   they touch. A block of at least ``min_lines`` lines holding a number (MRN, DOB, room), or
   one line beside a barcode, is a candidate; large type and a few lines without a number
   (three digits or a date: "Visiting hours 9-5" is signage) are not.
2. **surface outline**: the surface's background colour is the block's dominant colour, and a
   flood fill from points of that colour (within half of ``flood_tolerance``; the fill's
   tolerance is ``flood_tolerance``) on a smoothed copy grows to the
   surface's edge (bezel, paper edge, band edge). The outline is the convex hull of the
   filled region and the text block. A fill that leaks into a wall of the same colour (more
   than ``max_growth`` times the block) falls back to the block grown by a margin.
3. **kind**: a long narrow outline (aspect >= 3) with a barcode or small text is a wristband;
   an outline with a dark surround or light-on-dark text is a screen; a large bright outline
   a whiteboard; anything else a document.

A screen showing nothing (dark, blank, screensaver) has no text block and is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, coverage, union
from scrubber.imageio import Frame


@dataclass(frozen=True)
class SurfaceSettings:
    min_lines: int = 2  # text lines a block needs (one line is enough beside a barcode)
    signage_lines: int = 3  # up to this many lines without a number is signage, not a chart
    max_line_share: float = 0.08  # type taller than this share of the image height is signage
    link_gap: float = 2.2  # lines join a block when the vertical gap is below this many line heights
    height_ratio: float = 1.8  # ... and their heights differ by less than this factor
    flood_tolerance: int = 18
    max_growth: float = 12.0  # a flood fill larger than this many times the block leaked out
    bezel_share: float = 0.8  # a frame around the surface is added if smaller than this share of it
    margin: float = 0.6  # fallback margin around a block, in line heights
    work_side: int = 1024  # flood fill resolution


@dataclass
class _Block:
    boxes: list[Box]
    heights: list[int]
    barcodes: list[Box]
    numeric: int = 0  # lines holding a number (or unreadable)
    quads: list = field(default_factory=list)  # the lines' quadrilaterals, where the OCR gave one

    @property
    def box(self) -> Box:
        return union(self.boxes + self.barcodes)

    @property
    def line_height(self) -> float:
        return float(np.median(self.heights)) if self.heights else 10.0


class _TextLine(NamedTuple):
    box: Box
    height: int  # type height (``_type_height``)
    numeric: bool  # may hold a number
    quad: tuple[tuple[int, int], ...] | None  # the OCR's quadrilateral around the line


def _lines(found: tuple[Detection, ...], readable: float = 0.5) -> list[_TextLine]:
    """Each line once, its box, type height, whether it may hold a number, and its quad. A line the OCR also read
    turned 180 degrees comes back twice (keys (i,) and (i, 1)); the reading with the higher
    word scores gives the line's box, so a three-line sign is not counted as six lines. The
    line may hold a number when either reading shows one: Tesseract reads upside-down text
    as confident nonsense, so the higher score is sometimes the wrong way up ("MRN: 20119524"
    lost to "PCGOLTTOZ WEW"). A line nobody could read (scores below ``readable``) may hold
    digits as far as anyone knows: it counts as numeric (fail closed). Lines read as
    punctuation are left out (``_graphic``)."""
    readings: dict[tuple, list[Detection]] = {}
    for det in found:
        if det.kind is Kind.TEXT and det.line is not None:
            readings.setdefault(det.line, []).append(det)
    best: dict[int, list[Detection]] = {}
    number: dict[int, bool] = {}
    for key, dets in readings.items():
        other = best.get(key[0])
        if other is None or np.mean([d.score for d in dets]) > np.mean([d.score for d in other]):
            best[key[0]] = dets
        number[key[0]] = number.get(key[0], False) or bool(_NUMBER.search(" ".join(d.text or "" for d in dets)))
    return [_TextLine(union(d.box for d in dets), _type_height(dets),
                      number[i] or max(0.0 if "unreadable" in d.evidence else d.score for d in dets) < readable,
                      next((d.polygon for d in dets if d.polygon), None))
            for i, dets in best.items() if not _graphic(dets, readable)]


def _type_height(dets: list[Detection]) -> int:
    """A line's type height: its quadrilateral's thickness (the OCR's quads run along the
    text), or the median word height when the line has no quad. A line at 70 degrees has an
    upright box as tall as the line is long, which would pass it for signage-sized type."""
    heights = [d.box.height for d in dets]
    quad = next((d.polygon for d in dets if d.polygon and len(d.polygon) == 4), None)
    if quad is not None:
        p0, p1, p2, p3 = (np.asarray(p, np.float32) for p in quad)
        heights.append((np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)) / 2)
        return max(1, int(min(np.median(heights[:-1]), heights[-1])))
    return max(1, int(np.median(heights)))


def _graphic(dets: list[Detection], readable: float) -> bool:
    """A line read confidently as fewer than two letters or digits ("k=", "x", ">") is an
    edge or a shape the line detector took for text, not a line of a chart (a line nobody
    could read stays: it may hold anything)."""
    if max(0.0 if "unreadable" in d.evidence else d.score for d in dets) < readable:
        return False
    return sum(ch.isalnum() for d in dets for ch in d.text or "") < 2


def _weak(found: tuple[Detection, ...], readable: float = 0.5) -> set[Box]:
    """Boxes of lines from the OCR's small-type level without one word of three letters or
    digits read with confidence. That level hunts word-shaped blobs in the whole frame, and
    in doors, windows and foliage it finds such lines: a block made of them alone is no
    surface (their words are still checked one by one); a label of small type has a word
    somewhere ("740 Pine Ridge Ln")."""
    readings: dict[int, list[Detection]] = {}
    for det in found:
        if det.kind is Kind.TEXT and det.line is not None:
            readings.setdefault(det.line[0], []).append(det)
    weak = set()
    for dets in readings.values():
        if all("small-type" in d.evidence for d in dets) and not any(
                d.score >= readable and sum(ch.isalnum() for ch in d.text or "") >= 3 for d in dets):
            weak |= {union(d.box for d in dets if d.line == key) for key in {d.line for d in dets}}
    return weak


# what makes a line "numeric": a run of three digits (MRN, room, account, phone, year, BP
# 120/80) or a date; "Visiting hours 9-5" or "Huddle 8:00" on a sign is not
_NUMBER = re.compile(r"\d{3}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2}")


def _upright(box: Box, height: int) -> bool:
    """Does the line run up or down the picture (its box far taller than its type)?"""
    return box.height > 2 * box.width and box.height > 3 * height


def _linked(a: Box, ha: int, b: Box, hb: int, s: SurfaceSettings) -> bool:
    if max(ha, hb) / min(ha, hb) > s.height_ratio:
        return False
    if _upright(a, ha) and _upright(b, hb):  # lines running down the picture: the same rules, turned
        a, b = Box(a.y0, a.x0, a.y1, a.x1), Box(b.y0, b.x0, b.y1, b.x1)
    h = max(ha, hb)
    vgap = max(0, max(a.y0, b.y0) - min(a.y1, b.y1))
    hgap = max(0, max(a.x0, b.x0) - min(a.x1, b.x1))
    same_row = vgap == 0 and hgap < 6 * h  # table columns side by side
    stacked = vgap < s.link_gap * h and hgap < 4 * h  # lines of a paragraph or list
    return same_row or stacked


class Surfaces:
    name = "surfaces"
    version = "geometry/1"
    needs_context = True  # runs after the other detectors, on their text and barcode detections
    kinds = frozenset({Kind.SCREEN, Kind.DOCUMENT, Kind.WHITEBOARD, Kind.WRISTBAND})
    rereads = False

    def __init__(self, settings: SurfaceSettings | None = None):
        self.settings = settings or SurfaceSettings()

    def _blocks(self, frame: Frame, found: tuple[Detection, ...]) -> list[_Block]:
        s = self.settings
        found_lines = _lines(found)
        lines = list(dict.fromkeys((ln.box, ln.height) for ln in found_lines
                                   if ln.height <= s.max_line_share * frame.height))
        numeric = {ln.box for ln in found_lines if ln.numeric}
        quads = {ln.box: ln.quad for ln in found_lines if ln.quad}
        parent = list(range(len(lines)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                if _linked(*lines[i], *lines[j], s):
                    parent[root(i)] = root(j)
        groups: dict[int, list[tuple[Box, int]]] = {}
        for i, line in enumerate(lines):
            groups.setdefault(root(i), []).append(line)
        blocks = [_Block([b for b, _ in group], [h for _, h in group], [], sum(b in numeric for b, _ in group),
                         [quads[b] for b, _ in group if b in quads])
                  for group in groups.values()]
        for det in found:
            if det.kind is not Kind.BARCODE:
                continue
            near = [blk for blk in blocks if _touches(blk.box, det.box, 2.5 * blk.line_height)]
            if near:
                near[0].barcodes.append(det.box)
            else:
                blocks.append(_Block([], [], [det.box]))
        # signage (posters, banners) is a few lines without a number: charts, lists,
        # labels and bands carry numbers (MRN, DOB, room); a long text block counts anyway
        weak = _weak(found)
        blocks = [blk for blk in blocks if blk.barcodes or not all(b in weak for b in blk.boxes)]
        return [blk for blk in blocks if blk.barcodes and blk.boxes or len(blk.boxes) >= s.min_lines and (
                blk.numeric or len(blk.boxes) > s.signage_lines)]

    def _outline(self, frame: Frame, block: _Block) -> tuple[np.ndarray, str]:
        """Polygon (N, 2) in full-resolution pixels, and how it was found."""
        import cv2

        s = self.settings
        small, back = frame.resized(s.work_side)
        h, w = small.shape[:2]
        bb = block.box
        x0, y0 = int(bb.x0 / back), int(bb.y0 / back)
        x1, y1 = max(x0 + 1, int(bb.x1 / back)), max(y0 + 1, int(bb.y1 / back))
        smooth = frame.memo(("median5", s.work_side), lambda: cv2.medianBlur(small, 5))
        mask = np.zeros((h + 2, w + 2), np.uint8)
        # seeds: grid points inside the block's lines whose colour is their dominant colour, the
        # surface's background between and around the strokes of the text. Inside the lines'
        # quads, not the block's upright box: a label stuck on at 70 degrees leaves most of its
        # upright box to the wall, whose colour would then be the one flooded. A seed within
        # half the tolerance of that colour: a fill spans the tolerance either side of its seed's
        # own colour, and one from a text stroke's grey edge stops where the background is
        # brighter than it by more than the tolerance (a white band flooded a third of its length)
        x0, y0, x1, y1 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1), min(x1, w), min(y1, h)
        lined = np.zeros((h, w), bool)
        lined[y0:y1, x0:x1] = True
        if block.quads:
            text = np.zeros((h, w), np.uint8)
            cv2.fillPoly(text, [np.round(np.asarray(q, np.float32) / back).astype(np.int32) for q in block.quads], 1)
            lined &= text.astype(bool)
        patch = smooth[lined].astype(int) if lined.any() else smooth[y0:y1, x0:x1].reshape(-1, 3).astype(int)
        ground = np.median(patch, axis=0) if len(patch) else np.zeros(3)
        seeds = [(int(x), int(y)) for y in np.linspace(y0, y1 - 1, 9) for x in np.linspace(x0, x1 - 1, 9)
                 if (lined[int(y), int(x)] or not lined.any())
                 and np.abs(smooth[int(y), int(x)].astype(int) - ground).max() <= s.flood_tolerance // 2]
        lo = up = (s.flood_tolerance,) * 3
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
        for x, y in seeds:
            if not mask[y + 1, x + 1]:
                cv2.floodFill(smooth, mask, (int(x), int(y)), (0, 0, 0), lo, up, flags)
        region = mask[1:-1, 1:-1] > 0
        block_area = max(1, (x1 - x0) * (y1 - y0))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8))
        inside = {labels[y, x] for x, y in seeds if region[y, x]}
        keep = np.isin(labels, [i for i in inside if i != 0 and stats[i, 4] <= s.max_growth * block_area])
        how = "flood" if keep.any() else "block"
        if keep.any():
            keep, bezel = self._with_bezel(smooth, keep, s)
            how = "flood+bezel" if bezel else how
        pts = [np.argwhere(keep)[:, ::-1]] if keep.any() else []
        pts.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        if not keep.any():
            m = s.margin * block.line_height / back
            pts[-1] = np.array([[x0 - m, y0 - m], [x1 + m, y0 - m], [x1 + m, y1 + m], [x0 - m, y1 + m]])
        hull = cv2.convexHull(np.concatenate(pts).astype(np.float32))
        hull = cv2.approxPolyDP(hull, 0.01 * cv2.arcLength(hull, True), True).reshape(-1, 2)
        return hull * back, how

    @staticmethod
    def _with_bezel(smooth: np.ndarray, region: np.ndarray, s: SurfaceSettings) -> tuple[np.ndarray, bool]:
        """Add a dark uniform frame around the surface (a screen's bezel) when one surrounds it:
        flood from a ring just outside, kept only if it is dark and stays small."""
        import cv2

        h, w = region.shape
        # the text strokes are holes in the flooded background: fill them first, or the ring
        # "outside" the surface would start on the ink
        contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        solid = np.zeros((h, w), np.uint8)
        cv2.drawContours(solid, contours, -1, 1, thickness=-1)
        region = solid.astype(bool)
        ring = cv2.dilate(solid, np.ones((7, 7), np.uint8)).astype(bool) & ~region
        ys, xs = np.nonzero(ring)
        if not len(ys):
            return region, False
        mask = np.zeros((h + 2, w + 2), np.uint8)
        mask[1:-1, 1:-1][region] = 1  # the surface itself is a wall for this fill
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
        tol = (s.flood_tolerance,) * 3
        for i in np.linspace(0, len(ys) - 1, 24).astype(int):
            if not mask[ys[i] + 1, xs[i] + 1]:
                cv2.floodFill(smooth, mask, (int(xs[i]), int(ys[i])), (0, 0, 0), tol, tol, flags)
        frame_px = mask[1:-1, 1:-1] == 255
        count, labels, stats, _ = cv2.connectedComponentsWithStats(frame_px.astype(np.uint8))
        area = region.sum()
        ry, rx = np.nonzero(region)
        gy, gx = 0.25 * (ry.max() - ry.min() + 1), 0.25 * (rx.max() - rx.min() + 1)
        touching = set(labels[ring & frame_px].ravel()) - {0}
        small = [i for i in touching if stats[i, 4] <= s.bezel_share * area
                 # a frame hugs the surface: its extent stays within a quarter of the surface's size
                 and stats[i, 0] >= rx.min() - gx and stats[i, 1] >= ry.min() - gy
                 and stats[i, 0] + stats[i, 2] <= rx.max() + gx and stats[i, 1] + stats[i, 3] <= ry.max() + gy
                 and smooth[labels == i].mean() < 70]  # and it is dark: a bezel, not the table top
        return (region | np.isin(labels, small), True) if small else (region, False)

    def _kind(self, frame: Frame, poly: np.ndarray, block: _Block, how: str) -> Kind:
        import cv2

        (_, _), (rw, rh), _ = cv2.minAreaRect(poly.astype(np.float32))
        aspect = max(rw, rh) / max(1.0, min(rw, rh))
        if aspect >= 3.0 and (block.barcodes or block.line_height < 0.05 * max(rw, rh)):
            return Kind.WRISTBAND
        gray, back = frame.gray(self.settings.work_side)
        inner = np.zeros(gray.shape, np.uint8)
        cv2.fillPoly(inner, [np.round(poly / back).astype(np.int32)], 1)
        ring = cv2.dilate(inner, np.ones((15, 15), np.uint8)) - inner
        inside_level = float(np.median(gray[inner > 0])) if inner.any() else 128.0
        ring_level = float(np.median(gray[ring > 0])) if ring.any() else 128.0
        if how.endswith("bezel") or ring_level < 60 or inside_level < 90:
            return Kind.SCREEN  # a dark bezel around it, or light text on a dark display
        if rw * rh > 0.2 * frame.width * frame.height and inside_level > 200 and np.ptp(poly[:, 0]) > np.ptp(poly[:, 1]):
            return Kind.WHITEBOARD  # large, bright, landscape: a board, not a sheet of paper
        return Kind.DOCUMENT

    def detect(self, frame: Frame, found: tuple[Detection, ...] = ()) -> tuple[Detection, ...]:
        out = []
        for block in self._blocks(frame, found):
            poly, how = self._outline(frame, block)
            poly[:, 0] = poly[:, 0].clip(0, frame.width - 1)
            poly[:, 1] = poly[:, 1].clip(0, frame.height - 1)
            kind = self._kind(frame, poly, block, how)
            box = clip(Box(int(poly[:, 0].min()), int(poly[:, 1].min()), int(np.ceil(poly[:, 0].max())) + 1,
                           int(np.ceil(poly[:, 1].max())) + 1), frame.width, frame.height)
            polygon = tuple((int(round(x)), int(round(y))) for x, y in poly)
            evidence = (f"lines:{len(block.boxes)}", f"barcodes:{len(block.barcodes)}", f"outline:{how}")
            out.append(Detection(kind, box, 0.8 if how == "flood" else 0.6, self.name, polygon=polygon,
                                 evidence=evidence))
        # a block inside another surface (a caption on a screen) is part of that surface
        kept: list[Detection] = []
        for d in sorted(out, key=lambda d: -d.box.area):  # largest first; equal outlines kept once
            if not any(coverage(d.box, k.box) > 0.8 for k in kept):
                kept.append(d)
        return tuple(kept)


def _touches(a: Box, b: Box, reach: float) -> bool:
    gx = max(0, max(a.x0, b.x0) - min(a.x1, b.x1))
    gy = max(0, max(a.y0, b.y0) - min(a.y1, b.y1))
    return gx <= reach and gy <= reach
