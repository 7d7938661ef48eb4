"""Shared helper for recognizer tests: lay text out as OCR words on stacked lines (each
word a box, each line under the previous one) and run the real analyzer over them."""

from __future__ import annotations

from scrubber.detection import Box, Detection, Kind
from scrubber.phi.registry import AnalyzerSettings, get, recognize


def words(*lines: str) -> tuple[Detection, ...]:
    out = []
    for li, line in enumerate(lines):
        x = 10
        for word in line.split():
            w = 12 * len(word)
            out.append(Detection(Kind.TEXT, Box(x, 10 + 40 * li, x + w, 40 + 40 * li), 0.95, "test", text=word,
                                 line=(li,)))
            x += w + 12
    return tuple(out)


def found(names: list[str], *lines: str, threshold: float = 0.5, allowlist=()) -> list[tuple[str, str]]:
    """(label, matched text) pairs that pass the threshold."""
    dets = recognize(words(*lines), get(names), AnalyzerSettings(threshold, tuple(allowlist)))
    return sorted((d.label, d.text) for d in dets)


def values(names: list[str], *lines: str, **kw) -> list[str]:
    return sorted(t for _, t in found(names, *lines, **kw))
