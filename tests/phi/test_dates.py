import pytest

from tests.phi.assertions import values

CASES = [
    (["03/14/1958"], ["03/14/1958"]),
    (["3-14-58"], ["3-14-58"]),
    (["1958-03-14"], ["1958-03-14"]),
    (["14.03.1958"], ["14.03.1958"]),
    (["born March 14, 1958"], ["March 14, 1958"]),
    (["seen 14 Mar 2026"], ["14 Mar 2026"]),
    (["DOB: 08/2l/1962"], ["08/2l/1962"]),  # OCR read 1 as l
    (["Admit 11/30 Discharge 12/02"], ["11/30", "12/02"]),  # short dates need context
    (["ratio 3/4"], []),  # no context: a fraction
    (["13/45/2020"], []),  # impossible month and day
    (["Rooms 301-305"], []),
    (["Mar 2026"], []),  # month and year only: HIPAA allows the year
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_dates(lines, expected):
    assert values(["date"], *lines) == expected
