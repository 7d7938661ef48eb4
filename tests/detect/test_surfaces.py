"""Surfaces (screens, documents, wristbands) built from real OCR and barcode detections on
real images: the samples and a few images of the benchmark generator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from scrubber.detect.barcodes import Barcodes
from scrubber.detect.surfaces import Surfaces
from scrubber.detection import Kind
from scrubber.imageio import load
from tests.conftest import ROOT, SAMPLES, frame_of, truth


def _coverage(det, polygon, shape) -> float:
    import cv2

    gt = np.zeros(shape, np.uint8)
    cv2.fillPoly(gt, [np.asarray(polygon, np.int32)], 1)
    got = np.zeros(shape, np.uint8)
    cv2.fillPoly(got, [np.asarray(det.polygon, np.int32)], 1)
    return float((gt & got).sum() / gt.sum())


@pytest.fixture(scope="module")
def surfaces(text_detector):
    barcodes = Barcodes()
    s = Surfaces()

    def run(frame):
        return s.detect(frame, text_detector.detect(frame) + barcodes.detect(frame))

    return run


@pytest.mark.parametrize("name, kind", [("monitor_patient_list.jpg", Kind.SCREEN),
                                        ("wristband.jpg", Kind.WRISTBAND),
                                        ("whiteboard_census.jpg", Kind.WHITEBOARD)])
def test_samples_surface_found_with_its_outline(surfaces, name, kind):
    frame = frame_of(name)
    dets = surfaces(frame)
    assert [d.kind for d in dets] == [kind]
    assert _coverage(dets[0], truth(name)["surfaces"][0], (frame.height, frame.width)) >= 0.93


@pytest.mark.parametrize("name", ["banner_clean_text.jpg", "empty_room.jpg", "group_photo.jpg",
                                  "sideways_exif.jpg"])
def test_signage_and_single_labels_are_not_surfaces(surfaces, name):
    """The banner (large type, no numbers) and a one-line name tag stay word-level."""
    assert surfaces(frame_of(name)) == ()


@pytest.fixture(scope="module")
def bench_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("surfaces")
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_surfaces.py"), str(out), "3", "2026"], check=True,
                   capture_output=True)
    return out


@pytest.mark.parametrize("stem", [
    "screen_00", "screen_01", "screen_02", "document_00", "document_02", "wristband_00", "wristband_01",
    pytest.param("document_01", marks=pytest.mark.xfail(strict=True, reason=(
        "known miss: a sticky note filling the frame has type taller than max_line_share, so it is taken "
        "for signage (see bench/README.md)"))),
])
def test_generated_surfaces_are_covered(surfaces, bench_set, stem):
    (truth_file,) = bench_set.glob(f"{stem}_*.json")
    t = json.loads(truth_file.read_text())
    frame = load(bench_set / t["file"]).frames[0]
    dets = surfaces(frame)
    assert dets, f"{t['file']}: nothing found"
    assert max(_coverage(d, t["polygon"], (frame.height, frame.width)) for d in dets) >= 0.9


@pytest.mark.parametrize("stem", ["negative_00", "negative_01", "negative_02"])
def test_hard_negatives_are_left_alone(surfaces, bench_set, stem):
    (truth_file,) = bench_set.glob(f"{stem}_*.json")
    frame = load(bench_set / json.loads(truth_file.read_text())["file"]).frames[0]
    assert surfaces(frame) == ()


def test_blank_screen_is_left_alone(surfaces):
    """A monitor showing nothing: a dark quadrilateral in a bezel, no text block."""
    px = np.full((900, 1200, 3), 170, np.uint8)
    px[200:700, 300:900] = (25, 25, 28)
    px[230:670, 330:870] = (8, 8, 10)
    from scrubber.imageio import Frame

    assert surfaces(Frame(px)) == ()


def test_surfaces_covering_most_of_the_photo_block_it(scrubber):
    result = scrubber.process(SAMPLES / "clipboard_chart.jpg")
    assert result.status.value == "blocked"
    assert any(r.startswith("surface-too-large:0.4") for r in result.reasons)


def test_a_line_read_twice_counts_once_and_unreadable_lines_may_hold_digits():
    """The OCR reads a poor line again turned 180 degrees (key (i, 1)); the better reading
    stands for the line. A line nobody could read counts as possibly numeric (fail closed)."""
    from scrubber.detect.surfaces import _lines
    from scrubber.detection import Box, Detection

    def word(text, line, score, y):
        return Detection(Kind.TEXT, Box(10, y, 200, y + 20), score, "text-ocr", text=text, line=line)

    found = (
        word("Wash", (0,), 0.9, 0), word("hands", (0,), 0.92, 0), word("5u3y", (0, 1), 0.4, 0),
        word("Pharmacy", (1,), 0.88, 40), word("0Ol", (1, 1), 0.3, 40),
        word("???", (2,), 0.2, 80), word("~~", (2, 1), 0.1, 80),
    )
    lines = _lines(found)
    assert len(lines) == 3
    assert [line.numeric for line in lines] == [False, False, True]


def test_a_number_in_either_reading_of_a_line_counts():
    """Tesseract can be surer of the upside-down nonsense than of the upright MRN."""
    from scrubber.detect.surfaces import _lines
    from scrubber.detection import Box, Detection

    def word(text, line, score):
        return Detection(Kind.TEXT, Box(10, 0, 200, 20), score, "text-ocr", text=text, line=line)

    found = (word("MRN:", (0,), 0.13), word("20119524", (0,), 0.59),
             word("PCGOLTTOZ", (0, 1), 0.86), word("WEW", (0, 1), 0.86))
    assert [line.numeric for line in _lines(found)] == [True]


def test_small_type_lines_without_a_real_word_are_weak():
    """Lines only the small-type level found, with no word of three letters or digits read
    confidently (texture in a door or window), cannot make a surface on their own."""
    from scrubber.detect.surfaces import _weak
    from scrubber.detection import Box, Detection

    small = ("small-type",)
    junk = Detection(Kind.TEXT, Box(0, 0, 40, 10), 0.6, "text-ocr", text="eA", evidence=small, line=(0,))
    nobody = Detection(Kind.TEXT, Box(0, 20, 40, 30), 0.7, "text-ocr", evidence=("unreadable",) + small, line=(1,))
    label = Detection(Kind.TEXT, Box(0, 40, 40, 50), 0.86, "text-ocr", text="740", evidence=small, line=(2,))
    coarse = Detection(Kind.TEXT, Box(0, 60, 40, 70), 0.7, "text-ocr", evidence=("unreadable",), line=(3,))
    assert _weak((junk, nobody, label, coarse)) == {junk.box, nobody.box}


def test_a_shape_read_as_punctuation_is_not_a_line():
    """An edge read confidently as "k=" is no line of a chart; a line read poorly stays."""
    from scrubber.detect.surfaces import _lines
    from scrubber.detection import Box, Detection

    found = (Detection(Kind.TEXT, Box(10, 0, 60, 20), 0.92, "text-ocr", text="k=", line=(0,)),
             Detection(Kind.TEXT, Box(10, 40, 60, 60), 0.3, "text-ocr", text="~", line=(1,)),
             Detection(Kind.TEXT, Box(10, 80, 60, 100), 0.9, "text-ocr", text="Rm", line=(2,)))
    assert [line.numeric for line in _lines(found)] == [True, False]


@pytest.mark.parametrize("text, numeric", [("Visiting hours 9-5", False), ("Huddle 8:00", False), ("Rm 301", True),
                                           ("DOB 03/14/58", True), ("MRN: 00482913", True), ("BP 120/80", True)])
def test_a_number_is_three_digits_or_a_date(text, numeric):
    from scrubber.detect.surfaces import _lines
    from scrubber.detection import Box, Detection

    found = tuple(Detection(Kind.TEXT, Box(10 + 60 * i, 0, 60 + 60 * i, 20), 0.9, "text-ocr", text=w, line=(0,))
                  for i, w in enumerate(text.split()))
    assert _lines(found)[0].numeric is numeric
