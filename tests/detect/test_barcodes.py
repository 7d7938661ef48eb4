"""zxing-cpp barcodes: decoded or not, every symbol is returned."""

import numpy as np
import pytest
import zxingcpp

from scrubber.detect.barcodes import Barcodes
from scrubber.detection import Kind
from scrubber.imageio import Frame
from tests.conftest import box_iou, frame_of, truth


def _symbol(content, fmt, scale=6):
    code = zxingcpp.create_barcode(content, fmt)
    img = np.asarray(zxingcpp.write_barcode_to_image(code, scale=scale, add_quiet_zones=True))
    return np.stack([img] * 3, axis=-1) if img.ndim == 2 else img


def test_decodes_the_wristband_code128_and_covers_it():
    dets = Barcodes().detect(frame_of("wristband.jpg"))
    assert len(dets) == 1
    d = dets[0]
    assert d.kind is Kind.BARCODE and d.text == "00734519" and "decoded" in d.evidence
    assert box_iou(d.box.as_tuple(), truth("wristband.jpg")["barcodes"][0]["box"]) > 0.6


def test_qr_code_on_a_photo():
    canvas = np.full((900, 1200, 3), 150, np.uint8)
    qr = _symbol("MRN:00734519", zxingcpp.BarcodeFormat.QRCode)
    canvas[300 : 300 + qr.shape[0], 500 : 500 + qr.shape[1]] = qr
    dets = Barcodes().detect(Frame(canvas))
    assert [d.text for d in dets] == ["MRN:00734519"]
    b = dets[0].box
    assert b.x0 <= 520 and b.y0 <= 320 and b.x1 >= 480 + qr.shape[1] and b.y1 >= 280 + qr.shape[0]


def test_a_damaged_qr_code_is_still_returned_undecoded():
    canvas = np.full((900, 1200, 3), 150, np.uint8)
    qr = _symbol("PATIENT 00734519 HALVORSEN", zxingcpp.BarcodeFormat.QRCode, scale=8).copy()
    h, w = qr.shape[:2]
    qr[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = 255  # wipe the middle third: data unrecoverable
    canvas[200 : 200 + h, 300 : 300 + w] = qr
    dets = Barcodes().detect(Frame(canvas))
    assert len(dets) == 1 and dets[0].text is None and "undecoded" in dets[0].evidence


def test_no_barcode_in_a_group_photo():
    assert Barcodes().detect(frame_of("group_photo.jpg")) == ()


@pytest.mark.parametrize("fmt, turns", [("Code128", 0), ("Code128", 1), ("QRCode", 0), ("DataMatrix", 0)])
def test_small_symbols_in_a_12mp_photo_are_read_at_full_resolution(fmt, turns):
    """Bars and modules one pixel wide are lost at the 2048-px pass; the full-resolution
    pass reads them: linear codes upright or turned 90 degrees, 2-D codes as they are."""
    symbol = np.ascontiguousarray(np.rot90(_symbol("00734519", getattr(zxingcpp.BarcodeFormat, fmt), scale=1), turns))
    canvas = np.full((3024, 4032, 3), 150, np.uint8)
    h, w = symbol.shape[:2]
    canvas[1500 : 1500 + h, 2500 : 2500 + w] = symbol
    frame = Frame(canvas)
    small, back = frame.gray(2048)
    assert not any(c.valid for c in zxingcpp.read_barcodes(small))  # lost when shrunk
    dets = Barcodes().detect(frame)
    assert [d.text for d in dets] == ["00734519"]
    ys, xs = np.nonzero(symbol[:, :, 0] < 128)  # the bars and modules
    b = dets[0].box
    covered = (b.x0 <= 2500 + xs) & (2500 + xs < b.x1) & (b.y0 <= 1500 + ys) & (1500 + ys < b.y1)
    assert covered.mean() > 0.9
