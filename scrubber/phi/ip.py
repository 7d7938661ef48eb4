"""IP addresses: IPv4 dotted quads (each octet 0-255) and full or compressed IPv6.
Trap: version numbers (1.2.3) have three parts and dates use slashes; both are not matched."""

from __future__ import annotations

import ipaddress

from scrubber.phi.pattern import Pattern, PatternRecognizer


class IpRecognizer(PatternRecognizer):
    LABEL = "IP"
    STRIP = ""
    FOLD = True
    PATTERNS = (
        Pattern("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", 0.6),
        Pattern("ipv6", r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}\b", 0.6),
    )
    CONTEXT = ("ip", "address", "host", "server", "gateway")

    def validate(self, value: str) -> bool | None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return None
