"""Records or signage: a surface of ordinary words is a sign (left alone, its identifiers filled
one by one); names, IDs, dates, barcodes, record labels or unread lines make it a record."""

from __future__ import annotations

import sys

import pytest

from scrubber.detection import Box, Detection, Kind
from scrubber.policy import Policy, Status
from scrubber.signage import ordinary, signs
from tests.conftest import SAMPLES

sys.path.insert(0, str(SAMPLES))
from hard_cases import sign  # noqa: E402


@pytest.mark.parametrize("word, plain", [
    # ordinary words, with their punctuation and in any case
    ("Great", True), ("team!", True), ("field,", True), ("don\u2019t", True), ("Right-click", True),
    # short numbers, ordinals, times and ranges, also as the OCR misreads them
    ("214", True), ("3rd", True), ("9:30", True), ("10.30pm", True), ("9-11am", True), ("9-llam", True),
    # first names and surnames, unless among the most frequent words
    ("John", False), ("Garcia", False), ("Oduya", False), ("Will", True), ("Hill", True),
    # what records hold: labels and IDs
    ("MRN", False), ("DOB:", False), ("Bed", False), ("20119524", False),
    # allowlisted text is ordinary
    ("Riverside", True),
])
def test_which_words_are_ordinary(word, plain):
    assert ordinary(word, frozenset({"riverside"})) is plain


def _board(*lines, identifiers=(), unreadable=False, barcode=False):
    """A whiteboard surface with OCR words, one line per entry."""
    found = [Detection(Kind.WHITEBOARD, Box(100, 100, 900, 700), 0.9, "surfaces")]
    for i, line in enumerate(lines):
        for j, word in enumerate(line.split()):
            found.append(Detection(Kind.TEXT, Box(150 + 90 * j, 150 + 60 * i, 230 + 90 * j, 190 + 60 * i), 0.95,
                                   "text-ocr", text=word, line=(i,)))
    for label, line, first in identifiers:
        found.append(Detection(Kind.IDENTIFIER, Box(150 + 90 * first, 150 + 60 * line, 320 + 90 * first,
                                                     190 + 60 * line), 0.9, "phi", label=label))
    if unreadable:
        found.append(Detection(Kind.TEXT, Box(150, 600, 500, 640), 0.2, "text-ocr", evidence=("unreadable",),
                               line=(99,)))
    if barcode:
        found.append(Detection(Kind.BARCODE, Box(600, 500, 800, 600), 0.9, "barcodes", label="Code 128"))
    return tuple(found)


HUDDLE = ("Daily huddle", "Flu shots: 3rd floor", "Great job team!")


@pytest.mark.parametrize("board, sign_", [
    (_board(*HUDDLE), True),
    (_board(*HUDDLE, "Call 555 201 7733", identifiers=[("PHONE", 3, 1)]), True),  # its phone filled alone
    (_board(*HUDDLE, "Rm 4 John Garcia", identifiers=[("NAME", 3, 2)]), False),  # a name: a record
    (_board(*HUDDLE, "Rm 4 Oduya"), False),  # an unknown capitalised word may be a name
    (_board(*HUDDLE, "MRN 7 today"), False),  # a record's label
    (_board(*HUDDLE, "Follow up 11/30", identifiers=[("DATE", 3, 2)]), False),
    (_board(*HUDDLE, unreadable=True), False),  # a line nobody could read may hold anything
    (_board(*HUDDLE, barcode=True), False),
])
def test_a_surface_is_signage_only_when_everything_on_it_is_ordinary(board, sign_):
    assert signs(board, 1000, 800) == ({0} if sign_ else set())


def test_a_wristband_is_always_a_record():
    band = (Detection(Kind.WRISTBAND, Box(100, 100, 900, 200), 0.9, "surfaces"),
            Detection(Kind.TEXT, Box(150, 120, 300, 160), 0.95, "text-ocr", text="Great", line=(0,)))
    assert signs(band, 1000, 800) == set()


def test_a_huddle_board_stays_as_it_is_and_a_census_is_still_blocked(scrubber, tmp_path):
    """End to end on pictures: the huddle board is left alone (its phone number filled on its
    own), the sample census whiteboard is still filled and blocked, and a strict policy
    (signage = false) fills the huddle board too."""
    from scrubber.pipeline import Scrubber

    img, _ = sign()
    img.save(tmp_path / "huddle.png")
    r = scrubber.process(tmp_path / "huddle.png")
    assert r.status is Status.CLEAN and "keep:signage:whiteboard" in r.reasons
    img, _ = sign(phone="(555) 201-7733")
    img.save(tmp_path / "huddle-phone.png")
    r = scrubber.process(tmp_path / "huddle-phone.png")
    assert r.status is Status.REDACTED and r.reasons == ("keep:signage:whiteboard", "fill:identifier:PHONE")
    r = scrubber.process(SAMPLES / "whiteboard_census.jpg")
    assert r.status is Status.BLOCKED and "fill:whiteboard" in r.reasons
    strict = Scrubber(Policy.from_dict({"signage": False}))
    assert "fill:whiteboard" in strict.process(tmp_path / "huddle.png").reasons


def test_a_sign_left_alone_is_no_finding_in_the_result(scrubber, tmp_path):
    """The huddle board's surface is not among the result's detections (nor on the pages'
    marks): its reason says it was seen and left alone."""
    img, _ = sign()
    img.save(tmp_path / "huddle.png")
    r = scrubber.process(tmp_path / "huddle.png")
    assert "keep:signage:whiteboard" in r.reasons
    assert not any(d.kind is Kind.WHITEBOARD for d in r.detections)


@pytest.mark.parametrize("word, judged", [
    ("coronavirus", "unsure"), ("NumMonths", "unsure"),  # lowercase or camel case: not in the list
    ("a.typecode(", "unsure"), ("np.linspace(", "unsure"), ("read_lines()", "unsure"),  # as code writes them
    ("Garcia", "no"), ("J.Garcia", "no"), ("Oduya.", "no"), ("a.20119524", "no"),  # a name or an ID never
    ("memory", "yes"), ("os.path.join", "yes"),  # each part an ordinary word
])
def test_how_sure_a_word_on_a_surface_is_ordinary(word, judged):
    from scrubber.signage import _judged

    assert _judged(Detection(Kind.TEXT, Box(100, 100, 200, 130), 0.9, "text-ocr", text=word), 1000, 800,
                   frozenset()) == judged
