"""Deterministic generator for ``sample_images/`` and its ground truth.

Real faces come from images shipped inside PyPI packages: scikit-image's ``astronaut``
(public domain, NASA) and ``camera`` (CC0), and matplotlib's ``grace_hopper.jpg``
(public domain, US Navy). Every identifier below is invented. Fonts are the DejaVu
fonts that ship inside matplotlib.

Run:  python sample_images/make_samples.py [OUT_DIR]   (needs scikit-image and matplotlib:
``pip install -e .[dev]``). Each image gets ``<name>.truth.json``::

    {"file": ..., "expect": "clean|redacted|blocked",
     "faces": [[x0, y0, x1, y1], ...],
     "identifiers": [{"text": ..., "label": ..., "box": [...]}, ...],
     "barcodes": [{"text": ..., "box": [...]}],
     "harmless": ["text that must survive", ...]}
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
CLINIC_PHONE = "(555) 010-0199"  # the clinic's main line: allowlisted in the default policy
CLINIC_NAME = "Riverside Family Clinic"


def _font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont:
    import matplotlib

    name = "DejaVuSansMono" if mono else "DejaVuSans"
    if bold:
        name += "-Bold"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf" / f"{name}.ttf"), size)


def _faces() -> dict[str, tuple[Image.Image, tuple[int, int, int, int]]]:
    """Source photos with the face box (x0, y0, x1, y1) in each, measured once with YuNet and by eye."""
    import matplotlib.cbook
    import skimage.data

    astronaut = Image.fromarray(skimage.data.astronaut())
    camera = Image.fromarray(skimage.data.camera()).convert("RGB")
    hopper = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    return {
        "astronaut": (astronaut, (170, 40, 280, 190)),
        "camera": (camera, (190, 100, 262, 200)),
        "hopper": (hopper, (175, 100, 360, 345)),
    }


def _background(w: int, h: int, seed: int, top=(200, 196, 186), bottom=(120, 110, 96)) -> Image.Image:
    """A wall above a desk: vertical gradient, soft light falloff and sensor noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    desk = (y > 0.72).astype(np.float32)
    col = (1 - desk) * (np.array(top) * (1 - 0.15 * y)) + desk * np.array(bottom)
    x = np.linspace(-1, 1, w)[None, :, None]
    img = col * (1 - 0.12 * x**2) + rng.normal(0, 3.0, (h, w, 3))
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def _paste_face(canvas: Image.Image, name: str, center: tuple[int, int], face_h: int, faces: dict) -> list[int]:
    """Paste a crop around a real face (with shoulders) so the face is ``face_h`` pixels tall; return its box."""
    src, (fx0, fy0, fx1, fy1) = faces[name]
    k = face_h / (fy1 - fy0)
    pad_x, pad_top, pad_bottom = (fx1 - fx0) * 0.6, (fy1 - fy0) * 0.35, (fy1 - fy0) * 0.6
    crop = (
        max(0, int(fx0 - pad_x)),
        max(0, int(fy0 - pad_top)),
        min(src.width, int(fx1 + pad_x)),
        min(src.height, int(fy1 + pad_bottom)),
    )
    part = src.crop(crop)
    part = part.resize((max(1, round(part.width * k)), max(1, round(part.height * k))), Image.LANCZOS)
    fcx = ((fx0 + fx1) / 2 - crop[0]) * k
    fcy = ((fy0 + fy1) / 2 - crop[1]) * k
    ox, oy = round(center[0] - fcx), round(center[1] - fcy)
    mask = Image.new("L", part.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, part.width - 1, part.height - 1), fill=255)
    canvas.paste(part, (ox, oy), mask.filter(ImageFilter.GaussianBlur(max(1, part.width // 30))))
    return [
        round(ox + (fx0 - crop[0]) * k),
        round(oy + (fy0 - crop[1]) * k),
        round(ox + (fx1 - crop[0]) * k),
        round(oy + (fy1 - crop[1]) * k),
    ]


class Sheet:
    """A flat surface (screen, paper, board) with text whose boxes are tracked for ground truth."""

    def __init__(self, w: int, h: int, color, ink=(20, 20, 20)):
        self.img = Image.new("RGB", (w, h), color)
        self.draw = ImageDraw.Draw(self.img)
        self.ink = ink
        self.spans: list[dict] = []  # {"text", "label" | None, "box"}

    def text(self, xy, value: str, size: int, label: str | None = None, bold=False, mono=False, ink=None):
        """Draw ``value``; when it contains ``[[...]]`` only the bracketed part is an identifier."""
        font = _font(size, bold, mono)
        x, y = xy
        for part_i, part in enumerate(value.replace("]]", "[[").split("[[")):
            if not part:
                continue
            is_id = part_i % 2 == 1 or ("[[" not in value and label is not None)
            self.draw.text((x, y), part, font=font, fill=ink or self.ink)
            l, t, r, b = self.draw.textbbox((x, y), part, font=font)
            if is_id and label:
                self.spans.append({"text": part.strip(), "label": label, "box": [l, t, r, b]})
            x = r + (font.getlength(" ") if part.endswith(" ") else 0)

    def paste_barcode(self, xy, content: str, fmt: str, size: tuple[int, int]):
        import zxingcpp

        code = zxingcpp.create_barcode(content, getattr(zxingcpp.BarcodeFormat, fmt))
        bar = Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(code, scale=4, add_quiet_zones=True)))
        bar = bar.convert("RGB").resize(size, Image.NEAREST)
        self.img.paste(bar, xy)
        self.barcode = {"text": content, "box": [xy[0], xy[1], xy[0] + size[0], xy[1] + size[1]]}


def _warp(canvas: Image.Image, sheet: Sheet, quad: list[tuple[float, float]], truth: dict, blur: float = 0.0):
    """Perspective-paste ``sheet`` onto ``canvas`` at ``quad`` (tl, tr, br, bl); map its spans' boxes."""
    import cv2

    w, h = sheet.img.size
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(quad)
    m = cv2.getPerspectiveTransform(src, dst)
    W, H = canvas.size
    warped = cv2.warpPerspective(np.asarray(sheet.img), m, (W, H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (W, H), flags=cv2.INTER_LINEAR)
    layer = Image.fromarray(warped)
    if blur:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    canvas.paste(layer, (0, 0), Image.fromarray(mask))

    def mapbox(box):
        l, t, r, b = box
        pts = cv2.perspectiveTransform(np.float32([[[l, t], [r, t], [r, b], [l, b]]]), m)[0]
        return [int(pts[:, 0].min()), int(pts[:, 1].min()), int(np.ceil(pts[:, 0].max())), int(np.ceil(pts[:, 1].max()))]

    for span in sheet.spans:
        truth["identifiers"].append({"text": span["text"], "label": span["label"], "box": mapbox(span["box"])})
    if getattr(sheet, "barcode", None):
        truth["barcodes"].append({"text": sheet.barcode["text"], "box": mapbox(sheet.barcode["box"])})
    truth["surfaces"].append([[round(x), round(y)] for x, y in quad])


def _truth(name: str, expect: str) -> dict:
    return {"file": name, "expect": expect, "faces": [], "identifiers": [], "barcodes": [], "surfaces": [], "harmless": []}


# ------------------------------------------------------------------ the samples


def group_photo(faces):
    truth = _truth("group_photo.jpg", "redacted")
    img = _background(1800, 1200, 1)
    for name, center, fh in (("astronaut", (380, 430), 230), ("hopper", (900, 400), 260), ("camera", (1420, 450), 210)):
        truth["faces"].append(_paste_face(img, name, center, fh, faces))
    truth["faces"].append(_paste_face(img, "astronaut", (1650, 900), 48, faces))  # small face in the background
    return img, truth


def monitor_patient_list(faces):
    truth = _truth("monitor_patient_list.jpg", "redacted")
    img = _background(2600, 1700, 2)  # the monitor is a quarter of the photo: redacted, not blocked
    d = ImageDraw.Draw(img)
    d.polygon([(430, 190), (1630, 260), (1610, 1080), (450, 1120)], fill=(25, 25, 28))  # bezel
    s = Sheet(1200, 760, (245, 247, 250))
    s.draw.rectangle((0, 0, 1200, 56), fill=(32, 84, 150))
    s.text((20, 12), "EHR - Inpatient List   4 West", 28, ink=(255, 255, 255), bold=True)
    s.text((20, 80), "Patient                  MRN         DOB          Room", 26, bold=True)
    rows = (
        ("Garcia, Maria", "00482913", "03/14/1958", "412"),
        ("Nguyen, Thomas", "00517720", "11/02/1971", "415"),
        ("Okafor, Linda", "00390155", "07/29/1946", "418"),
        ("Petersen, James", "00611348", "01/05/1989", "421"),
    )
    for i, (name, mrn, dob, room) in enumerate(rows):
        y = 140 + i * 70
        s.text((20, y), f"[[{name}]]", 26, label="NAME")
        s.text((400, y), f"[[{mrn}]]", 26, label="MRN", mono=True)
        s.text((610, y), f"[[{dob}]]", 26, label="DATE")
        s.text((840, y), room, 26)
    s.text((20, 460), "Attending: [[Dr. Ellen Brooks]]", 24, label="NAME")
    s.text((20, 520), "Call: [[(555) 284-9931]]", 24, label="PHONE")
    _warp(img, s, [(470, 230), (1590, 290), (1570, 1050), (490, 1085)], truth, blur=0.6)
    return img, truth


def wristband(faces):
    truth = _truth("wristband.jpg", "redacted")
    img = _background(1600, 1100, 3, top=(170, 150, 130), bottom=(150, 130, 110))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((120, 380, 1480, 760), 160, fill=(214, 170, 140))  # forearm
    s = Sheet(1100, 200, (250, 250, 250))
    s.text((24, 18), "[[HALVORSEN, ERIK]]", 34, label="NAME", bold=True)
    s.text((24, 70), "DOB: [[08/21/1962]]", 28, label="DATE")
    s.text((24, 118), "MRN: [[00734519]]", 28, label="MRN", mono=True)
    s.paste_barcode((620, 30), "00734519", "Code128", (440, 140))
    _warp(img, s, [(250, 470), (1350, 440), (1360, 640), (255, 672)], truth)
    return img, truth


def whiteboard_census(faces):
    truth = _truth("whiteboard_census.jpg", "blocked")  # the census board fills half the photo
    img = _background(2200, 1500, 4)
    s = Sheet(1500, 950, (238, 240, 236), ink=(20, 40, 120))
    s.text((40, 30), "UNIT CENSUS - 3 North", 52, bold=True)
    entries = (("301", "Whitfield, Robert"), ("302", "Alvarez, Sofia"), ("304", "Chen, David"), ("305", "Murphy, Karen"))
    for i, (room, name) in enumerate(entries):
        s.text((40, 140 + i * 110), f"Rm {room}  [[{name}]]", 46, label="NAME")
    s.text((40, 600), "Charge RN ext 4410", 40)
    s.text((40, 680), "Discharge: [[Chen, David]] [[11/30/2026]]", 40, label="NAME")
    s.spans[-1]["label"] = "DATE"
    _warp(img, s, [(330, 180), (1880, 230), (1860, 1250), (350, 1280)], truth)
    return img, truth


def clipboard_chart(faces):
    truth = _truth("clipboard_chart.jpg", "blocked")  # a close-up of a chart: nothing left to share
    img = _background(1500, 2000, 5, bottom=(90, 70, 50))
    ImageDraw.Draw(img).rectangle((260, 220, 1260, 1860), fill=(120, 80, 40))  # clipboard
    s = Sheet(900, 1250, (252, 252, 248))
    s.text((40, 30), "PATIENT INTAKE FORM", 40, bold=True)
    fields = (
        ("Patient: ", "Samuel Oduya", "NAME"),
        ("DOB: ", "04/17/1983", "DATE"),
        ("MRN: ", "10298374", "MRN"),
        ("SSN: ", "219-09-9999", "SSN"),
        ("Phone: ", "(555) 391-2284", "PHONE"),
        ("Email: ", "s.oduya83@mailbox.org", "EMAIL"),
        ("Address: ", "1427 Birch Hollow Rd", "ADDRESS"),
        ("", "Springfield, IL 62704", "ADDRESS"),
        ("Insurance ID: ", "BCX48810273", "ACCOUNT"),
    )
    for i, (lab, val, kind) in enumerate(fields):
        s.text((40, 120 + i * 90), f"{lab}[[{val}]]", 30, label=kind)
    s.text((40, 960), "Reason for visit: follow-up", 30)
    _warp(img, s, [(310, 330), (1210, 300), (1230, 1800), (290, 1830)], truth)
    return img, truth


def banner_clean_text(faces):
    truth = _truth("banner_clean_text.jpg", "clean")
    img = _background(1800, 1100, 6, top=(210, 220, 230))
    s = Sheet(1300, 420, (250, 230, 120), ink=(150, 30, 60))
    s.text((90, 60), "Happy Nurses Week!", 110, bold=True)
    s.text((120, 240), f"{CLINIC_NAME}   {CLINIC_PHONE}", 44)
    _warp(img, s, [(250, 200), (1550, 180), (1560, 610), (240, 620)], truth)
    truth["harmless"] = ["Happy Nurses Week", CLINIC_PHONE]
    return img, truth


def empty_room(faces):
    import skimage.data

    truth = _truth("empty_room.jpg", "clean")
    img = _background(1600, 1000, 7)
    coffee = Image.fromarray(skimage.data.coffee()).resize((600, 400))
    img.paste(coffee, (500, 330))
    return img, truth


def sideways_exif(faces):
    """Stored rotated 90 degrees with EXIF orientation 6: viewers (and scrubber) turn it upright."""
    truth = _truth("sideways_exif.jpg", "redacted")
    img = _background(1000, 1400, 8)
    truth["faces"].append(_paste_face(img, "hopper", (500, 500), 300, faces))
    s = Sheet(700, 110, (255, 255, 255))
    s.text((20, 25), "Patient: [[Rosa Delgado]]", 44, label="NAME")
    _warp(img, s, [(150, 1000), (850, 1000), (850, 1110), (150, 1110)], truth)
    return img, truth  # rotated on save


def transparent_name(faces):
    """A PNG whose fully transparent pixels still carry a patient's name in their colour channels."""
    truth = _truth("transparent_name.png", "redacted")
    base = _background(1200, 700, 9, top=(230, 235, 240), bottom=(230, 235, 240))
    s = Sheet(900, 120, (255, 255, 255))
    s.text((20, 30), "Patient: [[Walter Kowalski]]", 52, label="NAME", ink=(0, 0, 0))
    _warp(base, s, [(150, 260), (1050, 260), (1050, 380), (150, 380)], truth)
    rgba = np.dstack([np.asarray(base), np.full((700, 1200), 255, np.uint8)])
    rgba[240:400, 130:1070, 3] = 0  # hide the label: invisible, yet the pixels are there
    return Image.fromarray(rgba, "RGBA"), truth


def heic_photo(faces):
    truth = _truth("nurse_station.heic", "redacted")
    img = _background(1400, 1000, 10)
    truth["faces"].append(_paste_face(img, "astronaut", (420, 420), 240, faces))
    s = Sheet(560, 300, (255, 255, 240))
    s.text((20, 20), "Bed 7", 40, bold=True)
    s.text((20, 90), "[[Priya Raman]]", 40, label="NAME")
    s.text((20, 160), "DOB [[02/09/1990]]", 36, label="DATE")
    _warp(img, s, [(780, 300), (1320, 320), (1310, 610), (770, 590)], truth)
    return img, truth


SAMPLES = (
    group_photo,
    monitor_patient_list,
    wristband,
    whiteboard_census,
    clipboard_chart,
    banner_clean_text,
    empty_room,
    sideways_exif,
    transparent_name,
    heic_photo,
)


def _save(img: Image.Image, truth: dict, out: Path) -> None:
    path = out / truth["file"]
    if path.suffix == ".jpg":
        if truth["file"] == "sideways_exif.jpg":
            stored = img.transpose(Image.Transpose.ROTATE_90)  # 6 = rotate 90 CW to display upright
            exif = Image.Exif()
            exif[0x0112] = 6
            stored.save(path, "JPEG", quality=90, exif=exif.tobytes())
        else:
            img.save(path, "JPEG", quality=90)
    elif path.suffix == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        img.save(path, "HEIF", quality=80)
    else:
        img.save(path, "PNG")
    (out / f"{path.stem}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    faces = _faces()
    for make in SAMPLES:
        img, truth = make(faces)
        _save(img, truth, out)
        print(f"{truth['file']:28s} {img.width}x{img.height}  faces={len(truth['faces'])} ids={len(truth['identifiers'])}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
