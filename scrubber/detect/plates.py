"""Licence plates by their look, with the ``platedet`` wheel's detector (a YOLOv8 segmentation
network trained on photographs of cars, shipped in that wheel as ``artifacts/platedet.onnx``;
nothing is downloaded), run with onnxruntime.

The text reader finds a plate only when it can read it: a plate seen small, blurred or at an
angle (a car park photographed past the clinic's sign) is a row of letters no OCR reads, and
a person still does. The network sees plates whatever they say. It is opt-in (add ``plates``
to the policy's ``detectors``): one pass costs about 0.4 s on one core whatever the photo's
size, more than the whole budget left for a 12-MP photo (``bench/README.md``).

Decoding, as YOLOv8 exports it: the frame letterboxed into the network's 640 x 640 input
(grey 114 padding, RGB, 0-1); output ``(1, 37, 8400)``: box centre, size and the plate score
per anchor (the 32 mask coefficients and the mask prototypes are not needed for a box);
greedy NMS. A plate comes back as an ``identifier`` labelled ``PLATE`` and is filled.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scrubber.detection import Box, Detection, Kind, clip, grow, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class PlateSettings:
    # keeps the realset clip's plate (0.55); a sign scored 0.54 passes too (``bench/README.md``)
    threshold: float = 0.5
    min_side: float = 8.0  # px on the network's input: a smaller box is no plate anyone reads
    iou: float = 0.45
    margin: float = 0.15  # grown around the box: the plate's frame and screws, a few pixels of slant


def model_path() -> Path:
    spec = importlib.util.find_spec("platedet")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("the plate detector's model is not installed: pip install --no-deps platedet")
    path = Path(next(iter(spec.submodule_search_locations))) / "artifacts" / "platedet.onnx"
    if not path.is_file():
        raise ModelMissing(f"{path}: the plate detector's model is missing (reinstall platedet)")
    return path


class Plates:
    name = "plates"
    version = "platedet-0.0.2/1"
    kinds = frozenset({Kind.IDENTIFIER})
    needs_context = False
    rereads = False

    def __init__(self, settings: PlateSettings | None = None, path: Path | None = None):
        import onnxruntime

        self.settings = settings or PlateSettings()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path or model_path()), options,
                                                     providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._input, self._side = inp.name, int(inp.shape[-1])
        self._dtype = np.float16 if "float16" in inp.type else np.float32

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        import cv2

        s, side = self.settings, self._side
        rgb, back = frame.resized(side)
        h, w = rgb.shape[:2]
        k = side / max(h, w)  # enlarges a frame smaller than the input
        if k != 1.0:
            rgb = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_LINEAR)
        top, left = (side - rgb.shape[0]) // 2, (side - rgb.shape[1]) // 2
        canvas = np.full((side, side, 3), 114, np.uint8)
        canvas[top : top + rgb.shape[0], left : left + rgb.shape[1]] = rgb
        blob = (canvas.transpose(2, 0, 1)[None] / 255.0).astype(self._dtype)
        try:
            out = self._session.run(None, {self._input: blob})[0][0].astype(np.float32)
        except Exception as err:  # fail closed: the pipeline blocks on a detector that cannot run
            raise DetectorFailed(f"plate detector failed: {err}", tag="detector-error:plates") from err
        cx, cy, bw, bh, score = out[0], out[1], out[2], out[3], out[4]
        keep = (score >= s.threshold) & (np.minimum(bw, bh) >= s.min_side)
        scale = back / k  # network input pixels -> full resolution
        found = []
        for x, y, pw, ph, p in zip(cx[keep], cy[keep], bw[keep], bh[keep], score[keep]):
            x0, y0 = (x - pw / 2 - left) * scale, (y - ph / 2 - top) * scale
            box = Box(int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x0 + pw * scale)),
                      int(np.ceil(y0 + ph * scale)))
            box = clip(grow(box, s.margin), frame.width, frame.height)
            if box.area:
                found.append(Detection(Kind.IDENTIFIER, box, round(float(p), 3), self.name, label="PLATE",
                                       evidence=("plate-shape",)))
        return nms(tuple(found), s.iou)
