"""Animals are no faces: scrubber on real photos of animals, none of which holds a person.

    python bench/animals.py [--deb FILE] [--out DIR] [--results FILE]

The photos are the public-domain, CC0 and CC-BY(-SA) Wikimedia Commons photographs that
GCompris (an educational suite) ships in Debian's ``gcompris-qt-data`` package: its
"explore farm animals" (9), "explore world animals" (15) and "erase" (33) activities. The
package is fetched with ``apt-get download`` (or given with ``--deb``); the photos are read out
of its Qt resource files (``.rcc``) into ``--out``, never into the project. Each photo's
author, licence and source page, from the package's own README files, go to
``bench/ANIMALS.md``.

For each photo: what YuNet alone finds (the faces it would blur without the second opinion
of ``scrubber.detect.face_judge``), and what ``scrubber scan`` does with the default policy
(a blurred face is ``blur:face`` in its reasons; changed pixels as in the leak benchmark).
The table goes to ``bench/RESULTS-animals.md``.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import lzma
import platform
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import leaks  # noqa: E402

ROOT = leaks.ROOT
PACKAGE = "gcompris-qt-data"
ACTIVITIES = ("explore_farm_animals", "explore_world_animals", "erase")


def _deb_members(deb: bytes) -> dict[str, bytes]:
    """The members of a Debian package (an ``ar`` archive)."""
    if deb[:8] != b"!<arch>\n":
        raise SystemExit("not a Debian package")
    out, at = {}, 8
    while at + 60 <= len(deb):
        name, size = deb[at:at + 16].decode().strip().rstrip("/"), int(deb[at + 48:at + 58])
        out[name] = deb[at + 60:at + 60 + size]
        at += 60 + size + (size & 1)
    return out


def rcc_files(data: bytes) -> dict[str, bytes]:
    """The files in a Qt resource file (``rcc`` format 1-3; zlib-compressed entries inflated)."""
    if data[:4] != b"qres":
        raise SystemExit("not a Qt resource file")
    version, tree, blobs, names = struct.unpack(">IIII", data[4:20])
    node = 14 if version == 1 else 22
    files: dict[str, bytes] = {}

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset:names + offset + 2])
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        at = tree + index * node
        offset, flags = struct.unpack(">IH", data[at:at + 6])
        path = prefix + name(offset)
        if flags & 2:  # a directory: its children are a run of nodes
            count, first = struct.unpack(">II", data[at + 6:at + 14])
            for child in range(first, first + count):
                walk(child, path + "/")
            return
        (where,) = struct.unpack(">I", data[at + 10:at + 14])
        (size,) = struct.unpack(">I", data[blobs + where:blobs + where + 4])
        blob = data[blobs + where + 4:blobs + where + 4 + size]
        files[path] = zlib.decompress(blob[4:]) if flags & 1 else blob

    walk(0, "")
    return files


def _sources(readme: str) -> dict[str, dict[str, str]]:
    """file name -> {Copyright, License, Source} from a GCompris resource README."""
    out: dict[str, dict[str, str]] = {}
    for block in readme.split("\n\n"):
        fields: dict[str, str] = {}
        files: list[str] = []
        for line in block.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Files":
                files += value.split()
            elif value and not line.startswith(" "):
                fields[key.strip()] = value.strip()
            elif line.strip():
                files.append(line.strip())
        for f in files:
            out[f] = fields
    return out


def extract(deb: Path, dest: Path) -> list[dict]:
    """Write the activities' photos to ``dest``; return one record per photo."""
    members = _deb_members(deb.read_bytes())
    data_name = next(n for n in members if n.startswith("data.tar"))
    raw = members[data_name]
    raw = lzma.decompress(raw) if data_name.endswith(".xz") else raw
    records = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for activity in ACTIVITIES:
            member = tar.extractfile(f"./usr/share/gcompris-qt/rcc/{activity}.rcc")
            files = rcc_files(member.read())
            readmes = {p.rsplit("/", 1)[0]: _sources(b.decode()) for p, b in files.items() if p.endswith("/README")}
            for path, blob in sorted(files.items()):
                if not path.endswith(".webp"):
                    continue
                folder, fname = path.rsplit("/", 1)
                out = dest / f"{activity}-{fname}"
                out.write_bytes(blob)
                records.append({"file": out.name, "activity": activity, **readmes.get(folder, {}).get(fname, {})})
    return records


def fetch(work: Path) -> Path:
    subprocess.run(["apt-get", "download", PACKAGE], cwd=work, check=True, capture_output=True)
    return next(work.glob(f"{PACKAGE}_*.deb"))


@functools.cache
def _yunet_alone():
    from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings

    return YuNetFaces(YuNetSettings(judged=False))


def yunet_alone(path: Path) -> int:
    """How many faces YuNet finds without the judge's second opinion."""
    from scrubber.imageio import load

    return len(_yunet_alone().detect(load(path).frames[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deb", type=Path, help=f"the {PACKAGE} package (default: apt-get download it)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "animals-run")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-animals.md")
    ap.add_argument("--sources", type=Path, default=ROOT / "bench" / "ANIMALS.md")
    args = ap.parse_args()
    photos = args.out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="animals-") as tmp:
        deb = args.deb or fetch(Path(tmp))
        records = extract(deb, photos)
        version = deb.name.split("_")[1] if "_" in deb.name else "?"
    print(f"{len(records)} animal photos from {PACKAGE} {version}; running scrubber scan --workers 2", flush=True)
    scan = leaks.run_scrubber(photos, args.out, policy=leaks.POLICY)
    from scrubber.imageio import load

    rows = []
    for rec in records:
        result = scan["images"][rec["file"]]
        changed = None
        if result["output"]:
            a, b = load(photos / rec["file"]).frames[0].pixels, load(Path(result["output"])).frames[0].pixels
            changed = float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 30).mean())
        rows.append({**rec, "yunet": yunet_alone(photos / rec["file"]), "verdict": result["verdict"],
                     "blurred": "blur:face" in result["reasons"], "reasons": result["reasons"], "changed": changed})
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")

    n = len(rows)
    lines = [f"# Animal photos ({date.today().isoformat()})", "",
             f"`python bench/animals.py` on {platform.node()} ({platform.machine()}, Python {platform.python_version()}): "
             f"{n} real photos of animals (no person in any) from Debian's `{PACKAGE}` {version}, sources in "
             "`bench/ANIMALS.md`; scrubber scan --workers 2 with the clinic policy.", "",
             "| | photos |", "|---|---|",
             f"| YuNet alone finds a face | {sum(r['yunet'] > 0 for r in rows)} / {n} |",
             f"| scrubber blurs a face (`blur:face`) | {sum(r['blurred'] for r in rows)} / {n} |",
             f"| blocked | {sum(r['verdict'] == 'blocked' for r in rows)} / {n} |",
             f"| pixels changed (mean, > 30 levels) | "
             f"{100 * np.mean([r['changed'] for r in rows if r['changed'] is not None] or [0]):.2f}% |", "",
             "Photos scrubber still changes:", ""]
    lines += [f"- `{r['file']}`: {r['verdict']} ({', '.join(r['reasons'])}); YuNet alone: {r['yunet']} face(s)"
              for r in rows if r["verdict"] != "clean"] or ["- none"]
    text = "\n".join(lines) + "\n"
    args.results.write_text(text)
    src = ["# Animal photos: sources", "", f"Read out of Debian's `{PACKAGE}` {version} by `bench/animals.py` "
           "(GCompris's README beside each photo). The photos are not kept in the project.", "",
           "| file | author | licence | source |", "|---|---|---|---|"]
    src += [f"| {r['file']} | {r.get('Copyright', '?')} | {r.get('License', '?')} | {r.get('Source', '?')} |" for r in records]
    args.sources.write_text("\n".join(src) + "\n")
    print(text)
    print(f"written to {args.results} and {args.sources}")


if __name__ == "__main__":
    main()
