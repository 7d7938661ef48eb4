"""``scan --cluster``: the scan's jobs on a real Dask cluster (a ``LocalCluster`` of worker
processes), the same verdicts and bytes as a local scan, a worker killed mid-scan, and a
scheduler that is not there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from scrubber.cli import app
from scrubber.cluster import chunk_size
from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow
runner = CliRunner()


def _photos(folder: Path, n: int) -> dict[str, str]:
    """``n`` 800x600 photos, every third with an MRN on it; name -> the verdict expected."""
    folder.mkdir()
    font = ImageFont.load_default(size=40)
    expected = {}
    for i in range(n):
        px = np.random.default_rng(i).integers(150, 230, (600, 800, 3), dtype=np.uint8)
        img = Image.fromarray(px)
        draw = ImageDraw.Draw(img)
        draw.rectangle((60, 240, 740, 340), fill="white")
        text = f"MRN 00{482913 + i}" if i % 3 == 0 else ""
        draw.text((80, 265), text, fill="black", font=font)
        name = f"photo-{i:02d}.png"
        img.save(folder / name)
        expected[name] = "redacted" if text else "clean"
    return expected


def _dask_workers(scan: psutil.Process) -> list[psutil.Process]:
    """The scan's Dask worker processes: its children that run a scrubber scan process."""
    found = []
    for child in scan.children():
        try:
            if any("scrubber.workers" in " ".join(g.cmdline()) for g in child.children()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_a_dask_worker_killed_mid_scan_leaves_every_file_one_result_and_one_copy(tmp_path):
    expected = _photos(tmp_path / "in", 40)
    out = tmp_path / "out"
    scan = subprocess.Popen([sys.executable, "-m", "scrubber", "scan", str(tmp_path / "in"), "--out", str(out),
                             "--cluster", "local:2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    killed = None
    deadline = time.monotonic() + 300
    try:
        while killed is None and scan.poll() is None and time.monotonic() < deadline:
            written = [p for p in out.glob("*.png")] if out.exists() else []
            workers = _dask_workers(psutil.Process(scan.pid))
            if len(written) >= 6 and len(workers) == 2:
                killed = workers[0].pid
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        stdout, stderr = scan.communicate(timeout=300)
    finally:
        if scan.poll() is None:
            scan.kill()
    assert killed is not None, "the scan ended before a worker could be killed"
    assert scan.returncode == 0, stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    paths = [img["path"] for img in report["images"]]
    assert sorted(paths) == sorted(expected) and len(paths) == len(set(paths))  # one result per file
    assert {img["path"]: img["verdict"] for img in report["images"]} == expected
    published = sorted(p.name for p in out.iterdir() if not p.name.startswith(".") and p.suffix == ".png")
    assert published == sorted(expected)  # one copy each: nothing under a second name (-1, _png)
    assert all(img["output"] for img in report["images"])


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "in").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "in" / "a.png")
    r = subprocess.run([sys.executable, "-m", "scrubber", "scan", str(tmp_path / "in"), "--out",
                        str(tmp_path / "out"), "--cluster", f"tcp://127.0.0.1:{port}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_cluster_address_that_is_not_one_is_refused():
    r = runner.invoke(app, ["scan", str(SAMPLES), "--out", "/tmp/never", "--cluster", "local:zero"])
    assert r.exit_code == 2 and "not a cluster address" in r.output


def test_chunks_are_small_for_few_files_and_bounded_for_many():
    assert chunk_size(40, 2) == 2
    assert chunk_size(3, 2) == 1
    assert chunk_size(1_000_000, 160) == 32


def test_a_job_run_again_after_a_lost_worker_meets_its_own_output(tmp_path):
    from scrubber.policy import Policy
    from scrubber.workers import Job, ScanProcess

    Image.new("RGB", (320, 240), "white").save(tmp_path / "a.png")
    out = tmp_path / "out" / "a.png"
    job = Job(str(tmp_path / "a.png"), out=str(out), same_ok=True)
    worker = ScanProcess(Policy.from_dict({"detectors": ["barcodes"], "identifiers": ["mrn"]}), timeout_s=60)
    try:
        first = worker.run(job)
        again = worker.run(job)  # as the scheduler runs a chunk again elsewhere
        out.write_bytes(b"someone else's file")
        other = worker.run(job)
    finally:
        worker.close()
    assert first.output == again.output == str(out) and again.error is None
    assert other.output is None and "already exists" in other.error
    assert out.read_bytes() == b"someone else's file"
