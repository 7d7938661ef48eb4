"""What scrubber guarantees (README, "What scrubber guarantees"): nothing unredacted leaves,
no name holding an identifier leaves, no original is lost, nothing is written where it must
not be, and the watcher never gets stuck. One test (or more) per promise, with real files,
real processes and the real pipeline; faults (a rename that fails) are injected with mocks."""

from __future__ import annotations

import errno
import http.client
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from scrubber.cli import app
from scrubber.policy import Policy
from scrubber.watch import HoldInUse, Watcher, WatchSettings
from tests.conftest import CLINIC_POLICY, ROOT, SAMPLES

PHI_NAME = "Smith_John_MRN00482913_DOB1984-07-22.jpg"
PHI_PARTS = ("Smith", "John", "00482913", "1984-07-22")
LIGHT = {"detectors": ["barcodes"], "identifiers": ["mrn"], "actions": {"barcode": "block"}}


def _old(path: Path) -> None:
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)


def _settings(tmp_path: Path, **kw) -> WatchSettings:
    kw = {"poll_s": 0.05, "min_age_s": 0, "settle_s": 0} | kw
    return WatchSettings(tmp_path / "in", tmp_path / "ready", tmp_path / "hold", **kw)


def _png(seed: int = 0, size=(160, 120)) -> bytes:
    px = np.random.default_rng(seed).integers(90, 200, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "PNG")
    return buf.getvalue()


def _run_once(settings: WatchSettings, policy: Policy, limit: float = 120) -> list[str]:
    """Watcher.run(once=True) in a thread that must finish within ``limit`` seconds."""
    events: list[str] = []
    watcher = Watcher(settings, policy, on_event=events.append)
    t = threading.Thread(target=watcher.run, kwargs={"once": True}, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"--once did not finish in {limit} s: {events[-5:]}"
    return events


def _everything_written(*folders: Path) -> str:
    """Every file name, and the text of every text file, under ``folders`` (plus a dump of
    any SQLite database there)."""
    out = []
    for folder in folders:
        for p in folder.rglob("*"):
            out.append(str(p.relative_to(folder)))
            if p.is_file() and p.suffix in (".json", ".csv", ".log", ".html", ".jsonl"):
                out.append(p.read_text(errors="replace"))
            if p.name == "state.db":
                conn = sqlite3.connect(p)
                out.extend(conn.iterdump())
                conn.close()
    return "\n".join(out)


# ------------------------------------------------------------------ 1. approve publishes raw pixels


def _hold_one(tmp_path: Path, sample: str, reasons: list[str], name: str | None = None) -> Path:
    hold = tmp_path / "hold"
    review = hold / "review"
    review.mkdir(parents=True)
    held = review / (name or sample)
    shutil.copy(SAMPLES / sample, held)
    (review / f"{held.name}.json").write_text(json.dumps({"file": held.name, "reasons": reasons,
                                                           "verdict": "blocked", "detections": []}))
    return hold


def _client(hold: Path, ready: Path | None, policy: Policy):
    from fastapi.testclient import TestClient

    from scrubber.serve import create_app

    app_ = create_app(hold, "t0ken", ready=ready, policy=policy)
    client = TestClient(app_)
    client.cookies.set("scrubber_token", "t0ken")
    client.cookies.set("scrubber_reviewer", "Dana")
    return client, app_


def _csrf() -> str:
    import hashlib
    import hmac

    return hmac.new(b"t0ken", b"csrf", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("reason", ["timeout", "worker-crashed", "detector-error:text-ocr"])
def test_1_a_photo_never_fully_scanned_has_no_preview_and_cannot_be_approved(tmp_path, reason):
    hold = _hold_one(tmp_path, "wristband.jpg", [reason])
    ready = tmp_path / "ready"
    client, app_ = _client(hold, ready, Policy.load(CLINIC_POLICY))
    try:
        thumb = client.get("/thumb/wristband.jpg?size=1600")
        assert thumb.status_code == 200
        shown = np.asarray(Image.open(io.BytesIO(thumb.content)).convert("L"), np.float32)
        original = np.asarray(Image.open(SAMPLES / "wristband.jpg").convert("L").resize(
            (shown.shape[1], shown.shape[0])), np.float32)
        assert abs(float(np.corrcoef(shown.ravel(), original.ravel())[0, 1])) < 0.2, "the preview is the photo"
        page = client.get("/item/wristband.jpg").text
        assert 'id="approve"' not in page and "never fully scanned" in page
        r = client.post("/item/wristband.jpg/decide", data={"action": "approve", "csrf": _csrf()})
        assert r.status_code == 409 and "no verified redacted copy" in r.text
        assert not ready.exists() or not any(ready.iterdir())
    finally:
        client.close()
        app_.state.checker.close()


def test_1_approve_publishes_the_verified_redaction(tmp_path):
    """Held because the policy blocks barcodes: the approved copy is the pipeline's redaction
    (the same pipeline as check), and checking it again finds nothing."""
    policy = Policy.load(CLINIC_POLICY)
    policy = Policy.from_dict({"allowlist": list(policy.allowlist), "actions": {"barcode": "block"}})
    hold = _hold_one(tmp_path, "wristband.jpg", ["block:barcode"])
    ready = tmp_path / "ready"
    client, app_ = _client(hold, ready, policy)
    try:
        r = client.post("/item/wristband.jpg/decide", data={"action": "approve", "csrf": _csrf()},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    finally:
        client.close()
        app_.state.checker.close()
    published = list(ready.iterdir())
    assert [p.name for p in published] == ["wristband.jpg"]
    from scrubber.pipeline import Scrubber

    again = Scrubber(Policy.from_dict({"allowlist": list(policy.allowlist)})).process(published[0])
    assert again.status.value == "clean", again.reasons
    assert "verified redacted copy" in (hold / "audit.jsonl").read_text()


# ------------------------------------------------------------------ 2. file names are PHI


def test_2_scan_never_shows_or_publishes_a_name_that_holds_identifiers(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "Maria Garcia").mkdir(parents=True)
    shutil.copy(SAMPLES / "banner_clean_text.jpg", src / PHI_NAME)
    shutil.copy(SAMPLES / "empty_room.jpg", src / "Maria Garcia" / "room.jpg")
    (src / "broken_MRN00482913.jpg").write_bytes(b"\xff\xd8 not really")
    r = CliRunner().invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy",
                                 str(CLINIC_POLICY)])
    assert r.exit_code == 4, r.output  # the broken file is not processed
    written = _everything_written(out) + r.output
    for part in PHI_PARTS + ("Garcia",):
        assert part not in written, part
    import hashlib

    sha = hashlib.sha256((src / PHI_NAME).read_bytes()).hexdigest()
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert f"photo-{sha[:12]}.jpg" in names
    assert any(n.startswith("folder-") and n.endswith("/room.jpg") for n in names)
    doc = json.loads((out / "report.json").read_text())
    assert "S****_****_MRN********" in json.dumps(doc)


def test_2_keep_file_names_keeps_them(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    shutil.copy(SAMPLES / "banner_clean_text.jpg", src / PHI_NAME)
    policy = tmp_path / "p.toml"
    policy.write_text(CLINIC_POLICY.read_text() + "\nkeep_file_names = true\n")
    r = CliRunner().invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy", str(policy)])
    assert r.exit_code == 0 and (out / PHI_NAME).exists()


def test_2_watch_and_check_api_never_show_a_name_that_holds_identifiers(tmp_path):
    s = _settings(tmp_path)
    s.inbox.mkdir()
    shutil.copy(SAMPLES / "banner_clean_text.jpg", s.inbox / PHI_NAME)
    shutil.copy(SAMPLES / "wristband.jpg", s.inbox / "Okafor, Ngozi 1984-07-22.jpg")
    for p in s.inbox.iterdir():
        _old(p)
    policy = Policy.from_dict({"allowlist": list(Policy.load(CLINIC_POLICY).allowlist),
                               "actions": {"barcode": "block"}})
    events = _run_once(s, policy)
    from scrubber.watch import file_logger  # noqa: F401  (the log file is written by the CLI)

    written = _everything_written(s.ready, s.hold) + "\n".join(events)
    for part in PHI_PARTS + ("Okafor", "Ngozi"):
        assert part not in written, part
    assert [p.name for p in s.ready.iterdir()][0].startswith("photo-")
    assert any(p.name.startswith("photo-") for p in (s.hold / "review").iterdir())

    from fastapi.testclient import TestClient

    from scrubber.serve import create_app

    app_ = create_app(s.hold, "t0ken", policy=policy)
    try:
        with TestClient(app_) as client:
            page = client.get("/?token=t0ken").text
            assert "Okafor" not in page and "1984" not in page
            r = client.post("/v1/check", headers={"Authorization": "Bearer t0ken"},
                            files={"file": (PHI_NAME, (SAMPLES / "banner_clean_text.jpg").read_bytes(),
                                            "image/jpeg")})
            assert r.status_code == 200 and not any(p in r.text for p in PHI_PARTS), r.text
    finally:
        app_.state.checker.close()


# ------------------------------------------------------------------ 3. roster entries by id


def test_3_a_kept_face_records_the_roster_entry_id_not_the_name():
    import datetime as dt

    from scrubber.consent import Entry, Roster

    entry = Entry("Ngozi Okafor", ((0.0,) * 128,), "2026-01-01")
    roster = Roster(Path("r.json"), (entry,))
    decision = roster.decide(np.zeros(128), 200, today=dt.date(2026, 6, 1))
    assert decision.keep
    assert f"roster-entry:{entry.id}" in decision.evidence()
    assert not any("Okafor" in e for e in decision.evidence())
    assert re.fullmatch(r"r-[0-9a-f]{10}", entry.id)


# ------------------------------------------------------------------ 4. claim names


def test_4_a_claim_name_read_back_from_disk_never_leaves_the_claim_folder(tmp_path):
    s = _settings(tmp_path)
    s.inbox.mkdir()
    watcher = Watcher(s, Policy.from_dict(LIGHT))
    claims = watcher.claims
    watcher.close()
    data = (SAMPLES / "wristband.jpg").read_bytes()
    escape_to = tmp_path / "escaped.jpg"
    for name in ("abc__..%2F..%2F..%2Fready%2Fleak.jpg", f"abc__{str(escape_to).replace('/', '%2F')}",
                 "x..%2F..%2Fready%2Fplain.jpg"):
        (claims / name).write_bytes(data)
    _run_once(s, Policy.from_dict(LIGHT))
    assert not escape_to.exists()
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.suffix == ".jpg" and s.hold not in p.parents:
            assert hashlib.sha256(p.read_bytes()).hexdigest() != sha, f"the original was copied to {p}"
    assert any(hashlib.sha256(p.read_bytes()).hexdigest() == sha for p in (s.hold / "originals").rglob("*")
               if p.is_file())
    rows = sqlite3.connect(s.hold / ".scrubber" / "state.db").execute("SELECT relpath, stage FROM files").fetchall()
    assert len(rows) == 3 and all(r[0].startswith("unrecorded/") and r[1] == "done" for r in rows)


# ------------------------------------------------------------------ 5. scan --out inside the input


@pytest.mark.parametrize("layout", ["out inside in", "in inside out"])
def test_5_scan_refuses_nested_input_and_output_folders(tmp_path, layout):
    src = tmp_path / "in" if layout == "out inside in" else tmp_path / "out" / "in"
    out = src / "2024" if layout == "out inside in" else tmp_path / "out"
    (src / "2024").mkdir(parents=True)
    shutil.copy(SAMPLES / "whiteboard_census.jpg", src / "2024" / "chart.jpg")
    before = (src / "2024" / "chart.jpg").read_bytes()
    r = CliRunner().invoke(app, ["scan", str(src), "--out", str(out), "--overwrite", "--workers", "1"])
    assert r.exit_code == 2 and "inside" in r.output and "Traceback" not in r.output
    assert (src / "2024" / "chart.jpg").read_bytes() == before
    assert not (out / "report.json").exists()


# ------------------------------------------------------------------ 6. slow writers


def test_6_a_writer_that_pauses_after_the_claim_loses_nothing(tmp_path):
    inbox, ready, hold = tmp_path / "in", tmp_path / "ready", tmp_path / "hold"
    inbox.mkdir()
    policy = tmp_path / "light.toml"
    policy.write_text('detectors = ["barcodes"]\nidentifiers = ["mrn"]\n')
    proc = subprocess.Popen([sys.executable, "-m", "scrubber", "watch", str(inbox), "--ready", str(ready),
                             "--hold", str(hold), "--poll", "0.2", "--min-age", "1", "--settle", "8",
                             "--policy", str(policy)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT)
    data = _png(1, (400, 300))
    try:
        time.sleep(2.0)
        with open(inbox / "slow.png", "wb") as fh:  # half, a 4-s pause, the rest on the same handle
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(4.0)
            fh.write(data[len(data) // 2 :])
        deadline = time.time() + 60
        while time.time() < deadline:
            rows = sqlite3.connect(hold / ".scrubber" / "state.db").execute(
                "SELECT stage FROM files").fetchall() if (hold / ".scrubber" / "state.db").exists() else []
            if rows and all(r[0] == "done" for r in rows) and not any(inbox.rglob("*.png")):
                break
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    import hashlib

    kept = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (hold / "originals").rglob("*") if p.is_file()}
    assert hashlib.sha256(data).hexdigest() in kept, "the whole file is kept in HOLD/originals"
    for p in ready.rglob("*"):
        with Image.open(p) as img:
            assert img.size == (400, 300)  # what was published is the whole picture


# ------------------------------------------------------------------ 7. links, FIFOs, devices


def test_7_links_and_fifos_in_the_inbox_are_never_opened(tmp_path):
    s = _settings(tmp_path)
    s.inbox.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "empty_room.jpg", outside / "secret.jpg")
    (outside / "shadow").write_text("root:$6$hash:19000:0:99999:7:::\n")
    os.symlink(outside / "shadow", s.inbox / "shadow.jpg")
    os.symlink(outside / "secret.jpg", s.inbox / "room.jpg")
    os.symlink(outside, s.inbox / "linked-folder")
    os.mkfifo(s.inbox / "a_pipe.jpg")
    (s.inbox / "real.png").write_bytes(_png(2))
    for p in s.inbox.iterdir():
        _old(p)
    events = _run_once(s, Policy.from_dict(LIGHT), limit=60)
    assert [p.name for p in s.ready.iterdir()] == ["real.png"]
    held = [p for p in s.hold.rglob("*") if p.is_file() and p.suffix in (".jpg", "")]
    assert not any(p.read_bytes() in ((outside / "secret.jpg").read_bytes(), (outside / "shadow").read_bytes())
                   for p in held)
    for name in ("shadow.jpg", "room.jpg", "linked-folder", "a_pipe.jpg"):
        assert os.path.lexists(s.inbox / name), name  # left where it was
    text = "\n".join(events)
    assert "symbolic link: never opened" in text and "FIFO: never opened" in text


# ------------------------------------------------------------------ 8. failed claims, long names


def test_8_a_claim_that_fails_is_recorded_once_and_once_exits(tmp_path, monkeypatch):
    s = _settings(tmp_path)
    s.inbox.mkdir()
    (s.inbox / "across-mounts.png").write_bytes(_png(3))
    long_name = "x" * 240 + ".png"
    (s.inbox / long_name).write_bytes(_png(4))
    for p in s.inbox.iterdir():
        _old(p)
    real_rename = os.rename

    def rename(src, dst, *a, **kw):  # the fault: this one file lives on another filesystem
        if str(src).endswith("across-mounts.png"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(src, dst, *a, **kw)

    monkeypatch.setattr(os, "rename", rename)
    events = _run_once(s, Policy.from_dict(LIGHT), limit=60)
    rows = sqlite3.connect(s.hold / ".scrubber" / "state.db").execute(
        "SELECT relpath, outcome, reasons FROM files ORDER BY id").fetchall()
    assert ("across-mounts.png", "unclaimable", "claim-failed:EXDEV") in rows
    assert sum(r[0] == "across-mounts.png" for r in rows) == 1, "one attempt, one row"
    assert sum("cannot be claimed" in e for e in events) == 1
    published = [p.name for p in s.ready.iterdir()]
    assert len(published) == 1 and published[0].startswith("photo-")  # the 240-byte name, neutral
    st = CliRunner().invoke(app, ["status", str(s.hold)])
    assert "unclaimable" in st.output and "watcher: not running" in st.output


# ------------------------------------------------------------------ 9, 10. bad names


def test_9_10_undecodable_and_control_character_names(tmp_path):
    s = _settings(tmp_path)
    s.inbox.mkdir()
    bad = os.fsdecode(b"caf\xe9.png")
    forged = "a.png\n12:00:00 evil.png: ready (clean; nothing found) -> x in 0.1 s\n.png"
    for i, name in enumerate((bad, forged, "zz[red]marked[bold].png")):
        (s.inbox / name).write_bytes(_png(10 + i))
        _old(s.inbox / name)
    events = _run_once(s, Policy.from_dict(LIGHT), limit=60)
    assert all("\n" not in e for e in events)
    assert any("caf\\xe9" in e for e in events)
    assert len(list(s.ready.iterdir())) == 3

    src, out = tmp_path / "scan_in", tmp_path / "scan_out"
    src.mkdir()
    for i, name in enumerate((bad, forged, "zz[red]marked[bold].png")):
        (src / name).write_bytes(_png(20 + i))
    r = subprocess.run([sys.executable, "-m", "scrubber", "scan", str(src), "--out", str(out), "--workers", "1",
                        "--policy", str(_light_toml(tmp_path))], capture_output=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    csv = (out / "report.csv").read_text()
    assert "caf\\xe9.png" in csv and "\\u000a" in csv
    assert b"zz[red]marked[bold]" in r.stderr  # markup shown as text, not applied


def _light_toml(tmp_path: Path) -> Path:
    p = tmp_path / "light.toml"
    p.write_text('detectors = ["barcodes"]\nidentifiers = ["mrn"]\n')
    return p


# ------------------------------------------------------------------ 11. one bad file, one result


def test_11_one_bad_file_never_stops_a_one_worker_scan(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    with open(src / "huge.jpg", "wb") as fh:  # 40 GB, sparse
        fh.truncate(40 * 1024**3)
    Image.open(io.BytesIO(_png(5))).save(src / "a.bmp")
    (src / "a.png").mkdir()
    (src / "a.png" / "inner.png").write_bytes(_png(6))
    (src / "x.PNG").write_bytes(_png(7))
    (src / "x.png").write_bytes(_png(8))
    r = CliRunner().invoke(app, ["scan", str(src), "--out", str(out), "--workers", "1", "--policy",
                                 str(_light_toml(tmp_path))])
    assert r.exit_code == 4 and "Traceback" not in r.output, r.output
    doc = json.loads((out / "report.json").read_text())
    by_path = {i["path"]: i for i in doc["images"]}
    assert set(by_path) == {"huge.jpg", "a.bmp", "a.png/inner.png", "x.PNG", "x.png"}
    assert by_path["huge.jpg"]["reasons"] == ["too-large"]
    outputs = [by_path[k]["output"] for k in ("a.bmp", "a.png/inner.png", "x.PNG", "x.png")]
    assert all(outputs) and len({o.casefold() for o in outputs}) == 4
    assert (out / "a.png" / "inner.png").is_file()


# ------------------------------------------------------------------ 12. one HOLD, one watcher


def test_12_two_watchers_cannot_share_one_hold(tmp_path):
    s = _settings(tmp_path)
    first = Watcher(s, Policy.from_dict(LIGHT))
    try:
        with pytest.raises(HoldInUse, match=f"pid {os.getpid()}"):
            Watcher(WatchSettings(tmp_path / "in2", tmp_path / "ready2", s.hold), Policy.from_dict(LIGHT))
        r = subprocess.run([sys.executable, "-m", "scrubber", "watch", str(tmp_path / "in3"), "--ready",
                            str(tmp_path / "r3"), "--hold", str(s.hold), "--once"], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert r.returncode == 2 and "already used by a running watcher" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        first.close()
    Watcher(s, Policy.from_dict(LIGHT)).close()  # free again once the first has gone


# ------------------------------------------------------------------ 13. bombs and memory


def test_13_a_multi_frame_bomb_is_refused_from_its_headers(tmp_path):
    from scrubber.errors import ImageTooLarge
    from scrubber.imageio import load

    frames = [Image.fromarray(np.full((1000, 1000, 3), i * 20, np.uint8)) for i in range(8)]
    path = tmp_path / "bomb.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    t = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="pixel budget"):
        load(path, max_pixels=80_000_000, max_total_pixels=5_000_000)
    assert time.perf_counter() - t < 1.0
    assert len(load(path, max_total_pixels=8_000_000).frames) == 8


def test_13_a_worker_over_its_memory_limit_is_killed_and_the_file_blocked(tmp_path):
    from scrubber.workers import Job, ScanProcess

    (tmp_path / "a.png").write_bytes(_png(9, (2000, 1500)))
    worker = ScanProcess(Policy.from_dict(LIGHT), timeout_s=60, memory_mb=1)
    try:
        result = worker.run(Job(str(tmp_path / "a.png"), display="a.png"))
    finally:
        worker.close()
    assert result.status.value == "blocked" and result.reasons == ("memory-limit",)


# ------------------------------------------------------------------ 14. uploads


def test_14_an_upload_past_the_limit_is_refused_before_it_is_read(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scrubber", "serve", str(tmp_path), "--port", "0",
                             "--max-upload-mb", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        m = re.search(r"http://([^:/]+):(\d+)/\?token=(\S+)", proc.stdout.readline())
        assert m
        conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=20)
        conn.putrequest("POST", "/v1/check")
        conn.putheader("Authorization", f"Bearer {m.group(3)}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(3 * 1024**3))
        conn.endheaders()
        conn.send(b"\0" * (1024 * 1024))  # 1 MB of the announced 3 GB
        t = time.perf_counter()
        response = conn.getresponse()
        assert response.status == 413 and time.perf_counter() - t < 10
        conn.close()
        # a chunked body with no length is cut off once it passes the limit
        conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=20)
        conn.putrequest("POST", "/v1/check")
        conn.putheader("Authorization", f"Bearer {m.group(3)}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"\0" * (256 * 1024)
        for _ in range(12):  # 3 MB, past the 1-MB limit and its 1 MB of form overhead
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        response = conn.getresponse()
        assert response.status == 413
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------ 15. roster and policy trust


def test_15_a_roster_others_could_write_is_refused(tmp_path):
    from scrubber.consent import Entry, Roster

    path = tmp_path / "roster.json"
    Roster(path, (Entry("Dana Reyes", ((0.0,) * 128,), "2026-01-01"),)).save()
    assert len(Roster.load(path).entries) == 1
    os.chmod(path, 0o666)
    loaded = Roster.load(path)
    assert loaded.entries == () and "writable by others" in loaded.warning
    os.chmod(path, 0o620)
    assert Roster.load(path).entries == ()
    os.chmod(path, 0o600)
    os.chown(path, 65534, -1)  # nobody
    loaded = Roster.load(path)
    assert loaded.entries == () and "owned by uid 65534" in loaded.warning


@pytest.mark.parametrize("key", ["detectors", "identifiers"])
def test_15_an_empty_detector_or_identifier_list_is_a_usage_error(tmp_path, key):
    policy = tmp_path / "p.toml"
    policy.write_text(f"{key} = []\n")
    r = CliRunner().invoke(app, ["check", str(SAMPLES / "wristband.jpg"), "--policy", str(policy)])
    assert r.exit_code == 2 and "is empty" in r.output


# ------------------------------------------------------------------ 16. audit anchor


def test_16_a_truncated_or_rewritten_audit_log_is_detected(tmp_path):
    from scrubber import audit

    for i in range(3):
        audit.append(tmp_path, "Dana", f"p{i}.jpg", "ab" * 32, "reject", "")
    assert audit.verify(tmp_path).ok
    path = audit.log_path(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]))  # the last decision deleted
    check = audit.verify(tmp_path)
    assert not check.ok and "truncated" in check.problem
    path.unlink()  # and a new log chained from scratch, of the same length
    other = tmp_path / "other"
    other.mkdir()
    for i in range(3):
        audit.append(other, "Eve", f"p{i}.jpg", "ab" * 32, "approve", "")
    shutil.copy(audit.log_path(other), path)
    check = audit.verify(tmp_path)
    assert not check.ok and "rewritten" in check.problem
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 3


# ------------------------------------------------------------------ 17. start-up self test


def test_17_a_watcher_whose_detectors_cannot_run_refuses_to_start(tmp_path):
    empty = tmp_path / "no-tessdata"
    empty.mkdir()
    env = os.environ | {"TESSDATA_PREFIX": str(empty)}  # the fault: Tesseract cannot load its model
    r = subprocess.run([sys.executable, "-m", "scrubber", "watch", str(tmp_path / "in"), "--ready",
                        str(tmp_path / "ready"), "--hold", str(tmp_path / "hold"), "--once"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert r.returncode == 4, r.stderr
    assert "scan worker cannot run: text-ocr" in r.stderr and "Traceback" not in r.stderr
    unit = (ROOT / "docs" / "scrubber-watch.service").read_text()
    assert "PrivateTmp=true" in unit


# ------------------------------------------------------------------ 18. serve's URL, status


def test_18_serve_prints_its_url_once_it_listens(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scrubber", "serve", str(tmp_path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        m = re.search(r"http://([^:/]+):(\d+)/\?token=(\S+)", proc.stdout.readline())
        conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=10)
        conn.request("GET", "/")  # at once, no retry
        assert conn.getresponse().status == 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_18_status_says_whether_a_watcher_is_running(tmp_path):
    s = _settings(tmp_path)
    watcher = Watcher(s, Policy.from_dict(LIGHT))
    watcher.state.set_meta("last_poll", str(time.time()))
    try:
        r = CliRunner().invoke(app, ["status", str(s.hold)])
        assert f"watcher: running (pid {os.getpid()}" in r.output and "last poll: 20" in r.output
    finally:
        watcher.close()
    assert "watcher: not running" in CliRunner().invoke(app, ["status", str(s.hold)]).output


# ------------------------------------------------------------------ 19. permissions


def test_19_safe_copies_follow_the_umask_and_hold_stays_private(tmp_path):
    src, out = tmp_path / "scan_in", tmp_path / "scan_out"
    src.mkdir()
    (src / "a.png").write_bytes(_png(11))
    script = (f"import os, sys; os.umask(0o002); sys.argv = ['scrubber', 'scan', {str(src)!r}, '--out', "
              f"{str(out)!r}, '--workers', '1', '--policy', {str(_light_toml(tmp_path))!r}]; "
              "from scrubber.cli import run; run()")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, cwd=ROOT)
    assert (out / "a.png").stat().st_mode & 0o777 == 0o664
    assert (out / "report.json").stat().st_mode & 0o777 == 0o664

    s = _settings(tmp_path)
    s.inbox.mkdir()
    (s.inbox / "ok.png").write_bytes(_png(12))
    (s.inbox / "sub").mkdir()
    (s.inbox / "sub" / "bad.txt").write_text("not a photo")
    for p in s.inbox.rglob("*"):
        _old(p)
    subprocess.run([sys.executable, "-m", "scrubber", "watch", str(s.inbox), "--ready", str(s.ready), "--hold",
                    str(s.hold), "--once", "--min-age", "0", "--settle", "0", "--poll", "0.05", "--policy",
                    str(_light_toml(tmp_path))], check=True, capture_output=True, cwd=ROOT, umask=0, timeout=180)
    assert (s.ready / "ok.png").stat().st_mode & 0o777 == 0o666  # umask 0: as the user asked
    for p in s.hold.rglob("*"):
        if p.is_dir():
            assert p.stat().st_mode & 0o777 == 0o700, p
        elif p.suffix not in (".lock",):
            assert p.stat().st_mode & 0o077 == 0, p
