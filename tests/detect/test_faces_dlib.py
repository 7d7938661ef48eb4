"""face_recognition / dlib HOG on real frontal faces."""

from tests.conftest import box_iou, frame_of, truth


def test_finds_the_large_frontal_faces(dlib_faces):
    dets = dlib_faces.detect(frame_of("group_photo.jpg"))
    faces = truth("group_photo.jpg")["faces"]
    big = [f for f in faces if f[3] - f[1] > 200]
    hits = [any(box_iou(d.box.as_tuple(), f) > 0.3 for d in dets) for f in big]
    assert sum(hits) >= 2  # HOG is frontal-only: the profile (camera) face may be missed; YuNet covers it


def test_face_in_heic_photo(dlib_faces):
    dets = dlib_faces.detect(frame_of("nurse_station.heic"))
    assert any(box_iou(d.box.as_tuple(), truth("nurse_station.heic")["faces"][0]) > 0.3 for d in dets)


def test_nothing_in_empty_room(dlib_faces):
    assert dlib_faces.detect(frame_of("empty_room.jpg")) == ()


def test_the_saved_detector_is_dlibs_own():
    """scrubber ships dlib's frontal face detector saved to a file (it loads 200x faster); it
    must find exactly what dlib.get_frontal_face_detector() finds, on every sample with faces."""
    import dlib
    import numpy as np

    from scrubber.detect.faces_dlib import SAVED
    from tests.conftest import rgb

    saved, own = dlib.fhog_object_detector(str(SAVED)), dlib.get_frontal_face_detector()
    for name in ("group_photo.jpg", "nurse_station.heic", "sideways_exif.jpg", "empty_room.jpg"):
        px = np.ascontiguousarray(rgb(name))
        rects = [[(r.left(), r.top(), r.right(), r.bottom()) for r in det(px, 0)] for det in (saved, own)]
        assert rects[0] == rects[1], name
    assert len(saved(np.ascontiguousarray(rgb("group_photo.jpg")), 0)) >= 2
