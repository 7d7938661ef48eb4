"""Telephone and fax numbers (North American plan, plus +country forms).

Matches (555) 284-9931, 555-284-9931, 555.284.9931, +1 555 284 9931, +44 20 7946 0958.
Traps: internal four-digit extensions ("ext 4410") are not numbers anyone can dial from
outside and are left alone; dates are excluded because a phone needs 10+ digits.
"""

from __future__ import annotations

from scrubber.phi.pattern import Pattern, PatternRecognizer


class PhoneRecognizer(PatternRecognizer):
    LABEL = "PHONE"
    FOLD = True
    PATTERNS = (
        Pattern("nanp-bare", r"\b\d{10}\b", 0.2),
        Pattern("local", r"\b\d{3}[-.]\d{4}\b", 0.2),
        Pattern("nanp", r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b", 0.75),
        Pattern("international", r"\+\d{1,3}(?:[\s.-]\d{1,4}){2,5}\b", 0.6),
    )
    CONTEXT = ("phone", "tel", "telephone", "cell", "mobile", "fax", "call", "contact", "ph", "home", "work")

    def invalidate(self, value: str) -> bool:
        digits = "".join(c for c in value if c.isdigit())
        return len(set(digits)) == 1
