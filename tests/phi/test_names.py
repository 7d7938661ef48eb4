import pytest

from tests.phi.assertions import values

CASES = [
    # (lines, expected names) -- valid, formatted, in context, several per line, traps
    (["Patient: Samuel Oduya"], ["Samuel Oduya"]),  # labelled, surname not in the lists
    (["Pt Xqvor Blenkit"], ["Xqvor Blenkit"]),  # labelled: any capitalised words count
    (["Name - Rosa Delgado"], ["Rosa Delgado"]),
    (["Attending: Dr. Ellen Brooks"], ["Ellen Brooks"]),  # titled; "Dr" itself is not a name
    (["Garcia, Maria   00482913"], ["Garcia, Maria"]),  # LAST, FIRST from the lists
    (["HALVORSEN, ERIK"], ["HALVORSEN, ERIK"]),  # capitals
    (["Rm 301 Whitfield, Robert   Rm 302 Alvarez, Sofia"], ["Alvarez, Sofia", "Whitfield, Robert"]),  # two per line
    (["Maria Garcia called"], ["Maria Garcia"]),  # First Last, both in lists
    (["Bed 7", "Priya Raman"], ["Priya Raman"]),  # unknown words, context from the line above
    (["Priya Raman"], []),  # same words, no context: not enough evidence
    (["OKAFOR, NGOZI  MRN 00571226"], ["OKAFOR, NGOZI"]),  # unknown words, a record's label after them
    (["XQVOR, BLENKIT"], []),  # the same shape alone: not enough evidence
    (["Happy Nurses Week!"], []),  # signage
    (["Riverside Family Clinic"], []),
    (["Reason for visit: follow-up"], []),
    (["Patient MRN DOB Room"], []),  # a header row
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_names(lines, expected):
    assert values(["name"], *lines) == expected
