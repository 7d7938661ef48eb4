import pytest

from tests.phi.assertions import values

CASES = [
    (["Email: s.oduya83@mailbox.org"], ["s.oduya83@mailbox.org"]),
    (["jane_doe+ward@hospital.example.com"], ["jane_doe+ward@hospital.example.com"]),
    (["a@b.co x@y.org"], ["a@b.co", "x@y.org"]),
    (["s.oduya83©mailbox.org"], ["s.oduya83©mailbox.org"]),  # OCR read @ as ©
    (["@mention only"], []),
    (["name@localhost"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_email(lines, expected):
    assert values(["email"], *lines) == expected
