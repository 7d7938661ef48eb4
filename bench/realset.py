"""Real-photo benchmark: scrubber on ``../shared/realset`` (real photos, screenshots and
receipts from public repositories), judged by ``bench/leaks.py``'s independent judge.

    python bench/realset.py [--realset DIR] [--out DIR] [--results FILE]

Ground truth, per manifest category (``realset/README.md``):

* **barcodes**: the text each symbol decodes to; a leak is a symbol zxing-cpp still decodes
  anywhere in the safe copy;
* **documents** (WildReceipt): the store name, address, phone, date and time fields; a leak is
  a field the judge reads in the safe copy (only fields it reads in the original count);
* **scene_text** (ICDAR 2015): the legible text polygons; signs hold no patient identifiers, so
  what is reported is how many were painted over (signage should not be), blocked images and
  changed pixels;
* **faces** and **plates**: boxes drawn by looking at each image, kept in
  ``bench/realset_annotations.json`` (the plates' text too); faces are judged as in the leak
  benchmark; the judge's OCR cannot read the one legible plate in the original (small,
  slanted, low contrast), so a plate is judged by its pixels: filled when half its box moved;
* **clean**: printed pages with nothing identifying: blocked images and changed pixels.

The images are scanned from a temporary copy outside the project (they are never copied into
it), with the clinic policy (or ``--policy``), ``--workers 2``. The per-category table goes to
``bench/RESULTS-realset.md`` and is printed.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import leaks  # noqa: E402

ROOT = leaks.ROOT
REALSET = ROOT.parent / "shared" / "realset"
ANNOTATIONS = ROOT / "bench" / "realset_annotations.json"
FIELDS = {"Store_name_value": "NAME", "Store_addr_value": "ADDRESS", "Tel_value": "PHONE", "Date_value": "DATE",
          "Time_value": "DATE"}
CATEGORIES = ("barcodes", "documents", "faces", "plates", "scene_text", "clean")


def _box(polygon) -> list[int]:
    xs, ys = polygon[0::2], polygon[1::2]
    return [int(min(xs)), int(min(ys)), int(np.ceil(max(xs))), int(np.ceil(max(ys)))]


def truth_for(item: dict, notes: dict, size: tuple[int, int]) -> dict:
    """One manifest item as a leak-benchmark truth record (identifiers, faces, barcodes)."""
    truth = item.get("truth") or {}
    if isinstance(truth, str):  # the receipts' truth is stored as a Python literal
        truth = ast.literal_eval(truth)
    w, h = size
    out = {"kind": item["category"], "faces": [], "identifiers": [], "barcodes": [], "surfaces": [], "harmless": [],
           "scene_text": [], "plates": []}
    if "decodes_to" in truth:
        out["barcodes"].append({"text": truth["decodes_to"], "box": [0, 0, w, h]})
    for field in truth.get("fields", []):
        if field["label"] in FIELDS and field["text"].strip():
            out["identifiers"].append({"text": field["text"], "label": FIELDS[field["label"]],
                                       "box": _box(field["polygon"])})
    for poly in truth.get("text_polygons", []):
        if not poly.get("ignore"):
            out["scene_text"].append(_box(poly["polygon"]))
    mine = notes.get(item["file"], {})
    out["faces"] = mine.get("faces", [])
    out["identifiers"] += [{"text": p["text"], "label": "PLATE", "box": p["box"]} for p in mine.get("plates", [])]
    out["plates"] = [p["box"] for p in mine.get("plates", [])]
    return out


def build(realset: Path, work: Path) -> tuple[Path, dict[str, dict]]:
    from PIL import Image

    manifest = json.loads((realset / "manifest.json").read_text())
    notes = json.loads(ANNOTATIONS.read_text())["images"]
    set_dir = work / "set"
    gt = {}
    for item in manifest["items"]:
        if item["category"] == "video":
            continue
        src = realset / item["file"]
        rel = item["file"]
        (set_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, set_dir / rel)
        with Image.open(src) as im:
            size = im.size
        gt[rel] = truth_for(item, notes, size)
    return set_dir, gt


def judge_filled(set_dir: Path, gt: dict, outputs: dict, key: str) -> dict[str, tuple[int, int]]:
    """(boxes of ``gt[rel][key]``, of them painted over in the safe copy: half their pixels
    moved by more than 30 levels). For ICDAR's legible text (its polygons carry no
    transcription) and plates (the judge cannot read the one legible plate); a blocked image
    is judged by the leak columns, not here."""
    out = {}
    for rel, truth in gt.items():
        if not truth[key] or outputs[rel] is None:
            continue
        original, safe = leaks._upright(set_dir / rel), leaks._pixels(outputs[rel])
        filled = 0
        for x0, y0, x1, y1 in truth[key]:
            a, b = original[y0:y1, x0:x1].astype(np.int16), safe[y0:y1, x0:x1].astype(np.int16)
            filled += bool(a.size) and float((np.abs(a - b).max(axis=2) > 30).mean()) >= 0.5
        out[rel] = (len(truth[key]), filled)
    return out


def table(rows: dict, gt: dict, scan: dict, signs: dict, plates: dict, command: str, policy: Path) -> str:
    lines = [f"# Real-photo benchmark ({date.today().isoformat()})", "",
             f"`{command}` on {platform.node() or 'this machine'} ({platform.machine()}, Python "
             f"{platform.python_version()}); scrubber scan --workers 2 with {policy.relative_to(ROOT)} on "
             f"`../shared/realset` ({len(rows)} images; the clips are left to the video work). Judge: bench/leaks.py's "
             "(Tesseract + PP-OCR reading each truth box, YuNet + dlib + face_recognition on faces, zxing-cpp on "
             "codes).", "",
             "| category | images | blocked | leaking images | identifiers leaking / readable | faces leaking / "
             "annotated | barcodes decoding / decodable | plates filled / annotated | sign text filled / legible boxes | "
             "pixels changed (mean) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for cat in CATEGORIES:
        rels = [r for r in rows if gt[r]["kind"] == cat]
        if not rels:
            continue
        res = [rows[r]["systems"]["scrubber"] for r in rels]
        blocked = sum(s["blocked"] for s in res)
        leaking = sum(bool(s["id_leaks"] or s["face_leaks"] or s["barcode_leaks"]) for s in res)
        ids = sum(len(s["id_leaks"]) for s in res), sum(rows[r]["readable_ids"] for r in rels)
        faces = sum(len(s["face_leaks"]) for s in res), sum(rows[r]["faces"] for r in rels)
        codes = sum(len(s["barcode_leaks"]) for s in res), sum(rows[r]["barcodes"] for r in rels)
        sign = [signs[r] for r in rels if r in signs]
        plate = [plates[r] for r in rels if r in plates]
        changed = [s["changed"] for s in res if not s["blocked"]]
        cell = lambda pair: f"{pair[0]} / {pair[1]}" if pair[1] else "–"  # noqa: E731
        lines.append(f"| {cat} | {len(rels)} | {blocked} | {leaking} | {cell(ids)} | {cell(faces)} | {cell(codes)} | "
                     f"{cell((sum(b for _, b in plate), sum(a for a, _ in plate)))} | "
                     f"{cell((sum(b for _, b in sign), sum(a for a, _ in sign)))} | "
                     f"{100 * float(np.mean(changed)) if changed else 0:.1f}% |")
    lines += ["", "What leaks and what is blocked, image by image:", ""]
    for rel in rows:
        s = rows[rel]["systems"]["scrubber"]
        what = s["id_leaks"] + s["face_leaks"] + [f"barcode:{b}" for b in s["barcode_leaks"]]
        verdict = scan["images"][rel]["verdict"]
        if what or verdict == "blocked":
            lines.append(f"- `{rel}`: {verdict} ({', '.join(scan['images'][rel]['reasons'])})"
                         + (f"; leaks {', '.join(what)}" if what else ""))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realset", type=Path, default=REALSET)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "realset-run")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-realset.md")
    ap.add_argument("--policy", type=Path, default=leaks.POLICY)
    args = ap.parse_args()
    if not (args.realset / "manifest.json").is_file():
        raise SystemExit(f"{args.realset}: no manifest.json (the realset lives in ../shared/realset)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="realset-") as tmp:
        set_dir, gt = build(args.realset, Path(tmp))
        print(f"{len(gt)} real images; running scrubber scan --workers 2", flush=True)
        scan = leaks.run_scrubber(set_dir, args.out, policy=args.policy.resolve())
        outputs = {rel: Path(scan["images"][rel]["output"]) if scan["images"][rel]["output"] else None for rel in gt}
        rows = leaks.judge_all(set_dir, gt, {"scrubber": outputs})
        signs = judge_filled(set_dir, gt, outputs, "scene_text")
        plates = judge_filled(set_dir, gt, outputs, "plates")
    (args.out / "judged.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = table(rows, gt, scan, signs, plates, "make bench" if args.policy.resolve() == leaks.POLICY.resolve()
                 else f"python bench/realset.py --policy {args.policy}", args.policy.resolve())
    print(text)
    args.results.write_text(text)
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
