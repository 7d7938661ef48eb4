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
    def __init__(self, cells: int = 2, noise: float = 24.0, seed: int = 0, grain: int = 256, smooth_side: int = 96):
        self.cells = cells  # the region keeps at most cells x cells pieces of information
        self.noise = noise
        self.seed = seed
        self.grain = grain  # side of the seeded noise tile laid over every blurred region
        self.smooth_side = smooth_side  # the smoothing's working canvas (px, long side)
        self._tiles: tuple[np.ndarray, np.ndarray] | None = None

    def _add_noise(self, smooth: np.ndarray) -> None:
        """Add seeded Gaussian noise to ``smooth`` in place (saturating), one tile repeated.
        Fresh noise for every pixel of a grown 12-MP face (7 MP x 3) took 0.1-0.2 s; what the
        noise is for, hiding the smooth ramp so nothing can be deconvolved, needs no more."""
        import cv2

        if self._tiles is None:
            rng = np.random.default_rng(self.seed)
            noise = (rng.standard_normal((self.grain, self.grain, 3), dtype=np.float32) * self.noise).round()
            self._tiles = (noise.clip(0, 255).astype(np.uint8), (-noise).clip(0, 255).astype(np.uint8))
        up, down = self._tiles
        h, w = smooth.shape[:2]
        for y in range(0, h, self.grain):
            for x in range(0, w, self.grain):
                block = smooth[y : y + self.grain, x : x + self.grain]
                bh, bw = block.shape[:2]
                cv2.add(block, up[:bh, :bw], dst=block)
                cv2.subtract(block, down[:bh, :bw], dst=block)

    def apply(self, pixels: np.ndarray, regions: tuple[Region, ...]) -> np.ndarray:
        import cv2

        out = pixels.copy()
        for r in regions:
            b = r.box
            h, w = b.height, b.width
            if h < 2 or w < 2:
                out[b.y0 : b.y1, b.x0 : b.x1] = pixels[b.y0 : b.y1, b.x0 : b.x1].mean(axis=(0, 1))
                continue
            step = max(1, min(h, w) // 64)  # the cells' mean colours, from a sample of the pixels
            tiny = cv2.resize(pixels[b.y0 : b.y1 : step, b.x0 : b.x1 : step], (self.cells, self.cells),
                              interpolation=cv2.INTER_AREA)
            # the smoothing runs on a canvas of at most ``smooth_side`` px and is blown up
            # linearly: smooth is smooth at any scale (a kernel of a third of a 1000-px face
            # cost a second at full scale, and 0.05 s at 1/8 scale for a grown 12-MP face)
            k = min(1.0, self.smooth_side / max(w, h))
            sw, sh = max(2, round(w * k)), max(2, round(h * k))
            smooth = cv2.resize(tiny, (sw, sh), interpolation=cv2.INTER_CUBIC)
            k = max(3, (min(sw, sh) // 3) | 1)
            smooth = cv2.GaussianBlur(smooth, (k, k), 0)
            smooth = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR)
            self._add_noise(smooth)
            region = out[b.y0 : b.y1, b.x0 : b.x1]
            if r.ellipse:
                mask = np.zeros((h, w), np.uint8)
                cv2.ellipse(mask, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
                cv2.copyTo(smooth, mask, region)
            else:
                region[:] = smooth
        return out


def apply(pixels: np.ndarray, regions: tuple[Region, ...], fill: Fill, blur: Blur) -> np.ndarray:
    """Blur first, then fill, so a filled box inside a blurred face stays solid."""
    blurred = tuple(r for r in regions if r.action is Action.BLUR)
    filled = tuple(r for r in regions if r.action is Action.FILL)
    out = blur.apply(pixels, blurred) if blurred else pixels.copy()
    return fill.apply(out, filled, copy=False) if filled else out
