"""Explicit name -> recognizer registry, and the analyzer that runs them over OCR lines.

Order, as in Presidio's analyzer engine: patterns -> validators -> context ->
de-duplicate -> threshold -> allowlist. The allowlist compares the whole normalised value.
A recognizer that raises never means "nothing found": the error propagates and the
pipeline blocks the image with ``recognizer-error:<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrubber.detection import Detection, Kind, union
from scrubber.errors import DetectorFailed, UnknownIdentifier
from scrubber.phi.account import AccountRecognizer
from scrubber.phi.address import AddressRecognizer
from scrubber.phi.context import build_lines, enhance, has_context, line_above
from scrubber.phi.dates import DateRecognizer
from scrubber.phi.email import EmailRecognizer
from scrubber.phi.ip import IpRecognizer
from scrubber.phi.mrn import MrnRecognizer
from scrubber.phi.names import NameRecognizer
from scrubber.phi.pattern import PatternRecognizer, normalise
from scrubber.phi.phone import PhoneRecognizer
from scrubber.phi.plate import PlateRecognizer
from scrubber.phi.serial import SerialRecognizer
from scrubber.phi.ssn import SsnRecognizer
from scrubber.phi.url import UrlRecognizer
from scrubber.phi.zipcode import ZipRecognizer
from scrubber.registry import pick

RECOGNIZERS: dict[str, type[PatternRecognizer]] = {
    "name": NameRecognizer,
    "date": DateRecognizer,
    "mrn": MrnRecognizer,
    "account": AccountRecognizer,
    "phone": PhoneRecognizer,
    "email": EmailRecognizer,
    "ssn": SsnRecognizer,
    "address": AddressRecognizer,
    "zip": ZipRecognizer,
    "url": UrlRecognizer,
    "ip": IpRecognizer,
    "plate": PlateRecognizer,
    "serial": SerialRecognizer,
}


def get(names: tuple[str, ...] | list[str]) -> list[PatternRecognizer]:
    return [cls() for cls in pick(names, RECOGNIZERS, UnknownIdentifier, "identifier")]


@dataclass(frozen=True)
class AnalyzerSettings:
    threshold: float = 0.5
    allowlist: tuple[str, ...] = ()


def recognize(
    words: tuple[Detection, ...], recognizers: list[PatternRecognizer], settings: AnalyzerSettings
) -> tuple[Detection, ...]:
    """``text`` words in, ``identifier`` detections out (box = union of the matched words)."""
    lines = build_lines(words)
    allowed = {normalise(a) for a in settings.allowlist}
    out: list[Detection] = []
    for line in lines:
        above = line_above(lines, line)
        above_text = above.text if above else ""
        candidates = []
        for rec in recognizers:
            try:
                matches = rec.analyze(line.text)
            except Exception as err:  # a recognizer bug must block, never skip
                raise DetectorFailed(
                    f"recognizer {rec.name} failed: {type(err).__name__}: {err}", tag=f"recognizer-error:{rec.name}"
                ) from err
            for m in matches:
                score, evidence = m.score, m.evidence
                word = has_context(rec.CONTEXT, line.text[: m.start], above_text)
                if word:
                    score, evidence = enhance(score), evidence + (f"context:{word}",)
                candidates.append((m, score, evidence, rec))
        passed = [c for c in candidates if c[1] >= settings.threshold]
        for m, score, evidence, rec in passed:
            if any(o is not m and o.label == m.label and o.start <= m.start and m.end <= o.end
                   and o.end - o.start > m.end - m.start for o, *_ in passed):
                continue  # "284-9931" inside "(555) 284-9931": the longer match stands
            value = line.text[m.start : m.end]
            if normalise(value) in allowed or any(
                normalise(value) in a and len(normalise(value)) >= 4 for a in allowed
            ):
                continue
            hit = line.span_words(m.start, m.end)
            if not hit:
                continue
            out.append(
                Detection(
                    Kind.IDENTIFIER,
                    union(w.box for w in hit),
                    round(score, 3),
                    f"{rec.name}/{rec.version}",
                    label=m.label,
                    text=value,
                    evidence=evidence,
                    line=line.key,
                )
            )
    return _dedupe(out)


def _dedupe(found: list[Detection]) -> tuple[Detection, ...]:
    """Identical boxes with the same label collapse to the highest score."""
    best: dict[tuple, Detection] = {}
    for det in found:
        key = (det.box, det.label)
        if key not in best or best[key].score < det.score:
            best[key] = det
    return tuple(best.values())
