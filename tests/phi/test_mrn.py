import pytest

from tests.phi.assertions import values

CASES = [
    (["MRN: 00734519"], ["00734519"]),
    (["MRN:00734519"], ["00734519"]),  # glued to its label by OCR
    (["Med Rec # 123456"], ["123456"]),  # six digits with a label
    (["Patient ID A1234567"], ["A1234567"]),
    (["00482913 03/14/1958"], ["00482913"]),  # long digit run in a list, unlabelled
    (["MRN 0O4829I3"], ["0O4829I3"]),  # OCR confusions O/0 and I/1
    (["Garcia 00482913 Nguyen 00517720"], ["00482913", "00517720"]),
    (["123456"], []),  # six bare digits: not enough
    (["Room 412"], []),
    (["00000000"], []),  # repeated digit
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_mrn(lines, expected):
    assert values(["mrn"], *lines) == expected
