"""US ZIP codes: ``62704`` and ``62704-1234``. Five bare digits are everywhere (room
numbers, counts), so a ZIP needs a context word, a state abbreviation before it, or the
ZIP+4 form."""

from __future__ import annotations

from scrubber.phi.pattern import Pattern, PatternRecognizer

_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)


class ZipRecognizer(PatternRecognizer):
    LABEL = "ZIP"
    FOLD = True
    PATTERNS = (
        Pattern("zip5", r"\b\d{5}\b", 0.2),
        Pattern("zip-after-state", rf"\b(?:{_STATES})\.?\s+(\d{{5}}(?:-\d{{4}})?)\b", 0.75, group=1),
        Pattern("zip9", r"\b\d{5}-\d{4}\b", 0.6),
    )
    CONTEXT = ("zip", "zip code", "postal", "address")
