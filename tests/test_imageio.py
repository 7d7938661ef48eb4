"""Loading every supported format and every bad-input class; saving without metadata."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from scrubber.errors import ImageTooLarge, ImageUnreadable, OutputExists
from scrubber.imageio import (
    Frame, OutputFormat, decode_own, encode, load, metadata_problems, write_atomic,
)
from tests.conftest import SAMPLES, rgb


def _photo(w=64, h=48) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("fmt, ext", [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("BMP", ".bmp"),
                                      ("TIFF", ".tif"), ("GIF", ".gif")])
def test_loads_each_format_as_rgb(tmp_path, fmt, ext):
    path = tmp_path / f"p{ext}"
    _photo().save(path, fmt)
    img = load(path)
    assert img.format == fmt
    assert img.frames[0].pixels.shape == (48, 64, 3)
    assert img.frames[0].pixels.dtype == np.uint8


def test_loads_heic_sample():
    img = load(SAMPLES / "nurse_station.heic")
    assert img.format == "HEIF" and img.width == 1400 and img.height == 1000


def test_applies_exif_orientation_before_anything_else():
    img = load(SAMPLES / "sideways_exif.jpg")
    with Image.open(SAMPLES / "sideways_exif.jpg") as raw:
        assert raw.size == (1400, 1000)  # stored sideways
    assert (img.width, img.height) == (1000, 1400)
    assert "exif-orientation" in img.notes


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_turns_a_jpeg_as_pil_does(tmp_path, orientation):
    from PIL import ImageOps

    exif = Image.Exif()
    exif[0x0112] = orientation
    _photo(50, 30).save(tmp_path / "o.jpg", "JPEG", quality=95, exif=exif.tobytes())
    with Image.open(tmp_path / "o.jpg") as raw:
        expected = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))
    img = load(tmp_path / "o.jpg")
    assert np.array_equal(img.frames[0].pixels, expected)
    assert ("exif-orientation" in img.notes) == (orientation != 1)


def test_jpeg_pixels_are_the_ones_pil_decodes():
    path = SAMPLES / "group_photo.jpg"
    with Image.open(path) as raw:
        expected = np.asarray(raw.convert("RGB"))
    assert np.array_equal(load(path).frames[0].pixels, expected)


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9, 0.999])
def test_a_jpeg_cut_anywhere_is_refused(tmp_path, kept):
    data = (SAMPLES / "group_photo.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * kept)])
    with pytest.raises(ImageUnreadable, match="corrupt or truncated"):
        load(tmp_path / "cut.jpg")


def test_a_jpeg_with_bytes_after_its_end_still_loads(tmp_path):
    data = (SAMPLES / "group_photo.jpg").read_bytes()
    (tmp_path / "trailer.jpg").write_bytes(data + b"vendor trailer" * 100)
    assert np.array_equal(load(tmp_path / "trailer.jpg").frames[0].pixels, load(SAMPLES / "group_photo.jpg").frames[0].pixels)


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_decode_own_reads_back_what_encode_wrote(fmt):
    pixels = np.asarray(_photo(64, 48))
    data = encode(pixels, fmt)
    back = decode_own(data)
    with Image.open(io.BytesIO(data)) as img:
        assert np.array_equal(back, np.asarray(img.convert("RGB")))


def test_every_tiff_page_and_gif_frame_is_loaded(tmp_path):
    pages = [_photo(), Image.new("RGB", (64, 48), "white"), Image.new("RGB", (64, 48), "black")]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "a.gif", save_all=True, append_images=pages[1:], duration=100)
    assert len(load(tmp_path / "m.tif").frames) == 3
    assert len(load(tmp_path / "a.gif").frames) == 3


def test_cmyk_and_16_bit_and_palette_become_8_bit_rgb(tmp_path):
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # red in CMYK
    px = load(tmp_path / "c.jpg").frames[0].pixels
    assert px[5, 5, 0] > 200 and px[5, 5, 1] < 60

    Image.fromarray(np.full((10, 20), 65535, np.uint16)).save(tmp_path / "w.png")
    img = load(tmp_path / "w.png")
    assert img.frames[0].pixels.dtype == np.uint8 and img.frames[0].pixels.min() == 255

    _photo().convert("P").save(tmp_path / "p.png")
    assert load(tmp_path / "p.png").frames[0].pixels.shape == (48, 64, 3)


def test_alpha_is_flattened_and_hidden_pixels_are_kept(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0] = 200  # red colour under fully transparent pixels
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    img = load(tmp_path / "t.png")
    assert (img.frames[0].pixels == 255).all()  # what shows: white
    assert img.hidden and (img.hidden[0].pixels[..., 0] == 200).all()  # what is there


def test_decompression_bomb_is_refused(tmp_path):
    Image.new("RGB", (2000, 2000)).save(tmp_path / "big.png")
    with pytest.raises(ImageTooLarge, match="pixel limit"):
        load(tmp_path / "big.png", max_pixels=1_000_000)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("zero.jpg", b"", "empty file"),
        ("text.jpg", b"hello, I am not a picture", "not a recognised image"),
        ("trunc.jpg", None, "corrupt or truncated"),
    ],
)
def test_bad_files_raise_one_clear_sentence(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        buf = io.BytesIO()
        _photo(400, 300).save(buf, "JPEG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif content == "jpeg":
        _photo().save(path, "JPEG")
    else:
        path.write_bytes(content)
    with pytest.raises(ImageUnreadable) as info:
        load(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_truncated_jpeg_is_refused_even_after_face_recognition_is_imported(tmp_path):
    import face_recognition  # noqa: F401  (sets PIL's LOAD_TRUNCATED_IMAGES = True)

    buf = io.BytesIO()
    _photo(400, 300).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageUnreadable, match="truncated"):
        load(tmp_path / "t.jpg")


def test_missing_file_and_directory_are_unreadable(tmp_path):
    with pytest.raises(ImageUnreadable, match="cannot read"):
        load(tmp_path / "nope.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageUnreadable):
        load(tmp_path / "dir.jpg")


def test_frame_caches_resized_copies_and_is_read_only():
    frame = Frame(np.zeros((400, 800, 3), np.uint8))
    small, back = frame.resized(200)
    assert small.shape == (100, 200, 3) and back == 4.0
    assert frame.resized(200)[0] is small
    with pytest.raises(ValueError):
        frame.pixels[0, 0, 0] = 1


@pytest.mark.parametrize("side", [1920, 1600, 1280, 960, 640])
def test_resized_copies_match_an_area_resize(side):
    """Exact halvings, then bilinear for a last factor up to 1.5, area beyond: within a couple of
    level of one area resize from full resolution, on 12 MP of a real photo at its own detail
    (one bilinear or nearest step from full resolution is 0.9-2.3 and 2.7-4.7 levels off)."""
    import cv2

    px = np.tile(rgb("group_photo.jpg"), (3, 3, 1))[:3024, :4032].copy()
    small, back = Frame(px).resized(side)
    reference = cv2.resize(px, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert max(small.shape[:2]) == side and back == pytest.approx(4032 / side, rel=0.01)
    assert np.abs(small.astype(int) - reference).mean() < 1.0


def test_a_halving_a_little_short_of_the_size_asked_for_is_taken_as_it_is():
    frame = Frame(np.zeros((3024, 4032, 3), np.uint8))
    img, back = frame.resized(1024)  # the 1008-px halving, 1.6% short
    assert img.shape == (756, 1008, 3) and back == 4.0
    assert any(img is v for k, v in frame._cache.items() if "half" in k)
    img, back = frame.resized(1100)  # the halving would be 8% short: an area resize from 2016 px
    assert img.shape[1] == 1100


@pytest.mark.parametrize("size, expected, halvings", [
    ((4032, 3024), (2400, 1800), 1),  # the 2016-px halving enlarged by 1.19
    ((3000, 2000), (2400, 1600), 0),  # a halving (1500) would need 1.6: full resolution shrunk
    ((8000, 6000), (2400, 1800), 2),
    ((2200, 1650), (2200, 1650), 0),  # never above full resolution
])
def test_enlarged_half_starts_from_the_nearest_halving(size, expected, halvings):
    frame = Frame(np.zeros((size[1], size[0], 3), np.uint8))
    img, back = frame.enlarged_half(2400)
    assert (img.shape[1], img.shape[0]) == expected and back == pytest.approx(size[0] / expected[0])
    assert len([k for k in frame._cache if "half" in k]) == halvings
    assert frame.enlarged_half(2400)[0] is img


def test_enlarged_half_stays_close_to_an_area_resize():
    """The enlarged 2016-px halving of 12 MP of a real photo is a little softer than an area
    resize to 2400 px, not another picture."""
    import cv2

    px = np.tile(rgb("group_photo.jpg"), (3, 3, 1))[:3024, :4032].copy()
    img, _ = Frame(px).enlarged_half(2400)
    reference = cv2.resize(px, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(img.astype(int) - reference).mean() < 1.5  # 0.8 levels


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_encode_carries_no_metadata(fmt):
    data = encode(np.zeros((32, 32, 3), np.uint8), fmt)
    assert metadata_problems(data) == []


def test_metadata_problems_finds_exif_icc_comments_and_trailers(tmp_path):
    img = _photo()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"pt: John")
    problems = metadata_problems(buf.getvalue() + b"TRAILER")
    assert any("0xE1" in p for p in problems)  # EXIF/XMP
    assert any("0xE2" in p for p in problems)  # ICC
    assert any("0xFE" in p for p in problems)  # comment
    assert any("after end of image" in p for p in problems)

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "MRN 123")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    assert any("tEXt" in p for p in metadata_problems(buf.getvalue()))


def test_write_atomic_never_overwrites_and_leaves_no_temp_files(tmp_path):
    dest = tmp_path / "sub" / "safe.jpg"
    write_atomic(b"one", dest)
    with pytest.raises(OutputExists):
        write_atomic(b"two", dest)
    assert dest.read_bytes() == b"one"
    write_atomic(b"three", dest, overwrite=True)
    assert dest.read_bytes() == b"three"
    assert os.listdir(dest.parent) == ["safe.jpg"]


def test_output_format_rules():
    assert OutputFormat.for_source("HEIF") is OutputFormat.JPEG
    assert OutputFormat.for_source("JPEG") is OutputFormat.JPEG
    assert OutputFormat.for_source("TIFF") is OutputFormat.PNG
    assert OutputFormat.for_source("WEBP") is OutputFormat.WEBP
    from pathlib import Path

    assert OutputFormat.for_path(Path("x.JPEG")) is OutputFormat.JPEG
    assert OutputFormat.for_path(Path("x.gif")) is None


def test_content_that_differs_from_the_extension_is_decoded_by_content_and_noted(tmp_path):
    _photo().save(tmp_path / "wrong.png", "JPEG")
    image = load(tmp_path / "wrong.png")
    assert image.format == "JPEG" and "content-jpeg-named-.png" in image.notes


def test_an_mpo_is_read_as_its_first_picture(tmp_path):
    first, second = Image.linear_gradient("L").resize((64, 48)).convert("RGB"), Image.new("RGB", (64, 48), (0, 0, 255))
    first.save(tmp_path / "camera.jpg", "MPO", save_all=True, append_images=[second])
    with Image.open(tmp_path / "camera.jpg") as check:
        assert check.format == "MPO" and check.n_frames == 2
    image = load(tmp_path / "camera.jpg")
    assert len(image.frames) == 1 and not image.hidden and "mpo:first-picture-only" in image.notes
    assert np.abs(image.frames[0].pixels.astype(int) - np.asarray(first).astype(int)).mean() < 8


def test_an_avif_photo_is_read_and_its_safe_copy_is_a_jpeg(tmp_path):
    from PIL import features

    from scrubber.imageio import OutputFormat

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(tmp_path / "phone.avif")
    image = load(tmp_path / "phone.avif")
    assert image.format == "AVIF" and image.frames[0].pixels.shape == (48, 64, 3) and not image.notes
    assert OutputFormat.for_source(image.format) is OutputFormat.JPEG
