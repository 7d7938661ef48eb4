"""Pictures of the kinds real photos leaked in (issue 18), each with its ground truth: a patient
label at any angle, a linear barcode at any angle, a postal barcode zxing cannot decode, an
upper-case name list with no labels, a licence plate, a line of type in low contrast, mirrored
or running top to bottom, and deep (16-bit, float) images. ``tests/test_recall.py`` scans each;
``bench/make_leaks.py`` draws its harder kinds from them. Every name and number is invented.

Each builder returns (PIL image, truth) with truth as in the leak benchmark: ``identifiers``
({text, label, box}), ``barcodes`` ({text, box}; ``decodes: False`` for a symbol zxing cannot
read), ``faces`` and ``surfaces``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from make_samples import Sheet, _background, _font, _warp

LINE = "Patient: John Smith  MRN 00482913  DOB 07/22/1984"


def truth() -> dict:
    return {"faces": [], "identifiers": [], "barcodes": [], "surfaces": [], "harmless": []}


def turned_quad(cx: float, cy: float, w: float, h: float, degrees: float) -> list[tuple[float, float]]:
    """A w x h rectangle centred at (cx, cy), turned ``degrees`` clockwise (tl, tr, br, bl)."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2),
                                                                   (-w / 2, h / 2))]


def patient_label(degrees: float, size: int = 22, seed: int = 3, name: str = "DOE, JANE",
                  mrn: str = "00482913") -> tuple[Image.Image, dict]:
    """A specimen or chart label (name, DOB, MRN, account, Code 128 of the MRN) stuck on at an angle."""
    s = Sheet(620, 200, (255, 255, 255))
    s.text((14, 10), f"[[{name}]]", size + 4, label="NAME", bold=True)
    s.text((14, 50), "DOB [[03/14/1961]]", size, label="DATE")
    s.text((14, 84), f"MRN [[{mrn}]]", size, label="MRN")
    s.text((14, 118), "ACCT [[5550912]]", size, label="ACCOUNT")
    s.paste_barcode((330, 40), mrn, "Code128", (270, 110))
    img, t = _background(1600, 1200, seed), truth()
    _warp(img, s, turned_quad(800, 600, 620, 200, degrees), t)
    return img, t


def barcode_alone(degrees: float, content: str = "A1234567") -> tuple[Image.Image, dict]:
    s = Sheet(500, 200, (255, 255, 255))
    s.paste_barcode((20, 20), content, "Code128", (460, 160))
    img, t = _background(1600, 1200, 4), truth()
    _warp(img, s, turned_quad(800, 600, 500, 200, degrees), t)
    return img, t


def postal_envelope(degrees: float = 8) -> tuple[Image.Image, dict]:
    """An addressed envelope with a POSTNET-style row of tall and short bars (no reader decodes it)."""
    s = Sheet(900, 300, (250, 248, 240))
    s.text((30, 20), "[[MARIA GARCIA]]", 30, label="NAME")
    s.text((30, 70), "[[4120 BIRCH HOLLOW RD]]", 30, label="ADDRESS")
    rng = np.random.default_rng(1)
    x0 = x = 30
    for i in range(62):
        tall = i in (0, 61) or rng.random() < 0.4
        s.draw.rectangle((x, 170 if tall else 190, x + 4, 210), fill=(0, 0, 0))
        x += 11
    s.barcode = {"text": "postnet", "box": [x0, 170, x, 210]}
    img, t = _background(1600, 1200, 5), truth()
    _warp(img, s, turned_quad(800, 600, 900, 300, degrees), t)
    t["barcodes"][0]["decodes"] = False
    return img, t


NAMES = ("DOE JANE", "ALVAREZ, MARCO T", "KOWALSKI, ANNA", "GARCIA MARIA", "NGUYEN, THOMAS")


def name_list(names=NAMES, dark: bool = False) -> tuple[Image.Image, dict]:
    """A list of patients' names in capitals with no label, on paper or burned into a dark
    X-ray-style overlay (white type on black)."""
    ink, paper = ((235, 235, 235), (12, 12, 12)) if dark else ((20, 20, 20), (255, 255, 255))
    s = Sheet(700, 80 * len(names) + 20, paper, ink=ink)
    for i, n in enumerate(names):
        s.text((20, 20 + i * 78), f"[[{n}]]", 34, label="NAME")
    img, t = _background(1600, 1200, 6), truth()
    _warp(img, s, turned_quad(800, 600, s.img.width, s.img.height, 0), t)
    return img, t


def plate(text: str = "7ABC123", degrees: float = 4) -> tuple[Image.Image, dict]:
    """The back of a car with a licence plate."""
    img, t = _background(1600, 1200, 7), truth()
    ImageDraw.Draw(img).rounded_rectangle((400, 500, 1200, 900), 60, fill=(90, 20, 20))
    s = Sheet(300, 70, (250, 250, 250))
    s.text((20, 6), f"[[{text}]]", 52, label="PLATE", bold=True)
    _warp(img, s, turned_quad(800, 820, 300, 70, degrees), t)
    return img, t


def line(ink: int = 0, paper: int = 255, how: str = "plain") -> tuple[Image.Image, dict]:
    """``LINE`` on a plain page, in grey ``ink`` on grey ``paper``; ``how``: ``plain``,
    ``mirrored`` (a selfie camera), ``down`` (reads top to bottom) or ``up`` (bottom to top)."""
    s = Sheet(1400, 300, (paper,) * 3, ink=(ink,) * 3)
    s.text((40, 120), "Patient: [[John Smith]]  MRN [[00482913]]  DOB [[07/22/1984]]", 34, label="ID")
    labels = iter(("NAME", "MRN", "DATE"))
    for span in s.spans:
        span["label"] = next(labels)
    img, t = s.img, truth()
    boxes = [[int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))]
             for x0, y0, x1, y1 in (span["box"] for span in s.spans)]
    w, h = img.size
    if how == "mirrored":
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        boxes = [[w - x1, y0, w - x0, y1] for x0, y0, x1, y1 in boxes]
    elif how == "down":  # turned 90 degrees clockwise
        img = img.transpose(Image.Transpose.ROTATE_270)
        boxes = [[h - y1, x0, h - y0, x1] for x0, y0, x1, y1 in boxes]
    elif how == "up":
        img = img.transpose(Image.Transpose.ROTATE_90)
        boxes = [[y0, w - x1, y1, w - x0] for x0, y0, x1, y1 in boxes]
    t["identifiers"] = [{"text": sp["text"], "label": sp["label"], "box": b} for sp, b in zip(s.spans, boxes)]
    return img, t


def deep(kind: str) -> tuple[np.ndarray, dict]:
    """``line()`` as a scan stores it: ``float`` (0-1, mode F) or ``12bit`` (0-4095 in 16 bits)."""
    img, t = line()
    gray = np.asarray(img.convert("L")).astype(np.float32) / 255
    return (gray if kind == "float" else np.round(gray * 4095).astype(np.uint16)), t




def screenshot(phone: bool = True) -> tuple[Image.Image, dict]:
    """A patient-portal or EHR screenshot saved as it is (the whole picture is the screen):
    an app bar, then rows of names with no label, each with a date of birth or a visit date."""
    w, h = (1170, 2532) if phone else (1920, 1080)
    s = Sheet(w, h, (246, 247, 250))
    s.draw.rectangle((0, 0, w, 150), fill=(32, 86, 160))
    s.text((40, 50), "My Care Team - Messages", 52, ink=(255, 255, 255))
    rows = (("Okafor, Ngozi", "03/14/1961"), ("Marco Alvarez", "11/02/1978"), ("PETERSEN, LINDA", "07/22/1984"),
            ("Chen Wei", "01/30/1990"))
    for i, (who, when) in enumerate(rows):
        y = 220 + i * 170
        s.draw.rounded_rectangle((24, y - 20, w - 24, y + 130), 18, fill=(255, 255, 255))
        s.text((60, y), f"[[{who}]]", 46, label="NAME", bold=True)
        s.text((60, y + 64), "Visit [[" + when + "]]", 36, label="DATE", ink=(90, 90, 90))
    t = truth()
    t["identifiers"] = [{"text": sp["text"], "label": sp["label"],
                         "box": [int(np.floor(v)) if k < 2 else int(np.ceil(v)) for k, v in enumerate(sp["box"])]}
                        for sp in s.spans]
    return s.img, t


def curved_band(bend: float = 0.12, degrees: float = 25) -> tuple[Image.Image, dict]:
    """A wristband round an arm: its print (name, DOB, MRN, a Code 128 of the MRN) bowed into
    a parabola whose middle stands ``bend`` of the band's length above its ends, the band
    turned ``degrees`` on the arm."""
    import cv2

    arm = (205, 160, 130)
    s = Sheet(900, 150, (250, 250, 250))
    s.text((20, 14), "[[KOWALSKI, ANNA]]", 30, label="NAME", bold=True)
    s.text((20, 60), "DOB [[03/14/1961]]", 26, label="DATE")
    s.text((20, 100), "MRN [[00482913]]", 26, label="MRN")
    s.paste_barcode((480, 20), "00482913", "Code128", (380, 110))
    h, w = s.img.height, s.img.width
    pad = int(np.ceil(bend * w))
    xs = np.arange(w, dtype=np.float32)
    lift = bend * w * (1 - ((xs - w / 2) / (w / 2)) ** 2)  # 0 at the ends, bend x w mid-band
    map_x = np.tile(xs, (h + pad, 1))
    map_y = np.arange(h + pad, dtype=np.float32)[:, None] - (pad - lift)[None, :]
    bowed = Sheet(w, h + pad, arm)
    bowed.img = Image.fromarray(cv2.remap(np.asarray(s.img), map_x, map_y, cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_CONSTANT, borderValue=arm))

    def bow(box):  # a box's pixels after the remap: moved down by pad - lift over its columns
        x0, y0, x1, y1 = box
        moved = pad - lift[int(max(0, x0)) : int(min(w, x1))]
        return [x0, y0 + float(moved.min()), x1, y1 + float(moved.max())]

    bowed.spans = [{**span, "box": bow(span["box"])} for span in s.spans]
    bowed.barcode = {"text": s.barcode["text"], "box": bow(s.barcode["box"])}
    img, t = _background(1600, 1200, 8), truth()
    ImageDraw.Draw(img).rounded_rectangle((200, 420, 1400, 860), 120, fill=arm)
    _warp(img, bowed, turned_quad(800, 640, w, h + pad, degrees), t)
    return img, t


HUDDLE = ("Daily huddle", "Flu shots: 3rd floor, 9-11am", "Staff meeting Tuesday 2pm",
          "Remember to wash your hands", "Great job team!")


def sign(lines=HUDDLE, phone: str | None = None, size: int = 44, seed: int = 8) -> tuple[Image.Image, dict]:
    """A whiteboard or a printed notice holding only ordinary words, short numbers and times
    (signage: left alone), optionally with a phone number (filled on its own)."""
    rows = list(lines) + ([f"Questions? Call [[{phone}]]"] if phone else [])
    s = Sheet(1300, 90 * len(rows) + 60, (240, 242, 238), ink=(30, 40, 110))
    for i, text in enumerate(rows):
        s.text((40, 30 + i * 90), text, size, label="PHONE" if "[[" in text else None, bold=i == 0)
    img, t = _background(2000, 1500, seed), truth()
    _warp(img, s, turned_quad(1000, 700, s.img.width, s.img.height, 2), t)
    t["harmless"] = [r for r in rows if "[[" not in r]
    return img, t
