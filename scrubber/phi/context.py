"""OCR words -> lines, and spatial context.

Words arrive as ``text`` detections carrying a ``line`` key. A ``Line`` joins them with
single spaces and remembers which characters belong to which word, so a match's character
span maps back to word boxes. Context is spatial (labels sit left of or above values on
screens, wristbands and forms): the text earlier on the same line, and the line directly
above (vertically adjacent, horizontally overlapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scrubber.detection import Box, Detection, Kind, union

BOOST = 0.35  # Presidio's context enhancement
FLOOR = 0.4  # minimum score once context is present


@dataclass(frozen=True)
class Line:
    key: tuple[int, ...]
    words: tuple[Detection, ...]
    text: str
    starts: tuple[int, ...]  # character offset of each word in ``text``

    @property
    def box(self) -> Box:
        return union(w.box for w in self.words)

    def span_words(self, start: int, end: int) -> tuple[Detection, ...]:
        return tuple(
            w for w, s in zip(self.words, self.starts) if s < end and s + len(w.text or "") > start
        )


def build_lines(detections: tuple[Detection, ...]) -> list[Line]:
    groups: dict[tuple[int, ...], list[Detection]] = {}
    for det in detections:
        if det.kind is Kind.TEXT and det.text:
            groups.setdefault(det.line or (-1,), []).append(det)
    lines = []
    for key, words in groups.items():
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w.text) + 1
        lines.append(Line(key, tuple(words), " ".join(w.text for w in words), tuple(starts)))
    return lines


def line_above(lines: list[Line], line: Line) -> Line | None:
    """The nearest line whose bottom is just above ``line``'s top and that overlaps it horizontally."""
    box = line.box
    best, best_gap = None, None
    for other in lines:
        if other is line:
            continue
        ob = other.box
        gap = box.y0 - ob.y1
        overlap = min(box.x1, ob.x1) - max(box.x0, ob.x0)
        if -0.3 * box.height <= gap <= 2.0 * max(box.height, ob.height) and overlap > 0 and ob.y0 < box.y0:
            if best_gap is None or gap < best_gap:
                best, best_gap = other, gap
    return best


def has_context(words: tuple[str, ...], text_before: str, text_above: str) -> str | None:
    """The first context phrase found before the match on its line or on the line above."""
    haystack = f" {text_above.lower()} | {text_before.lower()} "
    haystack = re.sub(r"[^a-z0-9/#| ]+", " ", haystack)
    for word in words:
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", haystack):
            return word
    return None


def enhance(score: float) -> float:
    return max(FLOOR, min(1.0, score + BOOST))
