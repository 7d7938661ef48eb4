"""Vehicle licence plates: 5-8 letters and digits mixed, e.g. ``7ABC123``, ``ABC 1234``,
``KL-4821``, ``B MW 1234``. Plates look like any product code, so a match inside a line scores
low and counts only beside a context word (plate, licence, vehicle, parking). A line that is
nothing but a plate-shaped code in capitals (what a plate shows, read on its own) counts by
itself, unless one of its words is an ordinary word (``EXIT 22``, ``GATE B12``)."""

from __future__ import annotations

import re

from scrubber.phi.names import _is_common
from scrubber.phi.pattern import Match, Pattern, PatternRecognizer

_MIXED = r"(?=[A-Z0-9 \-]*[A-Z][A-Z0-9 \-]*[A-Z])(?=[A-Z0-9 \-]*\d[A-Z0-9 \-]*\d)"


class PlateRecognizer(PatternRecognizer):
    LABEL = "PLATE"
    STRIP = " -"
    PATTERNS = (
        Pattern("plate", r"\b(?=[A-Z0-9 \-]*[A-Z])(?=[A-Z0-9 \-]*\d)[A-Z0-9]{1,4}[ \-]?[A-Z0-9]{2,4}\b", 0.2),
        Pattern("plate-labelled", r"\b(?:plate|lic(?:ense|ence)?\s+(?:plate|no\.?|#))\s*[:#]?\s*([A-Z0-9][A-Z0-9 \-]{3,8}[A-Z0-9])\b", 0.85, group=1),
        Pattern("plate-alone", rf"^[^A-Za-z0-9]*({_MIXED}[A-Z0-9]{{1,4}}(?:[ \-][A-Z0-9]{{1,4}}){{0,2}}"
                               rf"|{_MIXED}[A-Z0-9]{{5,8}})[^A-Za-z0-9]*$", 0.6, group=1),
    )
    CONTEXT = ("plate", "license", "licence", "vehicle", "parking", "car", "tag", "reg")

    def invalidate(self, value: str) -> bool:
        return not 4 <= len(value) <= 8

    def analyze(self, text: str) -> list[Match]:
        found = super().analyze(text)
        if any(_is_common(word) for word in re.findall(r"[A-Z]{3,}", text)):
            found = [m for m in found if "pattern:plate-alone" not in m.evidence]
        return found
