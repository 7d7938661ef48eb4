"""Deterministic labelled set for the leak benchmark (``bench/leaks.py``): people, text on
paper and labels (small 8-14 px text included), EHR screens, census whiteboards, wristbands
with barcodes, mixed ward scenes, and clean photos with harmless text, each with ground truth.

Faces are the three real faces that ship inside scikit-image and matplotlib (see
``sample_images/make_samples.py``), mirrored and scaled; backgrounds are that generator's
wall-and-desk gradient or real photos from scikit-image (public domain / CC0). Every name and
number is invented. One image in eight is a 12-MP phone photo (4032x3024), one in ten is
stored sideways with an EXIF orientation tag (ground truth is in upright pixels, as viewers
and scrubber show it). Usage: python bench/make_leaks.py OUT_DIR [N] [SEED]
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sample_images"))
import hard_cases  # noqa: E402
from make_samples import CLINIC_NAME, CLINIC_PHONE, Sheet, _background, _faces, _paste_face, _warp  # noqa: E402

FIRST = ["Maria", "Thomas", "Linda", "James", "Sofia", "David", "Karen", "Robert", "Aisha", "Wei", "Olga", "Luis",
         "Grace", "Samuel", "Priya", "Ahmed", "Elena", "Marcus", "Hannah", "Kenji"]
LAST = ["Garcia", "Nguyen", "Okafor", "Petersen", "Alvarez", "Chen", "Murphy", "Whitfield", "Haddad", "Kowalski",
        "Brennan", "Lindqvist", "Osei", "Takahashi", "Moreau", "Delgado", "Fischer", "Raman", "Novak", "Adeyemi"]
STREETS = ["Oak St", "Birch Hollow Rd", "Maple Ave", "Harbor Dr", "Elm Ct", "Pine Ridge Ln", "Cedar Blvd"]
HARMLESS = ["Hand hygiene saves lives", "Staff only", "Exit", "Quiet please", "Visiting hours 9-5",
            "Team huddle 8:00", "Flu shots here", "Welcome", "Wash your hands", "Pharmacy", "Radiology"]
KINDS = ("people", "text", "screen", "board", "band", "mixed", "hard", "clean")
COUNTS = {"people": 28, "text": 34, "screen": 18, "board": 10, "band": 14, "mixed": 20, "hard": 30, "clean": 36}  # 190


def _identifier(rnd: random.Random) -> tuple[str, str, str]:
    """(label shown before it, value, kind) for one invented identifier."""
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    d = f"{rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}/{rnd.randint(1935, 2012)}"
    options = [
        ("Patient: ", f"{first} {last}", "NAME"),
        ("Name: ", f"{last}, {first}", "NAME"),
        ("DOB: ", d, "DATE"),
        ("Admitted: ", d, "DATE"),
        ("MRN: ", f"{rnd.randint(10**7, 10**8 - 1)}", "MRN"),
        ("Phone: ", f"({rnd.randint(201, 989)}) {rnd.randint(200, 999)}-{rnd.randint(1000, 9999)}", "PHONE"),
        ("Email: ", f"{first[0].lower()}.{last.lower()}{rnd.randint(1, 99)}@mailbox.org", "EMAIL"),
        ("SSN: ", f"{rnd.randint(100, 665)}-{rnd.randint(10, 99)}-{rnd.randint(1000, 9999)}", "SSN"),
        ("Address: ", f"{rnd.randint(100, 9999)} {rnd.choice(STREETS)}", "ADDRESS"),
        ("Account: ", f"{rnd.randint(10**8, 10**9 - 1)}", "ACCOUNT"),
        ("Portal: ", f"https://portal.example-health.org/pt/{rnd.randint(10**4, 10**5)}", "URL"),
        ("Device IP: ", f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}", "IP"),
    ]
    return rnd.choice(options)


def _canvas(rnd, big: bool, backgrounds) -> Image.Image:
    w, h = (4032, 3024) if big else rnd.choice([(1600, 1200), (1800, 1200), (2000, 1500), (1440, 1080)])
    if rnd.random() < 0.5:
        return _background(w, h, rnd.randint(0, 10**6))
    return rnd.choice(backgrounds).resize((w, h), Image.BICUBIC)


def _quad(rnd, x: float, y: float, w: float, h: float, tilt: float = 0.05) -> list[tuple[float, float]]:
    j = lambda s: rnd.uniform(-tilt, tilt) * s  # noqa: E731 - perspective jitter
    return [(x + j(w), y + j(h)), (x + w + j(w), y + j(h)), (x + w + j(w), y + h + j(h)), (x + j(w), y + h + j(h))]


def _place(rnd, img, sheet: Sheet, truth: dict, scale: float, kind: str, tilt=0.05, blur=0.0) -> None:
    w, h = sheet.img.width * scale, sheet.img.height * scale
    x = rnd.uniform(10, max(11, img.width - w - 10))
    y = rnd.uniform(10, max(11, img.height - h - 10))
    _warp(img, sheet, _quad(rnd, x, y, w, h, tilt), truth, blur=blur)
    truth["surface_kinds"].append(kind)


def _people(rnd, img, truth, faces, n=None, big=False):
    n = n or rnd.randint(1, 5)
    k = img.width / 1600
    for i in range(n):
        size = int(rnd.choice([rnd.uniform(60, 140), rnd.uniform(140, 320)]) * k)
        cx = int(img.width * (i + 0.5) / n + rnd.uniform(-0.1, 0.1) * img.width / n)
        cy = int(rnd.uniform(0.25, 0.55) * img.height)
        truth["faces"].append(_paste_face(img, rnd.choice(list(faces)), (cx, cy), size, faces))


def _paper(rnd, truth_ids: int, size: int, color=(252, 252, 248), harmless: bool = False) -> Sheet:
    lines = [_identifier(rnd) for _ in range(truth_ids)]
    width = int(size * 26) + 40
    s = Sheet(width, int(size * 1.9 * (len(lines) + 1)) + 30, color)
    s.text((20, 14), rnd.choice(["PATIENT SUMMARY", "Discharge note", "Label", "Hand-off", "Results"]), size)
    for i, (lab, val, kind) in enumerate(lines):
        s.text((20, 14 + int(size * 1.9 * (i + 1))), f"{lab}[[{val}]]", size, label=kind)
    return s


def text_scene(rnd, img, truth, faces):
    size = rnd.choice([rnd.randint(8, 14), rnd.randint(16, 28), rnd.randint(30, 48)])
    if img.width > 3000 and size < 16:
        size = rnd.randint(10, 14)
    s = _paper(rnd, rnd.randint(2, 5), size, rnd.choice([(252, 252, 248), (250, 235, 120), (255, 255, 255)]))
    _place(rnd, img, s, truth, rnd.uniform(0.9, 1.2), "document", blur=rnd.choice([0, 0, 0.6]))


def screen_scene(rnd, img, truth, faces):
    k = img.width / 1600
    size = int(rnd.randint(14, 24) * k)
    s = Sheet(size * 40, size * 26, rnd.choice([(245, 247, 250), (18, 22, 30)]))
    if s.img.getpixel((0, 0))[0] < 50:
        s.ink = (200, 230, 200)
    s.text((20, 10), "EHR - Inpatient List", int(size * 1.2))
    for i in range(rnd.randint(3, 7)):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        y = int(size * 2.6 + i * size * 2.2)
        s.text((20, y), f"[[{last}, {first}]]", size, label="NAME")
        s.text((int(size * 14), y), f"[[{rnd.randint(10**7, 10**8 - 1)}]]", size, label="MRN", mono=True)
        s.text((int(size * 24), y), f"[[{rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}/{rnd.randint(1935, 2012)}]]",
               size, label="DATE")
    bezel = Image.new("RGB", (s.img.width + 40, s.img.height + 40), (25, 25, 28))
    scale = min(rnd.uniform(0.5, 0.8) * img.width / bezel.width, 0.8 * img.height / bezel.height)
    w, h = bezel.width * scale, bezel.height * scale
    x, y = rnd.uniform(10, img.width - w - 10), rnd.uniform(10, img.height - h - 10)
    ImageDraw.Draw(img).rectangle((x, y, x + w, y + h), fill=(25, 25, 28))
    _warp(img, s, _quad(rnd, x + 20 * scale, y + 20 * scale, s.img.width * scale, s.img.height * scale, 0.03),
          truth, blur=rnd.choice([0, 0.5]))
    truth["surface_kinds"].append("screen")


def board_scene(rnd, img, truth, faces):
    k = img.width / 1600
    s = Sheet(1400, 900, (236, 238, 234), ink=rnd.choice([(20, 40, 120), (20, 20, 20), (140, 20, 20)]))
    s.text((40, 30), "UNIT CENSUS", 54)
    for i in range(rnd.randint(4, 7)):
        s.text((40, 130 + i * 100), f"Rm {300 + i}  [[{rnd.choice(LAST)}, {rnd.choice(FIRST)}]]", 44, label="NAME")
    _place(rnd, img, s, truth, rnd.uniform(0.45, 0.7) * k, "whiteboard", tilt=0.06)


def band_scene(rnd, img, truth, faces):
    k = img.width / 1600
    s = Sheet(1000, 180, rnd.choice([(250, 250, 250), (240, 245, 255), (255, 250, 235)]))
    mrn = f"{rnd.randint(10**7, 10**8 - 1)}"
    s.text((20, 16), f"[[{rnd.choice(LAST).upper()}, {rnd.choice(FIRST).upper()}]]", 30, label="NAME")
    s.text((20, 64), f"DOB: [[{rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}/{rnd.randint(1935, 2012)}]]", 26,
           label="DATE")
    s.text((20, 108), f"MRN: [[{mrn}]]", 26, label="MRN")
    s.paste_barcode((560, 24), mrn, "Code128", (400, 130))
    arm_y = rnd.uniform(0.3, 0.6) * img.height
    arm = (0.05 * img.width, arm_y, 0.95 * img.width, arm_y + 0.3 * img.height)
    ImageDraw.Draw(img).rounded_rectangle(arm, int(0.1 * img.height), fill=rnd.choice([(214, 170, 140), (150, 105, 75)]))
    truth.setdefault("occluders", []).append([[arm[0], arm[1]], [arm[2], arm[1]], [arm[2], arm[3]], [arm[0], arm[3]]])
    w, h = s.img.width * rnd.uniform(0.8, 1.1) * k, s.img.height * rnd.uniform(0.8, 1.1) * k
    x, y = rnd.uniform(0.08, 0.3) * img.width, arm_y + 0.15 * img.height - h / 2
    _warp(img, s, _quad(rnd, x, y, w, h, 0.04), truth)
    truth["surface_kinds"].append("wristband")


def qr_label(rnd, img, truth):
    """A specimen label with a QR code holding the MRN."""
    k = img.width / 1600
    s = Sheet(560, 240, (255, 255, 255))
    mrn = f"{rnd.randint(10**7, 10**8 - 1)}"
    s.text((20, 20), f"[[{rnd.choice(LAST)}, {rnd.choice(FIRST)}]]", 28, label="NAME")
    s.text((20, 80), f"MRN [[{mrn}]]", 26, label="MRN")
    s.paste_barcode((360, 20), f"MRN:{mrn}", "QRCode", (180, 180))
    _place(rnd, img, s, truth, rnd.uniform(0.9, 1.2) * k, "document")


def mixed_scene(rnd, img, truth, faces):
    _people(rnd, img, truth, faces, n=rnd.randint(1, 3))
    rnd.choice([text_scene, band_scene])(rnd, img, truth, faces)
    if rnd.random() < 0.5:
        qr_label(rnd, img, truth)


def clean_scene(rnd, img, truth, faces):
    k = img.width / 1600
    choice = rnd.choice(["room", "poster", "banner", "signs"])
    if choice == "room":
        return
    if choice == "banner":
        s = Sheet(1300, 420, (250, 230, 120), ink=(150, 30, 60))
        s.text((90, 60), rnd.choice(["Happy Nurses Week!", "Thank you, team!", "Welcome back!"]), 96)
        s.text((120, 240), f"{CLINIC_NAME}   {CLINIC_PHONE}", 44)
        truth["harmless"] += [CLINIC_NAME, CLINIC_PHONE]
    else:
        n = 1 if choice == "poster" else rnd.randint(2, 4)
        size = rnd.randint(40, 90) if choice == "poster" else rnd.randint(24, 40)
        s = Sheet(int(size * 16), int(size * 1.8 * n) + 60, rnd.choice([(255, 255, 255), (40, 120, 200)]))
        if s.img.getpixel((0, 0))[0] < 100:
            s.ink = (255, 255, 255)
        for i, phrase in enumerate(rnd.sample(HARMLESS, n)):
            s.text((30, 30 + int(i * size * 1.8)), phrase, size)
            truth["harmless"].append(phrase)
    w = min(s.img.width * k * rnd.uniform(0.6, 1.0), img.width * 0.8)
    scale = w / s.img.width
    x, y = rnd.uniform(10, img.width - w - 10), rnd.uniform(10, img.height - s.img.height * scale - 10)
    _warp(img, s, _quad(rnd, x, y, w, s.img.height * scale, 0.04), truth)
    truth["surfaces"].pop()  # harmless signage is not a PHI surface


def hard_image(rnd) -> tuple[Image.Image, dict]:
    """One of the kinds real photos leaked in (``sample_images/hard_cases.py``), drawn with
    random angles, names, contrasts and plates: a label at any angle, a linear symbol at any
    angle, a postal barcode, an upper-case name list (paper or X-ray overlay), a plate, a
    low-contrast, mirrored or vertical line."""
    name = lambda: f"{rnd.choice(LAST).upper()}{rnd.choice([', ', ' '])}{rnd.choice(FIRST).upper()}"  # noqa: E731
    mrn = f"{rnd.randint(10**7, 10**8 - 1)}"
    choice = rnd.choice(["label", "label", "code", "postal", "names", "plate", "line", "line"])
    if choice == "label":
        return hard_cases.patient_label(rnd.uniform(-90, 90), rnd.randint(18, 26), rnd.randint(0, 99), name(), mrn)
    if choice == "code":
        return hard_cases.barcode_alone(rnd.uniform(-90, 90), f"A{mrn}")
    if choice == "postal":
        return hard_cases.postal_envelope(rnd.uniform(-40, 40))
    if choice == "names":
        return hard_cases.name_list(tuple(name() for _ in range(rnd.randint(3, 6))), dark=rnd.random() < 0.5)
    if choice == "plate":
        letters = "".join(rnd.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
        text = rnd.choice([f"{rnd.randint(1, 9)}{letters}{rnd.randint(100, 999)}", f"{letters} {rnd.randint(1000, 9999)}"])
        return hard_cases.plate(text, rnd.uniform(-12, 12))
    ink, paper = rnd.choice([(0, 255), (200, 220), (106, 126), (64, 40), (230, 30)])
    return hard_cases.line(ink, paper, rnd.choice(["plain", "mirrored", "down", "up"]))


MAKERS = {"people": lambda rnd, img, truth, faces: _people(rnd, img, truth, faces),
          "text": text_scene, "screen": screen_scene, "board": board_scene, "band": band_scene,
          "mixed": mixed_scene, "clean": clean_scene}


def _drop_hidden_faces(truth: dict) -> None:
    """A sheet or forearm drawn over a face hides it: such a face is no longer ground truth."""
    import cv2

    def hidden(box) -> bool:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        covers = truth["surfaces"] + truth.get("occluders", [])
        return any(cv2.pointPolygonTest(np.float32(poly), (cx, cy), False) >= 0 for poly in covers)

    truth["faces"] = [f for f in truth["faces"] if not hidden(f)]


def _mirrored(faces: dict) -> dict:
    out = dict(faces)
    for name, (img, (x0, y0, x1, y1)) in faces.items():
        out[f"{name}-mirrored"] = (ImageOps.mirror(img), (img.width - x1, y0, img.width - x0, y1))
    return out


def _save(img: Image.Image, truth: dict, rnd, out: Path) -> None:
    if rnd.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rnd.uniform(0.3, 1.0)))
    arr = np.asarray(img).astype(np.float32) + np.random.default_rng(rnd.randint(0, 10**6)).normal(0, 2.5, (
        img.height, img.width, 3))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    exif = Image.Exif()
    if truth["exif_orientation"] == 6:  # stored turned; the tag says "rotate 90 CW to view"
        img = img.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    elif truth["exif_orientation"] == 8:
        img = img.transpose(Image.Transpose.ROTATE_270)
        exif[0x0112] = 8
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rnd.randint(80, 94), exif=exif.tobytes())
    (out / truth["file"]).write_bytes(buf.getvalue())
    (out / f"{Path(truth['file']).stem}.truth.json").write_text(json.dumps(truth) + "\n")


def main(out: Path, n: int = 160, seed: int = 5150) -> None:
    import skimage.data as d

    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    faces = _mirrored(_faces())
    backgrounds = [Image.fromarray(a).convert("RGB") for a in (d.coffee(), d.rocket(), d.brick(), d.gravel())]
    plan = [kind for kind in KINDS for _ in range(round(COUNTS[kind] * n / sum(COUNTS.values())))]
    for i, kind in enumerate(plan):
        big = i % 8 == 3
        img = None if kind == "hard" else _canvas(rnd, big, backgrounds)
        if img is None:
            img, drawn = hard_image(rnd)
            img, big = img.convert("RGB"), False
        truth = {"file": f"{i:03d}_{kind}{'_12mp' if big else ''}.jpg", "kind": kind, "megapixels": round(
            img.width * img.height / 1e6, 1), "exif_orientation": 1, "faces": [], "identifiers": [], "barcodes": [],
                 "surfaces": [], "surface_kinds": [], "harmless": []}
        if kind == "hard":
            truth.update({k: v for k, v in drawn.items() if v})
        else:
            MAKERS[kind](rnd, img, truth, faces)
        _drop_hidden_faces(truth)
        if i % 10 == 7:
            truth["exif_orientation"] = rnd.choice([6, 8])
        _save(img, truth, rnd, out)
    print(f"{len(plan)} images in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 160, int(sys.argv[3]) if len(sys.argv) > 3 else 5150)
