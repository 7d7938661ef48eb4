"""Load and save images.

``load`` decodes a file once, refuses what it cannot read safely, applies the EXIF
orientation, normalises every mode to 8-bit RGB and keeps the pixels that hide under
transparency so they are scanned too. ``save`` re-encodes pixels only (no metadata can
survive), writes a temporary file, fsyncs it and moves it into place without ever
overwriting an existing file; ``metadata_problems`` re-reads the bytes to prove it.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from scrubber.errors import ImageTooLarge, ImageUnreadable, OutputExists, SaveFailed

try:  # HEIC/HEIF support; a missing plug-in only means HEIC files are refused as unreadable
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

DEFAULT_MAX_PIXELS = 80_000_000
DEFAULT_MAX_TOTAL_PIXELS = 200_000_000  # all frames of one file together
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_FRAMES = 100

# decoded format -> extensions that may carry it
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "GIF": (".gif",),
    "BMP": (".bmp", ".dib"),
    "HEIF": (".heic", ".heif", ".hif"),
    "AVIF": (".avif",),  # Pillow 11.2 and later read it
}
IMAGE_EXTENSIONS = frozenset(ext for exts in FORMAT_EXTENSIONS.values() for ext in exts)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm"})  # clips: scrubber.video
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


class OutputFormat(StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"

    @property
    def extension(self) -> str:
        return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[self.value]

    @property
    def mime(self) -> str:
        return {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[self.value]

    @classmethod
    def for_source(cls, source_format: str) -> "OutputFormat":
        """JPEG, HEIC and AVIF become JPEG, WebP stays WebP, every lossless format becomes PNG."""
        if source_format in ("JPEG", "HEIF", "AVIF"):
            return cls.JPEG
        if source_format == "WEBP":
            return cls.WEBP
        return cls.PNG

    @classmethod
    def for_path(cls, path: Path) -> "OutputFormat | None":
        ext = path.suffix.lower()
        for fmt in cls:
            if ext in FORMAT_EXTENSIONS[fmt.value]:
                return fmt
        return None


@dataclass(eq=False)
class Frame:
    """One oriented 8-bit RGB picture plus cached resized copies, so each size is computed once."""

    pixels: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)
    # faces in this picture stand upright (the residual check's canvas of crops around faces
    # the first pass found upright): face detectors may skip their turned passes
    upright: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3 or self.pixels.dtype != np.uint8:
            raise ValueError(f"Frame wants HxWx3 uint8, got {self.pixels.shape} {self.pixels.dtype}")
        self.pixels.setflags(write=False)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def scale_for(self, max_side: int) -> float:
        """Factor from full resolution to the working resolution whose long side is ``max_side``."""
        return min(1.0, max_side / max(self.width, self.height))

    def resized(self, max_side: int) -> tuple[np.ndarray, float]:
        """RGB copy whose long side is at most ``max_side``, and the factor back to full resolution.
        An exact halving up to 3% short of ``max_side`` is taken as it is (1024 px of a 12-MP
        photo is its 1008-px halving: 2 ms, shared, against 24 ms for an area resize by 0.51)."""
        return self._sized("rgb", max_side)

    def enlarged_half(self, max_side: int, most: float = 1.25) -> tuple[np.ndarray, float]:
        """RGB copy whose long side is ``max_side`` (at most full resolution), made from the
        smallest exact halving at least ``max_side / most`` long, enlarged bilinearly if need be.
        For a detector that needs faces big rather than sharp: a 12-MP photo at 2400 px costs
        5 + 12 ms this way (its 2016-px halving, which other stages share, enlarged) against
        61 ms for an area resize by 0.6, and YuNet found as many small faces in it (95 against
        93 of 126, ``bench/small_faces.py`` at 28-56 px)."""
        key = ("rgb", "enlarged", max_side, most)
        if key not in self._cache:
            s = self.scale_for(max_side)
            if s < 1.0:
                size = (max(1, round(self.width * s)), max(1, round(self.height * s)))
                img = _last_step(self._halved("rgb", -(-max_side * 100 // round(most * 100))), size)
            else:
                img = self.pixels
            self._cache[key] = (img, self.width / img.shape[1])
        return self._cache[key]

    def gray(self, max_side: int) -> tuple[np.ndarray, float]:
        """Grey copy whose long side is at most ``max_side``, and the factor back. Shrunk from
        the full-resolution grey picture (a third of the pixels an RGB resize moves)."""
        return self._sized("gray", max_side)

    def _sized(self, kind: str, max_side: int) -> tuple[np.ndarray, float]:
        key = (kind, max_side)
        if key not in self._cache:
            s = self.scale_for(max_side)
            if s < 1.0:
                size = (max(1, round(self.width * s)), max(1, round(self.height * s)))
                img = self._halved(kind, -(-max_side * 97 // 100))
                if max(img.shape[:2]) > max_side:
                    img = _last_step(img, size)
            else:
                img = self._full(kind)
            self._cache[key] = (img, self.width / img.shape[1])
        return self._cache[key]

    def _full(self, kind: str) -> np.ndarray:
        if kind == "rgb":
            return self.pixels
        if ("gray",) not in self._cache:
            import cv2

            self._cache[("gray",)] = cv2.cvtColor(self.pixels, cv2.COLOR_RGB2GRAY)
        return self._cache[("gray",)]

    def _halved(self, kind: str, max_side: int) -> np.ndarray:
        """The smallest cached exact halving of the frame whose long side is still at least
        ``max_side``: a 2:1 area resize is a fast path in OpenCV (5 ms for 12 MP against 70 ms
        for an arbitrary factor), so every smaller size starts from the nearest halving."""
        import cv2

        img = self._full(kind)
        level = 0
        while max(img.shape[:2]) >= 2 * max_side and min(img.shape[:2]) >= 4:
            level += 1
            key = (kind, "half", level)
            if key not in self._cache:
                h, w = img.shape[:2]
                self._cache[key] = cv2.resize(img[: h - h % 2, : w - w % 2], (w // 2, h // 2),
                                              interpolation=cv2.INTER_AREA)
            img = self._cache[key]
        return img

    def memo(self, key: tuple, make):
        """``make()`` once per frame under ``key`` (a derived picture several stages share)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def _last_step(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``img`` (at most twice ``size``, after exact halvings) to ``size`` (w, h): bilinear
    up to a factor of 1.5, where every source pixel still weighs in, at a sixth of an area
    resize's cost (2016 -> 1920 px: 6 ms against 32 ms); area beyond."""
    import cv2

    near = img.shape[1] <= 1.5 * size[0] and img.shape[0] <= 1.5 * size[1]
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR if near else cv2.INTER_AREA)


def shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` shrunk to ``size`` (w, h): exact 2:1 area halvings while it is at least twice
    as large (OpenCV's fast path: an area resize of a 2000-px face crop to 112 px by an
    arbitrary factor took 60-90 ms), then ``_last_step``."""
    import cv2

    while img.shape[1] >= 2 * size[0] and img.shape[0] >= 2 * size[1] and min(img.shape[:2]) >= 4:
        h, w = img.shape[:2]
        img = cv2.resize(img[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return _last_step(img, size)


@dataclass(frozen=True)
class LoadedImage:
    path: Path
    format: str  # decoded format, e.g. "JPEG", "HEIF"
    sha256: str
    frames: tuple[Frame, ...]  # what shows: alpha flattened onto white, EXIF-oriented
    hidden: tuple[Frame, ...]  # the raw colour under transparent pixels (empty when there is no alpha)
    notes: tuple[str, ...] = ()  # normalisations applied, e.g. "exif-orientation", "cmyk"

    @property
    def width(self) -> int:
        return self.frames[0].width

    @property
    def height(self) -> int:
        return self.frames[0].height


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _to_rgb(img: Image.Image, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (what shows, raw colour under transparency or None) as 8-bit RGB arrays."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        notes.append(f"high-bit-depth:{mode}")
        arr = _levels(np.asarray(img, dtype=np.float64))
        return np.ascontiguousarray(np.stack([arr] * 3, axis=-1)), None
    if mode == "CMYK":
        notes.append("cmyk")
        return np.asarray(img.convert("RGB")), None
    if mode == "P":
        notes.append("palette")
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if mode in ("LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        rgba = np.asarray(img)
        alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
        raw = np.ascontiguousarray(rgba[:, :, :3])
        if alpha.min() >= 1.0:
            return raw, None
        notes.append("alpha-flattened")
        shown = (raw.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
        return shown, raw
    if img.mode != "RGB":
        notes.append(f"mode:{img.mode}")
        img = img.convert("RGB")
    return np.asarray(img), None


def _levels(arr: np.ndarray) -> np.ndarray:
    """Map the values the image really holds onto 0-255, as a viewer's auto-levels shows them.
    12-bit data in a 16-bit file (most medical images) or a float image in 0-1, divided by the
    type's full range, came out at 1-16 grey levels: judged blank while its text stayed legible
    to anyone who stretched it. Non-finite values count as the lowest."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    arr = np.where(finite, arr, lo)
    if hi <= lo:  # one value all over: shown as its type's range places it
        full = 65535.0 if hi > 255 else 255.0 if hi > 1 else 1.0
        return np.full(arr.shape, round(255 * min(max(hi, 0.0), full) / full), np.uint8)
    return ((arr - lo) * (255.0 / (hi - lo))).round().clip(0, 255).astype(np.uint8)


# EXIF orientation -> the transform that shows the picture upright, as ImageOps.exif_transpose
# applies it: (transpose the axes first?, then flip rows?, flip columns?)
_ORIENT = {1: (False, False, False), 2: (False, False, True), 3: (False, True, True), 4: (False, True, False),
           5: (True, False, False), 6: (True, False, True), 7: (True, True, True), 8: (True, True, False)}


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    import cv2

    transpose, rows, cols = _ORIENT.get(orientation, _ORIENT[1])
    out = cv2.transpose(pixels) if transpose else pixels  # OpenCV: a third of numpy's copy time
    if rows or cols:
        out = cv2.flip(out, -1 if rows and cols else 0 if rows else 1)
    return np.ascontiguousarray(out)


def _decode_jpeg(data: bytes, img: Image.Image) -> np.ndarray | None:
    """A colour JPEG's pixels decoded by OpenCV (the same libjpeg-turbo result as PIL's, pixel
    for pixel) without the orientation applied. PIL hands its pixels to numpy through
    ``tobytes``, which costs as much as the decode itself (0.07 s for 12 MP). ``None`` for every
    other picture, which PIL decodes. OpenCV refuses a truncated stream, as PIL does with
    ``LOAD_TRUNCATED_IMAGES`` off; the size must agree with the header PIL read."""
    if img.format != "JPEG" or img.mode != "RGB":
        return None
    import cv2

    # straight to RGB (no BGR copy to convert), the stored orientation left alone
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    if rgb is None:
        raise OSError("image file is truncated or its data is corrupt")
    if rgb.shape[:2] != (img.height, img.width):
        return None
    return rgb


def _decode_png48(data: bytes, img: Image.Image, notes: list[str]) -> tuple[np.ndarray, ...] | None:
    """A 16-bit-per-channel colour PNG, which Pillow cuts to its high bytes (12-bit data comes
    out at 0-15): decoded at full depth by OpenCV and levelled. (what shows, raw colour under
    transparency when there is any), else None for every other file."""
    if img.format != "PNG" or data[24:25] != b"\x10" or data[25:26] not in (b"\x02", b"\x06"):
        return None
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.dtype != np.uint16:
        raise ValueError("16-bit colour PNG could not be decoded")
    notes.append("high-bit-depth:RGB;16")
    rgb = _levels(arr[:, :, 2::-1].astype(np.float64))
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 65535.0
        if alpha.min() < 1.0:
            notes.append("alpha-flattened")
            shown = (rgb.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
            return np.ascontiguousarray(shown), np.ascontiguousarray(rgb)
    return (np.ascontiguousarray(rgb),)


def decode_own(data: bytes) -> np.ndarray:
    """RGB pixels of a file ``encode`` just wrote (the residual check reads what was saved)."""
    import cv2

    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    if rgb is not None:
        return rgb
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def open_regular(path: Path, follow_symlinks: bool = False) -> int:
    """A read-only descriptor of the regular file ``path``. A FIFO, device or socket is never
    waited on (non-blocking open, refused after ``fstat``); without ``follow_symlinks`` a
    symbolic link is refused too. Raises ``OSError``; the caller closes the descriptor."""
    import errno
    import stat as stat_

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    if not stat_.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def read_limited(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file ``path``, never more than ``max_bytes`` (see
    ``open_regular`` for what is refused unopened)."""
    import stat as stat_

    try:
        st = os.stat(path, follow_symlinks=follow_symlinks)
        if stat_.S_ISDIR(st.st_mode):
            raise ImageUnreadable(f"{path}: a folder, not a photo (scrubber scan FOLDER --out DIR scans a folder)")
        if not stat_.S_ISREG(st.st_mode):
            raise ImageUnreadable(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise ImageTooLarge(f"{path}: {st.st_size:,} bytes exceeds the {max_bytes:,}-byte limit")
        fd = open_regular(path, follow_symlinks)
    except ImageUnreadable:
        raise
    except OSError as err:
        if not follow_symlinks and os.path.islink(path):
            raise ImageUnreadable(f"{path}: a symbolic link (not followed)") from err
        raise ImageUnreadable(f"{path}: cannot read file ({err.strerror or err})") from err
    try:
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 22, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise ImageTooLarge(f"{path}: more than the {max_bytes:,}-byte limit")
        return b"".join(chunks)
    except OSError as err:
        raise ImageUnreadable(f"{path}: cannot read file ({err.strerror or err})") from err
    finally:
        os.close(fd)


def safe_extension(path: str | os.PathLike) -> str:
    """The extension of the safe copy of ``path``: ``.mp4`` for a clip, else its image
    format's (``OutputFormat.for_source``: a HEIC photo's copy is a JPEG, a BMP's a PNG)."""
    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return ".mp4"
    return OutputFormat.for_source(named_format(path) or "PNG").extension


def named_format(path: str | os.PathLike) -> str | None:
    """The format a file's extension names (``.jpg``: JPEG), or None for another extension."""
    suffix = Path(path).suffix.lower()
    return next((f for f, exts in FORMAT_EXTENSIONS.items() if suffix in exts), None)


def load(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES,
         max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS) -> LoadedImage:
    """Decode ``path`` fully, or raise :class:`ImageUnreadable` with one sentence saying why.
    ``max_pixels`` limits each frame, ``max_total_pixels`` all frames of the file together
    (checked from the headers before any frame is decoded), ``max_bytes`` the file's size."""
    path = Path(path)
    data = read_limited(path, max_bytes)
    if not data:
        raise ImageUnreadable(f"{path}: empty file (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()

    frames: list[Frame] = []
    hidden: list[Frame] = []
    notes: list[str] = []
    old_limit, old_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels
        # face_recognition sets LOAD_TRUNCATED_IMAGES = True at import, which would decode
        # half a JPEG as grey and call it clean: a truncated file must be refused.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or "unknown"
                n_frames = getattr(img, "n_frames", 1)
                if fmt == "MPO":  # a camera's JPEG with more pictures after it: the photo is the first
                    fmt, n_frames = "JPEG", 1
                    notes.append("mpo:first-picture-only")
                if fmt not in FORMAT_EXTENSIONS:
                    raise ImageUnreadable(f"{path}: unsupported image format {fmt}")
                if path.suffix.lower() not in FORMAT_EXTENSIONS[fmt]:  # decoded by what it holds
                    notes.append(f"content-{fmt.lower()}-named-{path.suffix.lower() or '(none)'}")
                if img.width * img.height > max_pixels:
                    raise ImageTooLarge(
                        f"{path}: {img.width}x{img.height} exceeds the {max_pixels:,}-pixel limit"
                    )
                if n_frames > MAX_FRAMES:
                    raise ImageUnreadable(f"{path}: {n_frames} frames exceeds the {MAX_FRAMES}-frame limit")
                if n_frames > 1:
                    _check_frame_budget(img, n_frames, path, max_pixels, max_total_pixels)
                deep = _decode_png48(data, img, notes)
                if deep is not None:
                    frames.append(Frame(deep[0]))
                    hidden.extend(Frame(raw) for raw in deep[1:])
                    n_frames = 0
                fast = _decode_jpeg(data, img) if n_frames == 1 else None
                if fast is not None:
                    orientation = img.getexif().get(0x0112, 1)
                    if orientation in _ORIENT and orientation != 1:
                        notes.append("exif-orientation")
                    frames.append(Frame(_orient(fast, orientation)))
                for index in range(n_frames if fast is None else 0):
                    img.seek(index)
                    img.load()
                    frame = ImageOps.exif_transpose(img) if index == 0 else img.copy()
                    if index == 0 and frame is not img and img.getexif().get(0x0112, 1) != 1:
                        notes.append("exif-orientation")
                    shown, raw = _to_rgb(frame, notes)
                    frames.append(Frame(np.ascontiguousarray(shown)))
                    if raw is not None:
                        hidden.append(Frame(raw))
    except ImageUnreadable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLarge(f"{path}: exceeds the {max_pixels:,}-pixel limit (decompression bomb guard)") from err
    except UnidentifiedImageError as err:
        raise ImageUnreadable(f"{path}: not a recognised image") from err
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as err:
        raise ImageUnreadable(f"{path}: corrupt or truncated image ({err})") from err
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = old_limit, old_truncated
    return LoadedImage(path, fmt, digest, tuple(frames), tuple(hidden), tuple(dict.fromkeys(notes)))


def _check_frame_budget(img: Image.Image, n_frames: int, path: Path, max_pixels: int, budget: int) -> None:
    """Every frame's size from its header (seeking decodes no pixels for TIFF pages; GIF and
    WebP frames are as large as the canvas), before any is decoded: a 1-MB GIF of 20 frames of
    80 MP each would take 10 GB."""
    total = 0
    for index in range(n_frames):
        if img.format == "TIFF":
            img.seek(index)
        w, h = img.size
        if w * h > max_pixels:
            raise ImageTooLarge(f"{path}: frame {index + 1} is {w}x{h}, over the {max_pixels:,}-pixel limit")
        total += w * h
        if total > budget:
            raise ImageTooLarge(f"{path}: {n_frames} frames of {w}x{h} exceed the {budget:,}-pixel budget for "
                                "all frames of one file")
    img.seek(0)


def encode(pixels: np.ndarray, fmt: OutputFormat, quality: int = 92) -> bytes:
    """Encode RGB pixels into a fresh file: a new PIL image carries no info, EXIF, ICC or comments."""
    if fmt is OutputFormat.JPEG:
        # OpenCV's libjpeg-turbo, as PIL's, without PIL's copy into an image (0.04 s against
        # 0.05 s for 12 MP, the same bytes); no optimize pass: a 2nd pass, 0.06 s for 7% smaller
        import cv2

        ok, data = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return data.tobytes()
    img = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    buf = io.BytesIO()
    if fmt is OutputFormat.PNG:
        img.save(buf, "PNG", optimize=False)
    else:
        img.save(buf, "WEBP", quality=quality)
    return buf.getvalue()


def write_atomic(data: bytes, dest: Path, overwrite: bool = False, tmp_prefix: str | None = None,
                 mode: int = 0o600) -> None:
    """Write ``data`` to ``dest`` durably: temp file in the same folder, fsync, then link/rename.

    Without ``overwrite`` an existing ``dest`` is never replaced (hard link fails if it exists).
    ``tmp_prefix`` names the temporary file (``*.tmp``) so a caller can find its own leftovers
    after a crash. ``mode``: the file's permissions (``scrubber.outputs`` picks them).
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file where a folder must be, no permission
        raise SaveFailed(f"{dest}: cannot create its folder ({err.strerror or err})") from err
    if not overwrite and (dest.exists() or dest.is_symlink()):
        raise OutputExists(f"{dest}: already exists (not overwritten)")
    if overwrite and dest.is_dir():
        raise SaveFailed(f"{dest}: is a folder")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=tmp_prefix or f".{dest.name[:40]}.", suffix=".tmp", dir=dest.parent)
    except OSError as err:
        raise SaveFailed(f"{dest}: cannot write ({err.strerror or err})") from err
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # atomic no-clobber
            except FileExistsError as err:
                raise OutputExists(f"{dest}: already exists (not overwritten)") from err
            except OSError:  # filesystems without hard links (some SMB mounts)
                if dest.exists():
                    raise OutputExists(f"{dest}: already exists (not overwritten)") from None
                os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OutputExists:
        raise
    except OSError as err:
        raise SaveFailed(f"{dest}: cannot write ({err.strerror or err})") from err
    finally:
        tmp.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- metadata proof

_JPEG_ALLOWED = {0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xDA, 0xE0}  # SOFn, DHT, DQT, DRI, SOS, APP0(JFIF)
_JPEG_STUFFED = {0x00, *range(0xD0, 0xD8)}  # 0xFF00 escapes and restart markers inside scan data
_PNG_ALLOWED = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"sRGB", b"pHYs"}
_WEBP_ALLOWED = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}


def metadata_problems(data: bytes) -> list[str]:
    """Everything in an encoded file that is not pixels: EXIF/XMP/ICC/IPTC, comments, thumbnails, trailers."""
    if data[:2] == b"\xff\xd8":
        return _jpeg_problems(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_problems(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_problems(data)
    return ["unknown container"]


def _jpeg_problems(data: bytes) -> list[str]:
    problems: list[str] = []
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return problems + [f"garbage at byte {pos}"]
        marker = data[pos + 1]
        if marker == 0xD9:
            if pos + 2 != len(data):
                problems.append(f"{len(data) - pos - 2} bytes after end of image")
            return problems
        if pos + 4 > len(data):
            break
        seglen = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker not in _JPEG_ALLOWED:
            problems.append(f"segment 0x{marker:02X}")
        if marker == 0xE0 and not data[pos + 4 : pos + 9].startswith(b"JFIF\x00"):
            problems.append("APP0 that is not JFIF")
        if marker == 0xE0 and data[pos + 16 : pos + 18] != b"\x00\x00":
            problems.append("JFIF thumbnail")
        pos += 2 + seglen
        if marker == 0xDA:  # entropy-coded data: skip to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= len(data):
                    pos = len(data)
                    break
                if data[pos + 1] not in _JPEG_STUFFED:
                    break
                pos += 1
    return problems + ["no end-of-image marker"]


def _png_problems(data: bytes) -> list[str]:
    problems: list[str] = []
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        ctype = data[pos + 4 : pos + 8]
        if ctype not in _PNG_ALLOWED:
            problems.append(f"chunk {ctype.decode('latin-1')}")
        pos += 12 + length
        if ctype == b"IEND":
            if pos != len(data):
                problems.append(f"{len(data) - pos} bytes after IEND")
            return problems
    return problems + ["no IEND chunk"]


def _webp_problems(data: bytes) -> list[str]:
    problems: list[str] = []
    riff_end = 8 + struct.unpack("<I", data[4:8])[0]
    if riff_end != len(data):
        problems.append(f"{len(data) - riff_end} bytes after RIFF")
    pos = 12
    while pos + 8 <= min(riff_end, len(data)):
        ctype = data[pos : pos + 4]
        length = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if ctype not in _WEBP_ALLOWED:
            problems.append(f"chunk {ctype.decode('latin-1')}")
        pos += 8 + length + (length & 1)
    return problems
