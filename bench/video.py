"""Video benchmark: scrubber (and deface, when the peer venv is there) on generated clips with
per-frame ground truth, and on the realset's two real clips.

    python bench/video.py [--peers PYTHON] [--results bench/RESULTS-video.md]

* Generated clips (``sample_images/clips.py``): a face moving across a room with a label
  holding an MRN, at 1920x1080 and 1280x720, 30 fps, 4 s; the held-out variant has a smaller,
  faster face (seed-free: its sizes differ). Each frame has the face's and the label's box.
  And a monitor with a patient list panning through a 720p frame (it enters between key
  frames), each row's box per frame.
* Judge, per frame of the output, with detectors that are not scrubber's own decision:
  the **face** leaks when YuNet (score >= 0.85) or dlib's HOG finds a face overlapping its
  box, or its pixels are nearly unchanged (mean absolute difference < 10 levels); the
  **label** leaks when Tesseract reads its MRN (8 digits, fuzzy 0.8) in the grown box.
* Real clips (``../shared/realset/video``): every frame of the output is searched for faces
  (YuNet >= 0.85 or dlib) and compared with the frames the original's detectors find faces on.
* Speed: seconds of processing per second of clip on one core (``taskset -c 0``,
  ``OMP_THREAD_LIMIT=1``), for scrubber and for deface.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sample_images"))
REALSET = ROOT.parent / "shared" / "realset" / "video"
ANNOTATIONS = ROOT / "bench" / "realset_video_annotations.json"  # faces and plates drawn on sampled frames

from clips import BAND, LABEL, faces_passing, frames_of, moving_band, moving_face, panning_monitor, turning_label  # noqa: E402
from leaks import VIDEO_SECTION as SECTION, tesseract  # noqa: E402

CLIPS = {  # name: (size, face px, frames)
    "ward-1080p": ((1920, 1080), 300, 120),
    "ward-720p": ((1280, 720), 200, 120),
    "heldout-1080p": ((1920, 1080), 140, 120),
}


def _timed(cmd: list[str]) -> float:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t = time.perf_counter()
    subprocess.run(["taskset", "-c", "0", *cmd], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def _judges():
    from scrubber.detect.faces_dlib import DlibFaces
    from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings

    # YuNet without scrubber's second opinion: the judge must not share its decisions
    return YuNetFaces(YuNetSettings(judged=False)), DlibFaces()


def _faces_at(judges, pixels: np.ndarray) -> list:
    from scrubber.imageio import Frame

    yunet, dlib = judges
    frame = Frame(pixels)
    return [d.box.as_tuple() for d in yunet.detect(frame) if d.score >= 0.85] + [d.box.as_tuple()
                                                                                 for d in dlib.detect(frame)]


def _overlaps(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _reads(pixels: np.ndarray, box, secret: str) -> bool:
    pytesseract = tesseract()
    x0, y0, x1, y1 = box
    crop = pixels[max(0, y0 - 10) : y1 + 10, max(0, x0 - 10) : x1 + 10]
    text = re.sub(r"\D", "", pytesseract.image_to_string(crop, config="--psm 7"))
    want = re.sub(r"\D", "", secret)
    m = difflib.SequenceMatcher(None, text, want).find_longest_match(0, len(text), 0, len(want))
    return m.size >= 0.8 * len(want)


def _unchanged(before: np.ndarray, after: np.ndarray, box) -> bool:
    """The box's pixels nearly as they were: under 10 levels apart on average."""
    x0, y0, x1, y1 = box
    return float(np.abs(before[y0:y1, x0:x1].astype(int) - after[y0:y1, x0:x1].astype(int)).mean()) < 10


def judge_generated(original: Path, output: Path, truth: list[dict], judges) -> dict:
    before, after = frames_of(original), frames_of(output)
    face_frames = label_frames = 0
    for i, (b, a) in enumerate(zip(before, after)):
        face, label = truth[i]["face"], truth[i]["label"]
        if _unchanged(b, a, face) or any(_overlaps(f, face) for f in _faces_at(judges, a)):
            face_frames += 1
        if i % 10 == 0 and _reads(a, label, LABEL):  # Tesseract on every tenth frame
            label_frames += 1
    return {"frames": len(after), "frames_in": len(before), "face_leak_frames": face_frames,
            "label_leak_frames": label_frames, "label_frames_judged": (len(after) + 9) // 10}


def _reads_text(pixels: np.ndarray, box, secret: str, psm: int = 7) -> bool:
    """Tesseract reads most of ``secret`` (letters and digits, fuzzy 0.8) in the grown box."""
    pytesseract = tesseract()

    x0, y0, x1, y1 = box
    crop = pixels[max(0, y0 - 10) : y1 + 10, max(0, x0 - 10) : x1 + 10]
    norm = lambda t: re.sub(r"[^0-9A-Z]", "", t.upper())
    text, want = norm(pytesseract.image_to_string(crop, config=f"--psm {psm}")), norm(secret)
    m = difflib.SequenceMatcher(None, text, want).find_longest_match(0, len(text), 0, len(want))
    return bool(want) and m.size >= 0.8 * len(want)


def judge_rows(original: Path, output: Path, truth: list[dict]) -> dict:
    """A panning monitor: on every 10th frame, each row in view leaks when its name or its MRN
    is read (``ROWS``: "DOE, JANE   MRN 00482913")."""
    after = frames_of(output)
    judged = leaking = 0
    for i in range(0, len(after), 10):
        for text, box in truth[i]["rows"]:
            name, mrn = text.split("MRN")
            judged += 1
            leaking += _reads_text(after[i], box, name) or _reads_text(after[i], box, mrn)
    return {"frames": len(after), "rows_judged": judged, "rows_leaking": leaking}


def _reads_turned(pixels: np.ndarray, box, angle: float, secrets) -> bool:
    """Any of ``secrets`` read in ``box`` turned upright by ``angle`` degrees (Tesseract)."""
    import cv2

    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(pixels[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10])
    if angle:
        h, w = crop.shape[:2]
        crop = cv2.warpAffine(crop, cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0), (w, h),
                              borderMode=cv2.BORDER_REPLICATE)
    crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return any(_reads_text(crop, (0, 0, crop.shape[1], crop.shape[0]), s, psm=6) for s in secrets)


def _decodes(pixels: np.ndarray, text: str) -> bool:
    import zxingcpp

    return any(r.text == text for r in zxingcpp.read_barcodes(pixels))


def judge_text_frames(original: Path, output: Path, truth: list[dict], key: str, every: int = 10) -> dict:
    """Every ``every``-th frame: the frame holds PHI when the original's name, MRN or DOB is read
    (or, for a band, its barcode decodes) there; it leaks when the output's is."""
    before, after = frames_of(original), frames_of(output)
    secrets = [b.split(" ", 1)[-1] if b.startswith(("MRN", "DOB")) else b for b in BAND]
    phi = leaking = 0
    for i in range(0, len(after), every):
        box, angle = truth[i][key], truth[i].get("angle", 0.0)

        def shows(px):
            return _reads_turned(px, box, angle, secrets) or (key == "band" and _decodes(px, "00482913"))

        if shows(before[i]):
            phi += 1
            leaking += shows(after[i])
    return {"frames": len(after), "judged": (len(after) + every - 1) // every, "phi": phi, "leaking": leaking}


def judge_faces(original: Path, output: Path, truth: list[dict], judges) -> dict:
    """Every frame: a face half or more in view is PHI; it leaks when the judge's detectors find
    a face on it in the output or its pixels are nearly unchanged."""
    before, after = frames_of(original), frames_of(output)
    phi = leaking = 0
    leaked: set[int] = set()
    for i, (b, a) in enumerate(zip(before, after)):
        shown = [(k, f) for k, f in enumerate(truth[i]["faces"]) if f[2] - f[0] >= truth[i]["face_px"] // 2]
        if not shown:
            continue
        phi += 1
        found = _faces_at(judges, a)
        bad = [k for k, box in shown if _unchanged(b, a, box) or any(_overlaps(g, box) for g in found)]
        leaking += bool(bad)
        leaked.update(bad)
    return {"frames": len(after), "phi": phi, "leaking": leaking, "faces_leaking": len(leaked)}


def _painted(after: np.ndarray, box, share: float = 0.6) -> bool:
    """Is most of ``box`` (``share`` of its pixels or more) one colour, to 8 levels: filled?"""
    x0, y0, x1, y1 = box
    crop = after[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    colour = np.median(crop, axis=0)
    return bool((np.abs(crop - colour).max(axis=1) <= 8).mean() >= share)


def judge_real(original: Path, output: Path, judges, annotated: dict) -> dict:
    """Every frame searched for faces, before and after; and on the frames drawn by hand
    (``bench/realset_video_annotations.json``) each face and plate: a face leaks when the
    judge's detectors find a face on it or its pixels are nearly unchanged, a plate unless
    most of it is painted one colour (a re-encoded plate differs from the original, and may
    read as well)."""
    before, after = frames_of(original), frames_of(output)
    with_faces = sum(bool(_faces_at(judges, f)) for f in before)
    leaking = sum(bool(_faces_at(judges, f)) for f in after)
    faces = plates = 0
    leaks = []
    for key, truth in annotated.items():
        i = int(key)
        found = _faces_at(judges, after[i])
        for box in truth["faces"]:
            faces += 1
            if _unchanged(before[i], after[i], box) or any(_overlaps(g, box) for g in found):
                leaks.append(f"frame {i}: face {box}")
        for plate in truth["plates"]:
            plates += 1
            if not _painted(after[i], plate["box"]):
                leaks.append(f"frame {i}: plate {plate['box']} ({plate['legible']})")
    return {"frames": len(after), "frames_with_faces_in": with_faces, "frames_with_faces_out": leaking,
            "annotated_frames": len(annotated), "faces": faces, "plates": plates, "leaks": leaks}


def run(peers: str | None, results: Path) -> None:
    judges = _judges()
    rows, real_rows = [], []
    scrubber = [sys.executable, "-m", "scrubber"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (size, face_px, frames) in CLIPS.items():
            src = tmp / f"{name}.mov"
            truth = moving_face(src, frames=frames, size=size, face_px=face_px, audio=True)
            seconds = frames / 30
            out = tmp / f"{name}-scrubber.mp4"
            t = _timed([*scrubber, "check", str(src), "--out", str(out)])
            row = {"clip": name, "size": f"{size[0]}x{size[1]}", "seconds": seconds,
                   "scrubber_s_per_s": round(t / seconds, 2), **{f"scrubber_{k}": v for k, v in
                                                                 judge_generated(src, out, truth, judges).items()}}
            if peers:
                dout = tmp / f"{name}-deface.mp4"
                t = _timed([str(Path(peers).parent / "deface"), str(src), "-o", str(dout)])
                row |= {"deface_s_per_s": round(t / seconds, 2), **{f"deface_{k}": v for k, v in
                                                                   judge_generated(src, dout, truth, judges).items()}}
            rows.append(row)
            print(json.dumps(row))
        src = tmp / "monitor-720p.mov"
        truth = panning_monitor(src, frames=90, size=(1280, 720))
        out = tmp / "monitor-scrubber.mp4"
        t = _timed([*scrubber, "check", str(src), "--out", str(out)])
        monitor = {"clip": "monitor-720p (panning)", "seconds": 3.0, "scrubber_s_per_s": round(t / 3.0, 2),
                   **judge_rows(src, out, truth)}
        print(json.dumps(monitor))
        kinds = []
        for name, make, judge in (
                ("wristband on a moving arm", moving_band, lambda a, b, t: judge_text_frames(a, b, t, "band")),
                ("a label turning", turning_label, lambda a, b, t: judge_text_frames(a, b, t, "label")),
                ("faces entering and leaving", faces_passing, lambda a, b, t: judge_faces(a, b, t, judges))):
            src = tmp / f"{make.__name__}.mov"
            truth = make(src, frames=90, size=(1280, 720))
            out = tmp / f"{make.__name__}-scrubber.mp4"
            t = _timed([*scrubber, "check", str(src), "--out", str(out)])
            kinds.append({"clip": name, "seconds": 3.0, "scrubber_s_per_s": round(t / 3.0, 2), **judge(src, out, truth)})
            print(json.dumps(kinds[-1]))
        annotations = json.loads(ANNOTATIONS.read_text())
        for clip in sorted(REALSET.glob("*.mp4")):
            drawn = annotations[clip.name]["frames"]
            out = tmp / f"{clip.stem}-scrubber.mp4"
            t = _timed([*scrubber, "check", str(clip), "--out", str(out)])
            row = {"clip": clip.name, "scrubber_seconds": round(t, 1), **judge_real(clip, out, judges, drawn)}
            if peers:
                dout = tmp / f"{clip.stem}-deface.mp4"
                _timed([str(Path(peers).parent / "deface"), str(clip), "-o", str(dout)])
                judged = judge_real(clip, dout, judges, drawn)
                row["deface_frames_with_faces_out"] = judged["frames_with_faces_out"]
                row["deface_leaks"] = judged["leaks"]
            real_rows.append(row)
            print(json.dumps(row))
    write(rows, real_rows, results, peers, monitor, kinds)


def write(rows: list[dict], real_rows: list[dict], results: Path, peers: str | None, monitor: dict,
          kinds: list[dict]) -> None:
    lines = ["# Video benchmark", "",
             f"Date: {time.strftime('%Y-%m-%d')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}. Command: `python bench/video.py"
             f"{' --peers ' + peers if peers else ''}`. One core each (`taskset -c 0`, `OMP_THREAD_LIMIT=1`).",
             "", "## Generated clips (a face moving across a room, a label with an MRN; 30 fps)", "",
             "| clip | size | s | scrubber s per s of clip | frames with the face leaking | frames with the MRN read "
             "(of every 10th) |" + (" deface s per s | deface: face leaking | deface: MRN read |" if peers else ""),
             "|---|---|---|---|---|---|" + ("---|---|---|" if peers else "")]
    for r in rows:
        line = (f"| {r['clip']} | {r['size']} | {r['seconds']:g} | {r['scrubber_s_per_s']} | "
                f"{r['scrubber_face_leak_frames']} / {r['scrubber_frames']} | "
                f"{r['scrubber_label_leak_frames']} / {r['scrubber_label_frames_judged']} |")
        if peers:
            line += (f" {r['deface_s_per_s']} | {r['deface_face_leak_frames']} / {r['deface_frames']} | "
                     f"{r['deface_label_leak_frames']} / {r['deface_label_frames_judged']} |")
        lines.append(line)
    lines += ["", "## A monitor with a patient list panning through a 720p frame (3 s, 30 fps)", "",
              "| clip | scrubber s per s of clip | rows in view whose name or MRN is read (every 10th frame) |",
              "|---|---|---|",
              f"| {monitor['clip']} | {monitor['scrubber_s_per_s']} | {monitor['rows_leaking']} / "
              f"{monitor['rows_judged']} |"]
    lines += ["", "## Moving wristbands, turning labels, faces entering and leaving (720p, 3 s, 30 fps)", "",
              "Text: every 10th frame; a frame holds PHI when the judge reads the name, MRN or DOB (or "
              "decodes the band's barcode) in the original, and leaks when it does so in the output. "
              "Faces: every frame; a face half or more in view is PHI.", "",
              "| clip | scrubber s per s of clip | frames leaking / frames with PHI | faces leaking (any frame) |",
              "|---|---|---|---|"]
    lines += [f"| {k['clip']} | {k['scrubber_s_per_s']} | {k['leaking']} / {k['phi']} | "
              f"{k.get('faces_leaking', '–')} |" for k in kinds]
    lines += ["", "## Real clips (`../shared/realset/video`, 2560x1920, 10 fps)", "",
              "Faces and plates drawn by hand on every 4th frame and the last "
              "(`bench/realset_video_annotations.json`): a face leaks when the judge's detectors find it or its "
              "pixels are nearly unchanged, a plate unless most of it is painted one colour.", "",
              "| clip | frames | frames where the judge finds a face: original | scrubber |"
              + (" deface |" if peers else "") + " frames drawn | faces / plates drawn | scrubber: leaking |"
              + (" deface: faces leaking |" if peers else ""),
              "|---|---|---|---|" + ("---|" if peers else "") + "---|---|---|" + ("---|" if peers else "")]
    for r in real_rows:
        lines.append(f"| {r['clip']} | {r['frames']} | {r['frames_with_faces_in']} | {r['frames_with_faces_out']} |"
                     + (f" {r['deface_frames_with_faces_out']} |" if peers else "")
                     + f" {r['annotated_frames']} | {r['faces']} / {r['plates']} | {len(r['leaks'])} |"
                     + (f" {sum(': face ' in leak for leak in r['deface_leaks'])} |" if peers else ""))
    leaks = [(r["clip"], leak) for r in real_rows for leak in r["leaks"]]
    if leaks:
        lines += ["", "scrubber's leaks on the drawn frames, every one:"] + [f"- `{c}` {leak}" for c, leak in leaks]
    text = "\n".join(lines) + "\n"
    results.write_text(text)
    # the same tables close bench/RESULTS.md (bench/leaks.py keeps this section when it rewrites the file)
    main_results = ROOT / "bench" / "RESULTS.md"
    old = main_results.read_text() if main_results.is_file() else ""
    old = old[:old.index(SECTION)] if SECTION in old else old.rstrip("\n") + "\n\n"
    main_results.write_text(old + SECTION + "\n" + text.replace("# Video benchmark", "## Video", 1).replace("\n## ", "\n### "))
    print(f"written to {results} and the end of {main_results}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", help="python of the peer venv (deface)")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-video.md")
    args = ap.parse_args()
    run(args.peers, args.results)


if __name__ == "__main__":
    main()
