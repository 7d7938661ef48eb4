import pytest

from scrubber.phi.pattern import Pattern, PatternRecognizer, fold_digits, normalise


@pytest.mark.parametrize(
    "text, folded",
    [
        ("0O4829I3", "00482913"),  # O->0, I->1 inside a mostly-digit token
        ("MRN 0O4829I3", "MRN 00482913"),  # the label word is left alone
        ("(555) 2B4-993l", "(555) 284-9931"),
        ("DOB: 08/2l/1962", "DOB: 08/21/1962"),
        ("Oduya SOLO", "Oduya SOLO"),  # no digits: untouched
    ],
)
def test_fold_digits_keeps_length_and_fixes_ocr_lookalikes(text, folded):
    assert fold_digits(text) == folded
    assert len(fold_digits(text)) == len(text)


def test_normalise_compares_whole_values():
    assert normalise("(555) 010-0199") == normalise("555.010.0199") == "5550100199"
    assert normalise("Riverside Family Clinic") == "riversidefamilyclinic"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(name="bad-score", regex=r"\d", score=0.0), ValueError),
        (dict(name="too-high", regex=r"\d", score=1.5), ValueError),
        (dict(name="bad-regex", regex=r"(\d", score=0.5), Exception),
        (dict(name="bad-group", regex=r"\d", score=0.5, group=1), ValueError),
    ],
)
def test_a_bad_pattern_fails_at_construction(kwargs, error):
    with pytest.raises(error):
        Pattern(**kwargs)


def test_validate_and_invalidate_hooks():
    class Even(PatternRecognizer):
        LABEL = "EVEN"
        PATTERNS = (Pattern("digits", r"\b\d{4}\b", 0.4),)

        def validate(self, value):
            return int(value) % 2 == 0

        def invalidate(self, value):
            return value == "0000"

    got = {("1234", 1.0), }
    matches = Even().analyze("1234 1235 0000")
    assert {( "1234 1235 0000"[m.start:m.end], m.score) for m in matches} == got
    assert "validated" in matches[0].evidence
