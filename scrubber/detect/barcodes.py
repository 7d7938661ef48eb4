"""Barcodes and QR codes with zxing-cpp, and linear symbols found by their structure.

A wristband's Code128 usually encodes the MRN, so every symbol zxing can locate is returned,
decoded or not (``return_errors=True`` keeps symbols whose checksum failed). Linear codes get
lost when a frame is shrunk, so frames larger than ``side`` pixels are read at full resolution
(zxing shrinks for large symbols itself). The decoded content is kept in ``text`` (memory only)
and its kind in ``label``.

zxing reads linear codes only along the rows or columns, and not at all when they are postal
(POSTNET, IMb), blurred or damaged: a person still sees a barcode. ``_bars`` finds them by their
structure at any angle: patches whose edges all run one way (the structure tensor's coherence)
and are strong, cut out turned so the bars stand upright, with at least ``min_bars`` dark bars
across that differ in width (1-D codes) or in length (postal codes); blinds, stripes and
railings have bars alike in both and are left alone. Each is read by zxing once upright
(decoded: ``decoded``, else ``bars``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, grow, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


# symbols without a distinctive finder pattern: kept only when they decode
_NO_FINDER = {"DataMatrix", "Aztec", "MaxiCode", "PDF417", "MicroPDF417", "DXFilmEdge"}


@dataclass(frozen=True)
class BarcodeSettings:
    side: int = 2048
    full_resolution: bool = True  # also read the full frame when it is larger than ``side``
    margin: float = 0.08  # grown around the symbol so quiet-zone bars are covered too
    bars_side: int = 1024  # the frame's size where rows of bars are looked for by their structure
    min_bars: int = 16  # dark bars across a patch for it to be a linear symbol
    coherence: float = 0.7  # how much one direction the edges in a patch of bars share
    bars_crop: int = 800  # longest row of bars (pixels) a patch is cut out at to be checked


def _cv(values: np.ndarray) -> float:
    return float(values.std() / max(1e-6, values.mean()))


def _inner(runs: np.ndarray) -> np.ndarray:
    """The middle 80% of ``runs`` by size: a patch's ragged ends (the next object, a shadow)
    add a few odd bars or spaces that would make blinds look varied."""
    runs = np.sort(runs.astype(np.float32))
    cut = len(runs) // 10
    return runs[cut : len(runs) - cut] if cut else runs


def _bar_row(band: np.ndarray, starts: np.ndarray, ends: np.ndarray, least: int) -> bool:
    """Do the dark columns (``starts[i]`` < bar ``i`` <= ``ends[i]``) of the upright ``band``
    (1 = dark) make a barcode? A 1-D symbol: bars that run the band's height, many times
    longer than the bars' pitch, with bars and spaces of several widths (after the odd tenth at
    each end of the sizes is set aside). A postal symbol (POSTNET, IMb): bars of
    one width at one pitch, in two or more lengths, nearly all crossing one row. Lines of
    type have strokes about as long as the pitch at an uneven pitch; blinds, stripes and
    railings have bars alike in width and length."""
    height = band.shape[0]
    lengths, crossed = [], np.zeros(height, np.int32)
    for a, b in zip(starts, ends):
        dark = band[:, a + 1 : b + 1].mean(axis=1) > 0.5
        runs = np.flatnonzero(np.diff(np.r_[0, dark.astype(np.int8), 0]))
        spans = runs.reshape(-1, 2) if runs.size else np.zeros((0, 2), int)
        longest = spans[np.argmax(spans[:, 1] - spans[:, 0])] if len(spans) else (0, 0)
        lengths.append(longest[1] - longest[0])
        crossed[longest[0] : longest[1]] += 1
    lengths = np.array(lengths, np.float32) / max(1, height)
    widths = (ends - starts).astype(np.float32)
    pitch = np.diff(starts).astype(np.float32)
    if len(starts) >= least and np.median(lengths) >= 0.8 and (lengths >= 0.7).mean() >= 0.8 \
            and height >= 4 * np.median(pitch) and _cv(_inner(np.r_[widths, starts[1:] - ends[:-1]])) >= 0.25:
        return True
    even = (np.abs(pitch - np.median(pitch)) <= 0.25 * np.median(pitch)).mean() >= 0.85
    return bool(len(starts) >= max(least, 20) and crossed.max() >= 0.9 * len(starts) and _cv(widths) < 0.35
                and even and 0.2 <= (lengths < 0.7 * lengths.max()).mean() <= 0.8)


class Barcodes:
    name = "barcodes"
    version = "zxing-cpp/2"
    kinds = frozenset({Kind.BARCODE})
    needs_context = False
    rereads = False

    def __init__(self, settings: BarcodeSettings | None = None):
        self.settings = settings or BarcodeSettings()
        try:
            import zxingcpp
        except ImportError as err:
            raise ModelMissing("zxing-cpp is not installed: pip install zxing-cpp") from err
        self._zx = zxingcpp

    def _read(self, gray: np.ndarray, back: float, frame: Frame, **options) -> list[Detection]:
        try:
            found = self._zx.read_barcodes(np.ascontiguousarray(gray), return_errors=True, **options)
        except Exception as err:
            raise DetectorFailed(f"zxing-cpp failed ({type(err).__name__}: {err})") from err
        out = []
        for code in found:
            p = code.position
            pts = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)
            pts *= back
            box = Box(int(pts[:, 0].min()), int(pts[:, 1].min()), int(np.ceil(pts[:, 0].max())) + 1,
                      int(np.ceil(pts[:, 1].max())) + 1)
            # linear codes report a thin line through the bars: widen to a band
            if box.height < box.width * 0.2 and "QR" not in str(code.format):
                box = Box(box.x0, box.y0 - box.width // 4, box.x1, box.y1 + box.width // 4)
            elif box.width < box.height * 0.2:
                box = Box(box.x0 - box.height // 4, box.y0, box.x1 + box.height // 4, box.y1)
            box = clip(grow(box, self.settings.margin), frame.width, frame.height)
            decoded = bool(code.valid) and bool(code.text)
            fmt = str(code.format).rsplit(".", 1)[-1]
            if not decoded and fmt.replace(" ", "") in _NO_FINDER:
                continue  # zxing's error results for these formats fire on faces and textures
            out.append(
                Detection(
                    Kind.BARCODE,
                    box,
                    1.0 if decoded else 0.6,
                    self.name,
                    label=fmt,
                    text=code.text if decoded else None,
                    evidence=("decoded",) if decoded else ("undecoded",),
                )
            )
        return out

    def _bars(self, frame: Frame) -> list[Detection]:
        import cv2

        s = self.settings
        gray, back = frame.gray(s.bars_side)
        g = gray.astype(np.float32)
        gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        win = (9, 9)
        jxx, jyy, jxy = cv2.blur(gx * gx, win), cv2.blur(gy * gy, win), cv2.blur(gx * gy, win)
        energy = jxx + jyy
        coherent = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (energy + 1e-6)
        # edges of at least ~60 grey levels every few pixels, all one way
        mask = ((coherent > s.coherence) & (energy > 60.0**2 * 2)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        full, _ = frame.gray(max(frame.width, frame.height))
        out = []
        for i in range(1, count):
            x, y, w, h, area = stats[i]
            if area < 150 or max(w, h) < 20:
                continue
            ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
            pts = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
            # the bars' direction: perpendicular to the mean edge direction in the patch
            a = 0.5 * np.degrees(np.arctan2(2 * jxy[ys + y, xs + x].sum(), (jxx - jyy)[ys + y, xs + x].sum()))
            found = self._upright_bars(full, pts * back, back, a)
            if found is not None:
                quad, decoded = found
                xs_, ys_ = quad[:, 0], quad[:, 1]
                box = clip(grow(Box(int(xs_.min()), int(ys_.min()), int(np.ceil(xs_.max())), int(np.ceil(ys_.max()))),
                                s.margin), frame.width, frame.height)
                label, text = decoded if decoded else ("linear", None)
                out.append(Detection(Kind.BARCODE, box, 1.0 if decoded else 0.7, self.name, label=label, text=text,
                                     evidence=("decoded",) if decoded else ("bars",),
                                     polygon=tuple((int(round(px)), int(round(py))) for px, py in quad)))
        return out

    def _upright_bars(self, full: np.ndarray, pts: np.ndarray, back: float, gradient_deg: float):
        """The patch ``pts`` (full-resolution points, each standing for ``back`` squared
        pixels) cut out with its edges' direction ``gradient_deg`` made horizontal (bars
        upright). (its quadrilateral, (format, text) or None) when it holds a row of bars,
        else None."""
        import cv2

        (cx, cy), _, _ = cv2.minAreaRect(pts)
        rot = cv2.getRotationMatrix2D((float(cx), float(cy)), float(gradient_deg), 1.0)
        turned = cv2.transform(pts[None], rot)[0]
        x0, y0 = turned.min(axis=0)
        x1, y1 = turned.max(axis=0)
        w, h = x1 - x0, y1 - y0
        # a row of bars is a solid patch no taller than it is long; a long edge or a frame's
        # outline (the coherent band along a monitor's border) is neither
        if w < 20 or h < 6 or h > 1.5 * w or len(pts) * back**2 < 0.45 * w * h:
            return None
        pad = 0.15 * w
        x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - 0.1 * h, y1 + 0.1 * h
        rot[:, 2] -= (x0, y0)
        # cut out at most ``bars_crop`` pixels along the bars' row: a symbol of 100 modules
        # keeps 8 pixels a module, and a close-up's crop costs no more than a small one's
        k = min(1.0, self.settings.bars_crop / (x1 - x0))
        rot *= k
        W, H = int(k * (x1 - x0)), int(k * (y1 - y0))
        if H < 6:
            return None
        crop = cv2.warpAffine(full, rot, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # dark against the neighbourhood, not the whole crop: a label's edge or the wall beside
        # it would otherwise count as one wide bar
        block = max(15, (min(W, H) // 3) | 1)
        dark = cv2.adaptiveThreshold(crop, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
        band = dark[int(0.15 * H) : max(int(0.15 * H) + 1, int(0.85 * H))]
        column = band.mean(axis=0)
        on = column > 0.3
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        if on[0]:
            edges = np.r_[-1, edges]
        if on[-1]:
            edges = np.r_[edges, on.size - 1]
        starts, ends = edges[0::2], edges[1::2]
        n = min(len(starts), len(ends))
        if n < self.settings.min_bars:
            return None
        starts, ends = starts[:n], ends[:n]
        if not _bar_row(band, starts, ends, self.settings.min_bars):
            return None
        inverse = cv2.invertAffineTransform(rot)
        span0, span1 = float(starts[0]), float(ends[-1])
        quad = cv2.transform(np.float32([[[span0, 0], [span1, 0], [span1, H], [span0, H]]]), inverse)[0]
        decoded = None
        try:
            codes = self._zx.read_barcodes(np.ascontiguousarray(crop), formats=self._zx.BarcodeFormat.LinearCodes)
        except Exception:
            codes = []
        for code in codes:
            if code.valid and code.text:
                decoded = (str(code.format).rsplit(".", 1)[-1], code.text)
                break
        return quad, decoded

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        return nms(self._zxing(frame) + tuple(self._bars(frame)), 0.3, merge=True)

    def _zxing(self, frame: Frame) -> tuple[Detection, ...]:
        if not (self.settings.full_resolution and frame.scale_for(self.settings.side) < 1.0):
            gray, back = frame.gray(self.settings.side)
            return nms(self._read(gray, back, frame), 0.3)
        # a larger frame is read at full resolution only: zxing's own pyramid (try_downscale)
        # reads the large and blurred symbols a shrunk copy would, and a pass at ``side`` found
        # no symbol the full-resolution passes missed on the 20 12-MP benchmark photos (0.065 s
        # each). Linear codes are tried turned 90 degrees too (a vertical band), 2-D codes as
        # they are (their finder patterns read at any angle; turning them cost 0.2 s of 0.24 s)
        full, _ = frame.gray(max(frame.width, frame.height))
        formats = self._zx.BarcodeFormat
        found = self._read(full, 1.0, frame, formats=formats.LinearCodes)
        found += self._read(full, 1.0, frame, formats=formats.MatrixCodes, try_rotate=False)
        return nms(found, 0.3)
