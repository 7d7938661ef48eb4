"""How small a face YuNet still finds in a 12-MP photo (the fine level's floor).

Six real faces (the four of ``sample_images/group_photo.jpg``, scikit-image's astronaut and
matplotlib's Grace Hopper), each cut with half a face of context around it, are shrunk to a
given height and pasted at three random places into the ``empty_room`` sample blown up to
4032x3024. ``faces-yunet`` runs on each photo as the pipeline runs it; a face counts as found
when a detection's box holds its centre. Printed per face height: found / placed, at the
pipeline's settings and, for comparison, with one threshold on every level.

Usage:  python bench/small_faces.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrubber.detect.faces_yunet import YuNetFaces, YuNetSettings  # noqa: E402
from scrubber.imageio import Frame, load  # noqa: E402

HEIGHTS = (36, 40, 44, 48, 56, 64)
# the pipeline's settings first, then one threshold on every level, for comparison
CONFIGS = {
    f"pipeline ({YuNetSettings().threshold:.2f}, small-face level {YuNetSettings().fine_threshold:.2f})": YuNetSettings(),
    **{f"threshold {t:.2f} on every level": YuNetSettings(threshold=t, fine_threshold=t) for t in (0.6, 0.5, 0.4)},
}


def sources() -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    import matplotlib
    import skimage.data

    group = load(ROOT / "sample_images" / "group_photo.jpg").frames[0].pixels
    truth = json.loads((ROOT / "sample_images" / "group_photo.truth.json").read_text())
    out = [(group, tuple(box)) for box in truth["faces"]]
    finder = YuNetFaces()
    hopper = load(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").frames[0].pixels
    for img in (skimage.data.astronaut(), hopper):
        face = max(finder.detect(Frame(np.ascontiguousarray(img))), key=lambda d: d.box.area)
        out.append((img, (face.box.x0, face.box.y0, face.box.x1, face.box.y1)))
    return out


def main() -> None:
    room = load(ROOT / "sample_images" / "empty_room.jpg").frames[0].pixels
    background = cv2.resize(room, (4032, 3024), interpolation=cv2.INTER_CUBIC)
    detectors = {label: YuNetFaces(settings) for label, settings in CONFIGS.items()}
    rng = np.random.default_rng(3)
    found = {label: {h: 0 for h in HEIGHTS} for label in CONFIGS}
    placed = {h: 0 for h in HEIGHTS}
    faces = sources()
    for height in HEIGHTS:
        for img, (x0, y0, x1, y1) in faces:
            m = (y1 - y0) // 2
            crop = img[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m]
            k = height / (y1 - y0)
            face = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            for _ in range(3):
                photo = background.copy()
                oy, ox = int(rng.integers(100, 2800)), int(rng.integers(100, 3800))
                photo[oy : oy + face.shape[0], ox : ox + face.shape[1]] = face
                cx, cy = ox + face.shape[1] / 2, oy + face.shape[0] / 2
                frame = Frame(photo)
                placed[height] += 1
                for label, det in detectors.items():
                    boxes = [d.box for d in det.detect(frame)]
                    found[label][height] += any(b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1 for b in boxes)
    print("| face height px (12-MP photo) | " + " | ".join(str(h) for h in HEIGHTS) + " |")
    print("|" + "---|" * (len(HEIGHTS) + 1))
    for label in CONFIGS:
        print(f"| {label} | " + " | ".join(f"{found[label][h]}/{placed[h]}" for h in HEIGHTS) + " |")


if __name__ == "__main__":
    main()
