"""The re-check of a safe copy before it is written: whatever the policy would still act on
in the decoded output is a residual, and a residual blocks the photo.

``verify`` is called by ``Scrubber.process`` with the decoded bytes it is about to return;
see its docstring for what is checked where.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, grow, iou, merge_overlapping, shift
from scrubber.errors import DetectorFailed
from scrubber.imageio import Frame, shrink
from scrubber.phi import registry as identifiers
from scrubber.policy import Action, Region, decide

if TYPE_CHECKING:
    from scrubber.pipeline import Scrubber

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Residual:
    """What the re-check of a safe copy found: ``reasons`` (empty: the copy is safe) and the
    ``found`` detections behind them that another redaction round can cover; ``repairable``
    is False when something else is wrong (a fill that is not solid, a detector error)."""

    reasons: tuple[str, ...] = ()
    found: tuple[Detection, ...] = ()
    repairable: bool = True


def verify(scrubber: "Scrubber", pixels: np.ndarray, regions: tuple[Region, ...], timings: dict[str, float],
           kept_faces: tuple[Detection, ...] = (), detections: tuple[Detection, ...] = (),
           original: np.ndarray | None = None) -> Residual:
    """Re-check the decoded safe copy; whatever the policy would still act on is a residual.

    1. Every filled region must be solid fill colour in the decoded pixels (a redactor that
       painted nothing, or the wrong place, fails here whatever any detector thinks).
    2. Where pixels changed, the question is asked again (``verify_scope = "regions"``).
       Outside the redactions the safe copy holds the pixels the first pass judged.

       * Faces: the face detectors run on crops around every redacted face, grown so a
         half-covered face is seen whole, each resized so the face is the size the
         detectors find best (``_face_crops``), packed side by side into one small canvas:
         one call per detector, and no small-face level to pay for; no turned passes
         either unless the first pass found a face turned (``Frame.upright``).
       * Text: every text line the first pass found that a redaction touches, and that
         does not lie wholly inside one fill (proven solid in step 1), is read
         again from the safe copy at the same quadrilateral (one Tesseract call, see
         ``TesseractText.reread``) and the recognizers run on what is still readable: a
         fill that missed part of an MRN leaves a readable MRN. Lines that cannot be read
         any more are what redaction is for, so "unreadable" is no residual here.
       * Barcodes: zxing runs on crops around the filled barcodes, packed at full
         resolution into a canvas as wide as the photo.

       ``"image"`` re-runs every detector on the whole safe copy instead.

    A face detector still sees a head-shaped blob where a face was destroyed: a face whose
    centre lies in a region we blurred counts only if the detector is sure of it
    (``policy.verify_face_score``). A face found overlapping a blur but centred outside it
    (the blurred head and the shoulders below, seen as one face) is judged against the
    ``original`` pixels: only if the face detectors find a face at that place there, one the
    first pass did not redact, is it a residual. Anything else found is a residual.
    """
    unfilled = _unfilled(pixels, regions, scrubber.fill.color)
    reasons = [f"verify:residual:unfilled:{i}" for i in unfilled]
    acted = {k for k, a in scrubber.policy.actions.items() if a is not Action.KEEP}
    height, width = pixels.shape[:2]
    whole = scrubber.policy.verify_scope == "image"
    groups = [(tuple(r for r in regions if r.kind is Kind.FACE), {Kind.FACE} & acted),
              (tuple(r for r in regions if r.kind is Kind.BARCODE), {Kind.BARCODE} & acted)]
    if whole:
        groups = [(regions, acted | {Kind.TEXT})]
    found: list[Detection] = []
    errors: list[str] = []
    for group, kinds in groups:
        if not kinds:
            continue
        if whole or Kind.FACE not in kinds:
            areas = [(a, 1.0) for a in _verify_areas(group, width, height, whole)]
            canvas_width = width
        else:  # each face crop scaled so the face is ~face_px tall: small canvas, one pass
            areas = _face_crops(group, width, height)
            canvas_width = _face_canvas_width(areas)
        if not areas:
            continue
        canvas, placed = _pack(pixels, areas, canvas_width)
        # crops of faces the first pass found upright hold upright faces: no turned passes
        # (a turned face beside one would have been found turned and redacted itself)
        upright = not whole and Kind.FACE in kinds and not any(
            d.kind is Kind.FACE and d.evidence[:1] in (("rot90",), ("rot270",)) for d in detections)
        dets, errs = scrubber.find(Frame(canvas, upright=upright), timings, kinds=kinds, prefix="verify:")
        found += [d for d in (_unpack(d, placed) for d in dets) if d is not None]
        errors += errs
    if not whole:
        dets, errs = reread(scrubber, Frame(pixels), regions, detections, timings)
        found += dets
        errors += errs
    blurred = [r.box for r in regions if r.action is Action.BLUR]

    def destroyed(det: Detection) -> bool:
        return _centred_in(det.box, blurred) and det.score < scrubber.policy.verify_face_score

    found = [d for d in found if not (d.kind is Kind.FACE and (
        destroyed(d) or any(iou(d.box, k.box) > 0.3 for k in kept_faces)))]
    if original is not None:
        found = _not_our_blur(scrubber, original, found, blurred, detections, timings)
    residual = decide(tuple(found), scrubber.policy, width, height, tuple(dict.fromkeys(errors)))
    reasons += [f"verify:residual:{r.split(':', 1)[1]}" for r in residual.reasons if ":" in r]
    reasons += [f"verify:{e}" for e in dict.fromkeys(errors)]
    # what another round can cover: the found detections the policy would redact
    acted = tuple(d for d in found if decide((d,), scrubber.policy, width, height).regions)
    return Residual(tuple(dict.fromkeys(reasons)), acted, not unfilled and not errors and not any(
        r.startswith("block:") or r.startswith("surface-too-large") for r in residual.reasons))


def _not_our_blur(scrubber: "Scrubber", original: np.ndarray, found: list[Detection], blurred: list[Box],
                  detections: tuple[Detection, ...], timings: dict[str, float]) -> list[Detection]:
    """Drop the faces found overlapping a blur we made, centred outside it, that the original
    does not show at that place (a face the first pass did not redact): they are the blur
    seen as a face, with the shoulders below it."""
    first = [d.box for d in detections if d.kind is Kind.FACE]
    # those centred in a blur the detector's score decides (``destroyed`` in ``verify``)
    doubtful = [d for d in found if d.kind is Kind.FACE and any(_touch(d.box, b) for b in blurred)
                and not _centred_in(d.box, blurred)]
    if not doubtful:
        return found
    height, width = original.shape[:2]
    # each crop scaled so the face in question is the size the detectors find best, as
    # ``_face_crops`` does: one small canvas, upright
    areas = [(clip(grow(d.box, 0.5), width, height), _face_scale(d.box)) for d in doubtful]
    canvas, placed = _pack(original, areas, _face_canvas_width(areas))
    seen, _ = scrubber.find(Frame(canvas, upright=True), timings, kinds={Kind.FACE}, prefix="verify:original:")
    there = [u for u in (_unpack(d, placed) for d in seen) if u is not None
             and u.score >= scrubber.policy.face_threshold and not any(iou(u.box, b) > 0.3 for b in first)]
    return [d for d in found if d not in doubtful or any(iou(d.box, u.box) > 0.3 for u in there)]


def reread(scrubber: "Scrubber", frame: Frame, regions: tuple[Region, ...], detections: tuple[Detection, ...],
           timings: dict[str, float]) -> tuple[list[Detection], list[str]]:
    """Read again the first pass's text lines that a non-face redaction touches; return
    the identifiers still readable (and detector errors)."""
    reader = next((d for d in scrubber.detectors if d.rereads), None)
    touched = [r.box for r in regions if r.kind is not Kind.FACE]
    if reader is None or not touched:
        return [], []
    quads = {d.polygon for d in detections if d.kind is Kind.TEXT and d.polygon
             and any(_touch(d.box, b) for b in touched)}
    # a line lying wholly inside one fill (a screen's, a chart's) is under solid colour,
    # which ``_unfilled`` has just proven: nothing there can be read again
    fills = [r for r in regions if r.action is Action.FILL]
    quads = {q for q in quads if not any(_covers(r, q) for r in fills)}
    if not quads:
        return [], []
    t = time.perf_counter()
    try:
        words = tuple(w for w in reader.reread(frame, sorted(quads)) if "unreadable" not in w.evidence)
        found = list(identifiers.recognize(words, scrubber.recognizers, scrubber.analyzer)) if words else []
        errors: list[str] = []
    except DetectorFailed as err:
        found, errors = [], [err.tag if err.tag != "detector-error" else f"detector-error:{reader.name}"]
        log.warning("%s", err)
    except Exception as err:  # fail closed
        found, errors = [], [f"detector-error:{reader.name}"]
        log.warning("%s re-read failed: %s: %s", reader.name, type(err).__name__, err)
    timings[f"verify:{reader.name}"] = time.perf_counter() - t
    return found, errors


def _touch(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _covers(region: Region, quad: tuple[tuple[int, int], ...]) -> bool:
    """Does the fill ``region`` hold every corner of ``quad`` (so all of the convex quad)?"""
    import cv2

    b = region.box
    if not all(b.x0 <= x < b.x1 and b.y0 <= y < b.y1 for x, y in quad):
        return False
    if not region.polygon:
        return True
    outline = np.asarray(region.polygon, np.float32).reshape(-1, 1, 2)
    return all(cv2.pointPolygonTest(outline, (float(x), float(y)), False) >= 0 for x, y in quad)


def _unfilled(pixels: np.ndarray, regions: tuple[Region, ...], color: tuple[int, int, int],
              tolerance: int = 40, share: float = 0.01) -> list[int]:
    """Indexes of fill regions that are not solid ``color`` in ``pixels`` (decoded output).
    The outline is eroded a few pixels first: JPEG rings at the edge of a fill."""
    import cv2

    bad = []
    for index, region in enumerate(regions):
        if region.action is not Action.FILL:
            continue
        b = region.box
        mask = np.zeros((b.height + 2, b.width + 2), np.uint8)
        if region.polygon:
            pts = np.asarray(region.polygon, np.int32) - np.int32([b.x0 - 1, b.y0 - 1])
            cv2.fillPoly(mask, [pts], 1)
        else:
            mask[1:-1, 1:-1] = 1
        mask = cv2.erode(mask, np.ones((7, 7), np.uint8))[1:-1, 1:-1]
        crop = np.ascontiguousarray(pixels[b.y0 : b.y1, b.x0 : b.x1])
        mask = np.ascontiguousarray(mask[: crop.shape[0], : crop.shape[1]])
        inside = cv2.countNonZero(mask)
        solid = cv2.inRange(crop, np.clip(np.int32(color) - tolerance, 0, 255).astype(np.float64),
                            np.clip(np.int32(color) + tolerance, 0, 255).astype(np.float64))
        off = inside - cv2.countNonZero(cv2.bitwise_and(solid, solid, mask=mask))
        if inside and off > share * inside:
            bad.append(index)
    return bad


def _verify_areas(regions: tuple[Region, ...], width: int, height: int, whole: bool,
                  large: float = 0.04, whole_above: float = 0.5) -> list[Box]:
    """Crops the detectors re-run on: blurred regions and fills smaller than ``large`` of the
    image, grown by a margin, overlapping crops merged; the whole image when they would cover
    more than ``whole_above`` of it (one pass is cheaper than many overlapping ones)."""
    full = Box(0, 0, width, height)
    if whole:
        return [full]
    crops = []
    for r in regions:
        if r.action is Action.FILL and r.box.area > large * width * height:
            continue
        margin = max(24, int(0.6 * min(r.box.width, r.box.height)))
        crops.append(clip(grow(r.box, pixels=margin), width, height))
    crops = [c for c in merge_overlapping(crops) if c.area]
    if sum(c.area for c in crops) > whole_above * full.area:
        return [full]
    return crops


FACE_PX = 112  # face height the re-check's crops are scaled to: the size YuNet and HOG find faces best at


def _face_scale(face: Box, face_px: int = FACE_PX) -> float:
    """The factor that makes ``face`` ``face_px`` tall (within 0.05-3)."""
    return min(3.0, max(0.05, face_px / max(1, face.height)))


def _centred_in(box: Box, areas: list[Box]) -> bool:
    """Does ``box``'s centre lie in one of ``areas``?"""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return any(a.x0 <= cx <= a.x1 and a.y0 <= cy <= a.y1 for a in areas)


def _face_canvas_width(areas: list[tuple[Box, float]]) -> int:
    """Width of the canvas the scaled face crops ``areas`` are packed into: about square, and
    no wider than 960 px (YuNet's whole pass, so it shrinks nothing) unless a crop is: the
    detectors' cost is the canvas's area, and a 960-px-wide shelf holding one face crop was
    three quarters grey."""
    sizes = [(round(a.width * k), round(a.height * k)) for a, k in areas]
    return max([min(960, int(1.2 * sum(w * h for w, h in sizes) ** 0.5))] + [w for w, _ in sizes])


def _face_crops(regions: tuple[Region, ...], width: int, height: int,
                face_px: int = FACE_PX) -> list[tuple[Box, float]]:
    """Per redacted face: the crop the face detectors re-run on (grown so a half-covered face
    is seen whole) and the factor that makes the redacted box ``face_px`` tall, the size
    YuNet and HOG find faces best at, whatever the face's size in the photo."""
    out = []
    for r in regions:
        margin = max(24, int(0.6 * min(r.box.width, r.box.height)))
        crop = clip(grow(r.box, pixels=margin), width, height)
        if crop.area:
            out.append((crop, _face_scale(r.box, face_px)))
    return out


Placed = tuple[Box, int, int, float]  # area of the photo, its place (x, y) on the canvas, its scale


def _pack(pixels: np.ndarray, areas: list[tuple[Box, float]], width: int,
          gap: int = 32) -> tuple[np.ndarray, list[Placed]]:
    """Shelf-pack the ``areas`` of ``pixels`` (each resized by its factor) into one grey
    canvas ``width`` wide. Returns the canvas and where each area went; the photo itself when
    the canvas would be as large."""
    import cv2

    height = pixels.shape[0]
    full = Box(0, 0, pixels.shape[1], height)
    if any(a == full and k == 1.0 for a, k in areas):
        return pixels, [(full, 0, 0, 1.0)]
    placed, x, y, shelf = [], 0, 0, 0
    for area, k in sorted(areas, key=lambda a: -a[0].height * a[1]):
        w, h = max(1, round(area.width * k)), max(1, round(area.height * k))
        if x and x + w > width:
            x, y, shelf = 0, y + shelf + gap, 0
        placed.append((area, x, y, k))
        x, shelf = x + w + gap, max(shelf, h)
    total = y + shelf
    if total >= height and width >= pixels.shape[1] and all(k == 1.0 for _, k in areas):
        return pixels, [(full, 0, 0, 1.0)]
    canvas = np.full((max(64, total), width, 3), 128, np.uint8)
    for area, px, py, k in placed:
        crop = pixels[area.y0 : area.y1, area.x0 : area.x1]
        if k != 1.0:
            size = (max(1, round(area.width * k)), max(1, round(area.height * k)))
            crop = shrink(crop, size) if k < 1 else cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
        canvas[py : py + crop.shape[0], px : px + crop.shape[1]] = crop
    return canvas, placed


def _unpack(det: Detection, placed: list[Placed]) -> Detection | None:
    """``det`` found on the packed canvas, in the photo's pixels (None on the grey between)."""
    cx, cy = (det.box.x0 + det.box.x1) / 2, (det.box.y0 + det.box.y1) / 2
    for area, px, py, k in placed:
        if px <= cx < px + area.width * k and py <= cy < py + area.height * k:
            if k == 1.0:
                moved = shift(det, area.x0 - px, area.y0 - py)
            else:
                b = det.box
                moved = replace(det, polygon=None, box=Box(
                    int(area.x0 + (b.x0 - px) / k), int(area.y0 + (b.y0 - py) / k),
                    int(np.ceil(area.x0 + (b.x1 - px) / k)), int(np.ceil(area.y0 + (b.y1 - py) / k))))
            b = moved.box
            x0, y0 = max(b.x0, area.x0), max(b.y0, area.y0)
            return replace(moved, box=Box(x0, y0, max(x0, min(b.x1, area.x1)), max(y0, min(b.y1, area.y1))))
    return None
