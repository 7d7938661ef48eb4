"""Redactors: settings in ``__init__``, ``apply(pixels, regions)`` returns a new array.

* ``Fill`` paints solid colour (rectangles, or the polygon when a surface has one). Blur
  and pixelation of text are reversible; solid fill is not.
* ``Blur`` destroys a face: the region is shrunk to a few pixels (all identity gone),
  blown back up, Gaussian-blurred with a kernel scaled to the region, and covered with
  seeded noise so nothing can be deconvolved. Faces get an ellipse; other kinds a rectangle.
"""

from __future__ import annotations

import numpy as np

from scrubber.policy import Action, Region


class Fill:
    def __init__(self, color: tuple[int, int, int] = (0, 0, 0)):
        self.color = tuple(int(c) for c in color)

    def apply(self, pixels: np.ndarray, regions: tuple[Region, ...], copy: bool = True) -> np.ndarray:
        import cv2

        out = pixels.copy() if copy else pixels
        for r in regions:
            if r.polygon:
                cv2.fillPoly(out, [np.asarray(r.polygon, np.int32)], self.color)
            else:
                out[r.box.y0 : r.box.y1, r.box.x0 : r.box.x1] = self.color
        return out


class Blur:
    def __init__(self, cells: int = 2, noise: float = 24.0, seed: int = 0):
        self.cells = cells  # the region keeps at most cells x cells pieces of information
        self.noise = noise
        self.seed = seed

    def apply(self, pixels: np.ndarray, regions: tuple[Region, ...]) -> np.ndarray:
        import cv2

        out = pixels.copy()
        rng = np.random.default_rng(self.seed)
        for r in regions:
            b = r.box
            h, w = b.height, b.width
            if h < 2 or w < 2:
                out[b.y0 : b.y1, b.x0 : b.x1] = pixels[b.y0 : b.y1, b.x0 : b.x1].mean(axis=(0, 1))
                continue
            crop = pixels[b.y0 : b.y1, b.x0 : b.x1]
            tiny = cv2.resize(crop, (self.cells, self.cells), interpolation=cv2.INTER_AREA)
            # the smoothing runs at 1/8 scale (a kernel of a third of a 1000-px face at full
            # scale cost a second) and is blown up linearly: smooth is smooth at any scale
            sw, sh = max(2, w // 8), max(2, h // 8)
            smooth = cv2.resize(tiny, (sw, sh), interpolation=cv2.INTER_CUBIC)
            k = max(3, (min(sw, sh) // 3) | 1)
            smooth = cv2.GaussianBlur(smooth, (k, k), 0)
            smooth = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            smooth += rng.standard_normal(smooth.shape, dtype=np.float32) * np.float32(self.noise)
            smooth = smooth.clip(0, 255).astype(np.uint8)
            if r.ellipse:
                mask = np.zeros((h, w), np.uint8)
                cv2.ellipse(mask, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
                region = out[b.y0 : b.y1, b.x0 : b.x1]
                region[mask > 0] = smooth[mask > 0]
            else:
                out[b.y0 : b.y1, b.x0 : b.x1] = smooth
        return out


def apply(pixels: np.ndarray, regions: tuple[Region, ...], fill: Fill, blur: Blur) -> np.ndarray:
    """Blur first, then fill, so a filled box inside a blurred face stays solid."""
    blurred = tuple(r for r in regions if r.action is Action.BLUR)
    filled = tuple(r for r in regions if r.action is Action.FILL)
    out = blur.apply(pixels, blurred) if blurred else pixels.copy()
    return fill.apply(out, filled, copy=False) if filled else out
