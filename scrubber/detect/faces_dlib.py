"""Faces with dlib's HOG frontal-face detector, the detector behind ``face_recognition``'s
``face_locations(model="hog")``, called directly: importing ``face_recognition`` loads all its
models (1.5 s here) though detection needs none of them; it is imported only to encode faces
for the consent roster (``scrubber.consent``). HOG is frontal-only and needs faces of ~80 px; it
runs at ``side`` pixels without upsampling, a second opinion on large frontal faces; YuNet
covers small, profile and rotated faces. Of the 104 labelled faces of the generated leak
benchmark YuNet found all 104 (session 6 scan), HOG 71 at 1600 px, 68 at 1280 and 56 at 1024 px,
none that YuNet missed, in 0.196, 0.122 and 0.075 s per 12-MP photo: hence 1024 px (one
upsample at 1280 found fewer than 1600 px in three times the time). Both run and their boxes
are merged by the policy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


# dlib's frontal face detector (Boost licence), saved with ``detector.save()``: it loads in
# 2 ms, where ``get_frontal_face_detector()`` parses its built-in text copy in 0.4-0.6 s at
# every start. tests/detect/test_faces_dlib.py checks the file against dlib's own detector.
SAVED = Path(__file__).parent / "models" / "dlib_frontal_face_hog.svm"


def dlib_module():
    """The ``dlib`` module, or ``ModelMissing`` saying how to install it."""
    try:
        import dlib
    except ImportError as err:
        raise ModelMissing("dlib is missing: pip install dlib-bin") from err
    return dlib


def load_hog(dlib):
    """dlib's HOG frontal-face detector, from the saved file (or dlib's own copy)."""
    try:
        return dlib.fhog_object_detector(str(SAVED))
    except Exception:  # missing, or a dlib that reads another format: the slow way
        return dlib.get_frontal_face_detector()


@dataclass(frozen=True)
class DlibSettings:
    side: int = 1024
    upsample: int = 0


class DlibFaces:
    name = "faces-dlib"
    version = "dlib-hog/20"
    kinds = frozenset({Kind.FACE})
    needs_context = False
    rereads = False

    def __init__(self, settings: DlibSettings | None = None):
        self.settings = settings or DlibSettings()
        self._detector = load_hog(dlib_module())

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        small, back = frame.resized(self.settings.side)
        try:
            rects = self._detector(np.ascontiguousarray(small), self.settings.upsample)
        except Exception as err:
            raise DetectorFailed(f"dlib HOG failed ({type(err).__name__}: {err})") from err
        out = []
        for r in rects:
            box = clip(Box(int(r.left() * back), int(r.top() * back), int(r.right() * back) + 1,
                           int(r.bottom() * back) + 1), frame.width, frame.height)
            if box.area:
                out.append(Detection(Kind.FACE, box, 0.9, self.name))
        return tuple(out)
