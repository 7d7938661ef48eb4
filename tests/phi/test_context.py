import pytest

from scrubber.phi.context import build_lines, enhance, has_context, line_above
from tests.phi.assertions import words


def test_words_become_lines_with_offsets():
    lines = build_lines(words("MRN: 00734519", "DOB 08/21/1962"))
    assert [line.text for line in lines] == ["MRN: 00734519", "DOB 08/21/1962"]
    first = lines[0]
    assert [w.text for w in first.span_words(5, 13)] == ["00734519"]
    assert [w.text for w in first.span_words(0, 13)] == ["MRN:", "00734519"]


def test_line_above_is_the_adjacent_overlapping_line():
    lines = build_lines(words("Bed 7", "Priya Raman", "Room 9"))
    assert line_above(lines, lines[1]) is lines[0]
    assert line_above(lines, lines[2]) is lines[1]
    assert line_above(lines, lines[0]) is None


def test_context_is_searched_before_the_match_and_above_it():
    assert has_context(("dob",), "DOB:", "") == "dob"
    assert has_context(("bed",), "", "Bed 7") == "bed"
    assert has_context(("mrn",), "unrelated", "") is None
    assert has_context(("id",), "Video", "") is None  # whole words only


def test_enhance_adds_presidio_boost_with_floor():
    assert enhance(0.1) == pytest.approx(0.45)
    assert enhance(0.0) == 0.4
    assert enhance(0.9) == 1.0
