"""Previews for pages: a shrunk safe copy, or for a blocked photo the original with everything
found redacted; nothing for a photo that could not be read or fully checked."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
from PIL import Image

from scrubber.imageio import metadata_problems
from scrubber.pipeline import Result
from scrubber.policy import Status
from scrubber.preview import fully_scanned, preview
from tests.conftest import SAMPLES, truth


def _picture(data: bytes) -> np.ndarray:
    assert metadata_problems(data) == []
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), float)


def test_a_shareable_photos_preview_is_its_safe_copy_shrunk(scrubber):
    r = scrubber.process(SAMPLES / "group_photo.jpg")
    small = _picture(preview(r, SAMPLES / "group_photo.jpg", scrubber.policy, 300))
    assert small.shape == (200, 300)
    safe = np.asarray(Image.open(io.BytesIO(r.data)).convert("L").resize((300, 200), Image.BOX), float)
    assert np.abs(small - safe).mean() < 4


def test_a_blocked_photos_preview_has_what_was_found_redacted(scrubber):
    """The whiteboard census is blocked (a close-up of a record); its preview shows the board
    filled, where the original shows the census."""
    r = scrubber.process(SAMPLES / "whiteboard_census.jpg")
    assert r.status is Status.BLOCKED and r.data is None
    small = _picture(preview(r, SAMPLES / "whiteboard_census.jpg", scrubber.policy, 600))
    original = np.asarray(Image.open(SAMPLES / "whiteboard_census.jpg").convert("L").resize(small.shape[::-1]), float)
    scale = small.shape[1] / r.width
    for ident in truth("whiteboard_census.jpg")["identifiers"]:
        x0, y0, x1, y1 = (round(v * scale) for v in ident["box"])
        assert small[y0:y1, x0:x1].std() < 3 < original[y0:y1, x0:x1].std()


def test_nothing_is_shown_for_a_photo_not_read_or_not_fully_checked(scrubber, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    r = scrubber.process(bad)
    assert r.error and preview(r, bad, scrubber.policy, 300) is None
    halfway = replace(scrubber.process(SAMPLES / "whiteboard_census.jpg"), reasons=("detector-error:text-ocr",))
    assert preview(halfway, SAMPLES / "whiteboard_census.jpg", scrubber.policy, 300) is None
    assert not fully_scanned(["fill:face", "timeout"]) and fully_scanned(["blur:face"])
    assert not fully_scanned([])  # no record says nothing
    assert Result("x", Status.CLEAN).preview is None
