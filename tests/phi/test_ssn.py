import pytest

from tests.phi.assertions import values

CASES = [
    (["SSN: 219-09-9999"], ["219-09-9999"]),
    (["123 45 6789"], ["123 45 6789"]),
    (["SSN 123456789"], ["123456789"]),  # bare nine digits with a label
    (["S5N: 2l9-09-9999"], ["2l9-09-9999"]),  # OCR confusions
    (["123456789"], []),  # bare nine digits without a label
    (["000-12-3456"], []),  # area 000 never issued
    (["666-12-3456"], []),
    (["123-00-4567"], []),
    (["123-45-0000"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_ssn(lines, expected):
    assert values(["ssn"], *lines) == expected
