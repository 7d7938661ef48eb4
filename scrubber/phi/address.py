"""Street addresses and city/state lines.

``1427 Birch Hollow Rd``, ``12 N. Main Street Apt 4``, ``PO Box 1234``,
``Springfield, IL 62704``. Trap: room numbers followed by words ("412 West") need a
street suffix to count.
"""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer
from scrubber.phi.zipcode import _STATES

_SUFFIX = (
    "st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|way|ct|court|pl|place|hwy|highway|pkwy|parkway|"
    "ter|terrace|cir|circle|trl|trail|sq|square"
)


class AddressRecognizer(PatternRecognizer):
    LABEL = "ADDRESS"
    STRIP = ""
    PATTERNS = (
        Pattern(
            "street",
            rf"\b\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:[A-Za-z0-9']+\s+){{0,3}}[A-Za-z']+\s+(?:{_SUFFIX})\b\.?"
            r"(?:,?\s+(?:apt|unit|suite|ste|#)\.?\s*\w+)?",
            0.7,
            flags=re.I,
        ),
        Pattern("po-box", r"\bP\.?\s?O\.?\s+Box\s+\d+\b", 0.7, flags=re.I),
        Pattern("city-state", rf"\b[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?,\s*(?:{_STATES})\b(?:\s+\d{{5}}(?:-\d{{4}})?)?", 0.6),
    )
    CONTEXT = ("address", "addr", "street", "lives", "home", "residence")
