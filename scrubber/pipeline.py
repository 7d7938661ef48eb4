"""One image: load -> detect -> recognize -> decide -> redact -> encode -> verify.

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
from scrubber.detection import Detection, Kind, face_groups, only
from scrubber.errors import DetectorFailed, ImageUnreadable
from scrubber.imageio import Frame, OutputFormat, decode_own, encode, load, metadata_problems, named_format
from scrubber.phi import registry as identifiers
from scrubber.phi.registry import AnalyzerSettings
from scrubber.policy import CONSENTED, Policy, Status, Verdict, decide
from scrubber.redact import Blur, Fill, apply
from scrubber.verify import verify

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
    residuals: tuple[Detection, ...] = ()  # what the re-check still found in the redacted copy that blocked it
    preview: bytes | None = field(default=None, repr=False, compare=False)  # a small redacted JPEG, when asked for

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
        for det in sorted(self.detectors, key=lambda d: d.needs_context):
            if kinds is not None and not kinds & det.kinds:
                continue
            t = time.perf_counter()
            try:
                found.extend(det.detect(frame, tuple(found)) if det.needs_context else det.detect(frame))
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
        decided: dict[int, Detection] = {}
        for group in face_groups(faces):
            face = group[0]
            big = face.box.height >= self.policy.consent_min_face
            decision = self.roster.decide(encode_face(frame.pixels, face.box) if big else None, face.box.height,
                                          self.policy.consent_threshold, self.policy.consent_min_face)
            for det in group:
                decided[id(det)] = replace(det, label=CONSENTED if decision.keep else det.label,
                                           evidence=det.evidence + decision.evidence())
        return tuple(decided.get(id(d), d) for d in found)

    # ------------------------------------------------------------ one file

    def process(self, path: str | Path, out_format: OutputFormat | None = None,
                display: str | None = None, progress=None) -> Result:
        """Scan ``path``. A shareable result carries the verified safe copy's bytes in ``data``
        (``out_format``, or the source's format); writing them is the caller's
        (``outputs.deliver``). ``display`` is the name results and errors carry (the screened
        form of a file name). ``progress(done, total)``: a clip's frames (``video.scrub``)."""
        name = display or str(path)
        try:
            return self._process(Path(path), name, out_format, progress)
        except Exception as err:  # one file's failure is that file's blocked result, never the run's
            log.warning("%s: %s: %s", name, type(err).__name__, err)
            return Result(name, Status.BLOCKED, ("internal-error",),
                          error=f"{name}: could not be processed ({type(err).__name__})")

    def _process(self, path: Path, name: str, out_format: OutputFormat | None, progress=None) -> Result:
        from scrubber import video

        if video.is_video(path):  # a clip: scanned frame by frame, written as MP4
            return video.scrub(self, path, name, progress=progress or (lambda done, total: None))
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

        # a WebP named .jpg is written as the JPEG its name promises (load notes the mismatch)
        fmt = out_format or OutputFormat.for_source(named_format(path) or image.format)
        original = image.frames[0].pixels
        kept = tuple(d for d in detections if d.kind is Kind.FACE and d.label == CONSENTED)
        for repair in range(self.policy.repair_rounds + 1):
            t = time.perf_counter()
            pixels = apply(original, verdict.regions, self.fill, self.blur) if verdict.regions else original
            timings["redact"] = timings.get("redact", 0.0) + time.perf_counter() - t
            t = time.perf_counter()
            data = encode(pixels, fmt, self.policy.jpeg_quality)
            timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - t
            problems = metadata_problems(data)
            if problems:  # cannot happen with a fresh encode; checked anyway
                verdict = _blocked(verdict, tuple(f"metadata:{p}" for p in problems))
                return self._done(name, verdict, detections, base, timings, t0)
            if not self.policy.verify:
                break
            t = time.perf_counter()
            residual = verify(self, decode_own(data), verdict.regions, timings, kept, tuple(detections), original)
            timings["verify"] = timings.get("verify", 0.0) + time.perf_counter() - t
            if not residual.reasons:
                break
            # what the first pass missed (a neighbour's face in a crop, a line a fill left) is
            # redacted too and the copy checked again; only what stays after the rounds blocks
            if repair == self.policy.repair_rounds or not residual.repairable or not residual.found:
                return self._done(name, _blocked(verdict, residual.reasons), detections, base, timings, t0,
                                  residuals=residual.found)
            detections.extend(replace(d, evidence=d.evidence + (f"repair:{repair + 1}",)) for d in residual.found)
            base["notes"] = tuple(n for n in base["notes"] if not n.startswith("repaired:")) + (
                f"repaired:{repair + 1}",)
            verdict = decide(tuple(detections), self.policy, image.width, image.height,
                             tuple(dict.fromkeys(errors)))
            if verdict.status is Status.BLOCKED:
                return self._done(name, verdict, detections, base, timings, t0)

        return self._done(name, verdict, detections, base, timings, t0, data=data)

    @staticmethod
    def _done(name, verdict: Verdict, detections, base, timings, t0, data=None, residuals=()) -> Result:
        timings["total"] = time.perf_counter() - t0
        # a sign left alone is no finding: its reason (keep:signage:KIND) says it was seen
        found = tuple(d for d in detections if not any(d is s for s in verdict.signs))
        return Result(name, verdict.status, verdict.reasons, found, data=data,
                      timings={k: round(v, 4) for k, v in timings.items()}, residuals=tuple(residuals), **base)


def _blocked(verdict: Verdict, reasons: tuple[str, ...]) -> Verdict:
    return Verdict(Status.BLOCKED, verdict.reasons + reasons, (), verdict.signs)


