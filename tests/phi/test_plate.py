import pytest

from tests.phi.assertions import values

CASES = [
    (["Plate: 7ABC123"], ["7ABC123"]),
    (["License plate KL-4821"], ["KL-4821"]),
    (["Parking", "ABC 1234"], ["ABC 1234"]),  # context on the line above
    (["ABC 1234"], ["ABC 1234"]),  # a line that is nothing but a plate-shaped code: what a plate shows
    (["7ABC123"], ["7ABC123"]),
    (["Lot ABC 1234 expires"], []),  # a code inside a line needs context
    (["EXIT 22"], []),  # an ordinary word beside the number
    (["Room 4B"], []),
    (["Rm 302B"], []),
    (["00482913"], []),  # digits alone are an MRN's shape, not a plate's
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_plate(lines, expected):
    assert values(["plate"], *lines) == expected
