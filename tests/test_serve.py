"""scrubber serve, for real: the server runs as a process on loopback; the API is called over
HTTP and fuzzed from its OpenAPI schema; the review queue is driven in Debian's headless
Chromium through Selenium."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from PIL import Image

from scrubber.imageio import metadata_problems
from tests.conftest import CLINIC_POLICY, ROOT, SAMPLES, browser, needs_browser, screenshot


def _start(hold: Path, *args: str):
    proc = subprocess.Popen([sys.executable, "-m", "scrubber", "serve", str(hold), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    m = re.search(r"(http://[^/]+)/\?token=(\S+)", line)
    assert m, line + proc.stderr.read()
    base, token = m.group(1), m.group(2)
    for _ in range(100):
        try:
            urllib.request.urlopen(base, timeout=1)
        except urllib.error.HTTPError:
            break  # 401: it is up
        except OSError:
            time.sleep(0.1)
    return proc, base, token


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _post_file(url: str, token: str | None, data: bytes, filename: str, ctype: str):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    hold = tmp_path_factory.mktemp("api_hold")
    proc, base, token = _start(hold, "--policy", str(CLINIC_POLICY), "--max-upload-mb", "2")
    yield base, token
    _stop(proc)


def test_check_clean_image(api):
    base, token = api
    status, doc = _post_file(f"{base}/v1/check", token, (SAMPLES / "banner_clean_text.jpg").read_bytes(),
                             "banner.jpg", "image/jpeg")
    assert status == 200 and doc["verdict"] == "clean" and doc["path"] == "banner.jpg"


def test_check_phi_image_returns_verdict_and_redacted_image(api):
    base, token = api
    status, doc = _post_file(f"{base}/v1/check?image=true", token, (SAMPLES / "wristband.jpg").read_bytes(),
                             "wristband.jpg", "image/jpeg")
    assert status == 200 and doc["verdict"] == "redacted"
    assert {"NAME", "MRN", "DATE"} <= {d["label"] for d in doc["detections"]}
    assert "HALVORSEN" not in json.dumps({k: v for k, v in doc.items() if k != "image"})
    data = base64.b64decode(doc["image"])
    assert metadata_problems(data) == []
    assert Image.open(io.BytesIO(data)).size == (1600, 1100)


@pytest.mark.parametrize(
    "case, data, name, ctype, status, message",
    [
        ("corrupt", b"\xff\xd8\xff\xe0" + b"\0" * 500, "x.jpg", "image/jpeg", 422, "x.jpg: not a recognised image"),
        ("oversized", b"\xff\xd8" + b"\0" * (2 * 1024 * 1024 + 10), "big.jpg", "image/jpeg", 413, "larger than"),
        ("wrong type", b"Patient: John Smith", "notes.txt", "text/plain", 415, "not an image type"),
        ("lying type", b"GIF89a-not-really", "x.png", "image/png", 422, "not a recognised image"),
    ],
)
def test_bad_uploads_get_4xx_with_a_clear_message(api, case, data, name, ctype, status, message):
    base, token = api
    got, doc = _post_file(f"{base}/v1/check", token, data, name, ctype)
    assert got == status, doc
    assert message in (doc.get("error") or "")
    if status == 422:
        assert doc["verdict"] == "blocked"


def test_requests_without_the_token_are_refused(api):
    base, token = api
    status, doc = _post_file(f"{base}/v1/check", None, b"x", "x.jpg", "image/jpeg")
    assert status == 401 and "token" in doc["error"]
    wrong = token[:-1] + ("y" if token[-1] != "y" else "z")  # never equal to the real token
    for path in ("/", "/openapi.json", "/thumb/x.jpg", f"/?token={wrong}"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + path, timeout=5)
        assert info.value.code == 401
    req = urllib.request.Request(base + "/openapi.json", headers={"Authorization": f"Bearer {token}"})
    assert "/v1/check" in json.loads(urllib.request.urlopen(req, timeout=5).read())["paths"]


def test_schema_fuzzing_finds_no_server_error(api):
    base, token = api
    st = Path(sys.executable).parent / "schemathesis"
    r = subprocess.run([str(st), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
                        "-H", f"Authorization: Bearer {token}", "--max-examples", "40"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]


def test_non_loopback_bind_needs_the_flag(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scrubber", "serve", str(tmp_path), "--host", "0.0.0.0"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "--allow-remote" in r.stderr


# ------------------------------------------------------------------ the review queue in a browser


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """Three blocked photos held for review by a real watcher run (faces and barcodes block)."""
    from scrubber.policy import Policy
    from scrubber.watch import Watcher, WatchSettings

    root = tmp_path_factory.mktemp("review")
    inbox = root / "in"
    inbox.mkdir()
    for name in ("group_photo.jpg", "wristband.jpg", "sideways_exif.jpg"):
        shutil.copy(SAMPLES / name, inbox / name)
        os.utime(inbox / name, (time.time() - 60, time.time() - 60))
    policy = Policy.from_dict({"actions": {"face": "block", "barcode": "block"},
                               "allowlist": ["Riverside Family Clinic"]})
    Watcher(WatchSettings(inbox, root / "ready", root / "hold", poll_s=0.05, min_age_s=0), policy).run(once=True)
    assert len(list((root / "hold" / "review").glob("*.json"))) == 3
    return root


@needs_browser
def test_reviewer_approves_rejects_and_releases_in_a_browser(held, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    hold, ready = held / "hold", held / "ready"
    proc, base, token = _start(hold, "--ready", str(ready))
    driver = browser()
    try:
        driver.get(f"{base}/?token={token}")
        assert "Held photos" in driver.title
        name = driver.find_element(By.ID, "name")
        name.send_keys("Dana Reyes")
        name.send_keys(Keys.ENTER)  # keyboard only
        assert "Reviewer: Dana Reyes" in driver.find_element(By.TAG_NAME, "header").text
        cards = driver.find_elements(By.CSS_SELECTOR, ".queue .card")
        assert len(cards) == 3
        for img in driver.find_elements(By.CSS_SELECTOR, ".queue img"):  # thumbnails load
            assert driver.execute_script("return arguments[0].naturalWidth", img) > 0
        assert "3 waiting for a decision, 0 decided" in driver.find_element(By.CLASS_NAME, "tally").text
        screenshot(driver, "review-queue.png")

        def open_item(filename):
            driver.get(f"{base}/item/{filename}")
            assert filename in driver.find_element(By.TAG_NAME, "h1").text

        open_item("group_photo.jpg")
        # one numbered box per person, the numbers listed in words, no two tags on top of each other
        found = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ol.found li")]
        assert found == ["Face"] * 4
        tags = [t.rect for t in driver.find_elements(By.CSS_SELECTOR, "svg.marks rect.tag")]
        assert len(tags) == 4 and len(driver.find_elements(By.CSS_SELECTOR, "svg.marks rect.box.face")) == 4
        assert not any(a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and
                       a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
                       for i, a in enumerate(tags) for b in tags[i + 1:])
        assert "add the people who signed a photo release to the consent roster" in \
            driver.find_element(By.CLASS_NAME, "todo").text
        screenshot(driver, "review-decision.png")
        driver.find_element(By.ID, "approve").click()
        assert "Decision: approve by Dana Reyes" in driver.find_element(By.CLASS_NAME, "decision").text
        # a second approval (a double click, another tab) publishes nothing more
        driver.get(f"{base}/item/group_photo.jpg")
        driver.find_element(By.ID, "approve").click()
        assert "was already published (approve by Dana Reyes" in driver.find_element(By.CLASS_NAME, "message").text

        open_item("wristband.jpg")
        driver.find_element(By.ID, "reject-reason").send_keys("patient wristband: do not post")
        driver.find_element(By.ID, "reject").click()
        assert "Decision: reject" in driver.find_element(By.CLASS_NAME, "decision").text

        open_item("sideways_exif.jpg")
        driver.find_element(By.ID, "release-reason").send_keys("consent form on file")
        driver.find_element(By.ID, "release-confirm").send_keys("wrong-name.jpg")
        driver.find_element(By.ID, "release").click()
        assert "type its file name" in driver.find_element(By.CLASS_NAME, "message").text
        open_item("sideways_exif.jpg")
        driver.find_element(By.ID, "release-reason").send_keys("consent form on file")
        driver.find_element(By.ID, "release-confirm").send_keys("sideways_exif.jpg")
        driver.find_element(By.ID, "release").click()
        assert "Decision: release" in driver.find_element(By.CLASS_NAME, "decision").text
        driver.get(f"{base}/")
        assert "0 waiting for a decision, 3 decided" in driver.find_element(By.CLASS_NAME, "tally").text
        statuses = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".queue .status")]
        assert sorted(statuses) == ["approved by Dana Reyes", "rejected by Dana Reyes", "released by Dana Reyes"]
    finally:
        driver.quit()
        _stop(proc)

    assert sorted(p.name for p in ready.iterdir()) == ["group_photo.jpg", "sideways_exif.jpg"]
    for p in ready.iterdir():
        assert metadata_problems(p.read_bytes()) == []
    lines = [json.loads(x) for x in (hold / "audit.jsonl").read_text().splitlines()]
    assert [(x["file"], x["action"], x["reviewer"]) for x in lines] == [
        ("group_photo.jpg", "approve", "Dana Reyes"), ("wristband.jpg", "reject", "Dana Reyes"),
        ("sideways_exif.jpg", "release", "Dana Reyes")]
    assert all(len(x["sha256"]) == 64 for x in lines) and "consent form on file" in lines[2]["reason"]
    r = subprocess.run([sys.executable, "-m", "scrubber", "audit", "verify", str(hold)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0 and "chain intact (3 decisions)" in r.stdout
    # the approved copy is redacted: the group photo's faces are no longer there
    from scrubber.detect.faces_dlib import DlibFaces
    from scrubber.imageio import load

    assert DlibFaces().detect(load(ready / "group_photo.jpg").frames[0]) == ()
    r = subprocess.run([sys.executable, "-m", "scrubber", "status", str(hold)], capture_output=True, text=True,
                       cwd=ROOT)
    assert "review queue: 0 waiting for a decision, 3 decided" in r.stdout  # as the queue page says


def test_cross_site_form_posts_are_refused(held):
    hold = held / "hold"
    log = hold / "audit.jsonl"
    before = log.read_text() if log.exists() else ""
    proc, base, token = _start(hold)
    try:
        req = urllib.request.Request(f"{base}/item/wristband.jpg/decide", data=b"action=reject&csrf=x",
                                     method="POST", headers={"Origin": "http://evil.example",
                                                             "Cookie": f"scrubber_token={token}",
                                                             "Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 403
        req = urllib.request.Request(f"{base}/item/wristband.jpg/decide", data=b"action=reject&csrf=forged",
                                     method="POST", headers={"Cookie": f"scrubber_token={token}",
                                                             "Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 403
    finally:
        _stop(proc)
    assert (log.read_text() if log.exists() else "") == before  # nothing was recorded


def test_approving_without_a_ready_folder_answers_with_a_page_not_an_error(held):
    """Started without --ready, an approval answers 400 with a page saying how to start it."""
    hold = held / "hold"
    proc, base, token = _start(hold)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(f"{base}/?token={token}", timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        opener.open(urllib.request.Request(f"{base}/reviewer", data=f"name=Dana&csrf={csrf}".encode(),
                                           method="POST"), timeout=10)
        req = urllib.request.Request(f"{base}/item/wristband.jpg/decide", data=f"action=approve&csrf={csrf}".encode(),
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(req, timeout=60)
        body = info.value.read().decode()
        assert info.value.code == 400 and "start the server with --ready READY" in body and "Traceback" not in body
    finally:
        _stop(proc)


# ------------------------------------------------------------------ "Check a photo" in a browser


@needs_browser
def test_a_person_checks_photos_in_the_browser_and_downloads_the_safe_copy(tmp_path):
    from selenium.webdriver.common.by import By

    hold, scratch, downloads = tmp_path / "hold", tmp_path / "server-tmp", tmp_path / "downloads"
    for folder in (hold, scratch, downloads):
        folder.mkdir()
    os.environ["TMPDIR"] = str(scratch)  # the server's temporary files go here, so we can look
    try:
        proc, base, token = _start(hold, "--policy", str(CLINIC_POLICY))
    finally:
        del os.environ["TMPDIR"]
    driver = browser(downloads)
    try:
        driver.get(f"{base}/?token={token}")
        driver.find_element(By.LINK_TEXT, "Check a photo").click()
        assert driver.find_element(By.TAG_NAME, "h1").text == "Check a photo"
        driver.find_element(By.ID, "file").send_keys(str(SAMPLES / "wristband.jpg"))
        driver.find_element(By.ID, "check").click()
        answer = driver.find_element(By.CSS_SELECTOR, ".answer")
        assert "wristband.jpg: Redacted: post the safe copy" in answer.find_element(By.TAG_NAME, "h2").text
        found = [li.text for li in answer.find_elements(By.CSS_SELECTOR, "ol.found li")]
        assert found == ["Wristband with a barcode, a name, a date and a record number"]
        assert len(answer.find_elements(By.CSS_SELECTOR, "svg.marks rect.box.surface")) == 1
        img = answer.find_element(By.CSS_SELECTOR, ".shot img")
        assert driver.execute_script("return arguments[0].naturalWidth", img) == 1200
        assert "HALVORSEN" not in driver.page_source
        screenshot(driver, "check-page.png")
        driver.find_element(By.ID, "download").click()
        safe = downloads / "wristband-safe.jpg"
        for _ in range(100):
            if safe.exists() and not list(downloads.glob("*.crdownload")):
                break
            time.sleep(0.1)
        data = safe.read_bytes()
        assert metadata_problems(data) == [] and Image.open(io.BytesIO(data)).size == (1600, 1100)
        assert data != (SAMPLES / "wristband.jpg").read_bytes()

        # dropped on the page (a real drop event carrying the file): checked at once
        driver.get(f"{base}/check")
        payload = base64.b64encode((SAMPLES / "whiteboard_census.jpg").read_bytes()).decode()
        driver.execute_script("""
            const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "whiteboard_census.jpg", {type: "image/jpeg"}));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        """, payload)
        answer = driver.find_element(By.CSS_SELECTOR, ".answer.blocked")
        assert "Blocked: do not post" in answer.text and "close-up of a whiteboard" in answer.text
        assert answer.find_elements(By.ID, "download") == []
        preview = answer.find_element(By.CSS_SELECTOR, ".shot img")  # redacted, never the original
        assert driver.execute_script("return arguments[0].naturalWidth", preview) > 0
    finally:
        driver.quit()
        _stop(proc)
    # nothing of the uploads stayed on the server: no folder, no image (onnxruntime leaves its
    # 51-byte session id, .ses, in TMPDIR when it starts)
    assert [p.name for p in scratch.iterdir() if p.is_dir() or p.stat().st_size > 100] == []


def test_the_check_page_refuses_what_is_not_a_photo_in_words(tmp_path):
    proc, base, token = _start(tmp_path)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(f"{base}/check?token={token}", timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\nPatient: John Smith\r\n"
                f"--{boundary}--\r\n").encode()
        req = urllib.request.Request(f"{base}/check", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        answer = opener.open(req, timeout=60).read().decode()
        assert "content type &#39;text/plain&#39; is not an image type" in answer and 'role="alert"' in answer
        assert "John Smith" not in answer
    finally:
        _stop(proc)
