"""Short video clips (MP4, MOV, M4V, WebM), scrubbed like photos, with PyAV (its wheels bundle
FFmpeg: no system ffmpeg).

1. **Detect** (first decode): YuNet finds faces on every frame (``YuNetFaces.for_frames``: the
   small-face level only where frontal faces need it; a key frame runs it as photos do, for
   faces in profile, and covers the frames around it). Every ``key_every`` frames,
   at each scene change and on the last frame, the whole photo pipeline runs (every detector
   and recognizer: faces, text, identifiers, surfaces, barcodes) and the policy decides, as
   for a photo: a key frame the policy blocks (a close-up of a chart, a ``block`` kind) blocks
   the clip. When two neighbouring key frames redact different things (a monitor panned into
   view, a label turned away), the frame halfway between them becomes a key frame too, and so
   on until neighbours agree or are next to each other (``_refine``): so the frame where a
   thing first shows is found, not guessed.
2. **Cover between frames**: a face found on frame *i* is blurred on frames *i - face_frames*
   to *i + face_frames*, so a face the detector misses for a frame or two (motion, blur, a
   turn) stays covered. What a key frame's decision redacts covers every frame to the next
   key frame and ``region_frames`` beyond; a region found on two neighbouring key frames is
   also carried along the way between them (its box moved linearly: tracking by
   interpolation), so a label moving across the frame is covered where it is.
3. **Redact and encode** (second decode): solid fill and the face blur as for photos, then
   H.264 in MP4 (libx264, ``crf``) at the source's frame rate, upright (rotation metadata
   applied to the pixels). Audio is dropped unless ``policy.keep_audio`` (a voice saying a
   patient's name is PHI too). Nothing of the source container is copied: no GPS (``©xyz``),
   creation time, device or title.
4. **Verify** (third decode, original and output side by side): every key frame, every
   ``verify_every``-th frame and the frames just past where a face appears or vanishes (where
   the hold over ``face_frames`` ends) are re-checked as a photo's safe copy is
   (``scrubber.verify``); anything found blocks the clip.

Limits: ``policy.max_video_seconds`` (180) and ``policy.max_video_pixels`` per frame (4K UHD);
a clip over either, or one that cannot be decoded (truncated, empty), is blocked with one line.
The consent roster does not apply to clips: every face is blurred.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, iou
from scrubber.imageio import Frame, open_regular, sha256_file
from scrubber.policy import Region, Status, Verdict, decide

if TYPE_CHECKING:
    from scrubber.pipeline import Result, Scrubber

# ISO media major brands of still pictures (HEIF and AVIF images and sequences), which imageio opens
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
                           b"mif2", b"avif", b"avis", b"avio"})
FRAME_FACES = "faces-yunet"  # the face detector run on every frame (the key frames run them all)


@dataclass(frozen=True)
class VideoSettings:
    key_every: int = 10  # the whole pipeline runs every this many frames
    scene_change: float = 24.0  # mean grey change (on a 64x36 copy) that makes a key frame
    face_frames: int = 5  # a face found on frame i is blurred on frames i-5 .. i+5
    region_frames: int = 3  # a key frame's redactions also cover this many frames past the next key frame
    verify_every: int = 30  # the output's key frames and every this-many-th frame are re-checked
    crf: int = 20  # libx264 quality (lower is better)
    preset: str = "veryfast"


def is_video(path: Path) -> bool:
    """Does the file hold an ISO media (MP4, MOV, M4V) or Matroska/WebM container? Decided by
    its first bytes, not its name."""
    import os

    try:
        fd = open_regular(Path(path), follow_symlinks=True)
    except OSError:
        return False
    try:
        head = os.read(fd, 16)
    finally:
        os.close(fd)
    if head[4:8] == b"ftyp":  # ISO media: a clip, unless its brand says still image (HEIC, AVIF)
        return head[8:12] not in _IMAGE_BRANDS
    return head[4:8] in (b"moov", b"mdat", b"wide", b"free") or head[:4] == b"\x1a\x45\xdf\xa3"


class VideoUnreadable(Exception):
    """The clip cannot be decoded (empty, truncated, not a video): ``reason`` is the report's."""

    def __init__(self, message: str, reason: str = "unreadable"):
        super().__init__(message)
        self.reason = reason


def scrub(scrubber: "Scrubber", path: Path, name: str, settings: VideoSettings = VideoSettings(),
          progress: Callable[[int, int], None] = lambda done, total: None) -> "Result":
    """Scan, redact, encode and verify the clip at ``path`` (see the module docstring). A
    shareable result carries the MP4's bytes in ``data``. ``progress(done, total)`` is told of
    each frame scanned and each frame written: ``total`` is twice the clip's frames (an
    estimate from the headers until the first pass has counted them)."""
    from scrubber.pipeline import Result

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        sha = sha256_file(path)
        clip_ = _detect(scrubber, path, settings, timings, progress)
    except VideoUnreadable as err:
        return Result(name, Status.BLOCKED, (err.reason,), error=f"{name}: {err}",
                      timings={"total": round(time.perf_counter() - t0, 4)})
    except OSError as err:
        return Result(name, Status.BLOCKED, ("unreadable",), error=f"{name}: cannot read file ({err.strerror or err})")
    base = dict(sha256=sha, format=clip_.format, width=clip_.width, height=clip_.height)
    verdicts = {k: decide(clip_.found[k], scrubber.policy, clip_.width, clip_.height, clip_.errors[k])
                for k in clip_.keys}
    signs = {id(d) for v in verdicts.values() for d in v.signs}  # left alone: no finding
    detections = _tracked(clip_, lambda d: id(d) not in signs)
    notes = (f"video:{clip_.frames}-frames:{float(clip_.fps):g}-fps", "audio-kept" if scrubber.policy.keep_audio
             and clip_.audio else "audio-dropped" if clip_.audio else "no-audio")

    def done(status, reasons, data=None) -> Result:
        timings["total"] = time.perf_counter() - t0
        return Result(name, status, tuple(dict.fromkeys(reasons)), detections, data=data, notes=notes,
                      timings={k: round(v, 4) for k, v in timings.items()}, **base)

    blocked = [(k, v) for k, v in verdicts.items() if v.status is Status.BLOCKED]
    if blocked:
        return done(Status.BLOCKED, [r for _, v in blocked for r in v.reasons] + [f"video:blocked-at-frame:{blocked[0][0]}"])
    plan = _Plan(clip_, verdicts, scrubber, settings)
    t = time.perf_counter()
    try:
        data = _encode(scrubber, path, plan, settings, lambda i: progress(clip_.frames + i, 2 * clip_.frames))
    except VideoUnreadable as err:
        return done(Status.BLOCKED, [err.reason])
    timings["redact+encode"] = time.perf_counter() - t
    problems = metadata_problems(data)
    if problems:
        return done(Status.BLOCKED, [f"metadata:{p}" for p in problems])
    reasons = [r for v in verdicts.values() for r in v.reasons] + (["blur:face"] if plan.any_face else [])
    notes = notes + (f"redacted-frames:{_ranges(plan.redacted)}",) if plan.redacted else notes
    if scrubber.policy.verify:
        t = time.perf_counter()
        residual = _verify(scrubber, path, data, plan, settings, timings,
                           lambda: progress(2 * clip_.frames, 2 * clip_.frames))
        timings["verify"] = time.perf_counter() - t
        if residual:
            return done(Status.BLOCKED, reasons + residual)
    status = Status.REDACTED if plan.redacted else Status.CLEAN
    return done(status, reasons, data)


# ---------------------------------------------------------------- decoding


@dataclass
class _Clip:
    format: str
    width: int  # upright
    height: int
    fps: Fraction
    frames: int
    audio: bool
    faces: dict[int, tuple[Detection, ...]]  # every frame's faces (the per-frame detector)
    found: dict[int, tuple[Detection, ...]]  # key frames: everything found
    errors: dict[int, tuple[str, ...]]

    @property
    def keys(self) -> list[int]:
        return sorted(self.found)


def _open(path: Path):
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise VideoUnreadable(f"not a readable video ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoUnreadable("the file holds no video stream")
    return container


def _frames(path: Path, policy) -> Iterator[np.ndarray]:
    """The clip's frames as upright RGB pixels."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.width * frame.height > policy.max_video_pixels:
                raise VideoUnreadable(f"{frame.width}x{frame.height} frames exceed the "
                                      f"{policy.max_video_pixels:,}-pixel limit", "too-large")
            yield _upright(_rgb(frame), getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError as err:
        raise VideoUnreadable(f"the video could not be decoded ({err})") from err
    finally:
        container.close()


def _rgb(frame) -> np.ndarray:
    """A decoded frame as RGB pixels: 4:2:0 frames (nearly every clip) converted by OpenCV,
    several times faster than PyAV's own conversion; anything else by PyAV."""
    import cv2

    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def _upright(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the stream's display rotation (degrees counter-clockwise) to the pixels."""
    turns = (round(rotation / 90) % 4)
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _detect(scrubber: "Scrubber", path: Path, settings: VideoSettings, timings: dict[str, float],
            progress: Callable[[int, int], None]) -> _Clip:
    import cv2

    policy = scrubber.policy
    container = _open(path)
    try:
        stream = container.streams.video[0]
        fmt = container.format.name.split(",")[0].upper()
        seconds = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1_000_000 if container.duration else 0.0)
        fps = Fraction(stream.average_rate or stream.guessed_rate or 30)
        audio = bool(container.streams.audio)
        expected = stream.frames or round(seconds * float(fps))
    except (ValueError, ZeroDivisionError) as err:
        raise VideoUnreadable(f"unreadable video headers ({err})") from err
    finally:
        container.close()
    if seconds > policy.max_video_seconds:
        raise VideoUnreadable(f"{seconds:.0f} s long: clips over {policy.max_video_seconds} s are not checked",
                              "video-too-long")
    per_frame = next(d for d in scrubber.detectors if d.name == FRAME_FACES).for_frames()
    faces: dict[int, tuple[Detection, ...]] = {}
    found: dict[int, tuple[Detection, ...]] = {}
    errors: dict[int, tuple[str, ...]] = {}
    last_key_sig, n = None, 0
    width = height = 0
    since: dict[int, np.ndarray] = {}  # the frames since the last key frame, for refining between them

    def key(i: int) -> None:
        found[i], errors[i] = scrubber.find(Frame(since[i]), timings)
        before = [k for k in found if k < i]
        if before:
            _refine(scrubber, since, found, errors, max(before), i, width, height, timings)

    for i, pixels in enumerate(_frames(path, policy)):
        if i >= policy.max_video_seconds * max(1, float(fps)) * 2:
            raise VideoUnreadable(f"more frames than {policy.max_video_seconds} s hold", "video-too-long")
        height, width = pixels.shape[:2]
        since[i] = pixels
        t = time.perf_counter()
        faces[i] = per_frame.detect(Frame(pixels, upright=True))
        timings["frame-faces"] = timings.get("frame-faces", 0.0) + time.perf_counter() - t
        sig = cv2.resize(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        changed = last_key_sig is not None and float(np.abs(sig - last_key_sig).mean()) > settings.scene_change
        if i % settings.key_every == 0 or changed:
            key(i)
            since = {i: pixels}
            last_key_sig = sig
        n = i + 1
        progress(n, 2 * max(expected, n))
    if n == 0:
        raise VideoUnreadable("the video holds no frames")
    if n - 1 not in found:
        key(n - 1)
    return _Clip(fmt, width, height, fps, n, audio, faces, found, errors)


def _refine(scrubber: "Scrubber", frames: dict[int, np.ndarray], found: dict, errors: dict, a: int, b: int,
            width: int, height: int, timings: dict[str, float]) -> None:
    """Key frames ``a`` and ``b`` redact different things (a monitor panned into view, a label
    turned away): the frame halfway between them becomes a key frame too, and so on, until
    neighbouring key frames agree or are next to each other. Then every frame between two key
    frames is covered by what they share, carried along (``_between``)."""
    if b - a < 2 or not _disagree(scrubber, found[a], found[b], width, height):
        return
    mid = (a + b) // 2
    found[mid], errors[mid] = scrubber.find(Frame(frames[mid]), timings)
    _refine(scrubber, frames, found, errors, a, mid, width, height, timings)
    _refine(scrubber, frames, found, errors, mid, b, width, height, timings)


def _disagree(scrubber: "Scrubber", first: tuple[Detection, ...], second: tuple[Detection, ...], width: int,
              height: int) -> bool:
    """Does either key frame redact something (not a face: faces are looked for on every
    frame) that the other has no counterpart for?"""
    def regions(found):
        return [r for r in decide(found, scrubber.policy, width, height).regions if r.kind is not Kind.FACE]

    one, two = regions(first), regions(second)
    return len(_between(tuple(one), tuple(two), 0.0, width, height)) < len(one) or \
        len(_between(tuple(two), tuple(one), 0.0, width, height)) < len(two)


# ---------------------------------------------------------------- what covers each frame


class _Plan:
    """The regions redacted on each frame."""

    def __init__(self, clip_: _Clip, verdicts: dict[int, Verdict], scrubber: "Scrubber", settings: VideoSettings):
        self.clip, self.verdicts, self.settings = clip_, verdicts, settings
        self.policy = scrubber.policy
        self.keys = clip_.keys
        self.any_face = False
        self._regions = [self._cover(i) for i in range(clip_.frames)]
        self.redacted: list[int] = [i for i, r in enumerate(self._regions) if r]

    def regions(self, i: int) -> tuple[Region, ...]:
        return self._regions[i]

    def track_ends(self) -> set[int]:
        """The frames just outside the hold over ``face_frames`` around where faces appear or
        vanish (as the per-frame detector saw them): where a face the detector picked up late
        or lost early would show first."""
        seen = [bool(self.clip.faces.get(i)) for i in range(self.clip.frames)]
        reach = self.settings.face_frames + 1
        ends = set()
        for i in range(1, len(seen)):
            if seen[i] != seen[i - 1]:  # a face vanishes after frame i - 1, or appears at frame i
                ends.add(i - 1 + reach if seen[i - 1] else i - reach)
        return {i for i in ends if 0 <= i < self.clip.frames}

    def _cover(self, i: int) -> tuple[Region, ...]:
        s, clip_ = self.settings, self.clip
        near = [d for j in range(max(0, i - s.face_frames), min(clip_.frames, i + s.face_frames + 1))
                for d in clip_.faces.get(j, ())]
        faces = decide(tuple(near), self.policy, clip_.width, clip_.height).regions if near else ()
        self.any_face = self.any_face or bool(faces)
        before = [k for k in self.keys if k <= i]
        after = [k for k in self.keys if k >= i]
        k0 = before[-1] if before else None
        k1 = after[0] if after else None
        out = list(faces)
        for k in {k0, k1} - {None}:
            out += self.verdicts[k].regions
        if k0 is not None and k1 is not None and k1 > k0:
            out += _between(self.verdicts[k0].regions, self.verdicts[k1].regions, (i - k0) / (k1 - k0),
                            clip_.width, clip_.height)
        for k in self.keys:  # the margin past a key frame: motion before the next one sees it
            if k not in (k0, k1) and abs(i - k) <= s.region_frames + s.key_every:
                out += self.verdicts[k].regions
        return tuple(out)


def _tracked(clip_: _Clip, keep: Callable[[Detection], bool]) -> tuple[Detection, ...]:
    """One detection per thing found on the key frames, however many key frames show it: a
    detection continues the one of the same kind and label on the key frame before that it
    overlaps or that lies within two of its sizes (it moved). Reports count things, not frames."""
    tracks: list[list[Detection]] = []
    for k in clip_.keys:
        open_ = list(tracks)
        for d in filter(keep, clip_.found[k]):
            match = next((t for t in open_ if t[-1].kind is d.kind and t[-1].label == d.label and (
                iou(t[-1].box, d.box) > 0.3 or _distance(t[-1].box, d.box) < 2 * max(d.box.width, d.box.height))), None)
            if match is None:
                tracks.append([d])
            else:
                match.append(d)
                open_.remove(match)
    return tuple(t[0] for t in tracks)


def _between(first: tuple[Region, ...], second: tuple[Region, ...], t: float, width: int,
             height: int) -> list[Region]:
    """Each region of ``first`` matched to the same kind's nearest region of ``second``, moved
    ``t`` of the way there (a box, grown to the larger of the two)."""
    out = []
    for a in first:
        same = [b for b in second if b.kind is a.kind and b.action is a.action]
        if not same:
            continue
        b = max(same, key=lambda r: (iou(a.box, r.box), -_distance(a.box, r.box)))
        if iou(a.box, b.box) == 0 and _distance(a.box, b.box) > 2 * max(a.box.width, a.box.height, 1):
            continue  # another thing, not this one moved
        w, h = max(a.box.width, b.box.width), max(a.box.height, b.box.height)
        cx = (a.box.x0 + a.box.x1) / 2 * (1 - t) + (b.box.x0 + b.box.x1) / 2 * t
        cy = (a.box.y0 + a.box.y1) / 2 * (1 - t) + (b.box.y0 + b.box.y1) / 2 * t
        box = clip(Box(int(cx - w / 2), int(cy - h / 2), int(cx + w / 2) + 1, int(cy + h / 2) + 1), width, height)
        if box.area:
            out.append(Region(box, a.action, ellipse=a.ellipse, kind=a.kind))
    return out


def _distance(a: Box, b: Box) -> float:
    return float(np.hypot((a.x0 + a.x1 - b.x0 - b.x1) / 2, (a.y0 + a.y1 - b.y0 - b.y1) / 2))


def _ranges(frames: list[int]) -> str:
    """``0-60,75-80``."""
    spans, start, prev = [], None, None
    for f in frames:
        if start is None:
            start = prev = f
        elif f == prev + 1:
            prev = f
        else:
            spans.append((start, prev))
            start = prev = f
    if start is not None:
        spans.append((start, prev))
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


# ---------------------------------------------------------------- encoding and verifying


def _encode(scrubber: "Scrubber", path: Path, plan: _Plan, settings: VideoSettings,
            written: Callable[[int], None]) -> bytes:
    import av
    import cv2

    from scrubber.redact import apply

    clip_ = plan.clip
    width, height = clip_.width + clip_.width % 2, clip_.height + clip_.height % 2  # yuv420p wants even sides
    buf = io.BytesIO()
    out = av.open(buf, "w", format="mp4")
    source = _open(path) if scrubber.policy.keep_audio and clip_.audio else None
    try:
        stream = out.add_stream("libx264", rate=clip_.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(settings.crf), "preset": settings.preset}
        stream.codec_context.thread_count = 1
        # every stream is added before the first packet is written (FFmpeg's muxer needs it)
        sound = (source.streams.audio[0], out.add_stream_from_template(source.streams.audio[0])) if source else None
        for i, pixels in enumerate(_frames(path, scrubber.policy)):
            if i >= clip_.frames:
                break
            regions = plan.regions(i)
            safe = apply(pixels, regions, scrubber.fill, scrubber.blur) if regions else pixels
            if safe.shape[:2] != (height, width):
                safe = np.pad(safe, ((0, height - safe.shape[0]), (0, width - safe.shape[1]), (0, 0)), mode="edge")
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(np.ascontiguousarray(safe), cv2.COLOR_RGB2YUV_I420),
                                               format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
            written(i + 1)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:  # the source's sound, packet for packet (no re-encoding)
            audio, target = sound
            for packet in source.demux(audio):
                if packet.dts is not None:
                    packet.stream = target
                    out.mux(packet)
    except av.error.FFmpegError as err:
        raise VideoUnreadable(f"the video could not be re-encoded ({err})") from err
    finally:
        out.close()
        if source is not None:
            source.close()
    return buf.getvalue()


def _verify(scrubber: "Scrubber", path: Path, data: bytes, plan: _Plan, settings: VideoSettings,
            timings: dict[str, float], checked: Callable[[], None]) -> list[str]:
    """Re-check the output's key frames and every ``verify_every``-th frame against the
    original's (``scrubber.verify``); the reasons of what is still there, with the frame."""
    import av

    from scrubber.verify import verify

    sampled = set(plan.keys) | set(range(0, plan.clip.frames, settings.verify_every)) | plan.track_ends()
    output = av.open(io.BytesIO(data))
    reasons: list[str] = []
    try:
        decoded = (_rgb(f) for f in output.decode(output.streams.video[0]))
        for i, (original, safe) in enumerate(zip(_frames(path, scrubber.policy), decoded)):
            if i not in sampled:
                continue
            safe = safe[: original.shape[0], : original.shape[1]]
            near = plan.keys[min(range(len(plan.keys)), key=lambda j: abs(plan.keys[j] - i))]
            residual = verify(scrubber, safe, plan.regions(i), timings, (), plan.clip.found[near], original)
            checked()
            if residual.reasons:
                reasons += list(residual.reasons) + [f"video:residual-at-frame:{i}"]
                break
    finally:
        output.close()
    return reasons


def metadata_problems(data: bytes) -> list[str]:
    """What an MP4 we wrote must not hold: a location, a creation time, a device or a title
    (the atoms and keys phones and cameras write)."""
    problems = []
    for needle, what in ((b"\xa9xyz", "location"), (b"loci", "location"), (b"com.apple.quicktime", "apple-keys"),
                         (b"\xa9mak", "make"), (b"\xa9mod", "model"), (b"\xa9nam", "title"), (b"\xa9day", "date")):
        if needle in data[:1 << 20] or needle in data[-(1 << 20):]:
            problems.append(what)
    moov = data.find(b"mvhd")
    if moov > 0:
        version = data[moov + 4]
        created = int.from_bytes(data[moov + 8 : moov + (16 if version else 12)], "big")
        if created:
            problems.append("creation-time")
    return problems
