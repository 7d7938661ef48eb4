"""Vehicle licence plates: 5-8 letters and digits mixed, e.g. ``7ABC123``, ``ABC 1234``,
``KL-4821``. Plates look like any product code, so unlabelled matches score low and
count only beside a context word (plate, licence, vehicle, parking)."""

from __future__ import annotations

from scrubber.phi.pattern import Pattern, PatternRecognizer


class PlateRecognizer(PatternRecognizer):
    LABEL = "PLATE"
    STRIP = " -"
    PATTERNS = (
        Pattern("plate", r"\b(?=[A-Z0-9 \-]*[A-Z])(?=[A-Z0-9 \-]*\d)[A-Z0-9]{1,4}[ \-]?[A-Z0-9]{2,4}\b", 0.2),
        Pattern("plate-labelled", r"\b(?:plate|lic(?:ense|ence)?\s+(?:plate|no\.?|#))\s*[:#]?\s*([A-Z0-9][A-Z0-9 \-]{3,8}[A-Z0-9])\b", 0.85, group=1),
    )
    CONTEXT = ("plate", "license", "licence", "vehicle", "parking", "car", "tag", "reg")

    def invalidate(self, value: str) -> bool:
        return not 4 <= len(value) <= 8
