"""Dates (HIPAA: every element of a date except the year, related to a person).

Formats: 03/14/1958, 3-14-58, 14.03.1958, 1958-03-14, March 14, 1958, 14 Mar 1958, Mar 14.
Validation rejects impossible months and days. Traps: fractions and ratios (3/4), room
ranges (301-305), times (10:30) and version numbers are not matched because a day/month
pair must be in range and a numeric date needs a year or a context word.
"""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)


class DateRecognizer(PatternRecognizer):
    LABEL = "DATE"
    FOLD = True
    STRIP = ""
    PATTERNS = (
        Pattern("month-day", rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b", 0.35, flags=re.I),
        Pattern("numeric-short", r"\b\d{1,2}[/\-.]\d{1,2}\b(?![/\-.]\d)", 0.2),
        Pattern("numeric-mdy", r"\b\d{1,2}[/\-.]\d{1,2}[/\-.](?:\d{4}|\d{2})\b", 0.6),
        Pattern("iso", r"\b(?:19|20)\d{2}[/\-.]\d{1,2}[/\-.]\d{1,2}\b", 0.6),
        Pattern(
            "month-name",
            rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{2,4}}|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}})\b",
            0.7,
            flags=re.I,
        ),
    )
    CONTEXT = ("dob", "d o b", "birth", "born", "date", "admit", "admitted", "discharge", "dos", "dod", "visit",
               "surgery", "appt", "appointment", "expires", "exp")

    def validate(self, value: str) -> bool | None:
        parts = [int(p) for p in re.findall(r"\d+", value)]
        if len(parts) >= 2 and not re.search(r"[a-z]", value, re.I):
            if len(str(parts[0])) == 4 or value[:4].isdigit() and len(parts) == 3 and parts[0] > 999:
                month, day = parts[1], parts[2]
                return None if 1 <= month <= 12 and 1 <= day <= 31 else False
            a, b = parts[0], parts[1]
            if not ((1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)):
                return False
        return None
