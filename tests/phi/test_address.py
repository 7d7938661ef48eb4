import pytest

from tests.phi.assertions import values

CASES = [
    (["Address: 1427 Birch Hollow Rd"], ["1427 Birch Hollow Rd"]),
    (["12 N. Main Street Apt 4"], ["12 N. Main Street Apt 4"]),
    (["PO Box 1234"], ["PO Box 1234"]),
    (["Springfield, IL 62704"], ["Springfield, IL 62704"]),
    (["412 West"], []),  # room and wing, no street suffix
    (["Unit 4 West"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_address(lines, expected):
    assert values(["address"], *lines) == expected
