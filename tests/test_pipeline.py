"""The pipeline on real images, with faults injected by mocks only where a fault is needed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from scrubber.outputs import deliver
from scrubber.errors import DetectorFailed
from scrubber.imageio import decode_own, metadata_problems
from scrubber.policy import Policy, Status
from scrubber.report import result_record
from tests.conftest import SAMPLES, box_iou, truth


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_wristband_is_redacted_and_written_without_metadata(scrubber, tmp_path):
    src = SAMPLES / "wristband.jpg"
    before = _sha(src)
    out = tmp_path / "safe.jpg"
    r = deliver(scrubber.process(src), out)
    assert r.status is Status.REDACTED
    assert {"fill:barcode:Code 128", "fill:identifier:NAME", "fill:identifier:DATE", "fill:identifier:MRN"} <= set(
        r.reasons)
    assert r.output == str(out) and out.exists()
    assert metadata_problems(out.read_bytes()) == []
    assert _sha(src) == before  # the original is never touched
    assert r.sha256 == before
    assert {"load", "text-ocr", "faces-yunet", "verify", "total"} <= set(r.timings)


def test_banner_with_allowlisted_phone_is_clean(scrubber):
    r = scrubber.process(SAMPLES / "banner_clean_text.jpg")
    assert r.status is Status.CLEAN and r.reasons == ()


def test_hidden_name_under_transparency_is_found(scrubber, tmp_path):
    r = deliver(scrubber.process(SAMPLES / "transparent_name.png"), tmp_path / "t.png")
    assert r.status is Status.REDACTED and "fill:identifier:NAME" in r.reasons
    assert "hidden-pixels-scanned" in r.notes
    from PIL import Image

    with Image.open(tmp_path / "t.png") as img:
        assert img.mode == "RGB"  # flattened: the transparent layer is gone


def test_a_failing_detector_blocks_the_image(scrubber, tmp_path):
    det = next(d for d in scrubber.detectors if d.name == "faces-yunet")
    with mock.patch.object(det, "detect", side_effect=DetectorFailed("YuNet exploded")):
        r = deliver(scrubber.process(SAMPLES / "banner_clean_text.jpg"), tmp_path / "x.jpg")
    assert r.status is Status.BLOCKED and "detector-error:faces-yunet" in r.reasons
    assert not (tmp_path / "x.jpg").exists()


def test_an_unexpected_detector_exception_also_blocks(scrubber):
    det = next(d for d in scrubber.detectors if d.name == "barcodes")
    with mock.patch.object(det, "detect", side_effect=MemoryError()):
        r = scrubber.process(SAMPLES / "banner_clean_text.jpg")
    assert r.status is Status.BLOCKED and "detector-error:barcodes" in r.reasons


def test_a_failing_recognizer_blocks_the_image(scrubber):
    rec = next(r for r in scrubber.recognizers if r.LABEL == "MRN")
    with mock.patch.object(rec, "analyze", side_effect=RecursionError("regex")):
        r = scrubber.process(SAMPLES / "wristband.jpg")
    assert r.status is Status.BLOCKED and "recognizer-error:phi-mrn" in r.reasons


def test_verification_blocks_when_redaction_left_something(scrubber, tmp_path):
    """A redactor that paints nothing: the re-check on the output must catch it."""
    with mock.patch("scrubber.pipeline.apply", side_effect=lambda px, regions, fill, blur: px.copy()):
        r = deliver(scrubber.process(SAMPLES / "wristband.jpg"), tmp_path / "leak.jpg")
    assert r.status is Status.BLOCKED
    assert any(reason.startswith("verify:residual:") for reason in r.reasons)
    assert not (tmp_path / "leak.jpg").exists()


def test_verification_proves_every_fill_is_solid(scrubber, tmp_path):
    """A fill painted in the wrong colour (grey, not the policy's black) is not proof of redaction."""
    from scrubber.redact import Fill

    grey = Fill((128, 128, 128))
    with mock.patch.object(scrubber.fill, "apply", side_effect=grey.apply):
        r = deliver(scrubber.process(SAMPLES / "wristband.jpg"), tmp_path / "grey.jpg")
    assert r.status is Status.BLOCKED
    assert any(reason.startswith("verify:residual:unfilled:") for reason in r.reasons)
    assert not (tmp_path / "grey.jpg").exists()


def test_verification_re_detects_a_face_the_blur_did_not_destroy(scrubber, tmp_path):
    """A light blur leaves the face recognisable: the detectors re-run around the blurred region
    (packed with the other redacted areas into one canvas) and find it, every repair round
    again, so after ``repair_rounds`` the photo is blocked."""
    import cv2

    def light(pixels, regions):
        out = pixels.copy()
        for reg in regions:
            b = reg.box
            out[b.y0 : b.y1, b.x0 : b.x1] = cv2.GaussianBlur(pixels[b.y0 : b.y1, b.x0 : b.x1], (3, 3), 0)
        return out

    with mock.patch.object(scrubber.blur, "apply", side_effect=light):
        r = deliver(scrubber.process(SAMPLES / "group_photo.jpg"), tmp_path / "weak.jpg")
    assert r.status is Status.BLOCKED and "verify:residual:face" in r.reasons
    assert not (tmp_path / "weak.jpg").exists()
    # what the re-check still found is recorded, so pages can draw it (scrubber.marks)
    faces = truth("group_photo.jpg")["faces"]
    assert r.residuals and all(d.kind.value == "face" for d in r.residuals)
    assert all(max(box_iou(d.box.as_tuple(), f) for f in faces) > 0.3 for d in r.residuals)
    assert result_record(r)["residuals"][0]["kind"] == "face"


def test_verification_checks_a_face_lying_sideways_turned_too(scrubber, tmp_path):
    """The re-check skips its turned passes only when every face was found upright: a face the
    first pass found turned 90 degrees, left recognisable by a blur that only blurs edges, is
    re-detected turned in the re-check."""
    import cv2
    from PIL import Image

    face = np.asarray(Image.open(SAMPLES / "sideways_exif.jpg").convert("RGB"))  # stored sideways
    Image.fromarray(face).save(tmp_path / "lying.png")

    def light(pixels, regions):
        out = pixels.copy()
        for reg in regions:
            b = reg.box
            out[b.y0 : b.y1, b.x0 : b.x1] = cv2.GaussianBlur(pixels[b.y0 : b.y1, b.x0 : b.x1], (3, 3), 0)
        return out

    found = scrubber.process(tmp_path / "lying.png")
    assert any(d.kind.value == "face" and d.evidence[:1] in (("rot90",), ("rot270",)) for d in found.detections)
    with mock.patch.object(scrubber.blur, "apply", side_effect=light):
        r = deliver(scrubber.process(tmp_path / "lying.png"), tmp_path / "weak.png")
    assert r.status is Status.BLOCKED and "verify:residual:face" in r.reasons


def test_verification_by_region_matches_the_whole_image_check_on_samples():
    """Both verify scopes pass the same real redactions (the region check is not weaker on
    these, only cheaper) and both publish the redacted sample."""
    from scrubber.pipeline import Scrubber

    for scope in ("regions", "image"):
        r = Scrubber(Policy(verify_scope=scope)).process(SAMPLES / "monitor_patient_list.jpg")
        assert r.status is Status.REDACTED, (scope, r.reasons)
        # the whole-image check really re-ran the reader; by region, every line of the monitor
        # lies inside the screen's fill, which the pixel check proved solid: nothing to re-read
        assert ("verify:text-ocr" in r.timings) == (scope == "image")


@pytest.fixture(scope="module")
def strict():
    """The default policy: the banner's phone number (the clinic's, allowlisted by the clinic
    policy) is an identifier here."""
    from scrubber.pipeline import Scrubber

    return Scrubber(Policy())


def test_a_line_only_partly_under_a_fill_is_read_again(strict):
    """The phone number on the banner is filled, the rest of its line is not: the line is read
    again from the safe copy (a fill that missed a digit would leave a readable number)."""
    r = strict.process(SAMPLES / "banner_clean_text.jpg")
    assert r.status is Status.REDACTED and "fill:identifier:PHONE" in r.reasons
    assert "verify:text-ocr" in r.timings


def test_a_fill_beside_its_identifier_is_caught_by_the_re_read(strict, tmp_path):
    """Fills painted one width to the right of where they belong, with the pixel check taken
    out so only the re-read can notice: the phone number is read again and blocks."""
    from dataclasses import replace

    from scrubber.detection import Box

    real = strict.fill.apply

    def beside(pixels, regions, copy=True):
        moved = tuple(replace(r, box=Box(r.box.x1, r.box.y0, 2 * r.box.x1 - r.box.x0, r.box.y1)) for r in regions)
        return real(pixels, moved, copy)

    with mock.patch("scrubber.verify._unfilled", return_value=[]), \
            mock.patch.object(strict.fill, "apply", side_effect=beside):
        r = deliver(strict.process(SAMPLES / "banner_clean_text.jpg"), tmp_path / "beside.jpg")
    assert r.status is Status.BLOCKED and "verify:residual:identifier:PHONE" in r.reasons, r.reasons


def test_unreadable_input_is_a_blocked_result_not_an_exception(scrubber, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    r = scrubber.process(bad)
    assert r.status is Status.BLOCKED and r.error and "bad.jpg" in r.error and not r.processed


def test_animated_gif_is_scanned_frame_by_frame_and_blocked(scrubber, tmp_path):
    from PIL import Image

    src = Image.open(SAMPLES / "wristband.jpg").convert("RGB").resize((800, 550))
    blank = Image.new("RGB", src.size, "white")
    blank.save(tmp_path / "a.gif", save_all=True, append_images=[src], duration=200)
    r = deliver(scrubber.process(tmp_path / "a.gif"), tmp_path / "a.png")
    assert r.status is Status.BLOCKED and "multi-frame:2" in r.reasons
    assert any(d.label == "MRN" for d in r.detections)  # the second frame was read too
    assert not (tmp_path / "a.png").exists()


def test_existing_output_is_not_overwritten(scrubber, tmp_path):
    out = tmp_path / "safe.jpg"
    out.write_bytes(b"keep me")
    r = deliver(scrubber.process(SAMPLES / "banner_clean_text.jpg"), out)
    assert r.error and "already exists" in r.error
    assert out.read_bytes() == b"keep me"


def test_decompression_bomb_limit_comes_from_the_policy(tmp_path):
    from scrubber.pipeline import Scrubber

    tiny = Scrubber(Policy(max_pixels=1_000_000, detectors=("barcodes",)))
    r = tiny.process(SAMPLES / "wristband.jpg")
    assert r.status is Status.BLOCKED and r.reasons == ("too-large",)


def test_a_webp_named_jpg_is_scanned_and_written_as_the_jpeg_its_name_promises(scrubber, tmp_path):
    from PIL import Image

    from scrubber.policy import Status

    Image.open(SAMPLES / "empty_room.jpg").save(tmp_path / "room.jpg", "WEBP")
    result = scrubber.process(tmp_path / "room.jpg")
    assert result.status is Status.CLEAN and result.format == "WEBP"
    assert "content-webp-named-.jpg" in result.notes and result.data[:3] == b"\xff\xd8\xff"


def _team_photo(width: int) -> np.ndarray:
    """Three colleagues side by side (scikit-image's camera man and astronaut, matplotlib's
    Grace Hopper: real photos shipped in those packages), ``width`` pixels wide."""
    import cv2
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    hopper = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    people = [np.stack([skimage.data.camera()] * 3, -1), skimage.data.astronaut(), hopper]
    row = np.concatenate([cv2.resize(p, (round(p.shape[1] * 800 / p.shape[0]), 800)) for p in people], 1)
    return cv2.resize(row, (width, round(row.shape[0] * width / row.shape[1])), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("width", [1200, 2400, 4000])
def test_a_team_photo_is_redacted_at_every_size_not_blocked_by_its_own_blur(scrubber, tmp_path, width):
    """The re-check saw the astronaut's blurred head and the shoulders below it as a face
    centred outside the blur (2400 and 4000 px wide): the original holds no face there that
    was not redacted, so it is the blur, not a residual."""
    from PIL import Image

    pixels = _team_photo(width)
    Image.fromarray(pixels).save(tmp_path / "team.jpg", quality=92)
    r = scrubber.process(tmp_path / "team.jpg")
    assert r.status is Status.REDACTED and r.reasons == ("blur:face",), r.reasons
    faces = {d.box for d in r.detections if d.kind.value == "face" and d.source == "faces-yunet"}
    assert len(faces) == 3


def test_what_the_re_check_finds_is_redacted_in_another_round(scrubber, tmp_path):
    """A fault injected into the first pass (the DOB beside an MRN not recognised): the
    re-check re-reads the line the MRN's fill touched, finds the DOB, and a second round
    fills it instead of blocking the photo."""
    import sys

    from scrubber.phi import registry

    sys.path.insert(0, str(SAMPLES))
    import hard_cases

    hard_cases.line()[0].save(tmp_path / "line.png")  # Patient: John Smith  MRN 00482913  DOB 07/22/1984
    real, calls = registry.recognize, []

    def first_misses_the_date(words, recognizers, settings):
        found = real(words, recognizers, settings)
        calls.append(len(calls))
        return tuple(d for d in found if d.label != "DATE") if len(calls) == 1 else found

    with mock.patch.object(registry, "recognize", side_effect=first_misses_the_date):
        r = scrubber.process(tmp_path / "line.png")
    assert r.status is Status.REDACTED and "repaired:1" in r.notes, (r.reasons, r.notes)
    assert [d.label for d in r.detections if "repair:1" in d.evidence] == ["DATE"]
    safe = decode_own(r.data)
    date_box = next(d.box for d in r.detections if d.label == "DATE")
    assert (safe[date_box.y0 : date_box.y1, date_box.x0 : date_box.x1].max(axis=2) < 40).mean() > 0.9

