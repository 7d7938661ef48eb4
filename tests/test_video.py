"""Short clips, for real: PyAV decodes and encodes, YuNet runs on every frame, the whole
pipeline on key frames; faults are injected only to make the per-frame detector miss."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from scrubber.detect.faces_yunet import YuNetFaces
from scrubber.detection import Box, Detection, Kind
from scrubber.imageio import Frame
from scrubber.outputs import deliver
from scrubber.pipeline import Scrubber
from scrubber.policy import Policy, Status, Verdict
from scrubber.video import VideoSettings, metadata_problems, scrub
from tests.conftest import ROOT, SAMPLES

sys.path.insert(0, str(SAMPLES))
from clips import faces_passing, frames_of, moving_band, moving_face, rate_of, turning_label  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "ward-tour.mp4"
    return path, moving_face(path)


def _changed(before: np.ndarray, after: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(before[y0:y1, x0:x1].astype(int) - after[y0:y1, x0:x1].astype(int)).mean())


def test_a_clip_comes_out_redacted_at_its_rate_without_sound_or_metadata(scrubber, clip, tmp_path):
    path, truth = clip
    assert "location" in metadata_problems(path.read_bytes())  # the source carries a GPS location
    r = deliver(scrubber.process(path), tmp_path / "safe.mp4")
    assert r.status is Status.REDACTED and "blur:face" in r.reasons and "fill:identifier:MRN" in r.reasons
    assert "audio-dropped" in r.notes and "redacted-frames:0-59" in r.notes
    data = (tmp_path / "safe.mp4").read_bytes()
    assert metadata_problems(data) == [] and b"\xa9xyz" not in data and b"Ward tour" not in data
    with av.open(str(tmp_path / "safe.mp4")) as out:
        assert [s.type for s in out.streams] == ["video"]
        assert "location" not in out.metadata and "creation_time" not in out.metadata
    assert rate_of(tmp_path / "safe.mp4") == 30
    before, after = frames_of(path), frames_of(tmp_path / "safe.mp4")
    assert len(after) == len(before) == 60
    yunet = YuNetFaces()
    for i in range(0, 60, 7):
        assert _changed(before[i], after[i], truth[i]["face"]) > 20
        assert _changed(before[i], after[i], truth[i]["label"]) > 20
        assert yunet.detect(Frame(after[i])) == ()


def test_a_face_the_detector_misses_for_three_frames_is_still_covered(scrubber, clip, tmp_path):
    """The per-frame detector is made to miss frames 25-27 (and key frames are 100 apart, so
    only frames 0 and 59 run the whole pipeline): the face is blurred there all the same."""
    from unittest import mock

    path, truth = clip
    detector = next(d for d in scrubber.detectors if d.name == "faces-yunet")
    per_frame = detector.for_frames()  # the every-frame pass is this twin of the photo detector
    real = per_frame.detect
    calls = {"n": 0}

    def blind(frame, *args):
        calls["n"] += 1
        if calls["n"] - 1 in (25, 26, 27):
            return ()
        return real(frame, *args)

    with mock.patch.object(per_frame, "detect", blind), \
            mock.patch.object(detector, "for_frames", return_value=per_frame):
        r = scrub(scrubber, path, "ward-tour.mp4", VideoSettings(key_every=100))
    assert calls["n"] == 60 and r.status is Status.REDACTED
    out = tmp_path / "safe.mp4"
    out.write_bytes(r.data)
    before, after = frames_of(path), frames_of(out)
    for i in (24, 25, 26, 27, 28):
        assert _changed(before[i], after[i], truth[i]["face"]) > 20, i
        assert YuNetFaces().detect(Frame(after[i])) == ()


def test_sound_is_kept_only_when_asked(clip, tmp_path):
    path, _ = clip
    r = Scrubber(Policy.from_dict({"keep_audio": True})).process(path)
    assert r.status is Status.REDACTED and "audio-kept" in r.notes
    (tmp_path / "with-sound.mp4").write_bytes(r.data)
    with av.open(str(tmp_path / "with-sound.mp4")) as out:
        assert sorted(s.type for s in out.streams) == ["audio", "video"]
    assert metadata_problems(r.data) == []


def test_rotation_is_applied_to_the_pixels(scrubber, tmp_path):
    path = tmp_path / "portrait.mp4"
    moving_face(path, frames=12, size=(480, 320), face_px=120, label=False, audio=False, location=False,
                rotation=90)
    r = scrubber.process(path)
    assert r.status is Status.REDACTED and (r.width, r.height) == (320, 480)
    (tmp_path / "safe.mp4").write_bytes(r.data)
    with av.open(str(tmp_path / "safe.mp4")) as out:
        frame = next(out.decode(out.streams.video[0]))
        assert (frame.width, frame.height, frame.rotation) == (320, 480, 0)
    source = frames_of(path)[0]
    upright = np.rot90(source)  # the stream says: turn 90 degrees counter-clockwise
    shown = frames_of(tmp_path / "safe.mp4")[0]
    corner = (slice(0, 40), slice(0, 40))  # background, untouched by any redaction
    assert np.abs(shown[corner].astype(int) - upright[corner].astype(int)).mean() < 6


@pytest.mark.parametrize("damage", ["empty", "truncated", "not-a-video"])
def test_a_damaged_clip_is_blocked_with_one_line(clip, tmp_path, damage):
    path, _ = clip
    bad = tmp_path / "bad.mp4"
    data = path.read_bytes()
    bad.write_bytes({"empty": b"", "truncated": data[: len(data) // 3],
                     "not-a-video": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500}[damage])
    r = subprocess.run([sys.executable, "-m", "scrubber", "check", str(bad), "--out", str(tmp_path / "s.mp4")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 4 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("scrubber: error: ")
    assert not (tmp_path / "s.mp4").exists()


def test_a_clip_over_the_time_limit_is_blocked(clip):
    path, _ = clip
    r = Scrubber(Policy.from_dict({"max_video_seconds": 1})).process(path)
    assert r.status is Status.BLOCKED and r.reasons == ("video-too-long",) and "2 s long" in r.error


def test_scan_writes_a_clips_safe_copy_as_mp4(clip, tmp_path):
    from typer.testing import CliRunner

    from scrubber.cli import app

    path, _ = clip
    src = tmp_path / "in"
    src.mkdir()
    (src / "tour.MOV").write_bytes(path.read_bytes())
    r = CliRunner().invoke(app, ["scan", str(src), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "tour.mp4").exists()
    assert metadata_problems((tmp_path / "out" / "tour.mp4").read_bytes()) == []


def test_check_says_what_happened_to_the_sound(clip, tmp_path):
    from typer.testing import CliRunner

    from scrubber.cli import app

    path, _ = clip
    r = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "a.mp4")])
    assert r.exit_code == 0 and "The clip's sound was left out" in r.stdout
    r = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "b.mp4"), "--keep-audio"])
    assert r.exit_code == 0 and "The clip's sound was kept, as asked" in r.stdout
    r = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "c.jpg")])
    assert r.exit_code == 2 and "a clip's safe copy is an MP4" in r.stderr
    r = CliRunner().invoke(app, ["check", str(path)])  # nothing written: the hint names an MP4
    assert r.exit_code == 1 and "give --out SAFE.mp4 to write a redacted copy" in r.stderr


def test_watch_publishes_a_clips_safe_copy(clip, tmp_path):
    import os
    import time as time_

    from scrubber.watch import Watcher, WatchSettings

    path, _ = clip
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "tour.mov").write_bytes(path.read_bytes())
    os.utime(inbox / "tour.mov", (time_.time() - 60, time_.time() - 60))
    settings = WatchSettings(inbox, tmp_path / "ready", tmp_path / "hold", poll_s=0.05, min_age_s=0, settle_s=0)
    Watcher(settings, Policy()).run(once=True)
    (safe,) = (tmp_path / "ready").iterdir()
    assert safe.name == "tour.mp4" and metadata_problems(safe.read_bytes()) == []
    assert len(frames_of(safe)) == 60


def test_progress_is_told_of_every_frame_scanned_and_written(scrubber, clip):
    path, _ = clip
    seen = []
    r = scrubber.process(path, progress=lambda done, total: seen.append((done, total)))
    assert r.status is Status.REDACTED
    done = [d for d, _ in seen]
    assert done[:120] == list(range(1, 121)) and {t for _, t in seen} == {120}
    assert set(done[120:]) == {120}  # the re-check's frames: still moving, nothing more to count


def test_the_frames_where_a_face_appears_or_vanishes_are_re_checked(tmp_path):
    """A face on frames 10-20 only: the re-check samples the frames just past the hold's ends."""
    from scrubber.video import _Clip, _Plan

    face = Detection(Kind.FACE, Box(10, 10, 60, 70), 0.9, "faces-yunet")
    clip_ = _Clip("MP4", 320, 240, 30, 40, False, {i: (face,) if 10 <= i <= 20 else () for i in range(40)},
                  {0: (), 39: ()}, {0: (), 39: ()})
    plan = _Plan(clip_, {0: Verdict(Status.CLEAN, (), ()), 39: Verdict(Status.CLEAN, (), ())}, Scrubber(Policy()),
                 VideoSettings())
    assert plan.track_ends() == {4, 26}  # the hold covers frames 5-25
    assert not plan.regions(4) and plan.regions(5) and plan.regions(25) and not plan.regions(26)


def test_a_clip_is_told_from_a_heic_or_avif_photo_by_its_bytes(clip, tmp_path):
    from scrubber.video import is_video

    path, _ = clip
    named_jpg = tmp_path / "clip.jpg"
    named_jpg.write_bytes(path.read_bytes())
    assert is_video(path) and is_video(named_jpg)
    assert not is_video(SAMPLES / "nurse_station.heic") and not is_video(SAMPLES / "group_photo.jpg")
    avif = tmp_path / "x.avif"
    avif.write_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00" + b"\x00" * 64)
    assert not is_video(avif)


def test_a_clip_longer_than_the_time_limit_finishes_while_it_moves(clip):
    """The per-file limit is on time without progress: a clip whose scan takes longer than
    the limit, frame after frame, is not stopped for its length."""
    from scrubber.workers import Job, Pool

    path, _ = clip
    with Pool(Policy(), 1, timeout_s=2.5) as pool:
        r = pool.submit(Job(str(path))).result()
    assert r.status is Status.REDACTED, r.reasons
    assert r.timings["total"] > 2.5  # longer than the limit, finished all the same


def test_a_wristband_on_a_moving_arm_is_filled_on_every_frame(scrubber, tmp_path):
    """The band swings across the frame turning from -35 to 35 degrees: its name, MRN, DOB and
    barcode are under fill on every frame, and no frame's barcode decodes."""
    import zxingcpp

    src = tmp_path / "band.mov"
    truth = moving_band(src, frames=30, size=(960, 540))
    r = deliver(scrubber.process(src), tmp_path / "band-safe.mp4")
    assert r.status is Status.REDACTED
    before, after = frames_of(src), frames_of(tmp_path / "band-safe.mp4")
    assert any(res.text == "00482913" for res in zxingcpp.read_barcodes(before[15]))
    for i, t in enumerate(truth):
        assert _changed(before[i], after[i], t["band"]) > 40, f"frame {i}"
        assert not zxingcpp.read_barcodes(after[i]), f"frame {i}"


def test_faces_entering_and_leaving_are_blurred_while_half_in_view(scrubber, tmp_path):
    src = tmp_path / "passing.mov"
    truth = faces_passing(src, frames=40, size=(960, 540), face_px=150)
    r = deliver(scrubber.process(src), tmp_path / "passing-safe.mp4")
    assert r.status is Status.REDACTED and "blur:face" in r.reasons
    before, after = frames_of(src), frames_of(tmp_path / "passing-safe.mp4")
    shown = [(i, f) for i, t in enumerate(truth) for f in t["faces"] if f[2] - f[0] >= t["face_px"] // 2]
    assert len(shown) > 40
    assert [(i, f) for i, f in shown if _changed(before[i], after[i], f) < 20] == []


def test_a_label_turning_is_filled_while_it_can_be_read(scrubber, tmp_path):
    """A label on a tube turning about its axis, face on to a sliver and back: filled on every
    frame where it is half its width or more (from there to a sliver nobody reads it)."""
    src = tmp_path / "label.mov"
    truth = turning_label(src, frames=30, size=(960, 540))
    r = deliver(scrubber.process(src), tmp_path / "label-safe.mp4")
    assert r.status is Status.REDACTED
    before, after = frames_of(src), frames_of(tmp_path / "label-safe.mp4")
    wide = [i for i, t in enumerate(truth) if t["squeeze"] >= 0.5]
    assert wide and [i for i in wide if _changed(before[i], after[i], truth[i]["label"]) < 40] == []


def _transcode(src, dst, codec: str, container: str) -> None:
    """``src``'s frames re-encoded with ``codec`` in ``container``, as a phone or a browser
    would write them (VP9 in WebM, AV1 and HEVC in MP4)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate_of(src))
        first = True
        for frame in inp.decode(video=0):
            if first:
                stream.width, stream.height, stream.pix_fmt, first = frame.width, frame.height, "yuv420p", False
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("codec, container, name, format", [("libvpx-vp9", "webm", "tour.webm", "vp9"),
                                                             ("libsvtav1", "mp4", "tour-av1.mp4", "av1"),
                                                             ("libx265", "mp4", "tour-hevc.mp4", "hevc")])
def test_vp9_in_webm_av1_and_hevc_clips_are_scrubbed(scrubber, clip, tmp_path, codec, container, name, format):
    path, truth = clip
    src = tmp_path / name
    _transcode(path, src, codec, container)
    with av.open(str(src)) as c:
        decoder = c.streams.video[0].codec_context
        assert format in f"{decoder.name} {decoder.codec.long_name}".lower()
    r = deliver(scrubber.process(src), tmp_path / "safe.mp4")
    assert r.status is Status.REDACTED and "blur:face" in r.reasons and "fill:identifier:MRN" in r.reasons
    with av.open(str(tmp_path / "safe.mp4")) as out:
        assert out.streams.video[0].codec_context.name == "h264"
    before, after = frames_of(src), frames_of(tmp_path / "safe.mp4")
    assert len(after) == len(before) == 60
    for i in range(0, 60, 7):
        assert _changed(before[i], after[i], truth[i]["face"]) > 20
        assert _changed(before[i], after[i], truth[i]["label"]) > 20


def test_a_small_profile_in_a_1080p_clip_is_blurred_on_every_frame(scrubber, tmp_path):
    """The every-frame face pass of a 1080p clip skips the small-face level (it would cost 1.6 s
    per second of clip); the key frames run it and find scikit-image's cameraman in profile,
    his face ~35 px, walking slowly across the frame: what they find covers the frames between."""
    import cv2
    import skimage.data

    sys.path.insert(0, str(SAMPLES))
    from clips import _Writer

    cameraman = cv2.resize(cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB), (240, 240),
                           interpolation=cv2.INTER_AREA)
    path, heads = tmp_path / "corridor.mov", []
    writer = _Writer(path, (1920, 1080), 30)
    for i in range(30):
        px = np.full((1080, 1920, 3), 190, np.uint8)
        x = 600 + 2 * i
        px[400:640, x : x + 240] = cameraman
        heads.append((x + 60, 430, x + 180, 520))  # his head
        writer.add(px)
    writer.close()
    frame = frames_of(path)[15]
    per_frame = next(d for d in scrubber.detectors if d.name == "faces-yunet").for_frames()
    assert not [d for d in per_frame.detect(Frame(frame, upright=True)) if d.box.x0 < 900]  # the pass misses him
    r = deliver(scrubber.process(path), tmp_path / "safe.mp4")
    assert r.status is Status.REDACTED and "blur:face" in r.reasons
    before, after = frames_of(path), frames_of(tmp_path / "safe.mp4")
    for i, (x0, y0, x1, y1) in enumerate(heads):
        assert _changed(before[i], after[i], (x0 + 30, y0 + 20, x1 - 30, y1 - 10)) > 20, i
