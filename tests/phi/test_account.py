import pytest

from tests.phi.assertions import values

CASES = [
    (["Insurance ID: BCX48810273"], ["BCX48810273"]),
    (["Acct 88120034"], ["88120034"]),
    (["Member # W123456789"], ["W123456789"]),
    (["Plan", "XJ7788123"], ["XJ7788123"]),  # label on the line above
    (["Encounter: 5512-889"], ["5512-889"]),
    (["XJ7788123"], []),  # alphanumeric without a label
    (["Account settings"], []),  # label word without a number
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_account(lines, expected):
    assert values(["account"], *lines) == expected
