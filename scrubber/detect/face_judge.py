"""A second opinion on the faces YuNet is unsure of: is it a person's face?

YuNet takes some animals for faces, at the scores it gives unsure human faces
(``bench/animals.py``). A face is judged when YuNet is unsure of it (``sure``), it is large
(``min_px``, and ``min_share`` of the picture's long side: a pet is the subject of its photo,
while a colleague in profile in a team photo is not judged) and sharp (``sharp_least``, detail against contrast: a blurred,
dark or enlarged face, which neither dlib detector below confirms, is not judged). It is a
person's face when any of these says so, cheapest first:

* **part of it is hidden**: a band along the bottom or a side of the box is flat (``flat``) or
  much flatter than the eyes' band (``hidden_ratio``): a mask, a hand, a clipboard, a shoulder.
  Detectors trained on whole faces cannot judge those;
* **dlib's HOG frontal detector** sees a face there (``hog_least``), the crop turned upright by
  up to 60 degrees;
* **dlib's MMOD CNN face detector** (``face_recognition_models``') sees one (``mmod_least``).
  It is the slowest, so it is asked last.

The figures behind each setting are in ``bench/README.md``. The judge runs wherever YuNet runs:
the first pass, the re-check of a safe copy, the consent roster, video frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scrubber.detection import Box
from scrubber.errors import DetectorFailed, ModelMissing


@dataclass(frozen=True)
class JudgeSettings:
    sure: float = 0.8  # YuNet at or above this needs no second opinion
    min_px: int = 48  # smaller boxes are faces: too small for either dlib detector
    # boxes a smaller share of the picture's long side are faces: a pet is the subject of its
    # photo, people in profile or looking down, whom neither dlib detector confirms, are part
    # of a scene
    min_share: float = 0.12
    sharp_least: float = 0.3  # less sharp boxes are faces (``FaceJudge.sharpness``)
    hog_least: float = -0.3  # HOG's score on the crop for a face
    mmod_least: float = 0.0  # MMOD's confidence on the crop for a face
    flat: float = 1.5  # mean grey step between neighbouring pixels of a 48-px box: an occluder
    hidden_ratio: float = 0.35  # a band this much flatter than the eyes' band is hidden


SIDE = 48  # the box is looked at in this many pixels a side for the hidden test
TILTS = (0, 30, -30, 60, -60)  # degrees a crop is turned for HOG, about its centre


def _turned(crop: np.ndarray, angle: float) -> np.ndarray:
    """``crop`` turned about its centre, same size (a face at its centre stays there)."""
    h, w = crop.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return np.ascontiguousarray(cv2.warpAffine(crop, m, (w, h), borderMode=cv2.BORDER_REPLICATE))


def _grey(pixels: np.ndarray, box: Box, side: int) -> np.ndarray:
    """The box in grey, ``side`` px square, as float."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels[box.y0:box.y1, box.x0:box.x1]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)


def _grey_steps(pixels: np.ndarray, box: Box) -> np.ndarray:
    """Mean absolute step between horizontal and vertical neighbours, per pixel, of the box
    seen at ``SIDE`` px."""
    g = _grey(pixels, box, SIDE)
    steps = np.zeros_like(g)
    steps[:, 1:] += np.abs(np.diff(g, axis=1))
    steps[1:, :] += np.abs(np.diff(g, axis=0))
    return steps


def _crop(pixels: np.ndarray, box: Box, face_px: int, margin: float) -> tuple[np.ndarray, float, int, int]:
    """The box with ``margin`` of its size around it, scaled so the box is ``face_px`` wide."""
    h, w = pixels.shape[:2]
    x0, y0 = max(0, int(box.x0 - margin * box.width)), max(0, int(box.y0 - margin * box.height))
    x1, y1 = min(w, int(box.x1 + margin * box.width)), min(h, int(box.y1 + margin * box.height))
    f = face_px / max(1, box.width)
    crop = cv2.resize(pixels[y0:y1, x0:x1], None, fx=f, fy=f,
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop), f, x0, y0


def _best_at(found, box: Box, f: float, x0: int, y0: int) -> float:
    """The best score of the (rect, score) pairs centred within half the box of its centre."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    scores = [s for r, s in found if abs(x0 + (r.left() + r.right()) / 2 / f - cx) < box.width / 2
              and abs(y0 + (r.top() + r.bottom()) / 2 / f - cy) < box.height / 2]
    return max(scores, default=float("-inf"))


class FaceJudge:
    def __init__(self, settings: JudgeSettings | None = None):
        from scrubber.detect.faces_dlib import dlib_module, load_hog

        self.settings = settings or JudgeSettings()
        dlib = dlib_module()
        self._hog = load_hog(dlib)
        try:
            import face_recognition_models

            self._mmod = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())
        except Exception as err:
            raise ModelMissing(f"dlib's MMOD face model could not load ({type(err).__name__}: {err})") from err

    def is_face(self, pixels: np.ndarray, box: Box, score: float) -> bool:
        """Whether a YuNet face of this score at ``box`` is a person's face (True when it is
        not judged at all)."""
        s = self.settings
        height, width = pixels.shape[:2]
        if (score >= s.sure or min(box.width, box.height) < s.min_px
                or max(box.width, box.height) < s.min_share * max(width, height)):
            return True
        try:
            return (self.sharpness(pixels, box) < s.sharp_least or self.hidden(pixels, box)
                    or self.hog(pixels, box) >= s.hog_least or self.mmod(pixels, box) >= s.mmod_least)
        except Exception as err:
            raise DetectorFailed(f"the face judge failed ({type(err).__name__}: {err})") from err

    @staticmethod
    def sharpness(pixels: np.ndarray, box: Box) -> float:
        """The spread of the box's Laplacian against the spread of its grey, at 96 px: high for
        fur and feathers, low for a blurred, dark or enlarged face."""
        g = _grey(pixels, box, 96)
        return float(cv2.Laplacian(g, cv2.CV_32F).std() / (g.std() + 1e-3))

    def hidden(self, pixels: np.ndarray, box: Box) -> bool:
        """A band along the bottom or a side of the box is flat, or much flatter than the
        eyes' band (a third of the way down)."""
        steps = _grey_steps(pixels, box)
        third, inner = SIDE // 3, slice(SIDE // 8, SIDE - SIDE // 8)
        eyes = float(steps[SIDE // 4 : SIDE // 2, inner].mean())
        bands = (steps[SIDE - SIDE // 4 :, inner], steps[inner, :third], steps[inner, SIDE - third :])
        s = self.settings
        return any(float(b.mean()) < max(s.flat, s.hidden_ratio * eyes) for b in bands)

    def hog(self, pixels: np.ndarray, box: Box) -> float:
        """The best HOG score at the box, the face brought to 100 and 140 px and turned
        upright by up to 60 degrees (HOG sees faces tilted up to ~15 degrees)."""
        best = float("-inf")
        for face_px in (100, 140):
            crop, f, x0, y0 = _crop(pixels, box, face_px, 0.6)
            for angle in TILTS:
                turned = crop if not angle else _turned(crop, angle)
                rects, scores, _ = self._hog.run(turned, 0, self.settings.hog_least - 1.0)
                best = max(best, _best_at(zip(rects, scores), box, f, x0, y0))
                if best >= self.settings.hog_least:
                    return best
        return best

    def mmod(self, pixels: np.ndarray, box: Box) -> float:
        crop, f, x0, y0 = _crop(pixels, box, 80, 0.4)
        return _best_at(((m.rect, m.confidence) for m in self._mmod(crop, 0)), box, f, x0, y0)
