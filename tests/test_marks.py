"""Numbered marks: one per person, identifiers said on the surface that holds them, tags that
never cover each other, nothing of the text."""

from __future__ import annotations

import pytest

from scrubber.detection import Box, Detection, Kind
from scrubber.marks import marks
from scrubber.pipeline import Result
from scrubber.policy import CONSENTED, Status


def _det(kind, box, label=None, source="test", text=None, evidence=()):
    return Detection(kind, Box(*box), 0.9, source, label=label, text=text, evidence=evidence)


def _result(*dets, reasons=("blur:face",), residuals=(), size=(1000, 800)):
    return Result("p.jpg", Status.REDACTED, reasons, tuple(dets), width=size[0], height=size[1],
                  residuals=tuple(residuals))


def test_two_detectors_on_one_face_are_one_mark_and_a_consented_face_says_so():
    r = _result(_det(Kind.FACE, (100, 100, 200, 220), source="faces-yunet"),
                _det(Kind.FACE, (105, 110, 195, 215), source="faces-dlib"),
                _det(Kind.FACE, (120, 130, 170, 190), source="faces-yunet"),  # a second box inside the face
                _det(Kind.FACE, (600, 100, 700, 220), label=CONSENTED))
    assert [(m.number, m.what, m.style) for m in marks(r)] == [
        (1, "Face", "face"), (2, "Face left visible (on the consent roster)", "kept")]


def test_identifiers_on_a_surface_are_said_on_its_mark_and_others_stand_alone():
    r = _result(_det(Kind.SCREEN, (50, 50, 450, 350)),
                _det(Kind.IDENTIFIER, (60, 60, 200, 80), "NAME", text="Maria Chen"),
                _det(Kind.IDENTIFIER, (60, 90, 200, 110), "NAME", text="Ole Berg"),
                _det(Kind.IDENTIFIER, (60, 120, 200, 140), "MRN", text="00482913"),
                _det(Kind.BARCODE, (300, 200, 400, 300), "Code 128"),
                _det(Kind.IDENTIFIER, (600, 600, 800, 630), "PHONE", text="555 010 0199"),
                _det(Kind.TEXT, (600, 700, 800, 720), source="text-ocr", text="Ward", evidence=()),
                reasons=("fill:screen", "fill:identifier:NAME"))
    said = [m.what for m in marks(r)]
    assert said == ["Screen with 2 names, a record number and a barcode", "Phone number"]
    assert not any(secret in " ".join(said) for secret in ("Maria", "Berg", "00482913", "555"))


def test_unreadable_lines_are_marked_only_when_they_were_filled():
    line = _det(Kind.TEXT, (100, 600, 500, 640), source="text-ocr", evidence=("unreadable",))
    assert marks(_result(line, reasons=("fill:text",)))[0].what == "Text nobody could read"
    assert marks(_result(line, reasons=())) == []


def test_what_the_re_check_still_found_is_marked_last():
    r = _result(_det(Kind.FACE, (100, 100, 200, 220)), residuals=[_det(Kind.FACE, (700, 100, 780, 200))])
    assert [(m.what, m.style) for m in marks(r)] == [("Face", "face"),
                                                     ("Still found after redacting: face", "residual")]


@pytest.mark.parametrize("layout", ["row", "stack", "same"])
def test_tags_never_cover_each_other(layout):
    """Faces side by side, one above another, or several boxes at one place: every tag gets its
    own spot inside the picture."""
    boxes = {"row": [(100 + 40 * i, 300, 140 + 40 * i, 350) for i in range(8)],
             "stack": [(300, 100 + 30 * i, 360, 130 + 30 * i) for i in range(8)],
             "same": [(300, 300, 400, 400)] * 1 + [(300, 300, 340, 340), (360, 300, 400, 340)]}[layout]
    kinds = [Kind.BARCODE] * len(boxes)
    r = _result(*(_det(k, b, "QR Code") for k, b in zip(kinds, boxes)), reasons=("fill:barcode",))
    tags = [Box(x, y, x + side, y + side) for x, y, side in (m.tag for m in marks(r))]
    assert len(tags) == len(boxes)
    for i, a in enumerate(tags):
        assert 0 <= a.x0 and a.x1 <= 1000 and 0 <= a.y0 and a.y1 <= 800
        for b in tags[i + 1:]:
            assert min(a.x1, b.x1) <= max(a.x0, b.x0) or min(a.y1, b.y1) <= max(a.y0, b.y0), (a, b)


def test_a_surface_with_nothing_read_on_it_is_still_one_mark():
    """A blank document outline, or one whose lines nobody could read (found on a real photo)."""
    r = _result(_det(Kind.DOCUMENT, (50, 50, 450, 350)), reasons=("fill:document",))
    assert [m.what for m in marks(r)] == ["Document or label"]
