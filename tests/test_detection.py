from contextlib import nullcontext as does_not_raise

import pytest

from scrubber.detection import (
    Box, Detection, Kind, clip, coverage, grow, iou, mask_text, nms, only, union,
)


@pytest.mark.parametrize(
    "args, expectation",
    [
        ((0, 0, 10, 10), does_not_raise()),
        ((5, 5, 5, 5), does_not_raise()),  # empty but valid
        ((10, 0, 0, 10), pytest.raises(ValueError)),  # inverted x
        ((0, 10, 10, 0), pytest.raises(ValueError)),  # inverted y
        ((0.5, 0, 10, 10), pytest.raises(TypeError)),  # floats are not pixels
    ],
)
def test_box_validation(args, expectation):
    with expectation:
        Box(*args)


@pytest.mark.parametrize(
    "kwargs, expectation",
    [
        (dict(kind=Kind.FACE, box=Box(0, 0, 1, 1), score=0.5, source="x"), does_not_raise()),
        (dict(kind=Kind.FACE, box=Box(0, 0, 1, 1), score=1.5, source="x"), pytest.raises(ValueError)),
        (dict(kind=Kind.FACE, box=Box(0, 0, 1, 1), score=-0.1, source="x"), pytest.raises(ValueError)),
        (dict(kind="face", box=Box(0, 0, 1, 1), score=0.5, source="x"), pytest.raises(TypeError)),
        (dict(kind=Kind.FACE, box=(0, 0, 1, 1), score=0.5, source="x"), pytest.raises(TypeError)),
        (dict(kind=Kind.FACE, box=Box(0, 0, 1, 1), score=0.5, source=""), pytest.raises(ValueError)),
    ],
)
def test_detection_validation(kwargs, expectation):
    with expectation:
        Detection(**kwargs)


def test_detection_is_frozen_and_hides_text_in_repr():
    d = Detection(Kind.IDENTIFIER, Box(0, 0, 1, 1), 0.9, "phi-name", label="NAME", text="John Smith")
    with pytest.raises(AttributeError):
        d.score = 0.1  # type: ignore[misc]
    assert "John" not in repr(d)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("John Smith", "J*** S****"),
        ("00734519", "********"),
        ("219-09-9999", "***-**-****"),
        ("s.oduya83@mailbox.org", "s.*******@*******.***"),
        (None, ""),
    ],
)
def test_mask_text_keeps_no_digits_and_one_letter_per_word(text, masked):
    assert mask_text(text) == masked


def test_geometry_helpers():
    a, b = Box(0, 0, 10, 10), Box(5, 5, 15, 15)
    assert union([a, b]) == Box(0, 0, 15, 15)
    assert iou(a, b) == pytest.approx(25 / 175)
    assert coverage(Box(0, 0, 5, 5), a) == 1.0
    assert clip(Box(-5, -5, 50, 50), 20, 10) == Box(0, 0, 20, 10)
    assert grow(Box(10, 10, 20, 20), 0.1, 1) == Box(8, 8, 22, 22)


def test_nms_keeps_best_per_kind_and_only_filters():
    f1 = Detection(Kind.FACE, Box(0, 0, 10, 10), 0.9, "a")
    f2 = Detection(Kind.FACE, Box(1, 1, 10, 10), 0.8, "b")
    t = Detection(Kind.TEXT, Box(0, 0, 10, 10), 0.7, "c")
    kept = nms([f1, f2, t])
    assert f1 in kept and t in kept and f2 not in kept
    assert only(kept, Kind.TEXT) == (t,)


def test_nms_with_merge_keeps_the_best_detection_grown_over_what_it_suppressed():
    """Two pyramid levels see one face: the best-scoring box cut off the forehead the other held
    (generated/019_people_12mp.jpg in the leak benchmark). Merged, nothing either saw is lost."""
    fine = Detection(Kind.FACE, Box(2747, 1451, 3165, 1953), 0.91, "y", evidence=("fine",))
    whole = Detection(Kind.FACE, Box(2722, 1394, 3158, 1970), 0.90, "y", evidence=("whole",))
    apart = Detection(Kind.FACE, Box(0, 0, 50, 50), 0.7, "y")
    text = Detection(Kind.TEXT, Box(2722, 1394, 3158, 1970), 0.95, "t")
    kept = nms([whole, fine, apart, text], 0.3, merge=True)
    faces = only(kept, Kind.FACE)
    assert len(faces) == 2 and apart in faces and text in kept
    best = next(d for d in faces if d is not apart)
    assert best.box == Box(2722, 1394, 3165, 1970) and best.score == 0.91 and best.evidence == ("fine",)
    assert nms([whole, fine], 0.3)[0].box == fine.box  # without merge the cut-off box is all that is left


def test_a_box_nested_in_another_face_is_the_same_face():
    """A head-and-shoulders portrait: YuNet's boxes at 0.95 and 0.73, the smaller inside the
    larger (IoU 0.2). With ``nested`` they are one face, as ``face_groups`` counts them."""
    from scrubber.detection import face_groups

    outer = Detection(Kind.FACE, Box(100, 100, 300, 340), 0.95, "y")
    inner = Detection(Kind.FACE, Box(160, 180, 250, 270), 0.73, "y")
    beside = Detection(Kind.FACE, Box(400, 100, 600, 340), 0.9, "y")
    assert len(nms([outer, inner, beside], 0.3)) == 3
    kept = nms([outer, inner, beside], 0.3, merge=True, nested=0.7)
    assert [d.box for d in kept] == [outer.box, beside.box]
    groups = sorted(([d.box for d in g] for g in face_groups([inner, beside, outer])), key=len)
    assert groups == [[beside.box], [outer.box, inner.box]]


def test_a_less_sure_box_around_a_face_does_not_swallow_it():
    """A turned pass's box (0.65) three times as wide as the face it holds (0.85, IoU 0.11):
    one face, kept at its own box. Grown to the union, the blur covered 38% of the photo."""
    face = Detection(Kind.FACE, Box(540, 462, 654, 652), 0.85, "y", evidence=("whole",))
    around = Detection(Kind.FACE, Box(466, 378, 1016, 720), 0.65, "y", evidence=("rot270",))
    assert nms([face, around], 0.3, merge=True, nested=0.7) == (face,)
