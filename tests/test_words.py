"""scrubber check's plain words: what was found and where, what to do about a blocked photo,
never the text that was found."""

import pytest
from typer.testing import CliRunner

from scrubber.cli import app
from scrubber.detection import Box, Detection, Kind
from scrubber.pipeline import Result
from scrubber.policy import CONSENTED, Status
from scrubber.words import explain, found, place, why_blocked
from tests.conftest import CLINIC_POLICY, SAMPLES

runner = CliRunner()


@pytest.mark.parametrize("box, where", [(Box(0, 0, 100, 100), "upper left"), (Box(450, 250, 550, 350), "centre"),
                                        (Box(900, 500, 1000, 600), "lower right"), (Box(450, 0, 550, 90), "upper middle")])
def test_place_says_where_in_the_photo(box, where):
    assert place(box, 1000, 600) == where


def test_one_face_found_by_two_detectors_is_one_face_and_no_text_is_shown():
    dets = (Detection(Kind.FACE, Box(10, 10, 60, 70), 0.9, "faces-yunet"),
            Detection(Kind.FACE, Box(12, 14, 58, 66), 0.9, "faces-dlib"),
            Detection(Kind.FACE, Box(300, 10, 360, 80), 0.9, "faces-yunet", label=CONSENTED),
            Detection(Kind.SCREEN, Box(0, 0, 200, 150), 0.8, "surfaces"),
            Detection(Kind.IDENTIFIER, Box(5, 5, 90, 20), 0.9, "phi-name/1", label="NAME", text="Maria Garcia"),
            Detection(Kind.IDENTIFIER, Box(5, 25, 90, 40), 0.9, "phi-name/1", label="NAME", text="Wei Chen"),
            Detection(Kind.IDENTIFIER, Box(5, 45, 90, 60), 0.9, "phi-mrn/1", label="MRN", text="00482913"))
    r = Result("p.jpg", Status.REDACTED, ("blur:face",), dets, width=800, height=600)
    said = found(r)
    assert said == ["1 face blurred", "1 face left visible (on the consent roster)", "a screen (upper left) filled whole",
                    "2 names and a record number filled"]
    assert not any(secret in " ".join(explain(r, None, False)) for secret in ("Maria", "Chen", "00482913"))


def test_a_blocked_photo_says_why_and_what_to_do():
    r = Result("b.jpg", Status.BLOCKED, ("fill:whiteboard", "surface-too-large:0.52", "verify:residual:face"))
    lines = explain(r, None, False)
    assert lines[0] == "Not safe to post; nothing was written."
    assert any("crop it out" in line for line in lines) and any("send the photo for review" in line for line in lines)
    assert "export it again" in why_blocked(Result("e.jpg", Status.BLOCKED, ("unreadable",), error="e.jpg: empty"))[0]
    assert "consent roster" in why_blocked(Result("f.jpg", Status.BLOCKED, ("blur:face", "block:face")))[0]


def test_check_speaks_plainly_and_warns_about_the_originals_metadata():
    r = runner.invoke(app, ["check", str(SAMPLES / "whiteboard_census.jpg"), "--policy", str(CLINIC_POLICY)])
    assert r.exit_code == 3 and "The photo is a close-up of a whiteboard: do not post it." in r.stdout
    r = runner.invoke(app, ["check", str(SAMPLES / "empty_room.jpg")])
    assert r.exit_code == 0 and "The original still carries its metadata" in r.stdout
    r = runner.invoke(app, ["check", str(SAMPLES / "wristband.jpg")])
    assert r.exit_code == 1 and "a wristband (centre) filled whole; a barcode filled" in r.stdout
