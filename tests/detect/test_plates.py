"""The opt-in plate detector on real photos: the realset's car park (a plate the text reader
cannot read), people and signs without a plate; and a scan with ``plates`` in the policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scrubber.detect.plates import Plates
from scrubber.imageio import Frame, decode_own, load
from tests.conftest import ROOT, SAMPLES, box_iou

REALSET = ROOT.parent / "shared" / "realset"
CAR_PARK = REALSET / "plates" / "egoblur-plates.png"
needs_realset = pytest.mark.skipif(not CAR_PARK.is_file(), reason="../shared/realset is not beside the project")


@pytest.fixture(scope="module")
def plates():
    return Plates()


def _annotated() -> list[list[int]]:
    notes = json.loads((ROOT / "bench" / "realset_annotations.json").read_text())["images"]
    return [p["box"] for p in notes["plates/egoblur-plates.png"]["plates"]]


@needs_realset
def test_the_car_park_plate_is_found(plates):
    found = plates.detect(load(CAR_PARK).frames[0])
    (truth,) = _annotated()
    assert len(found) == 1 and found[0].label == "PLATE"
    assert box_iou(found[0].box.as_tuple(), truth) > 0.5


@needs_realset
@pytest.mark.parametrize("name", ["faces/egoblur-street.jpg", "faces/deface-city.jpg", "scene_text/icdar2015-img_1.jpg",
                                  "documents/wildreceipt-1.jpeg"])
def test_people_signs_and_receipts_hold_no_plate(plates, name):
    assert plates.detect(load(REALSET / name).frames[0]) == ()


@needs_realset
def test_a_plate_in_a_frame_of_the_car_park_clip_is_found(plates):
    import cv2

    clip = cv2.VideoCapture(str(REALSET / "video" / "egoblur-plates.mp4"))
    clip.set(cv2.CAP_PROP_POS_FRAMES, 20)
    ok, bgr = clip.read()
    clip.release()
    assert ok
    found = plates.detect(Frame(np.ascontiguousarray(bgr[:, :, ::-1])))
    # the Washington plate at the right edge, by eye (2410-2560, 1290-1440 at full size)
    assert [d for d in found if box_iou(d.box.as_tuple(), (2410, 1290, 2560, 1440)) > 0.4]


def test_a_room_holds_no_plate(plates):
    assert plates.detect(load(SAMPLES / "empty_room.jpg").frames[0]) == ()


@needs_realset
def test_a_scan_with_plates_in_the_policy_fills_the_plate(tmp_path):
    from scrubber.pipeline import Scrubber
    from scrubber.policy import DEFAULT_DETECTORS, Policy, Status

    result = Scrubber(Policy(detectors=DEFAULT_DETECTORS + ("plates",))).process(CAR_PARK)
    assert result.status is Status.REDACTED and "fill:identifier:PLATE" in result.reasons
    x0, y0, x1, y1 = _annotated()[0]
    safe = decode_own(result.data)[y0:y1, x0:x1]
    assert (safe.max(axis=2) < 8).mean() > 0.6, "the plate is under solid fill"
