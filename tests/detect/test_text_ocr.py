"""Text lines found by the PP-OCR detector and read by real Tesseract."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from scrubber.detection import Kind
from scrubber.imageio import Frame, load
from scrubber.policy import Status
from tests.conftest import frame_of, rgb


def _words(dets):
    return " ".join(d.text for d in dets if d.text)


def test_reads_a_wristband_beside_its_barcode(text_detector):
    """Full-frame Tesseract reads nothing here (the barcode confuses page layout)."""
    text = _words(text_detector.detect(frame_of("wristband.jpg")))
    for expected in ("HALVORSEN", "08/21/1962", "00734519"):
        assert expected in text


def test_words_have_boxes_in_full_resolution_and_confidences(text_detector):
    dets = text_detector.detect(frame_of("clipboard_chart.jpg"))
    word = next(d for d in dets if d.text == "10298374")
    assert word.kind is Kind.TEXT and 0.5 < word.score <= 1.0
    # the MRN sits in the clipboard's upper half, left column, in full-resolution pixels
    assert 300 < word.box.x0 < 1000 and 300 < word.box.y0 < 1200 and word.box.height < 80


@pytest.mark.parametrize("k", [1, 2, 3])
def test_reads_text_turned_90_180_270_degrees(text_detector, k):
    turned = np.ascontiguousarray(np.rot90(rgb("clipboard_chart.jpg"), k))
    text = _words(text_detector.detect(Frame(turned)))
    assert "10298374" in text and "Oduya" in text


def test_reads_small_text_across_a_large_frame(text_detector):
    """12-px text in a 4000x3000 frame: too small once the frame is shrunk for detection."""
    import matplotlib

    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", 13)
    img = Image.new("RGB", (4000, 3000), (200, 200, 200))
    d = ImageDraw.Draw(img)
    d.rectangle((2500, 1990, 2800, 2070), fill=(255, 255, 255))
    d.text((2510, 2000), "MRN 48213377", font=font, fill=(0, 0, 0))
    d.text((2510, 2030), "DOB 04/11/1977", font=font, fill=(0, 0, 0))
    text = _words(text_detector.detect(Frame(np.asarray(img))))
    assert "48213377" in text and "04/11/1977" in text


def test_a_label_of_small_type_among_patterned_swatches_is_read(text_detector):
    """Thirty swatches of a running-bond pattern (a tiled floor far away) are denser with
    word-shaped blobs than a label of 10-px type, and used up the small-type level's regions
    before it when the densest went first. The label's lines stand in a left-aligned
    column, the pattern's rows are offset: the label is read."""
    import matplotlib

    img = Image.new("RGB", (4032, 3024), (150, 140, 130))
    d = ImageDraw.Draw(img)
    for k in range(30):
        x0, y0 = 100 + (k % 6) * 620, 700 + (k // 6) * 450
        d.rectangle((x0 - 20, y0 - 20, x0 + 300, y0 + 160), fill=(225, 220, 210))
        for row in range(11):
            for x in range(x0 + 22 * (row % 2), x0 + 270, 44):
                d.rectangle((x, y0 + row * 14, x + 30, y0 + row * 14 + 7), fill=(60, 55, 50))
    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", 10)
    d.rectangle((3530, 310, 3860, 470), fill=(245, 245, 235))
    label = ["Hand-off note", "MRN 55120934", "DOB 07/27/1982", "Pt: James Raman", "Bed 4 West", "Portal"]
    for i, line in enumerate(label):
        d.text((3570, 336 + 18 * i), line, font=font, fill=(0, 0, 0))
    text = _words(text_detector.detect(Frame(np.asarray(img))))
    assert "55120934" in text and "07/27/1982" in text and "Raman" in text


def test_skewed_text_is_read(text_detector):
    import cv2

    img = rgb("clipboard_chart.jpg")
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0)
    skewed = cv2.warpAffine(img, m, (w, h), borderValue=(90, 70, 50))
    assert "10298374" in _words(text_detector.detect(Frame(skewed)))


def test_blank_picture_has_no_text(text_detector):
    assert text_detector.detect(Frame(np.full((600, 800, 3), 128, np.uint8))) == ()


def test_more_lines_than_one_mosaic_holds_are_read_in_several():
    """A page of dense type makes a mosaic taller than Tesseract takes: the lines go in
    several mosaics, and every one is read."""
    import cv2

    from scrubber.detect.text_ocr import TesseractText, TextSettings, _Line

    reader = TesseractText(TextSettings(max_mosaic_height=600))
    pages = []
    read = reader._tess.data
    reader._tess.data = lambda mosaic: (pages.append(mosaic.shape), read(mosaic))[1]
    lines = []
    for i in range(12):
        crop = np.full((60, 420), 255, np.uint8)
        cv2.putText(crop, f"MRN {10482913 + i}", (10, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
        lines.append(_Line(np.float32([[0, 0], [420, 0], [420, 60], [0, 60]]), 1.0, crop=crop))
    reader._read(lines)
    reader._tess.close()
    assert len(pages) > 1 and all(h <= 600 for h, _ in pages)
    assert all(any(str(10482913 + i) in t for t, _, _ in line.words) for i, line in enumerate(lines))



REALSET = Path(__file__).resolve().parents[2].parent / "shared" / "realset"


def _shaded_page() -> np.ndarray:
    """Lines of book type set 22 px apart (their tails reach into the next line's box) on a
    page whose light falls from 235 to 50 across it."""
    import matplotlib

    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSerif.ttf", 21)
    lines = ["Call the method readlines to read the whole file into memory at once",
             "or loop directly on the file object when the file is too large for it",
             "with the other hand the program gives no trouble when the method is used",
             "gives you both good performance and program simplicity in this case"]
    img = Image.new("L", (900, 22 * len(lines) + 40), 255)
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((10, 20 + 22 * i), line, font=font, fill=0)
    light = np.linspace(235, 50, img.width, dtype=np.float32)[None, :]
    page = (np.asarray(img, np.float32) / 255.0 * (light - 25) + 25).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(page[:, :, None], 3, axis=2))


def test_a_tightly_set_page_half_in_shadow_is_read_line_by_line(text_detector):
    """The light is levelled along each line before its ink is judged, and the tails of the
    lines above and below are painted out of each line's margin: every line is read."""
    dets = text_detector.detect(Frame(_shaded_page()))
    assert not [d for d in dets if "unreadable" in d.evidence]
    text = _words(dets)
    for word in ("readlines", "memory", "directly", "large", "trouble", "simplicity"):
        assert word in text, text


@pytest.mark.skipif(not (REALSET / "clean").is_dir(), reason="../shared/realset is not beside the project")
def test_a_real_book_page_upside_down_and_half_in_shadow_is_read_and_left_alone(scrubber):
    """The realset's photo of a book page turned upside down, its right half in shadow: the
    dark end of a line passed for light type (the line was read inverted) and fragments of
    the lines above and below filled its margins; six of its eleven lines came back
    unreadable and the page was blocked as a record. Every line is read now, and a page of
    ordinary words is signage: the photo is clean."""
    result = scrubber.process(REALSET / "clean" / "falsepositive-08.webp")
    assert result.status is Status.CLEAN, result.reasons
    assert not [d for d in result.detections if d.kind is Kind.TEXT and "unreadable" in d.evidence]
    text = _words(result.detections)
    for word in ("xreadlines", "performance", "memory", "simplicity"):
        assert word in text, text


@pytest.mark.skipif(not (REALSET / "clean").is_dir(), reason="../shared/realset is not beside the project")
def test_pieces_of_a_column_of_type_are_not_read_across_it(text_detector):
    """The realset's book page turned 90 degrees: the small-type level finds short pieces of
    its columns of type and read them across the column ("SLL" for part of "array"); a
    piece lying in a column found whole is dropped, and the column is read along it."""
    import cv2

    dets = text_detector.detect(load(REALSET / "clean" / "falsepositive-07.webp").frames[0])
    columns = [np.float32(d.polygon) for d in dets if d.text and "small-type" not in d.evidence
               and d.polygon and d.box.height > 4 * d.box.width]
    pieces = [d for d in dets if "small-type" in d.evidence and d.polygon]
    assert columns and "typecode" in _words(dets)
    for piece in pieces:
        cx, cy = np.float32(piece.polygon).mean(axis=0)
        assert all(cv2.pointPolygonTest(c.reshape(-1, 1, 2), (float(cx), float(cy)), False) < 0 for c in columns), piece


def test_the_second_reader_reads_a_line_and_spans_each_word():
    """PP-OCR's recogniser on a rendered line: the words as written, accents and all, sure
    enough to count as read, and each word's span covers its ink (a fill over that span
    covers the word)."""
    import matplotlib

    from scrubber.detect.line_reader import LineReader

    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", 32)
    img = Image.new("L", (560, 60), 255)
    ImageDraw.Draw(img).text((12, 10), "Théâtre du Palais-Royal 214", font=font, fill=0)
    crop = np.asarray(img)
    words, mean = LineReader().read(crop)
    assert [w[0] for w in words] == ["Théâtre", "du", "Palais-Royal", "214"]
    assert mean >= LineReader.least
    ink = np.flatnonzero((crop < 128).any(axis=0))
    gaps = np.flatnonzero(np.diff(ink) > 9)  # the three spaces between the four words
    starts, ends = np.r_[ink[0], ink[gaps + 1]], np.r_[ink[gaps], ink[-1]]
    assert len(starts) == 4
    for (_, _, x0, x1), first, last in zip(words, starts, ends):
        assert x0 <= first and last <= x1, (x0, x1, first, last)


def test_the_second_reader_reads_nothing_surely_on_a_flat_line():
    from scrubber.detect.line_reader import LineReader

    words, mean = LineReader().read(np.full((60, 300), 255, np.uint8))
    assert mean < LineReader.least


@pytest.mark.skipif(not (REALSET / "scene_text").is_dir(), reason="../shared/realset is not beside the project")
def test_a_line_tesseract_cannot_read_is_read_by_the_second_reader(scrubber):
    """The realset's Paris signpost: Tesseract reads "Théâtre" at confidence 25-33, so the
    line came back unreadable and the two signs around it were filled as a record. PP-OCR
    reads it surely, at its place on the sign, and a post of place names is left alone."""
    result = scrubber.process(REALSET / "scene_text" / "easyocr-french.jpg")
    word = next(d for d in result.detections if d.text == "Théâtre")
    assert "second-reader" in word.evidence
    assert 190 <= word.box.x0 and word.box.x1 <= 290 and 625 <= word.box.y0 and word.box.y1 <= 685, word.box
    assert not [d for d in result.detections if d.kind is Kind.TEXT and "unreadable" in d.evidence]
    assert result.status is Status.CLEAN, result.reasons


def test_a_missing_or_broken_second_reader_model_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from scrubber.detect import line_reader
    from scrubber.detect.textlines import MODEL as LINE_MODEL
    from scrubber.errors import ModelMissing

    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelMissing, match="could not load"):
        line_reader.LineReader(tmp_path / "broken.onnx")
    with pytest.raises(ModelMissing, match="no character list"):  # a model, but not a recogniser
        line_reader.LineReader(LINE_MODEL)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # rapidocr not installed
    with pytest.raises(ModelMissing, match="pip install rapidocr"):
        line_reader.model_path()
