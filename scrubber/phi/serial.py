"""Device identifiers and serial numbers: ``S/N: 4C2X-88A1-99``, ``Serial No. 12345678``,
``Device ID AB12CD34``, UDIs on implants and pumps. Labelled forms score high; bare
alphanumerics count only next to a context word."""

from __future__ import annotations

import re

from scrubber.phi.pattern import Pattern, PatternRecognizer


class SerialRecognizer(PatternRecognizer):
    LABEL = "SERIAL"
    STRIP = ""
    PATTERNS = (
        Pattern("alnum", r"\b(?=[A-Z0-9\-]*\d)(?=[A-Z0-9\-]*[A-Z])[A-Z0-9][A-Z0-9\-]{5,24}\b", 0.15),
        Pattern(
            "labelled",
            r"(?:\bS/N|\bSN|\bserial(?:\s+(?:no\.?|number|#))?|\bdevice\s+id|\bUDI|\bIMEI|\bMAC)\s*[:#]?\s*"
            r"((?=[A-Z0-9:\-]*\d)[A-Z0-9][A-Z0-9:\-]{4,30})",
            0.85,
            group=1,
            flags=re.I,
        ),
    )
    CONTEXT = ("serial", "s/n", "sn", "device", "udi", "imei", "asset", "model")
