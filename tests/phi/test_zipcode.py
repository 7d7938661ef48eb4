import pytest

from tests.phi.assertions import values

CASES = [
    (["Springfield, IL 62704"], ["62704"]),
    (["62704-1234"], ["62704-1234"]),
    (["ZIP 62704"], ["62704"]),
    (["62704"], []),  # five bare digits
    (["Room 62704"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_zip(lines, expected):
    assert values(["zip"], *lines) == expected
