"""Consent roster: enrol, match, expire, revoke, corrupt roster, several-faces refusal; real
face_recognition encodings of real faces (matplotlib's Grace Hopper, scikit-image's astronaut)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import matplotlib.cbook
import numpy as np
import pytest
import skimage.data
from PIL import Image
from typer.testing import CliRunner

from scrubber.outputs import deliver
from scrubber.cli import app
from scrubber.consent import Roster
from scrubber.pipeline import Scrubber
from scrubber.policy import Policy, Status
from tests.conftest import SAMPLES, box_iou, truth

runner = CliRunner()


@pytest.fixture()
def photos(tmp_path):
    hopper = tmp_path / "hopper.jpg"
    Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).save(hopper)
    astro = tmp_path / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).crop((100, 0, 360, 260)).save(astro)  # her face only
    return {"hopper": hopper, "astronaut": astro}


def _add(roster, name, *photos, **opts):
    args = ["consent", "add", name, *map(str, photos), "--roster", str(roster)]
    for k, v in opts.items():
        args += [f"--{k}", v]
    return runner.invoke(app, args)


def _hopper_face(result):
    """The face detections at Grace Hopper's place in the group photo."""
    box = truth("group_photo.jpg")["faces"][1]
    return [d for d in result.detections if d.kind.value == "face" and box_iou(d.box.as_tuple(), box) > 0.3]


def test_enrol_stores_encodings_only_with_mode_0600(tmp_path, photos):
    roster = tmp_path / "roster.json"
    r = _add(roster, "Grace Hopper", photos["hopper"], expires="2099-01-01", note="release 12")
    assert r.exit_code == 0, r.output
    doc = json.loads(roster.read_text())
    assert doc["schema"] == 1
    (entry,) = doc["entries"]
    assert entry["name"] == "Grace Hopper" and entry["expires"] == "2099-01-01" and entry["note"] == "release 12"
    assert len(entry["encodings"]) == 1 and len(entry["encodings"][0]) == 128
    assert set(entry) == {"id", "name", "added", "expires", "note", "revoked", "encodings"}  # no pixels
    assert stat.S_IMODE(os.stat(roster).st_mode) == 0o600
    r = runner.invoke(app, ["consent", "list", "--roster", str(roster)])
    assert "Grace Hopper\tactive\t1 encoding(s)\texpires 2099-01-01" in r.stdout


@pytest.mark.parametrize("sample, message", [
    ("group_photo.jpg", "4 faces found (1: middle left, 166 px tall; 2: centre, 219 px tall; 3: middle right, "
                        "169 px tall; 4: lower right, 34 px tall); pick one with --face N (--preview FILE draws "
                        "the numbers)"),
    ("empty_room.jpg", "no face found; enrol from photos that show the person's face"),
])
def test_photos_without_exactly_one_face_need_a_choice(tmp_path, sample, message):
    roster = tmp_path / "roster.json"
    r = _add(roster, "Somebody", SAMPLES / sample)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"scrubber: error: {SAMPLES / sample}: {message}"
    assert not roster.exists()


def test_a_face_is_picked_from_a_group_photo_by_its_number_on_the_preview(tmp_path):
    roster, preview = tmp_path / "roster.json", tmp_path / "faces.jpg"
    r = _add(roster, "Grace Hopper", SAMPLES / "group_photo.jpg", preview=str(preview))
    assert r.exit_code == 0 and "4 face(s) numbered" in r.stdout and not roster.exists()
    drawn = np.asarray(Image.open(preview).convert("RGB")).astype(int)
    plain = np.asarray(Image.open(SAMPLES / "group_photo.jpg").convert("RGB")).astype(int)
    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][1]  # Grace Hopper, the centre face: number 2
    assert np.abs(drawn - plain)[y0:y1, x0:x1].max() > 100  # her box is drawn
    r = _add(roster, "Grace Hopper", SAMPLES / "group_photo.jpg", face="5")
    assert r.exit_code == 2 and "--face 5, but 4 face(s) were found" in r.stderr
    r = _add(roster, "Grace Hopper", SAMPLES / "group_photo.jpg", face="4")  # the small face in the background
    assert r.exit_code == 2 and "the face is 34 px tall; at least 80 px are needed" in r.stderr
    r = _add(roster, "Grace Hopper", SAMPLES / "group_photo.jpg", face="2")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["consent", "check", str(SAMPLES / "group_photo.jpg"), "--roster", str(roster)])
    (kept,) = [line for line in r.stdout.splitlines() if "KEEP visible" in line]
    assert "nearest: Grace Hopper" in kept
    x0, y0, x1, y1 = json.loads(kept[kept.index("["):kept.index("]") + 1])
    assert box_iou((x0, y0, x1, y1), truth("group_photo.jpg")["faces"][1]) > 0.3


def test_consenting_face_stays_visible_and_every_other_face_is_obscured(tmp_path, photos):
    roster = tmp_path / "roster.json"
    assert _add(roster, "Grace Hopper", photos["hopper"], expires="2099-12-31").exit_code == 0
    out = tmp_path / "safe.jpg"
    result = deliver(Scrubber(Policy(roster=str(roster))).process(SAMPLES / "group_photo.jpg"), out)
    assert result.status is Status.REDACTED
    assert "keep:face:consented" in result.reasons and "blur:face" in result.reasons
    kept = _hopper_face(result)
    assert kept and all(d.label == "consented" for d in kept)
    ev = kept[0].evidence
    assert "consent:consent" in ev and any(e.startswith("roster-entry:r-") for e in ev) and not any("Hopper" in e for e in ev) and "expires:2099-12-31" in ev
    assert any(e.startswith("distance:0.") for e in ev)
    # her face's pixels are untouched (up to JPEG re-encoding); the astronaut's are destroyed
    before = np.asarray(Image.open(SAMPLES / "group_photo.jpg").convert("RGB")).astype(int)
    after = np.asarray(Image.open(out).convert("RGB")).astype(int)
    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][1]
    assert np.abs(before[y0:y1, x0:x1] - after[y0:y1, x0:x1]).mean() < 4
    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][0]
    assert np.abs(before[y0:y1, x0:x1] - after[y0:y1, x0:x1]).mean() > 20


def test_consent_never_exempts_other_phi(tmp_path, photos):
    """sideways_exif.jpg shows Grace Hopper above a 'Patient: Rosa Delgado' label."""
    roster = tmp_path / "roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    result = Scrubber(Policy(roster=str(roster))).process(SAMPLES / "sideways_exif.jpg")
    assert "keep:face:consented" in result.reasons and "fill:identifier:NAME" in result.reasons


@pytest.mark.parametrize("state", ["expired", "revoked", "corrupt", "ambiguous"])
def test_expired_revoked_corrupt_or_ambiguous_consent_keeps_nobody(tmp_path, photos, state):
    roster = tmp_path / "roster.json"
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    _add(roster, "Grace Hopper", photos["hopper"])
    if state == "expired":  # the day given at enrolment has passed since
        doc = json.loads(roster.read_text())
        doc["entries"][0]["expires"] = yesterday
        roster.write_text(json.dumps(doc))
    elif state == "revoked":
        r = runner.invoke(app, ["consent", "revoke", "Grace Hopper", "--roster", str(roster)])
        assert r.exit_code == 0 and json.loads(roster.read_text())["entries"][0]["revoked"]
    elif state == "corrupt":
        roster.write_text(roster.read_text()[:100])
        assert Roster.load(roster).entries == () and "unreadable" in Roster.load(roster).warning
    elif state == "ambiguous":
        _add(roster, "G. Hopper (duplicate entry)", photos["hopper"])
    result = Scrubber(Policy(roster=str(roster))).process(SAMPLES / "group_photo.jpg")
    faces = _hopper_face(result)
    assert faces and not any(d.label == "consented" for d in faces)
    assert "keep:face:consented" not in result.reasons
    if state != "corrupt":
        assert f"consent:{state}" in faces[0].evidence


def test_small_faces_are_never_kept(tmp_path, photos):
    """The astronaut is enrolled; her 48-px copy in the background is still obscured."""
    roster = tmp_path / "roster.json"
    assert _add(roster, "Astronaut", photos["astronaut"]).exit_code == 0
    result = Scrubber(Policy(roster=str(roster))).process(SAMPLES / "group_photo.jpg")
    small = truth("group_photo.jpg")["faces"][3]
    dets = [d for d in result.detections if d.kind.value == "face" and box_iou(d.box.as_tuple(), small) > 0.3]
    assert dets and all(d.label != "consented" and "consent:face-too-small" in d.evidence for d in dets)
    big = truth("group_photo.jpg")["faces"][0]
    assert any(d.label == "consented" for d in result.detections if box_iou(d.box.as_tuple(), big) > 0.3)


def test_missing_roster_means_nobody_consented(tmp_path):
    result = Scrubber(Policy(roster=str(tmp_path / "none.json"))).process(SAMPLES / "sideways_exif.jpg")
    assert "blur:face" in result.reasons and "no-consent-roster" in result.notes


def test_consent_check_lists_faces_with_distances(tmp_path, photos):
    roster = tmp_path / "roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    r = runner.invoke(app, ["consent", "check", str(SAMPLES / "group_photo.jpg"), "--roster", str(roster)])
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 4
    assert sum("KEEP visible: consent; nearest: Grace Hopper (distance 0." in line for line in lines) == 1
    assert sum("obscure: face-too-small" in line for line in lines) == 1


def test_revoking_an_unknown_name_is_a_usage_error(tmp_path, photos):
    roster = tmp_path / "roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    r = runner.invoke(app, ["consent", "revoke", "Nobody", "--roster", str(roster)])
    assert r.exit_code == 2 and "no roster entry named 'Nobody'" in r.stderr


@pytest.mark.parametrize("side", [512, 2400])
def test_a_portrait_with_a_round_patch_enrols_as_one_face(tmp_path, side):
    """scikit-image's astronaut, whole: at 2400 px dlib's HOG also takes her mission patch for
    a face (0.9); enrolment counts the faces YuNet sees, one."""
    photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.BICUBIC).save(photo)
    r = _add(tmp_path / "roster.json", "Eileen Collins", photo)
    assert r.exit_code == 0, r.output


def test_names_match_whatever_their_case_and_a_near_miss_is_suggested(tmp_path, photos):
    roster = tmp_path / "roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    r = runner.invoke(app, ["consent", "revoke", "grace  HOPPER", "--roster", str(roster)])
    assert r.exit_code == 0 and "Grace Hopper: consent revoked" in r.stdout
    r = runner.invoke(app, ["consent", "revoke", "Grace Hoper", "--roster", str(roster)])
    assert r.exit_code == 2 and "did you mean 'Grace Hopper'?" in r.stderr
    _add(roster, "GRACE HOPPER", photos["hopper"])  # enrolling again renews the one entry
    (entry,) = json.loads(roster.read_text())["entries"]
    assert entry["name"] == "Grace Hopper" and entry["revoked"] is None and len(entry["encodings"]) == 2


def test_forget_deletes_the_encodings_revoke_keeps_them(tmp_path, photos):
    roster = tmp_path / "roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    _add(roster, "Eileen Collins", photos["astronaut"])
    runner.invoke(app, ["consent", "revoke", "Eileen Collins", "--roster", str(roster)])
    r = runner.invoke(app, ["consent", "forget", "grace hopper", "--roster", str(roster)])
    assert r.exit_code == 0 and "Grace Hopper: entry and face encodings deleted" in r.stdout
    entries = json.loads(roster.read_text())["entries"]
    assert [e["name"] for e in entries] == ["Eileen Collins"] and entries[0]["revoked"] and entries[0]["encodings"]
    assert stat.S_IMODE(os.stat(roster).st_mode) == 0o600


def test_an_expiry_in_the_past_is_refused(tmp_path, photos):
    roster = tmp_path / "roster.json"
    r = _add(roster, "Grace Hopper", photos["hopper"], expires="2001-01-01")
    assert r.exit_code == 2 and "that day has passed" in r.stderr and not roster.exists()


def test_check_takes_a_roster(tmp_path, photos):
    roster = tmp_path / "team-roster.json"
    _add(roster, "Grace Hopper", photos["hopper"])
    r = runner.invoke(app, ["check", str(SAMPLES / "group_photo.jpg"), "--json", "--roster", str(roster)])
    assert "keep:face:consented" in json.loads(r.stdout)["reasons"]
    r = runner.invoke(app, ["check", str(SAMPLES / "group_photo.jpg"), "--json"])
    assert "keep:face:consented" not in json.loads(r.stdout)["reasons"]
