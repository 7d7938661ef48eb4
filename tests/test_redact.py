"""Redaction is irreversible: fill is solid, blur leaves no recognisable face."""

import numpy as np

from scrubber.detection import Box
from scrubber.policy import Action, Region
from scrubber.redact import Blur, Fill, apply
from tests.conftest import rgb, truth


def test_fill_is_solid_and_returns_a_copy():
    px = np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8)
    before = px.copy()
    out = Fill((0, 0, 0)).apply(px, (Region(Box(10, 5, 30, 25), Action.FILL),))
    assert (px == before).all()
    assert (out[5:25, 10:30] == 0).all()
    assert (out[:5] == px[:5]).all() and (out[:, 30:] == px[:, 30:]).all()


def test_fill_polygon():
    px = np.full((50, 50, 3), 200, np.uint8)
    out = Fill((0, 0, 0)).apply(px, (Region(Box(0, 0, 50, 50), Action.FILL, polygon=((10, 10), (40, 10), (40, 40))),))
    assert (out[15, 35] == 0).all() and (out[35, 15] == 200).all()


def test_blur_destroys_identity():
    """After Blur, face_recognition no longer finds the face; if a detector still sees a
    head-shaped blob, its encoding is far from the original person's."""
    import face_recognition

    px = rgb("group_photo.jpg")
    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][1]  # Grace Hopper
    pad = int((x1 - x0) * 0.25)
    box = Box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    out = Blur().apply(px, (Region(box, Action.BLUR, ellipse=True),))
    assert (px == rgb("group_photo.jpg")).all()  # input untouched
    original = face_recognition.face_encodings(px, [(y0, x1, y1, x0)])[0]
    crop = np.ascontiguousarray(out[y0 - pad : y1 + pad, x0 - pad : x1 + pad])
    assert face_recognition.face_locations(crop, number_of_times_to_upsample=1) == []
    blurred = face_recognition.face_encodings(out, [(y0, x1, y1, x0)])[0]
    assert np.linalg.norm(original - blurred) > 0.6  # face_recognition's "same person" cut-off
    # and the pixels carry almost no detail any more
    inner = out[y0 + 20 : y1 - 20, x0 + 20 : x1 - 20].astype(float)
    assert np.abs(np.diff(inner.mean(axis=2), axis=1)).mean() > 5  # noise, not a flat patch to deconvolve


def test_apply_blurs_then_fills():
    px = np.random.default_rng(1).integers(0, 255, (60, 60, 3), dtype=np.uint8)
    regions = (Region(Box(0, 0, 60, 60), Action.BLUR), Region(Box(20, 20, 40, 40), Action.FILL))
    out = apply(px, regions, Fill((0, 0, 0)), Blur())
    assert (out[20:40, 20:40] == 0).all()


def test_blur_is_seeded_stays_inside_its_ellipse_and_is_noisy_everywhere():
    """A large region (many noise tiles): the same output twice, nothing changed outside the
    ellipse, and noise of about the set strength across the whole inside (no flat tile seams)."""
    px = np.full((1200, 1600, 3), 120, np.uint8)
    box = Box(100, 50, 1500, 1150)
    region = (Region(box, Action.BLUR, ellipse=True),)
    out = Blur().apply(px, region)
    assert (out == Blur().apply(px, region)).all()
    changed = (out != px).any(axis=2)
    assert not changed[:50].any() and not changed[:, :100].any() and not changed[110:140, 110:140].any()
    cy, cx = (box.y0 + box.y1) // 2, (box.x0 + box.x1) // 2
    for y, x in ((cy, cx), (cy - 400, cx), (cy, cx + 600), (cy + 300, cx - 500)):
        patch = out[y - 40 : y + 40, x - 40 : x + 40].astype(float)
        assert 20 < patch.std() < 28 and abs(patch.mean() - 120) < 4
