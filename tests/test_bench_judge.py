"""The leak benchmark's judge (bench/leaks.py) on real images: it must call an untouched
identifier, face and barcode a leak and a properly redacted one not (else RESULTS.md lies)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from scrubber.outputs import deliver
from scrubber.imageio import load
from scrubber.policy import Status
from tests.conftest import ROOT, SAMPLES

sys.path.insert(0, str(ROOT / "bench"))
import leaks  # noqa: E402


@pytest.fixture(scope="module")
def judge():
    return leaks.Judge()


def _truth(name: str) -> dict:
    return json.loads((SAMPLES / name).with_suffix(".truth.json").read_text())


def test_identifiers_and_barcode_readable_until_filled(judge):
    px = load(SAMPLES / "wristband.jpg").frames[0].pixels
    truth = _truth("wristband.jpg")
    filled = px.copy()
    for ident in truth["identifiers"]:
        assert judge.text_readable(px, ident), ident["label"]
        x0, y0, x1, y1 = ident["box"]
        filled[y0 - 4 : y1 + 4, x0 - 4 : x1 + 4] = 0
        assert not judge.text_readable(filled, ident, px), ident["label"]
    (code,) = truth["barcodes"]
    assert judge.barcode(px, code)
    x0, y0, x1, y1 = code["box"]
    filled[y0:y1, x0:x1] = 0
    assert not judge.barcode(filled, code)


def test_a_half_covered_identifier_is_judged_by_reading_not_by_shortcut(judge):
    px = load(SAMPLES / "clipboard_chart.jpg").frames[0].pixels
    ident = next(i for i in _truth("clipboard_chart.jpg")["identifiers"] if i["label"] == "EMAIL")
    x0, y0, x1, y1 = ident["box"]
    half = px.copy()
    half[y0:y1, x0 : x0 + (x1 - x0) // 5] = 0  # the first fifth hidden: most of the address still reads
    assert judge.text_readable(half, ident, px)


def test_faces_leak_until_scrubber_blurs_them(judge, scrubber, tmp_path):
    src = SAMPLES / "group_photo.jpg"
    px = load(src).frames[0].pixels
    big = [f for f in _truth("group_photo.jpg")["faces"] if f[3] - f[1] >= 100]
    for box in big:
        assert judge.face_found(px, px, box) == {"detected": True, "same_person": True, "unchanged": True}
    r = deliver(scrubber.process(src), tmp_path / "safe.jpg")
    assert r.status is Status.REDACTED
    out = leaks._pixels(tmp_path / "safe.jpg")
    for box in big:
        assert not any(judge.face_found(px, out, box).values()), box
    x0, y0, x1, y1 = big[0]
    filled = px.copy()
    filled[y0:y1, x0:x1] = 0  # painted over: no leak, whatever an encoder makes of a black square
    assert not any(judge.face_found(px, filled, big[0]).values())


def test_similarity_is_a_best_window_fuzzy_match():
    assert leaks.Judge.similar("00734519", "MRN: 00734519") == 1.0
    assert leaks.Judge.similar("00734519", "MRN: 0O734519") >= 0.8
    assert leaks.Judge.similar("00734519", "MRN: 4519") < 0.8
    assert np.isclose(leaks.Judge.similar("", "x"), 0.0)


def test_identification_needs_a_face_left_to_identify(judge):
    """A lightly blurred face is still a face and still the same person; one replaced by a
    smooth blob of its own colours is no face, and its encoding is not taken as a match."""
    import cv2

    src = SAMPLES / "group_photo.jpg"
    px = load(src).frames[0].pixels
    box = max(_truth("group_photo.jpg")["faces"], key=lambda f: f[3] - f[1])
    x0, y0, x1, y1 = box
    soft = px.copy()
    soft[y0:y1, x0:x1] = cv2.GaussianBlur(px[y0:y1, x0:x1], (0, 0), 2)
    assert judge.face_found(px, soft, box)["same_person"]
    blob = px.copy()
    tiny = cv2.resize(px[y0:y1, x0:x1], (2, 2), interpolation=cv2.INTER_AREA)
    blob[y0:y1, x0:x1] = cv2.resize(tiny, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    assert not any(judge.face_found(px, blob, box).values())
