"""Medical record and patient numbers.

Labelled (``MRN: 00734519``, ``Pt ID 4471902``, ``Med Rec # 123456``) and unlabelled
runs of 7-12 digits (EHR lists show MRNs in a column under a header). Six-digit runs need
a label. Traps: phone numbers (10 digits with separators are taken by the phone recognizer
first), dates, room numbers (3-4 digits, never matched).
"""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer


class MrnRecognizer(PatternRecognizer):
    LABEL = "MRN"
    FOLD = True
    PATTERNS = (
        Pattern("digits-6", r"\b\d{6}\b", 0.25),
        Pattern("digits-7-12", r"\b\d{7,12}\b", 0.55),
        Pattern("alnum-with-digits", r"\b(?=[A-Z0-9-]*\d{5})[A-Z]{0,3}-?\d{5,12}[A-Z]?\b", 0.3),
        Pattern(
            "labelled",
            r"\b(?:mrn|med\s?rec(?:ord)?|medical\s+record|patient\s+id|pt\s?id|chart)\s*(?:no\.?|number|#)?\s*[:#\-]?\s*([A-Z0-9][A-Z0-9\-]{3,15})\b",
            0.9,
            group=1,
            flags=re.I,
        ),
    )
    CONTEXT = ("mrn", "med rec", "medical record", "record", "patient id", "pt id", "chart", "id", "patient")

    def invalidate(self, value: str) -> bool:
        digits = re.sub(r"\D", "", value)
        return not digits or len(set(digits)) == 1 or not re.search(r"\d", value)
