"""Explicit name -> recognizer registry, and the analyzer that runs them over OCR lines.

Order, as in Presidio's analyzer engine: patterns -> validators -> context ->
de-duplicate -> threshold -> allowlist. The allowlist compares whole normalised values: a
match is exempt only where an allowlisted value stands whole in the line.
A recognizer that raises never means "nothing found": the error propagates and the
pipeline blocks the image with ``recognizer-error:<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrubber.detection import Detection, Kind, union
from scrubber.errors import DetectorFailed, UnknownIdentifier
from scrubber.phi.account import AccountRecognizer
from scrubber.phi.address import AddressRecognizer
from scrubber.phi.context import Line, build_lines, enhance, has_context, line_above
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


def _allowed_spans(text: str, allowed: set[str]) -> list[tuple[int, int]]:
    """Where in ``text`` an allowlisted value stands whole (compared normalised): a match
    inside such a span (the clinic phone's last seven digits) is part of the allowed value;
    the same digits anywhere else (an MRN, an account) are not."""
    keep = [i for i, ch in enumerate(text) if normalise(ch)]
    flat = "".join(text[i].lower() for i in keep)
    spans = []
    for value in allowed:
        at = flat.find(value) if value else -1
        while at >= 0:
            spans.append((keep[at], keep[at + len(value) - 1] + 1))
            at = flat.find(value, at + 1)
    return spans


def recognize(
    words: tuple[Detection, ...], recognizers: list[PatternRecognizer], settings: AnalyzerSettings
) -> tuple[Detection, ...]:
    """``text`` words in, ``identifier`` detections out (box = union of the matched words)."""
    lines = build_lines(words)
    allowed = {normalise(a) for a in settings.allowlist}
    found = [_candidates(line, lines, recognizers) for line in lines]
    _names_in_a_column(lines, found, settings.threshold)
    out: list[Detection] = []
    for line, candidates in zip(lines, found):
        passed = [c for c in candidates if c[1] >= settings.threshold]
        exempt = _allowed_spans(line.text, allowed) if passed and allowed else []
        for m, score, evidence, rec in passed:
            if any(o is not m and o.label == m.label and o.start <= m.start and m.end <= o.end
                   and o.end - o.start > m.end - m.start for o, *_ in passed):
                continue  # "284-9931" inside "(555) 284-9931": the longer match stands
            value = line.text[m.start : m.end]
            if normalise(value) in allowed or any(a <= m.start and m.end <= b for a, b in exempt):
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


def _candidates(line: Line, lines: list[Line], recognizers: list[PatternRecognizer]) -> list[list]:
    """Every recognizer's matches on ``line`` as [match, score, evidence, recognizer], scores
    raised by context (earlier on the line, or on the line above)."""
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
            candidates.append([m, score, evidence, rec])
    return candidates


LIST_SCORE = 0.6  # a name-shaped line in a column of names


def _names_in_a_column(lines: list[Line], found: list[list[list]], threshold: float) -> None:
    """A list of patients (a census, a screenshot's rows, an X-ray's overlay) names most of
    them in words the name lists know and some in words they do not (LINDQVIST KAREN): a line
    whose only evidence is its name shape (``weak_name``) is a name when it stands in a column (left
    edges aligned, type of one height, rows close) with a line already taken for a name.
    Raises those candidates' scores in ``found`` in place."""
    def height(line: Line) -> float:
        return sorted(w.box.height for w in line.words)[len(line.words) // 2]

    def weak_name(line: Line, candidates) -> list:
        """Name-shaped matches filling most of the line, with one word the name lists know or
        in ``Last, First`` form: two unknown capitalised words (STAFF ONLY) are no name."""
        return [c for c in candidates if c[0].label == "NAME" and c[1] < threshold
                and (c[0].end - c[0].start) >= 0.6 * len(line.text.strip())
                and any(e.startswith("pattern:last-first") or e[-2:] in (":1", ":2") for e in c[0].evidence)]

    strong = [any(c[0].label == "NAME" and c[1] >= threshold for c in cands) for cands in found]
    grew = True
    while grew:  # row by row down (and up) the column from the names already taken
        grew = False
        for i, line in enumerate(lines):
            weak = weak_name(line, found[i]) if not strong[i] else []
            h, box = height(line), line.box
            for j, other in enumerate(lines if weak else ()):
                oh, ob = height(other), other.box
                gap = max(ob.y0 - box.y1, box.y0 - ob.y1)
                if strong[j] and abs(ob.x0 - box.x0) <= max(h, oh) and max(h, oh) <= 1.4 * min(h, oh) \
                        and gap <= 3 * max(h, oh):
                    for c in weak:
                        c[1], c[2] = LIST_SCORE, c[2] + ("list-of-names",)
                    strong[i] = grew = True
                    break


def _dedupe(found: list[Detection]) -> tuple[Detection, ...]:
    """Identical boxes with the same label collapse to the highest score."""
    best: dict[tuple, Detection] = {}
    for det in found:
        key = (det.box, det.label)
        if key not in best or best[key].score < det.score:
            best[key] = det
    return tuple(best.values())
