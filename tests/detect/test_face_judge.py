"""The second opinion on unsure faces, on real photos: animals YuNet takes for faces are
dropped; real faces made hard (turned, blurred, darkened, masked) are kept.

``tests/data/animals/``: public-domain Wikimedia Commons photos shipped by GCompris
(``SOURCES.md`` there); scikit-image's cat (Chelsea) is a real photo too."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from typer.testing import CliRunner

from scrubber.cli import app
from scrubber.detect.face_judge import FaceJudge
from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame, load
from tests.conftest import rgb, truth

ANIMALS = Path(__file__).resolve().parent.parent / "data" / "animals"


@pytest.fixture(scope="module")
def unjudged():
    return YuNetFaces(YuNetSettings(judged=False))


@pytest.fixture(scope="module")
def judge():
    return FaceJudge()


def _animal(name: str) -> np.ndarray:
    if name == "chelsea":
        return np.ascontiguousarray(data.chelsea())
    return load(ANIMALS / name).frames[0].pixels


def _centred(dets, cx, cy):
    return [d for d in dets if d.box.x0 <= cx <= d.box.x1 and d.box.y0 <= cy <= d.box.y1]


@pytest.mark.parametrize("name", ["koala.webp", "chelsea"])
def test_an_animal_yunet_takes_for_a_face_is_no_face(yunet, unjudged, name):
    frame = Frame(_animal(name))
    assert unjudged.detect(frame), "YuNet alone no longer takes this animal for a face: pick another photo"
    assert yunet.detect(frame) == ()


@pytest.mark.parametrize("name", ["koala.webp", "dog.webp"])
def test_animal_photos_come_out_clean_and_untouched(tmp_path, name):
    out = tmp_path / "safe.png"
    r = CliRunner().invoke(app, ["check", str(ANIMALS / name), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["verdict"] == "clean" and "blur:face" not in result["reasons"]
    before, after = load(ANIMALS / name).frames[0].pixels, load(out).frames[0].pixels
    assert np.abs(before.astype(int) - after.astype(int)).max() <= 2  # re-encoded, nothing blurred


def _close_up(px: np.ndarray, box, size=600) -> np.ndarray:
    """The face at ``box`` as the subject of a ``size``-px photo (35% of its side)."""
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) / 0.35)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    padded = cv2.copyMakeBorder(px, side, side, side, side, cv2.BORDER_REFLECT)
    crop = padded[cy + side - side // 2:cy + side + side // 2, cx + side - side // 2:cx + side + side // 2]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("angle", [0, 45])
@pytest.mark.parametrize("blur", [0, 7])
@pytest.mark.parametrize("dark", [1.0, 0.35])
def test_real_faces_made_hard_are_still_faces(yunet, unjudged, angle, blur, dark):
    """Each face of the group photo as a close-up, turned, blurred and darkened: whatever YuNet
    finds at its centre, judged or not, is the same."""
    px = rgb("group_photo.jpg")
    for box in truth("group_photo.jpg")["faces"]:
        img = _close_up(px, box)
        img = cv2.warpAffine(img, cv2.getRotationMatrix2D((300, 300), angle, 1.0), (600, 600),
                             borderMode=cv2.BORDER_REFLECT)
        if blur:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        frame = Frame(np.clip(img * dark, 0, 255).astype(np.uint8))
        assert len(_centred(yunet.detect(frame), 300, 300)) == len(_centred(unjudged.detect(frame), 300, 300))


def test_a_masked_close_up_is_a_face(yunet, judge):
    """A surgical mask (pale blue, with folds) over the lower half of a close-up."""
    px = rgb("group_photo.jpg")
    box = truth("group_photo.jpg")["faces"][0]
    img = _close_up(px, box).copy()
    d = next(iter(_centred(yunet.detect(Frame(img.copy())), 300, 300)))
    y = d.box.y0 + int(d.box.height * 0.55)
    folds = (np.sin(np.arange(d.box.y1 - y) / 4.0) * 6)[:, None, None]
    img[y:d.box.y1, d.box.x0:d.box.x1] = np.clip(np.array([170, 200, 225]) + folds, 0, 255).astype(np.uint8)
    assert judge.hidden(img, d.box)
    assert _centred(yunet.detect(Frame(img)), 300, 300)


def test_fur_is_not_a_hidden_band_and_a_flat_band_is(judge):
    px = _animal("koala.webp")
    box = next(iter(YuNetFaces(YuNetSettings(judged=False)).detect(Frame(px)))).box
    assert not judge.hidden(px, box)
    covered = px.copy()
    covered[box.y0 + box.height * 2 // 3:box.y1, box.x0:box.x1] = (200, 200, 200)
    assert judge.hidden(covered, box)


def test_sharpness_tells_a_blurred_face_from_fur(judge):
    px = _animal("koala.webp")
    box = next(iter(YuNetFaces(YuNetSettings(judged=False)).detect(Frame(px)))).box
    assert judge.sharpness(px, box) > judge.settings.sharp_least
    assert judge.sharpness(cv2.GaussianBlur(px, (0, 0), 6), box) < judge.settings.sharp_least


def test_a_missing_mmod_model_is_a_clear_error_at_start(monkeypatch):
    import face_recognition_models

    monkeypatch.setattr(face_recognition_models, "cnn_face_detector_model_location", lambda: "/nonexistent.dat")
    with pytest.raises(ModelMissing, match="MMOD"):
        YuNetFaces()


def test_a_failing_second_opinion_fails_closed(monkeypatch, yunet):
    """The koala needs every opinion; a judge that fails is a detector failure (the pipeline
    blocks on it), never a guess."""
    monkeypatch.setattr(FaceJudge, "hog", lambda *a: 1 / 0)
    with pytest.raises(DetectorFailed, match="face judge"):
        yunet.detect(Frame(_animal("koala.webp")))
