"""Consent matching evaluation: how often would a stranger be kept visible, and how often is an
enrolled person recognised, as a function of the distance threshold?

Faces that ship inside PyPI packages: scikit-image ``astronaut`` and ``camera``, matplotlib
``grace_hopper`` (one photo each), and scikit-image's ``lfw_subset`` (100 small face crops of
other people, Labeled Faces in the Wild). Only one photo per identity exists, so "other photos of
the same person" are made from it: rescaled, mirrored, rotated, re-lit, blurred, noisy and
re-compressed, each placed on a new background. That is easier than a truly different photo;
the true-keep figures are optimistic, the false-keep figures are the ones that matter.

Usage: python bench/consent_eval.py  (writes bench/CONSENT.md)
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrubber.consent import DEFAULT_THRESHOLD  # noqa: E402
from scrubber.detection import Box  # noqa: E402


def identities() -> dict[str, tuple[Image.Image, tuple[int, int, int, int]]]:
    import matplotlib.cbook
    import skimage.data

    return {
        "astronaut": (Image.fromarray(skimage.data.astronaut()).crop((100, 0, 360, 260)), (70, 40, 180, 190)),
        "camera": (Image.fromarray(skimage.data.camera()).convert("RGB").crop((130, 40, 330, 260)), (60, 60, 132, 160)),
        "hopper": (Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"),
                   (175, 100, 360, 345)),
    }


def variants(img: Image.Image, box, seed: int):
    """(image, face box) pairs: the same person in 12 other renditions."""
    rng = np.random.default_rng(seed)
    out = []
    ops = [
        lambda im: im.resize((int(im.width * 0.7), int(im.height * 0.7))),
        lambda im: im.resize((int(im.width * 1.4), int(im.height * 1.4))),
        lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        lambda im: im.rotate(8, resample=Image.BICUBIC, fillcolor=(128, 128, 128)),
        lambda im: im.rotate(-8, resample=Image.BICUBIC, fillcolor=(128, 128, 128)),
        lambda im: ImageEnhance.Brightness(im).enhance(0.6),
        lambda im: ImageEnhance.Brightness(im).enhance(1.35),
        lambda im: ImageEnhance.Contrast(im).enhance(0.6),
        lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
        lambda im: Image.fromarray((np.asarray(im) + rng.normal(0, 12, np.asarray(im).shape)).clip(0, 255)
                                   .astype(np.uint8)),
        lambda im: _jpeg(im, 25),
        lambda im: ImageEnhance.Color(im).enhance(0.2),
    ]
    x0, y0, x1, y1 = box
    for op in ops:
        v = op(img)
        k = v.width / img.width
        b = (img.width - x1, y0, img.width - x0, y1) if op is ops[2] else (x0 * k, y0 * k, x1 * k, y1 * k)
        out.append((v, tuple(int(round(c)) for c in b)))
    return out


def _jpeg(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def encode(img: Image.Image, box) -> np.ndarray | None:
    from scrubber.consent import encode_face

    x0, y0, x1, y1 = box
    return encode_face(np.asarray(img.convert("RGB")), Box(x0, y0, x1, y1))


def main() -> None:
    import skimage.data

    t0 = time.time()
    ids = identities()
    enrolled = {name: encode(img, box) for name, (img, box) in ids.items()}
    same, cross = [], []
    for seed, (name, (img, box)) in enumerate(ids.items()):
        for v, b in variants(img, box, seed):
            enc = encode(v, b)
            if enc is None:
                continue
            for other, ref in enrolled.items():
                (same if other == name else cross).append(float(np.linalg.norm(enc - ref)))
    lfw = skimage.data.lfw_subset()[:100]
    strangers = []
    for face in lfw:
        tile = Image.fromarray((face * 255).astype(np.uint8)).convert("RGB").resize((150, 150), Image.BICUBIC)
        canvas = Image.new("RGB", (300, 300), (128, 128, 128))
        canvas.paste(tile, (75, 75))
        enc = encode(canvas, (75, 75, 225, 225))
        if enc is not None:
            strangers.extend(float(np.linalg.norm(enc - ref)) for ref in enrolled.values())
    others = cross + strangers
    lines = [
        "# Consent matching: false keep and true keep rates",
        "",
        f"Made by `python bench/consent_eval.py` on {time.strftime('%Y-%m-%d')} ({time.time() - t0:.0f} s).",
        "",
        f"- enrolled identities: {len(enrolled)} (astronaut, camera, Grace Hopper; one photo each)",
        f"- same-person comparisons: {len(same)} (12 renditions of each enrolled photo)",
        f"- stranger comparisons: {len(others)} ({len(cross)} between the enrolled people, "
        f"{len(strangers)} from 100 LFW faces against each enrolled person)",
        f"- smallest stranger distance: {min(others):.3f}; largest same-person distance: {max(same):.3f}",
        "",
        "| threshold | false keep (stranger kept visible) | true keep (enrolled person kept) |",
        "|---|---|---|",
    ]
    for t in (0.35, 0.40, 0.45, 0.50, 0.55, 0.60):
        fk = sum(d < t for d in others) / len(others)
        tk = sum(d < t for d in same) / len(same)
        mark = " (default)" if abs(t - DEFAULT_THRESHOLD) < 1e-9 else ""
        lines.append(f"| {t:.2f}{mark} | {fk:.3f} ({sum(d < t for d in others)}/{len(others)}) | "
                     f"{tk:.3f} ({sum(d < t for d in same)}/{len(same)}) |")
    lines += [
        "",
        f"The default, {DEFAULT_THRESHOLD:.2f}, keeps a margin of {min(others) - DEFAULT_THRESHOLD:.3f} below the nearest stranger on "
        "this set (0.45 would leave almost none); face_recognition's customary 0.6 would keep strangers visible.",
        "A kept face must also match exactly",
        "one active entry and be at least 80 px tall (smaller faces were not evaluated: their encodings are",
        "unreliable, so they are always obscured).",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "bench" / "CONSENT.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
