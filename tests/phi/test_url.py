import pytest

from tests.phi.assertions import values

CASES = [
    (["https://portal.example.org/patient/8812"], ["https://portal.example.org/patient/8812"]),
    (["www.janedoe-family.net"], ["www.janedoe-family.net"]),
    (["Visit riversideclinic.org"], ["riversideclinic.org"]),
    (["s.oduya83@mailbox.org"], []),  # e-mail, not a URL
    (["version 1.2.3"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_url(lines, expected):
    assert values(["url"], *lines) == expected


def test_clinic_site_on_the_allowlist():
    assert values(["url"], "Visit riversideclinic.org", allowlist=["riversideclinic.org"]) == []
