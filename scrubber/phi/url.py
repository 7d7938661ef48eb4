"""Web addresses: ``https://...``, ``www...`` and bare domains with a common top-level
domain. A patient portal link or a personal page identifies; the clinic's own site belongs
in the policy allowlist. Trap: e-mail addresses (handled by the e-mail recognizer)."""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer


class UrlRecognizer(PatternRecognizer):
    LABEL = "URL"
    STRIP = ""
    PATTERNS = (
        Pattern(
            "bare-domain",
            r"(?<![@\w.])[a-z0-9\-]{2,}\.(?:com|org|net|edu|gov|io|health|care|info|us|co)\b(?:/[^\s]*)?",
            0.5,
            flags=re.I,
        ),
        Pattern("url", r"\b(?:https?://|www\.)[^\s<>\"']+", 0.85, flags=re.I),
    )
    CONTEXT = ("url", "web", "website", "portal", "link", "visit")
