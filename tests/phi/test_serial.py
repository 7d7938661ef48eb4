import pytest

from tests.phi.assertions import values

CASES = [
    (["S/N: 4C2X-88A1-99"], ["4C2X-88A1-99"]),
    (["Serial No. 12345678"], ["12345678"]),
    (["Device ID AB12CD34"], ["AB12CD34"]),
    (["Pump", "SN X7734QQ9"], ["X7734QQ9"]),
    (["AB12CD34"], []),  # no label
    (["Serial port"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_serial(lines, expected):
    assert values(["serial"], *lines) == expected
