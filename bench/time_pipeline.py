"""Per-image time of the full pipeline on a 12-megapixel photo (median of several runs).

Builds a deterministic 4032x3024 scene from the sample images (faces, a monitor list, a
wristband with barcode, a chart, small text), then runs ``Scrubber.process`` on it N times
in one process on one thread (as a ``scan`` worker runs) and prints the median time per
stage. Then ``scrubber scan`` on 8 copies of the photo with --workers 1 and 2: images per minute
(does it scale with the cores?) and the peak resident memory of one worker on 12-MP photos.
Usage:  python bench/time_pipeline.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrubber.imageio import load  # noqa: E402
from scrubber.pipeline import Scrubber  # noqa: E402
from scrubber.policy import Policy  # noqa: E402


def scene(path: Path) -> None:
    canvas = np.full((3024, 4032, 3), 170, np.uint8)
    canvas[2200:] = (110, 100, 90)
    tiles = {
        "group_photo.jpg": (0, 0, 2000),
        "monitor_patient_list.jpg": (2030, 0, 2000),
        "wristband.jpg": (0, 1350, 1500),
        "clipboard_chart.jpg": (1550, 1400, 1100),
        "nurse_station.heic": (2700, 1450, 1300),
    }
    for name, (x, y, w) in tiles.items():
        px = load(ROOT / "sample_images" / name).frames[0].pixels
        h = int(px.shape[0] * w / px.shape[1])
        canvas[y : y + h, x : x + w] = cv2.resize(px, (w, h), interpolation=cv2.INTER_AREA)[: 3024 - y, : 4032 - x]
    img = Image.fromarray(canvas)
    import matplotlib

    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", 14)
    d = ImageDraw.Draw(img)
    d.rectangle((3000, 2900, 3400, 2990), fill=(250, 250, 250))
    d.text((3010, 2910), "Pt: Walter Kowalski  MRN 55120934", font=font, fill=(0, 0, 0))
    img.save(path, "JPEG", quality=90)


def scaling(photo: Path, copies: int = 8) -> None:
    import resource
    import shutil
    import subprocess

    print(f"\nscrubber scan of {copies} copies of the 12-MP photo")
    print(f"{'workers':>7s} {'seconds':>8s} {'images/min':>11s} {'peak MB/worker':>15s}")
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "in"
            folder.mkdir()
            for i in range(copies):
                shutil.copy(photo, folder / f"photo_{i}.jpg")
            code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                    "subprocess.run(sys.argv[1:], capture_output=True); "
                    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            scrubber = Path(sys.executable).parent / "scrubber"
            out = subprocess.run([sys.executable, "-c", code, str(scrubber), "scan", str(folder), "--out",
                                  str(Path(tmp) / "out"), "--workers", str(workers)], capture_output=True, text=True)
            seconds, peak_kb = out.stdout.split()
            seconds = float(seconds)
            print(f"{workers:7d} {seconds:8.1f} {60 * copies / seconds:11.1f} {int(peak_kb) / 1024:15.0f}")


def main(runs: int = 5) -> None:
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "scene_12mp.jpg"
        scene(photo)
        t = time.perf_counter()
        scrubber = Scrubber(Policy())
        startup = time.perf_counter() - t
        results = [scrubber.process(photo) for _ in range(runs)]
        del scrubber
        report(results, runs, startup)
        scaling(photo)


def report(results, runs: int, startup: float) -> None:
    print(f"12-MP photo (4032x3024), {runs} runs, one process, one thread; model load {startup:.2f} s")
    print(f"verdict: {results[0].status.value}; reasons: {', '.join(results[0].reasons)}")
    stages = list(results[0].timings)
    print(f"{'stage':24s} {'median s':>9s}")
    for stage in stages:
        values = [r.timings.get(stage, 0.0) for r in results]
        print(f"{stage:24s} {statistics.median(values):9.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
