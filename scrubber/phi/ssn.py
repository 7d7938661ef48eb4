"""US Social Security numbers: ``123-45-6789``, ``123 45 6789`` and, with context, 9 digits.

Invalid by construction (dropped): area 000 or 666, group 00, serial 0000.
Trap: 9-digit MRNs and phone numbers; bare 9 digits only count next to an SSN label.
"""

from __future__ import annotations

from scrubber.phi.pattern import Pattern, PatternRecognizer


class SsnRecognizer(PatternRecognizer):
    LABEL = "SSN"
    FOLD = True
    PATTERNS = (
        Pattern("ssn-bare", r"\b\d{9}\b", 0.2),
        Pattern("ssn-formatted", r"\b\d{3}[- ]\d{2}[- ]\d{4}\b", 0.85),
    )
    CONTEXT = ("ssn", "social security", "soc sec", "ss#", "ss #")

    def invalidate(self, value: str) -> bool:
        return len(value) != 9 or value[:3] in ("000", "666") or value[3:5] == "00" or value[5:] == "0000"
