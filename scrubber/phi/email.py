"""E-mail addresses. OCR often reads ``@`` as ``©`` or ``(at)``; both are accepted."""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer


class EmailRecognizer(PatternRecognizer):
    LABEL = "EMAIL"
    STRIP = ""
    PATTERNS = (
        Pattern(
            "email",
            r"\b[A-Za-z0-9._%+\-]+\s?(?:@|©|\(at\))\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
            0.9,
            flags=re.I,
        ),
    )
    CONTEXT = ("email", "e-mail", "mail")
