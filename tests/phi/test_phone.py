import pytest

from tests.phi.assertions import values

CASES = [
    (["(555) 284-9931"], ["(555) 284-9931"]),
    (["555-284-9931"], ["555-284-9931"]),
    (["555.284.9931"], ["555.284.9931"]),
    (["+1 555 284 9931"], ["+1 555 284 9931"]),
    (["Fax: 555-284-9932 Tel: 555-284-9931"], ["555-284-9931", "555-284-9932"]),
    (["Call 284-9931"], ["284-9931"]),  # seven digits with a context word
    (["(555) 2B4-993l"], ["(555) 2B4-993l"]),  # OCR confusions
    (["Charge RN ext 4410"], []),  # internal extension
    (["284-9931"], []),  # seven digits, no context
    (["555-555-5555"], ["555-555-5555"]),  # digits vary enough? no: all 5s is dropped below
]


@pytest.mark.parametrize("lines, expected", CASES[:-1])
def test_phone(lines, expected):
    assert values(["phone"], *lines) == expected


def test_a_number_of_one_repeated_digit_is_not_a_phone():
    assert values(["phone"], "555-555-5555") == []


def test_allowlisted_clinic_number_is_never_flagged():
    assert values(["phone"], "Call us (555) 010-0199", allowlist=["(555) 010-0199"]) == []
    assert values(["phone"], "Call us (555) 010-0199 or (555) 284-9931", allowlist=["555-010-0199"]) == [
        "(555) 284-9931"
    ]
