"""The watched folder with real processes and real files: drops while it runs, slow chunked
writes, temporary names, duplicates, corrupt files, SIGKILL at random points, two watchers.

These tests use a light policy (barcode detector only, barcodes block) so that hundreds of
files pass in seconds: what is under test here is the file handling, not the detectors,
which have their own tests. One test runs the full default policy on real samples."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from scrubber.imageio import metadata_problems
from scrubber.watch import TEMP_PATTERNS, Watcher, WatchSettings, is_temporary
from tests.conftest import CLINIC_POLICY, ROOT, SAMPLES

LIGHT = '\n'.join(['detectors = ["barcodes"]', 'identifiers = ["mrn"]', "[actions]", 'barcode = "block"', ""])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _image_bytes(i: int, kind: str) -> bytes:
    rng = np.random.default_rng(i)
    px = rng.integers(90, 200, (120, 160, 3), dtype=np.uint8)
    if kind == "barcode":
        code = zxingcpp.create_barcode(f"MRN{i:08d}", zxingcpp.BarcodeFormat.QRCode)
        qr = np.asarray(zxingcpp.write_barcode_to_image(code, scale=3, add_quiet_zones=True))
        px[10 : 10 + qr.shape[0], 10 : 10 + qr.shape[1]] = qr[..., None]
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "PNG" if i % 2 else "JPEG")
    return buf.getvalue()


def _make_drop(n: int, seed: int = 0) -> list[dict]:
    """n drop events: (name, bytes, how) with clean photos, barcodes, duplicates, corrupt
    files, non-images, slow chunked writes and temporary-name renames."""
    rnd = random.Random(seed)
    events = []
    for i in range(n):
        roll = rnd.random()
        sub = "" if i % 3 else "ward/"
        if roll < 0.08 and events:  # the same photo dropped again under another name
            src = rnd.choice([e for e in events if e["kind"] in ("clean", "barcode")] or events)
            data, kind = src["data"], "duplicate"
        elif roll < 0.14:
            data, kind = _image_bytes(i, "clean")[:200], "corrupt"
        elif roll < 0.18:
            data, kind = f"note {i}".encode(), "text"
        elif roll < 0.40:
            data, kind = _image_bytes(i, "barcode"), "barcode"
        else:
            data, kind = _image_bytes(i, "clean"), "clean"
        ext = ".txt" if kind == "text" else (".png" if data[:4] == b"\x89PNG" else ".jpg")
        how = "slow" if rnd.random() < 0.05 else "rename" if rnd.random() < 0.15 else "plain"
        events.append({"name": f"{sub}photo_{i:03d}{ext}", "data": data, "kind": kind, "how": how})
    return events


def _drop(inbox: Path, event: dict) -> None:
    path = inbox / event["name"]
    path.parent.mkdir(parents=True, exist_ok=True)
    data = event["data"]
    if event["how"] == "slow":  # written in chunks over ~3 s, gaps shorter than --min-age
        with open(path, "wb") as fh:
            for k in range(6):
                fh.write(data[k * len(data) // 6 : (k + 1) * len(data) // 6])
                fh.flush()
                time.sleep(0.5)
    elif event["how"] == "rename":  # browser-style: written as .part, renamed when complete
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        time.sleep(0.2)
        os.rename(tmp, path)
    else:
        path.write_bytes(data)


def _start(tmp_path: Path, inbox: Path, hold: Path, ready: Path, log_name: str, workers: int = 2):
    policy = tmp_path / "light.toml"
    policy.write_text(LIGHT)
    log = open(tmp_path / log_name, "ab")
    cmd = [sys.executable, "-m", "scrubber", "watch", str(inbox), "--ready", str(ready), "--hold", str(hold),
           "--poll", "0.2", "--min-age", "1.5", "--settle", "2", "--workers", str(workers),
           "--policy", str(policy)]
    return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=ROOT)


def _rows(hold: Path) -> list[tuple]:
    db = hold / ".scrubber" / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT relpath, sha256, stage, outcome, target, verdict FROM files").fetchall()
    except sqlite3.OperationalError:  # the watcher is creating the database right now
        return []
    finally:
        conn.close()


def _inbox_files(inbox: Path) -> list[Path]:
    return [p for p in inbox.rglob("*") if p.is_file()]


def _wait_empty(inbox: Path, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not _inbox_files(inbox):
            return
        time.sleep(0.3)
    raise AssertionError(f"inbox not drained: {_inbox_files(inbox)[:5]}")


def _check_invariants(events: list[dict], holds: list[Path], ready: Path) -> None:
    """Every original byte-identical in HOLD/originals, one outcome each, READY clean."""
    dropped = Counter(_sha(e["data"]) for e in events)
    originals = Counter(_sha(p.read_bytes()) for h in holds for p in (h / "originals").rglob("*") if p.is_file())
    assert originals == dropped, "originals in HOLD differ from what was dropped"
    rows = [r for h in holds for r in _rows(h) if r[3] != "unclaimable"]  # left in the inbox, not taken
    assert all(r[2] == "done" for r in rows), [r for r in rows if r[2] != "done"][:3]
    assert Counter(r[1] for r in rows) == dropped, "each dropped file has exactly one database row"
    outcomes = Counter(r[3] for r in rows)
    assert set(outcomes) <= {"ready", "review", "rejected", "duplicate", "unclaimable"}, outcomes
    published = [p for p in ready.rglob("*") if p.is_file()]
    held = [p for h in holds for k in ("review", "rejected") for p in (h / k).rglob("*")
            if p.is_file() and p.suffix != ".json"]
    targets = sorted(r[4] for r in rows if r[3] == "ready")
    assert sorted(map(str, published)) == targets, "READY holds exactly the published files, none twice"
    assert len(held) == outcomes["review"] + outcomes["rejected"]
    for p in published:
        assert metadata_problems(p.read_bytes()) == [], p
        with Image.open(p) as img:
            img.load()  # complete, decodable
    by_kind = Counter(e["kind"] for e in events)
    if by_kind["duplicate"]:
        assert outcomes["duplicate"] >= 1
    unreadable = {_sha(e["data"]) for e in events if e["kind"] in ("corrupt", "text")}
    # truncated JPEG headers repeat: within one watcher those are duplicates of each other
    assert len(unreadable) <= outcomes["rejected"] <= by_kind["corrupt"] + by_kind["text"]
    # barcode photos are blocked by the light policy; never published
    barcode_shas = {_sha(e["data"]) for e in events if e["kind"] == "barcode"}
    assert not any(r[1] in barcode_shas and r[3] == "ready" for r in rows)


def test_temporary_patterns():
    for name in ("a.part", "b.partial", "c.tmp", "d.crdownload", "~$doc.jpg", "._photo.jpg", ".DS_Store",
                 "Thumbs.db"):
        assert is_temporary(name), name
    assert not is_temporary("photo.jpg") and len(TEMP_PATTERNS) >= 8


def test_a_file_is_taken_only_after_it_held_still(tmp_path):
    s = WatchSettings(tmp_path / "in", tmp_path / "ready", tmp_path / "hold", poll_s=0.01, min_age_s=0.3)
    from scrubber.policy import Policy

    w = Watcher(s, Policy.from_dict({"detectors": ["barcodes"]}))
    f = s.inbox / "a.jpg"
    f.write_bytes(b"x" * 10)
    assert w.poll() == []  # first sight
    f.write_bytes(b"x" * 20)
    assert w.poll() == [] and w.poll() == []  # grew: the count starts again
    time.sleep(0.35)
    assert [p for p, _ in w.poll()] == [f]  # unchanged over two polls and older than min-age
    (s.inbox / "b.jpg.part").write_bytes(b"y")
    for _ in range(3):
        found = [p for p, _ in w.poll()]
        assert f in found and all(p.name != "b.jpg.part" for p in found)
    w.close()


def test_200_files_dropped_while_running(tmp_path):
    inbox, ready, hold = tmp_path / "in", tmp_path / "ready", tmp_path / "hold"
    inbox.mkdir()
    events = _make_drop(200, seed=1)
    proc = _start(tmp_path, inbox, hold, ready, "watch.log")
    try:
        writers = []
        for e in events:
            if e["how"] == "slow":
                t = threading.Thread(target=_drop, args=(inbox, e))
                t.start()
                writers.append(t)
            else:
                _drop(inbox, e)
                time.sleep(0.01)
        for t in writers:
            t.join()
        _wait_empty(inbox)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, (tmp_path / "watch.log").read_text()[-2000:]
    _check_invariants(events, [hold], ready)
    log = (hold / "logs" / "watch.log").read_text()
    assert log.count(" in ") >= 200  # one line per file with its time
    st = subprocess.run([sys.executable, "-m", "scrubber", "status", str(hold)], capture_output=True, text=True,
                        cwd=ROOT)
    assert st.returncode == 0 and "unfinished: 0" in st.stdout and "backlog in inbox: 0" in st.stdout


def _done_count(hold: Path) -> int:
    return sum(r[2] == "done" for r in _rows(hold))


def test_sigkill_at_random_points_loses_nothing_and_publishes_nothing_twice(tmp_path, capsys):
    """kill -9 five times, each after a random number (3-30) of further files finished, so the
    kills land between and inside the stages of files in flight; then a last run drains."""
    inbox, ready, hold = tmp_path / "in", tmp_path / "ready", tmp_path / "hold"
    inbox.mkdir()
    events = [e for e in _make_drop(200, seed=2) if e["how"] != "slow"]
    for e in events:
        _drop(inbox, e)
    rnd = random.Random(7)
    interrupted = []  # rows caught mid-way by each kill
    for _ in range(5):
        before = _done_count(hold)
        target = before + rnd.randint(3, 30)
        proc = _start(tmp_path, inbox, hold, ready, "kill.log")
        try:
            deadline = time.time() + 60
            while _done_count(hold) < target and time.time() < deadline and _inbox_files(inbox):
                time.sleep(0.01)
        finally:
            proc.kill()
            proc.wait()
        rows = _rows(hold)
        interrupted.append(sum(r[2] != "done" for r in rows))
    proc = _start(tmp_path, inbox, hold, ready, "kill.log")
    try:
        _wait_empty(inbox)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    with capsys.disabled():
        print(f"\n  kill -9 x5: files caught unfinished by each kill: {interrupted}; "
              f"{_done_count(hold)} files done after restart")
    assert len(interrupted) == 5 and sum(interrupted) > 0, "no kill landed inside a file"
    _check_invariants(events, [hold], ready)


def test_two_watchers_on_one_inbox_never_take_the_same_file(tmp_path):
    inbox, ready = tmp_path / "in", tmp_path / "ready"
    holds = [tmp_path / "hold_a", tmp_path / "hold_b"]
    inbox.mkdir()
    events = [e for e in _make_drop(80, seed=3) if e["kind"] != "duplicate" and e["how"] != "slow"]
    procs = [_start(tmp_path, inbox, h, ready, f"two_{i}.log", workers=1) for i, h in enumerate(holds)]
    try:
        time.sleep(2.0)
        for e in events:
            _drop(inbox, e)
        _wait_empty(inbox)
        time.sleep(1.0)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        assert [p.wait(60) for p in procs] == [0, 0]
    _check_invariants(events, holds, ready)
    assert all(_rows(h) for h in holds), "both watchers took part"


def test_a_hung_scan_hits_the_time_limit_and_is_held(tmp_path):
    """A 0.2-second limit on a 12-MP photo with the full policy: killed, blocked, held for review."""
    from scrubber.policy import Policy

    inbox = tmp_path / "in"
    inbox.mkdir()
    Image.open(SAMPLES / "group_photo.jpg").resize((4000, 3000)).save(inbox / "big.jpg")
    os.utime(inbox / "big.jpg", (time.time() - 60, time.time() - 60))
    s = WatchSettings(inbox, tmp_path / "ready", tmp_path / "hold", poll_s=0.05, min_age_s=0, timeout_s=0.2)
    Watcher(s, Policy()).run(once=True)
    sidecar = (tmp_path / "hold" / "review" / "big.jpg.json").read_text()
    assert '"timeout"' in sidecar
    assert not any((tmp_path / "ready").iterdir())
    assert (tmp_path / "hold" / "originals" / "big.jpg").exists()


def test_full_policy_on_real_samples(tmp_path):
    """The default detectors, end to end through the watcher, once."""
    from scrubber.policy import Policy

    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in ("wristband.jpg", "banner_clean_text.jpg", "transparent_name.png"):
        (inbox / name).write_bytes((SAMPLES / name).read_bytes())
    past = time.time() - 60
    for p in inbox.iterdir():
        os.utime(p, (past, past))
    s = WatchSettings(inbox, tmp_path / "ready", tmp_path / "hold", poll_s=0.05, min_age_s=0, workers=1)
    done = Watcher(s, Policy.load(CLINIC_POLICY)).run(once=True)
    assert done == 3
    assert sorted(p.name for p in (tmp_path / "ready").iterdir()) == [
        "banner_clean_text.jpg", "transparent_name.png", "wristband.jpg"]
    rows = {r[0]: r for r in _rows(tmp_path / "hold")}
    assert rows["wristband.jpg"][5] == "redacted" and rows["banner_clean_text.jpg"][5] == "clean"


def test_sigkill_with_hostile_files_mixed_in(tmp_path, capsys):
    """kill -9 three times while slow writers, symbolic links, a FIFO, undecodable, control-
    character and 240-byte names and (where this machine can mount a tmpfs) a folder on another
    filesystem are in the drop; then a last run drains. Every dropped file ends byte-identical
    in HOLD/originals, nothing is published twice or unredacted, the specials are left alone
    and never opened, and ``--once`` exits."""
    inbox, ready, hold = tmp_path / "in", tmp_path / "ready", tmp_path / "hold"
    inbox.mkdir()
    events = [e for e in _make_drop(60, seed=4) if e["kind"] != "duplicate"]
    for i, stem in enumerate((os.fsdecode(b"caf\xe9"), "line\nbreak", "y" * 236)):
        data = _image_bytes(501 + 2 * i, "clean")  # odd seeds are PNG
        events.append({"name": f"{stem}.png", "data": data, "kind": "clean", "how": "plain"})
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(_image_bytes(900, "barcode"))
    os.symlink(outside, inbox / "link.jpg")
    os.symlink(tmp_path, inbox / "linked-folder")
    os.mkfifo(inbox / "pipe.jpg")
    mounted = inbox / "other-fs"
    mounted.mkdir()
    other_fs = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], capture_output=True).returncode == 0
    specials = {"link.jpg", "linked-folder", "pipe.jpg"}
    try:
        if other_fs:
            (mounted / "across.png").write_bytes(_image_bytes(901, "clean"))
            specials.add("other-fs/across.png")
        for e in events:
            if e["how"] != "slow":
                _drop(inbox, e)
        slow = [e for e in events if e["how"] == "slow"]
        for _ in range(3):
            proc = _start(tmp_path, inbox, hold, ready, "hostile.log")
            writers = [threading.Thread(target=_drop, args=(inbox, e)) for e in slow]
            for t in writers:
                t.start()
            slow = []
            time.sleep(random.Random(len(_rows(hold))).uniform(3.0, 6.0))
            proc.kill()
            proc.wait()
            for t in writers:
                t.join()
        policy = tmp_path / "light.toml"
        r = subprocess.run([sys.executable, "-m", "scrubber", "watch", str(inbox), "--ready", str(ready), "--hold",
                            str(hold), "--once", "--poll", "0.2", "--min-age", "1", "--settle", "1", "--policy",
                            str(policy)], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        left = set()
        for root, dirs, files in os.walk(inbox):
            dirs[:] = [d for d in dirs if d != CLAIMS_DIR]
            left |= {(Path(root) / n).relative_to(inbox).as_posix() for n in files}
            left |= {(Path(root) / d).relative_to(inbox).as_posix() for d in dirs if os.path.islink(Path(root) / d)}
        assert left == specials, left
    finally:
        if other_fs:
            subprocess.run(["umount", str(mounted)], capture_output=True)
    with capsys.disabled():
        print(f"\n  hostile drop: {len(events)} files, specials left alone: {sorted(specials)}"
              + ("" if other_fs else " (no tmpfs mount here: the other-filesystem case was left out)"))
    _check_invariants(events, [hold], ready)
    assert outside.read_bytes() not in {p.read_bytes() for p in hold.rglob("*") if p.is_file()}
    rows = sqlite3.connect(hold / ".scrubber" / "state.db").execute("SELECT outcome FROM files").fetchall()
    assert (("unclaimable",) in rows) == other_fs


CLAIMS_DIR = ".scrubber-claims"
