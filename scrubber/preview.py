"""Small redacted pictures of results, for pages people look at (``report.html``).

A shareable result's preview is its safe copy, shrunk. A blocked photo's preview is the
original with everything found redacted the way a reviewer's approval would redact it
(``Policy.for_review``: what the policy blocks is blurred or filled instead, surfaces of any
size filled, and what the re-check still found covered too), shrunk. It is a picture of what
was found, never the original: a photo that could not be read has no preview at all.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import numpy as np

from scrubber.errors import ScrubberError
from scrubber.imageio import VIDEO_EXTENSIONS, OutputFormat, decode_own, encode, load
from scrubber.pipeline import Result
from scrubber.policy import Policy, decide
from scrubber.redact import Blur, Fill, apply

QUALITY = 80  # previews are looked at, not shared: small beats exact

# reasons that mean the scan never finished: nothing says what the photo holds, so there is
# no redacted picture of it to show or approve
UNSCANNED = ("timeout", "worker-crashed", "memory-limit", "internal-error", "worker-failed", "detector-error",
             "recognizer-error", "verify:detector-error", "verify:recognizer-error", "unreadable", "too-large",
             "not-an-image", "sidecar-unreadable", "sidecar-missing")


def fully_scanned(reasons: Iterable[str]) -> bool:
    """Did every detector run to the end on the photo these reasons are about?"""
    reasons = [str(r) for r in reasons]
    return bool(reasons) and not any(r == u or r.startswith(u + ":") for r in reasons for u in UNSCANNED)


def preview(result: Result, source: Path, policy: Policy, max_side: int) -> bytes | None:
    """A JPEG at most ``max_side`` px on its longer side, or None when there is nothing to show."""
    if result.data is not None and result.data[4:8] == b"ftyp":  # a clip's MP4: its first frame
        return _small(_first_frame(result.data), max_side)
    if result.data is not None:
        return _small(_decoded_small(result.data, max_side), max_side)
    if not result.processed or not fully_scanned(result.reasons or ("clean",)):
        return None
    if Path(source).suffix.lower() in VIDEO_EXTENSIONS:
        return None  # a blocked clip: no picture of it
    try:
        image = load(source, policy.max_pixels, policy.max_bytes, policy.max_total_pixels)
    except ScrubberError:
        return None
    review = policy.for_review()
    verdict = decide(result.detections + result.residuals, review, image.width, image.height, ())
    pixels = apply(image.frames[0].pixels, verdict.regions, Fill(review.fill_color), Blur())
    return _small(pixels, max_side)


def _decoded_small(data: bytes, max_side: int) -> np.ndarray:
    """Our own safe copy decoded at about ``max_side``: a JPEG is decoded at 1/2 to 1/8 of its
    size straight from its DCT (``draft``: ~10 ms for 12 MP, where a full decode takes ~80)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
            return np.asarray(img.convert("RGB"))
    return decode_own(data)


def _first_frame(data: bytes) -> np.ndarray:
    import av

    with av.open(io.BytesIO(data)) as clip:
        return next(clip.decode(clip.streams.video[0])).to_ndarray(format="rgb24")


def _small(pixels: np.ndarray, max_side: int) -> bytes:
    import cv2

    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        pixels = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return encode(pixels, OutputFormat.JPEG, QUALITY)
