"""Account, health-plan, member, policy, encounter and insurance numbers.

Always labelled in practice (``Acct 88120034``, ``Insurance ID: BCX48810273``,
``Member # W123456789``, ``Enc 5512``); letters and digits mixed. Without a label an
alphanumeric code is too common (part numbers, room codes) to count on its own.
"""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer


class AccountRecognizer(PatternRecognizer):
    LABEL = "ACCOUNT"
    PATTERNS = (
        Pattern("alnum-id", r"\b(?=[A-Z0-9]*\d{3})[A-Z0-9]{6,20}\b", 0.15),
        Pattern(
            "labelled",
            r"\b(?:acct|account|plan|member|policy|group|subscriber|encounter|enc|fin|visit|claim|insurance|ins)"
            r"\.?\s*(?:id|no\.?|number|#)?\s*[:#\-]?\s*((?=[A-Z0-9\-]*\d)[A-Z0-9][A-Z0-9\-]{3,20})\b",
            0.85,
            group=1,
            flags=re.I,
        ),
    )
    CONTEXT = ("acct", "account", "plan", "member", "policy", "subscriber", "encounter", "enc", "insurance",
               "claim", "group", "id")

    def invalidate(self, value: str) -> bool:
        return not re.search(r"\d", value)
