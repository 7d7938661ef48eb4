"""``scan --workers 2`` against ``scan --cluster local:2`` on the same 40 photos, in one run.

Two sets: the 40 largest photos of the real-photo set (``../shared/realset``, by manifest
name; copied to a temporary folder, never into the project) and 40 copies of the 12-MP
scene of ``time_pipeline.py``. Each set is scanned four times, local / cluster / cluster /
local, each run a fresh ``scrubber scan`` command (start-up, model loads and the cluster's
start included); each way's fixed start-up is measured on a folder of one blank image. While a run goes, every process under it is sampled (psutil, every 0.2 s)
for its resident memory: the peak of the scan processes that hold the models, and of the
Dask worker processes around them. The verdicts and output bytes of the two ways must be
the same.

Usage:  python bench/cluster_scan.py        (writes bench/CLUSTER.md and prints it)
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
REALSET = ROOT.parent / "shared" / "realset"
sys.path.insert(0, str(ROOT / "bench"))


def realset_photos(n: int = 40) -> list[Path]:
    from PIL import Image

    items = json.loads((REALSET / "manifest.json").read_text())["items"]
    sized = []
    for item in items:
        path = REALSET / item["file"]
        try:
            with Image.open(path) as img:
                sized.append((img.width * img.height, item["file"]))
        except Exception:  # the clips, and anything PIL cannot open
            continue
    return [REALSET / f for _, f in sorted(sized, reverse=True)[:n]]


class Sampler(threading.Thread):
    """Peak resident MB, per process role, of every process below ``pid``."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.peaks, self._done = psutil.Process(pid), {"scan process": 0.0, "dask worker": 0.0}, False

    def run(self) -> None:
        while not self._done:
            try:
                for p in self.root.children(recursive=True):
                    try:
                        cmd = " ".join(p.cmdline())
                        mb = p.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    role = "scan process" if "scrubber.workers" in cmd else \
                        "dask worker" if "multiprocessing" in cmd and "resource_tracker" not in cmd else None
                    if role:
                        self.peaks[role] = max(self.peaks[role], mb)
            except psutil.Error:
                return
            time.sleep(0.2)

    def stop(self) -> dict[str, float]:
        self._done = True
        self.join()
        return self.peaks


def scan(folder: Path, out: Path, how: list[str]) -> tuple[float, dict[str, float]]:
    scrubber = Path(sys.executable).parent / "scrubber"
    t = time.perf_counter()
    proc = subprocess.Popen([str(scrubber), "scan", str(folder), "--out", str(out), *how],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t
    peaks = sampler.stop()
    if proc.returncode not in (0, 4):
        raise SystemExit(f"scan {' '.join(how)} failed ({proc.returncode}): {err[-500:]}")
    return seconds, peaks


def outcome(out: Path) -> tuple[list, dict[str, str]]:
    report = json.loads((out / "report.json").read_text())
    verdicts = [(i["path"], i["verdict"], i["reasons"]) for i in report["images"]]
    files = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in out.rglob("*") if p.is_file() and not p.name.startswith("report.")}
    return verdicts, files


def bench_set(name: str, photos: list[Path], tmp: Path) -> str:
    folder = tmp / name / "in"
    folder.mkdir(parents=True)
    for i, p in enumerate(photos):
        shutil.copy(p, folder / f"{i:02d}-{p.name}")
    ways = {"--workers 2": ["--workers", "2"], "--cluster local:2": ["--cluster", "local:2"]}
    tiny = tmp / name / "tiny"
    tiny.mkdir()
    from PIL import Image

    Image.new("RGB", (64, 48), "white").save(tiny / "blank.png")
    startup = {w: scan(tiny, tmp / name / f"tiny-{i}", how)[0] for i, (w, how) in enumerate(ways.items())}
    times: dict[str, list[float]] = {w: [] for w in ways}
    peaks: dict[str, dict[str, float]] = {w: {} for w in ways}
    results = {}
    for round_, way in enumerate(["--workers 2", "--cluster local:2", "--cluster local:2", "--workers 2"]):
        out = tmp / name / f"out-{round_}"
        seconds, peak = scan(folder, out, ways[way])
        times[way].append(seconds)
        for role, mb in peak.items():
            peaks[way][role] = max(peaks[way].get(role, 0.0), mb)
        results.setdefault(way, outcome(out))
        print(f"  {name}: {way}: {seconds:.1f} s", flush=True)
    same = results["--workers 2"] == results["--cluster local:2"]
    rows = []
    base = sum(times["--workers 2"]) / 2
    for way in ways:
        mean = sum(times[way]) / 2
        per_min = 60 * len(photos) / mean
        overhead, steady = "-", "-"
        if way != "--workers 2":
            overhead = f"{100 * (mean / base - 1):+.1f}%"
            local = base - startup["--workers 2"]
            steady = f"{100 * ((mean - startup[way]) / local - 1):+.1f}%"
        mem = ", ".join(f"{role} {mb:.0f}" for role, mb in peaks[way].items() if mb)
        rows.append(f"| {name} | `{way}` | {' / '.join(f'{t:.1f}' for t in times[way])} | {startup[way]:.1f} | "
                    f"{per_min:.1f} | {overhead} | {steady} | {mem} |")
    rows.append(f"| {name} | same verdicts and output bytes | {'yes' if same else '**NO**'} | | | | | |")
    return "\n".join(rows)


def main() -> None:
    from time_pipeline import scene

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scene(tmp / "scene-12mp.jpg")
        sets = {"realset, 40 largest": realset_photos(), "12-MP scene x 40": [tmp / "scene-12mp.jpg"] * 40}
        t0 = time.time()
        rows = [bench_set(name, photos, tmp) for name, photos in sets.items()]
    table = "\n".join([
        "# `scan --workers 2` against `scan --cluster local:2`",
        "",
        f"`make bench` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {psutil.cpu_count()} cores; "
        f"{time.time() - t0:.0f} s in all. Each way run twice (local, cluster, cluster, local), each run a fresh "
        "`scrubber scan` (start-up and model loads included); images/min from the mean of the two. Start-up: the "
        "same command on a folder of one blank 64x48 image (processes, models, self tests, the cluster's start); "
        "the overhead after start-up compares the two ways with it taken off.",
        "",
        "| set | way | seconds (two runs) | start-up s | images/min | cluster overhead | overhead after start-up "
        "| peak resident MB per process |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    (ROOT / "bench" / "CLUSTER.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
