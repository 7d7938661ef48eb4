"""Pattern recognizers (Presidio's shape, stricter).

A recognizer declares class constants and, optionally, ``validate``/``invalidate``::

    class SsnRecognizer(PatternRecognizer):
        LABEL = "SSN"
        PATTERNS = (Pattern("ssn-dashed", r"\\b\\d{3}-\\d{2}-\\d{4}\\b", 0.85),)
        CONTEXT = ("ssn", "social security")

``Pattern`` compiles and checks itself at import time, so a bad pattern fails the test
suite, not a scan. Scores mean "how likely, with no other evidence".

OCR confuses O/0, l/1, S/5 and friends; :func:`fold_digits` maps those letters to digits
inside tokens that are mostly digits, keeping every offset, so numeric recognizers
(``FOLD = True``) match ``0O482913`` as ``00482913`` and still point at the right pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

_CONFUSABLE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "i": "1", "|": "1",
                             "L": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6",
                             "g": "9", "q": "9", "T": "7"})
_TOKEN = re.compile(r"[A-Za-z0-9|]+")


def fold_digits(text: str) -> str:
    """Same-length copy of ``text`` where OCR look-alikes become digits in mostly-digit tokens."""
    out = list(text)
    for m in _TOKEN.finditer(text):
        token = m.group()
        digits = sum(ch.isdigit() for ch in token)
        if digits and digits * 2 >= len(token):
            out[m.start() : m.end()] = token.translate(_CONFUSABLE)
    return "".join(out)


def normalise(value: str) -> str:
    """Whole-value comparison key for allowlists: case-folded letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", value.lower())


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: str
    score: float
    group: int = 0  # which capture group is the identifier (0 = whole match)
    flags: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.score <= 1.0:
            raise ValueError(f"pattern {self.name}: score {self.score} outside (0, 1]")
        compiled = re.compile(self.regex, self.flags)
        if self.group > compiled.groups:
            raise ValueError(f"pattern {self.name}: no group {self.group}")
        object.__setattr__(self, "compiled", compiled)

    def finditer(self, text: str):
        for m in self.compiled.finditer(text):  # type: ignore[attr-defined]
            if m.group(self.group):
                yield m.start(self.group), m.end(self.group)


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    label: str
    score: float
    evidence: tuple[str, ...]


class PatternRecognizer:
    """Base class: subclasses set the constants; ``analyze`` runs patterns then validators."""

    LABEL: ClassVar[str] = ""
    PATTERNS: ClassVar[tuple[Pattern, ...]] = ()
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    STRIP: ClassVar[str] = "-. ()/"
    FOLD: ClassVar[bool] = False  # also match on the OCR-folded text (numeric identifiers)
    version: ClassVar[str] = "1"

    @property
    def name(self) -> str:
        return f"phi-{self.LABEL.lower()}"

    def validate(self, value: str) -> bool | None:
        """Checksum: True -> score 1.0, False -> drop, None -> no opinion."""
        return None

    def invalidate(self, value: str) -> bool:
        """True drops the match (known fakes, repeated digits)."""
        return False

    def clean(self, value: str) -> str:
        return value.translate(str.maketrans("", "", self.STRIP))

    def analyze(self, text: str) -> list[Match]:
        views = [("raw", text)]
        if self.FOLD:
            folded = fold_digits(text)
            if folded != text:
                views.append(("ocr-folded", folded))
        best: dict[tuple[int, int], Match] = {}
        for view, body in views:
            for pattern in self.PATTERNS:
                for start, end in pattern.finditer(body):
                    value = self.clean(body[start:end])
                    if self.invalidate(value):
                        continue
                    verdict = self.validate(value)
                    if verdict is False:
                        continue
                    score = 1.0 if verdict else pattern.score
                    evidence = (f"pattern:{pattern.name}",) + ((f"view:{view}",) if view != "raw" else ())
                    if verdict:
                        evidence += ("validated",)
                    key = (start, end)
                    if key not in best or best[key].score < score:
                        best[key] = Match(start, end, self.LABEL, score, evidence)
        return list(best.values())
