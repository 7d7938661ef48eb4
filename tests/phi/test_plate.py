import pytest

from tests.phi.assertions import values

CASES = [
    (["Plate: 7ABC123"], ["7ABC123"]),
    (["License plate KL-4821"], ["KL-4821"]),
    (["Parking", "ABC 1234"], ["ABC 1234"]),  # context on the line above
    (["ABC 1234"], []),  # no context
    (["Room 4B"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_plate(lines, expected):
    assert values(["plate"], *lines) == expected
