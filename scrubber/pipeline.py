"""One image: load -> detect -> recognize -> decide -> redact -> verify -> save.

``Scrubber`` builds every detector and recognizer once (models load in ``__init__``), then
``process`` runs one file and returns a ``Result``; it never raises for a bad image: every
failure becomes a ``blocked`` result with a one-line ``error``. Only a policy or model
problem (nothing could be scanned at all) raises from ``__init__``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from scrubber.consent import Roster, encode_face
from scrubber.detect import registry as detectors
from scrubber.detection import Box, Detection, Kind, clip, grow, iou, merge_overlapping, only, shift
from scrubber.errors import DetectorFailed, ImageUnreadable
from scrubber.imageio import Frame, OutputFormat, decode_own, encode, load, metadata_problems, shrink
from scrubber.phi import registry as identifiers
from scrubber.phi.registry import AnalyzerSettings
from scrubber.policy import CONSENTED, Action, Policy, Region, Status, Verdict, decide
from scrubber.redact import Blur, Fill, apply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    path: str
    status: Status
    reasons: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()
    sha256: str | None = None
    format: str | None = None
    width: int = 0
    height: int = 0
    output: str | None = None
    error: str | None = None  # one sentence when the file could not be processed
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    data: bytes | None = field(default=None, repr=False, compare=False)  # the verified safe copy

    @property
    def processed(self) -> bool:
        """False when the file could not be scanned at all (unreadable, too large, not written)."""
        return self.error is None


class Scrubber:
    def __init__(self, policy: Policy | None = None):
        self.policy = policy or Policy()
        self.detectors = [cls() for cls in detectors.get(self.policy.detectors)]
        self.recognizers = identifiers.get(self.policy.identifiers)
        self.analyzer = AnalyzerSettings(self.policy.threshold, self.policy.allowlist)
        self.fill = Fill(self.policy.fill_color)
        self.blur = Blur()
        self.roster = Roster.load(Path(self.policy.roster) if self.policy.roster else None)

    def self_test(self) -> list[str]:
        """Run every detector and recognizer once on a small generated picture with a line of
        type on it; the reasons any of them cannot run (empty when all can)."""
        import cv2

        pixels = np.full((240, 480, 3), 255, np.uint8)
        cv2.putText(pixels, "MRN 00482913", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
        problems: list[str] = []
        self.find(Frame(pixels), {}, causes=problems)
        return problems

    # ------------------------------------------------------------ stages

    def find(self, frame: Frame, timings: dict[str, float], kinds: set[Kind] | None = None,
             prefix: str = "", causes: list[str] | None = None) -> tuple[tuple[Detection, ...], tuple[str, ...]]:
        """Run detectors (optionally only those that may return ``kinds``) and recognizers.
        ``causes``, when given, receives each failure's cause in words."""
        found: list[Detection] = []
        errors: list[str] = []
        ordered = sorted(self.detectors, key=lambda d: getattr(d, "needs_context", False))
        for det in ordered:
            if kinds is not None and not kinds & _KINDS.get(det.name, set()):
                continue
            t = time.perf_counter()
            try:
                context = getattr(det, "needs_context", False)
                found.extend(det.detect(frame, tuple(found)) if context else det.detect(frame))
            except Exception as err:  # fail closed: any detector failure blocks, with its cause
                errors.append(f"detector-error:{det.name}")
                log.warning("%s failed: %s: %s", det.name, type(err).__name__, err)
                if causes is not None:
                    causes.append(f"{det.name}: {type(err).__name__}: {err}")
            timings[f"{prefix}{det.name}"] = timings.get(f"{prefix}{det.name}", 0.0) + time.perf_counter() - t
        words = only(found, Kind.TEXT)
        if words:
            t = time.perf_counter()
            try:
                found.extend(identifiers.recognize(words, self.recognizers, self.analyzer))
            except DetectorFailed as err:
                errors.append(err.tag)
                log.warning("%s", err)
                if causes is not None:
                    causes.append(str(err))
            timings[f"{prefix}recognize"] = timings.get(f"{prefix}recognize", 0.0) + time.perf_counter() - t
        return tuple(found), tuple(errors)

    def consent(self, frame: Frame, found: tuple[Detection, ...]) -> tuple[Detection, ...]:
        """Faces matching exactly one active roster entry get the label ``consented`` and the
        decision in their evidence; overlapping detections of one face share its decision."""
        faces = [d for d in found if d.kind is Kind.FACE and d.score >= self.policy.face_threshold]
        if not faces or not self.roster.entries:
            return found
        groups: list[list[Detection]] = []
        for det in sorted(faces, key=lambda d: -d.box.area):
            for group in groups:
                if iou(group[0].box, det.box) > 0.3:
                    group.append(det)
                    break
            else:
                groups.append([det])
        decided: dict[int, Detection] = {}
        for group in groups:
            face = group[0]
            big = face.box.height >= self.policy.consent_min_face
            decision = self.roster.decide(encode_face(frame.pixels, face.box) if big else None, face.box.height,
                                          self.policy.consent_threshold, self.policy.consent_min_face)
            for det in group:
                decided[id(det)] = replace(det, label=CONSENTED if decision.keep else det.label,
                                           evidence=det.evidence + decision.evidence())
        return tuple(decided.get(id(d), d) for d in found)

    def verify(self, pixels: np.ndarray, regions: tuple[Region, ...], timings: dict[str, float],
               kept_faces: tuple[Detection, ...] = (), detections: tuple[Detection, ...] = ()) -> tuple[str, ...]:
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
        (``policy.verify_face_score``); anything else found is a residual.
        """
        reasons = [f"verify:residual:unfilled:{i}" for i in _unfilled(pixels, regions, self.fill.color)]
        acted = {k for k, a in self.policy.actions.items() if a is not Action.KEEP}
        height, width = pixels.shape[:2]
        whole = self.policy.verify_scope == "image"
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
                # about square, and no wider than 960 px (YuNet's whole pass, so it shrinks
                # nothing) unless a crop is: the detectors' cost is the canvas's area, and a
                # 960-px-wide shelf holding one face crop was three quarters grey
                sizes = [(round(a.width * k), round(a.height * k)) for a, k in areas]
                square = int(1.2 * sum(w * h for w, h in sizes) ** 0.5)
                canvas_width = max([min(960, square)] + [w for w, _ in sizes])
            if not areas:
                continue
            canvas, placed = _pack(pixels, areas, canvas_width)
            # crops of faces the first pass found upright hold upright faces: no turned passes
            # (a turned face beside one would have been found turned and redacted itself)
            upright = not whole and Kind.FACE in kinds and not any(
                d.kind is Kind.FACE and d.evidence[:1] in (("rot90",), ("rot270",)) for d in detections)
            dets, errs = self.find(Frame(canvas, upright=upright), timings, kinds=kinds, prefix="verify:")
            found += [d for d in (_unpack(d, placed) for d in dets) if d is not None]
            errors += errs
        if not whole:
            dets, errs = self.reread(Frame(pixels), regions, detections, timings)
            found += dets
            errors += errs
        blurred = [r.box for r in regions if r.action is Action.BLUR]

        def destroyed(det: Detection) -> bool:
            cx, cy = (det.box.x0 + det.box.x1) / 2, (det.box.y0 + det.box.y1) / 2
            inside = any(b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1 for b in blurred)
            return inside and det.score < self.policy.verify_face_score

        found = [d for d in found if not (d.kind is Kind.FACE and (
            destroyed(d) or any(iou(d.box, k.box) > 0.3 for k in kept_faces)))]
        residual = decide(tuple(found), self.policy, width, height, tuple(dict.fromkeys(errors)))
        reasons += [f"verify:residual:{r.split(':', 1)[1]}" for r in residual.reasons if ":" in r]
        reasons += [f"verify:{e}" for e in dict.fromkeys(errors)]
        return tuple(dict.fromkeys(reasons))

    def reread(self, frame: Frame, regions: tuple[Region, ...], detections: tuple[Detection, ...],
               timings: dict[str, float]) -> tuple[list[Detection], list[str]]:
        """Read again the first pass's text lines that a non-face redaction touches; return
        the identifiers still readable (and detector errors)."""
        reader = next((d for d in self.detectors if hasattr(d, "reread")), None)
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
            found = list(identifiers.recognize(words, self.recognizers, self.analyzer)) if words else []
            errors: list[str] = []
        except DetectorFailed as err:
            found, errors = [], [err.tag if err.tag != "detector-error" else f"detector-error:{reader.name}"]
            log.warning("%s", err)
        except Exception as err:  # fail closed
            found, errors = [], [f"detector-error:{reader.name}"]
            log.warning("%s re-read failed: %s: %s", reader.name, type(err).__name__, err)
        timings[f"verify:{reader.name}"] = time.perf_counter() - t
        return found, errors

    # ------------------------------------------------------------ one file

    def process(self, path: str | Path, out_format: OutputFormat | None = None,
                display: str | None = None) -> Result:
        """Scan ``path``. A shareable result carries the verified safe copy's bytes in ``data``
        (``out_format``, or the source's format); writing them is the caller's
        (``outputs.deliver``). ``display`` is the name results and errors carry (the screened
        form of a file name)."""
        name = display or str(path)
        try:
            return self._process(Path(path), name, out_format)
        except Exception as err:  # one file's failure is that file's blocked result, never the run's
            log.warning("%s: %s: %s", name, type(err).__name__, err)
            return Result(name, Status.BLOCKED, ("internal-error",),
                          error=f"{name}: could not be processed ({type(err).__name__})")

    def _process(self, path: Path, name: str, out_format: OutputFormat | None) -> Result:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            image = load(path, self.policy.max_pixels, self.policy.max_bytes, self.policy.max_total_pixels)
        except ImageUnreadable as err:
            return Result(name, Status.BLOCKED, (err.reason,), error=str(err).replace(str(path), name),
                          timings={"total": time.perf_counter() - t0})
        timings["load"] = time.perf_counter() - t0
        base = dict(sha256=image.sha256, format=image.format, width=image.width, height=image.height,
                    notes=image.notes)

        detections: list[Detection] = []
        errors: list[str] = []
        for frame in image.frames + image.hidden:
            found, errs = self.find(frame, timings)
            if frame is image.frames[0]:
                t = time.perf_counter()
                found = self.consent(frame, found)
                timings["consent"] = time.perf_counter() - t
            detections.extend(found)
            errors.extend(errs)
        if self.roster.warning and any(d.kind is Kind.FACE for d in detections):
            base["notes"] = base["notes"] + ("no-consent-roster",)
        if image.hidden:
            errors_note = "hidden-pixels-scanned"
            base["notes"] = base["notes"] + (errors_note,)
        if len(image.frames) > 1:
            errors.append(f"multi-frame:{len(image.frames)}")

        t = time.perf_counter()
        verdict = decide(tuple(detections), self.policy, image.width, image.height, tuple(dict.fromkeys(errors)))
        timings["decide"] = time.perf_counter() - t
        if verdict.status is Status.BLOCKED:
            return self._done(name, verdict, detections, base, timings, t0)

        t = time.perf_counter()
        pixels = image.frames[0].pixels
        if verdict.regions:
            pixels = apply(pixels, verdict.regions, self.fill, self.blur)
        timings["redact"] = time.perf_counter() - t

        t = time.perf_counter()
        fmt = out_format or OutputFormat.for_source(image.format)
        data = encode(pixels, fmt, self.policy.jpeg_quality)
        timings["encode"] = time.perf_counter() - t
        problems = metadata_problems(data)
        if problems:  # cannot happen with a fresh encode; checked anyway
            verdict = _blocked(verdict, tuple(f"metadata:{p}" for p in problems))
            return self._done(name, verdict, detections, base, timings, t0)

        if self.policy.verify:
            t = time.perf_counter()
            decoded = decode_own(data)
            kept = tuple(d for d in detections if d.kind is Kind.FACE and d.label == CONSENTED)
            residual = self.verify(decoded, verdict.regions, timings, kept, tuple(detections))
            timings["verify"] = time.perf_counter() - t
            if residual:
                return self._done(name, _blocked(verdict, residual), detections, base, timings, t0)

        return self._done(name, verdict, detections, base, timings, t0, data=data)

    @staticmethod
    def _done(name, verdict: Verdict, detections, base, timings, t0, data=None) -> Result:
        timings["total"] = time.perf_counter() - t0
        return Result(name, verdict.status, verdict.reasons, tuple(detections), data=data,
                      timings={k: round(v, 4) for k, v in timings.items()}, **base)


# which detection kinds each detector can return (verify runs only those that matter)
_KINDS: dict[str, set[Kind]] = {
    "faces-yunet": {Kind.FACE},
    "faces-dlib": {Kind.FACE},
    "text-ocr": {Kind.TEXT},
    "barcodes": {Kind.BARCODE},
    "surfaces": {Kind.SCREEN, Kind.DOCUMENT, Kind.WHITEBOARD, Kind.WRISTBAND},
}


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


def _face_crops(regions: tuple[Region, ...], width: int, height: int,
                face_px: int = 112) -> list[tuple[Box, float]]:
    """Per redacted face: the crop the face detectors re-run on (grown so a half-covered face
    is seen whole) and the factor that makes the redacted box ``face_px`` tall, the size
    YuNet and HOG find faces best at, whatever the face's size in the photo."""
    out = []
    for r in regions:
        margin = max(24, int(0.6 * min(r.box.width, r.box.height)))
        crop = clip(grow(r.box, pixels=margin), width, height)
        if crop.area:
            out.append((crop, min(3.0, max(0.05, face_px / max(1, r.box.height)))))
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


def _blocked(verdict: Verdict, reasons: tuple[str, ...]) -> Verdict:
    return Verdict(Status.BLOCKED, verdict.reasons + reasons, ())


