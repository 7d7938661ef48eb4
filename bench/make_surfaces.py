"""Deterministic benchmark set for the surface detector: screens, documents (paper, labels,
sticky notes, whiteboards), wristbands, and hard negatives (windows, picture frames, doors,
posters, bookshelves, tiled walls, blank screens), each with its ground-truth polygon.

Scenes are rendered and composited onto real photos that ship inside scikit-image (coffee,
chelsea, rocket, astronaut, brick, grass, gravel, hubble_deep_field; public domain / CC0) with random
perspective, scale, rotation, blur, noise and JPEG compression. Every name and number is
invented. Usage: python bench/make_surfaces.py OUT_DIR [PER_KIND] [SEED]  (2026 is the tuning set;
any other seed gives a held-out set)
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sample_images"))
from make_samples import Sheet, _font  # noqa: E402  (the sample generator's text and barcode helpers)

W, H = 1600, 1200
FIRST = ["Maria", "Thomas", "Linda", "James", "Sofia", "David", "Karen", "Robert", "Aisha", "Wei", "Olga", "Luis"]
LAST = ["Garcia", "Nguyen", "Okafor", "Petersen", "Alvarez", "Chen", "Murphy", "Whitfield", "Haddad", "Kowalski"]


def _backgrounds() -> list[Image.Image]:
    import skimage.data as d

    imgs = [d.coffee(), d.chelsea(), d.rocket(), d.astronaut(), d.brick(), d.grass(), d.gravel(), d.hubble_deep_field()]
    out = []
    for a in imgs:
        im = Image.fromarray(a if a.ndim == 3 else np.stack([a] * 3, -1)).convert("RGB")
        out.append(im.resize((W, H), Image.BICUBIC))
    return out


def _quad(rnd: random.Random, w: int, h: int, scale: float) -> list[tuple[float, float]]:
    """A perspective quadrilateral for a w x h sheet, scaled and placed inside the canvas."""
    sw, sh = w * scale, h * scale
    cx = rnd.uniform(sw / 2 + 20, W - sw / 2 - 20) if sw < W - 40 else W / 2
    cy = rnd.uniform(sh / 2 + 20, H - sh / 2 - 20) if sh < H - 40 else H / 2
    angle = np.deg2rad(rnd.uniform(-12, 12))
    pts = []
    for px, py in ((-sw / 2, -sh / 2), (sw / 2, -sh / 2), (sw / 2, sh / 2), (-sw / 2, sh / 2)):
        jx, jy = rnd.uniform(-0.08, 0.08) * sw, rnd.uniform(-0.08, 0.08) * sh  # perspective
        x, y = px + jx, py + jy
        pts.append((cx + x * np.cos(angle) - y * np.sin(angle), cy + x * np.sin(angle) + y * np.cos(angle)))
    return pts


def _paste(canvas: Image.Image, sheet: Image.Image, quad) -> None:
    import cv2

    w, h = sheet.size
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(quad))
    warped = cv2.warpPerspective(np.asarray(sheet), m, (W, H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (W, H))
    canvas.paste(Image.fromarray(warped), (0, 0), Image.fromarray(mask))


def _name(rnd) -> str:
    return f"{rnd.choice(LAST)}, {rnd.choice(FIRST)}"


def _rows(rnd, s: Sheet, x, y, n, size, gap, ink=None):
    for i in range(n):
        s.text((x, y + i * gap), f"{_name(rnd)}   {rnd.randint(10**7, 10**8 - 1)}   {rnd.randint(1, 12):02d}/"
               f"{rnd.randint(1, 28):02d}/{rnd.randint(1930, 2010)}", size, ink=ink)


def screen(rnd) -> tuple[Image.Image, str]:
    kind = rnd.choice(["monitor", "laptop", "tablet", "phone", "patient-monitor"])
    w, h = {"monitor": (1200, 760), "laptop": (1100, 700), "tablet": (800, 1100), "phone": (420, 860),
            "patient-monitor": (1000, 700)}[kind]
    dark = kind == "patient-monitor" or rnd.random() < 0.3
    bg, ink = ((18, 22, 30), (120, 230, 140)) if dark else ((245, 247, 250), (20, 20, 20))
    s = Sheet(w, h, bg, ink=ink)
    size = max(18, w // 36)
    s.text((20, 14), "Patient list - 4 West" if kind != "patient-monitor" else "HR 72  SpO2 98  BP 120/80", size + 6)
    _rows(rnd, s, 20, 30 + size * 3, rnd.randint(4, 9), size, int(size * 2.1))
    bezel = Image.new("RGB", (w + 60, h + 60), (25, 25, 28))
    bezel.paste(s.img, (30, 30))
    return bezel, kind


def document(rnd) -> tuple[Image.Image, str]:
    kind = rnd.choice(["form", "chart", "label", "sticky", "whiteboard"])
    if kind == "whiteboard":
        s = Sheet(1400, 900, (236, 238, 234), ink=rnd.choice([(20, 40, 120), (20, 20, 20), (140, 20, 20)]))
        s.text((40, 30), "UNIT CENSUS", 54)
        for i in range(rnd.randint(4, 7)):
            s.text((40, 130 + i * 100), f"Rm {300 + i}  {_name(rnd)}", 44)
        return s.img, kind
    if kind == "sticky":
        s = Sheet(420, 420, (250, 235, 120))
        for i in range(3):
            s.text((24, 30 + i * 110), [_name(rnd), f"MRN {rnd.randint(10**6, 10**7)}", "call family"][i], 34)
        return s.img, kind
    if kind == "label":
        s = Sheet(700, 260, (255, 255, 255))
        s.text((20, 20), _name(rnd), 40)
        s.text((20, 90), f"DOB {rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}/{rnd.randint(1930, 2010)}", 34)
        s.text((20, 160), f"MRN {rnd.randint(10**7, 10**8)}", 34)
        return s.img, kind
    s = Sheet(850, 1100, (252, 252, 248))
    s.text((40, 30), "PATIENT INTAKE FORM" if kind == "form" else "PROGRESS NOTES", 40)
    for i in range(rnd.randint(6, 11)):
        s.text((40, 120 + i * 80), f"{['Name', 'DOB', 'MRN', 'Phone', 'Allergies', 'Notes'][i % 6]}: "
               f"{_name(rnd) if i % 6 == 0 else rnd.randint(10**6, 10**9)}", 30)
    return s.img, kind


def wristband(rnd) -> tuple[Image.Image, str]:
    s = Sheet(1000, 180, rnd.choice([(250, 250, 250), (240, 245, 255), (255, 250, 235)]))
    s.text((20, 16), _name(rnd).upper(), 30)
    s.text((20, 64), f"DOB: {rnd.randint(1, 12):02d}/{rnd.randint(1, 28):02d}/{rnd.randint(1930, 2010)}", 26)
    s.text((20, 108), f"MRN: {rnd.randint(10**7, 10**8)}", 26)
    s.paste_barcode((560, 24), str(rnd.randint(10**7, 10**8)), "Code128", (400, 130))
    return s.img, "band"


def negative(rnd, backgrounds) -> tuple[Image.Image | None, str, list]:
    """A hard negative drawn straight onto the canvas; returns (sheet or None, kind, extra)."""
    kind = rnd.choice(["window", "frame", "door", "poster", "bookshelf", "tiles", "blank-screen"])
    if kind == "window":
        im = Image.new("RGB", (900, 700), (200, 225, 245))
        d = ImageDraw.Draw(im)
        d.rectangle((0, 0, 899, 699), outline=(240, 240, 240), width=30)
        d.line((450, 0, 450, 700), fill=(240, 240, 240), width=20)
        d.line((0, 350, 900, 350), fill=(240, 240, 240), width=20)
    elif kind == "frame":
        im = Image.new("RGB", (800, 600), (110, 70, 30))
        im.paste(rnd.choice(backgrounds).resize((700, 500)), (50, 50))
    elif kind == "door":
        im = Image.new("RGB", (500, 1100), (150, 110, 70))
        d = ImageDraw.Draw(im)
        d.rectangle((40, 40, 460, 500), outline=(120, 85, 50), width=8)
        d.rectangle((40, 560, 460, 1060), outline=(120, 85, 50), width=8)
        d.ellipse((420, 560, 460, 600), fill=(200, 180, 90))
    elif kind == "poster":
        im = Image.new("RGB", (800, 1100), rnd.choice([(230, 60, 60), (40, 120, 200), (250, 200, 40)]))
        d = ImageDraw.Draw(im)
        d.text((60, 80), rnd.choice(["WASH YOUR", "CLEAN HANDS", "FLU SHOTS"]), font=_font(96, bold=True),
               fill=(255, 255, 255))
        d.text((60, 210), rnd.choice(["HANDS", "SAVE LIVES", "NOW HERE"]), font=_font(96, bold=True),
               fill=(255, 255, 255))
        im.paste(rnd.choice(backgrounds).resize((680, 600)), (60, 420))
    elif kind == "bookshelf":
        im = Image.new("RGB", (1000, 800), (90, 60, 35))
        d = ImageDraw.Draw(im)
        for shelf in range(3):
            x = 20
            while x < 970:
                bw = rnd.randint(25, 60)
                d.rectangle((x, 30 + shelf * 260, x + bw, 240 + shelf * 260),
                            fill=tuple(rnd.randint(40, 220) for _ in range(3)))
                x += bw + 3
    elif kind == "tiles":
        im = Image.new("RGB", (1000, 800), (235, 235, 230))
        d = ImageDraw.Draw(im)
        for x in range(0, 1000, 80):
            d.line((x, 0, x, 800), fill=(170, 170, 165), width=4)
        for y in range(0, 800, 80):
            d.line((0, y, 1000, y), fill=(170, 170, 165), width=4)
    else:
        im = Image.new("RGB", (1200, 760), (25, 25, 28))
        ImageDraw.Draw(im).rectangle((30, 30, 1170, 730), fill=rnd.choice([(8, 8, 10), (10, 30, 70)]))
    return im, kind, []


def finish(canvas: Image.Image, rnd) -> bytes:
    img = canvas
    if rnd.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rnd.uniform(0.3, 1.2)))
    arr = np.asarray(img).astype(np.float32) + np.random.default_rng(rnd.randint(0, 10**6)).normal(0, 3, (H, W, 3))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rnd.randint(70, 92))
    return buf.getvalue()


def main(out: Path, per_kind: int = 20, seed: int = 2026) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    backgrounds = _backgrounds()
    makers = {"screen": screen, "document": document, "wristband": wristband}
    n = 0
    for kind in ("screen", "document", "wristband", "negative"):
        for i in range(per_kind):
            canvas = rnd.choice(backgrounds).copy()
            if kind == "negative":
                sheet, sub, _ = negative(rnd, backgrounds)
            else:
                sheet, sub = makers[kind](rnd)
            scale = rnd.uniform(0.35, 0.8) * min(W / sheet.width, H / sheet.height)
            if kind == "wristband":
                scale = rnd.uniform(0.55, 1.3)
            quad = _quad(rnd, sheet.width, sheet.height, scale)
            _paste(canvas, sheet, quad)
            name = f"{kind}_{i:02d}_{sub}.jpg"
            (out / name).write_bytes(finish(canvas, rnd))
            truth = {"file": name, "kind": kind, "sub": sub,
                     "polygon": [[round(x), round(y)] for x, y in quad] if kind != "negative" else None,
                     "negative_polygon": [[round(x), round(y)] for x, y in quad] if kind == "negative" else None}
            (out / f"{Path(name).stem}.json").write_text(json.dumps(truth) + "\n")
            n += 1
    print(f"{n} images in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20, int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
