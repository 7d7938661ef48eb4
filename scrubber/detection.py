"""The one value that flows through scrubber: a frozen, validated ``Detection``.

Every detector returns ``tuple[Detection, ...]`` in full-resolution pixel
coordinates of the oriented image that :func:`scrubber.imageio.load` returns.
Helpers are plain functions so that no stage needs to know another's internals.
"""

from __future__ import annotations


from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Iterable


class Kind(StrEnum):
    FACE = "face"
    SCREEN = "screen"
    DOCUMENT = "document"
    WHITEBOARD = "whiteboard"
    WRISTBAND = "wristband"
    BARCODE = "barcode"
    TEXT = "text"
    IDENTIFIER = "identifier"


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box, ``x0 <= x1`` and ``y0 <= y1``, in integer pixels (x1/y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            if not isinstance(getattr(self, name), int):
                raise TypeError(f"Box.{name} must be int, got {type(getattr(self, name)).__name__}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"inverted box {self.as_tuple()}")

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> "Box":
        return cls(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))


@dataclass(frozen=True, slots=True)
class Detection:
    kind: Kind
    box: Box
    score: float
    source: str
    label: str | None = None
    text: str | None = field(default=None, repr=False)  # in memory only; reports use mask_text()
    evidence: tuple[str, ...] = ()
    polygon: tuple[tuple[int, int], ...] | None = None
    line: tuple[int, ...] | None = None  # OCR line key for words (pass, block, paragraph, line)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):
            raise TypeError(f"kind must be a Kind, got {self.kind!r}")
        if not isinstance(self.box, Box):
            raise TypeError(f"box must be a Box, got {type(self.box).__name__}")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"score {self.score} outside [0, 1]")
        if not self.source:
            raise ValueError("source must name the detector or recognizer")


def mask_text(text: str | None) -> str:
    """``John Smith`` -> ``J*** S****``; digits keep no characters at all (``123-45`` -> ``***-**``)."""
    if not text:
        return ""
    out = []
    for token in text.split(" "):
        chars = []
        for i, ch in enumerate(token):
            if ch.isalnum():
                chars.append(ch if i == 0 and ch.isalpha() else "*")
            else:
                chars.append(ch)
        out.append("".join(chars))
    return " ".join(out)


def only(detections: Iterable[Detection], *kinds: Kind) -> tuple[Detection, ...]:
    return tuple(d for d in detections if d.kind in kinds)


def union(boxes: Iterable[Box]) -> Box:
    boxes = list(boxes)
    if not boxes:
        raise ValueError("union of no boxes")
    return Box(min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes))


def intersection_area(a: Box, b: Box) -> int:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0, w) * max(0, h)


def iou(a: Box, b: Box) -> float:
    inter = intersection_area(a, b)
    total = a.area + b.area - inter
    return inter / total if total else 0.0


def coverage(inner: Box, outer: Box) -> float:
    """Share of ``inner``'s area that lies inside ``outer``."""
    return intersection_area(inner, outer) / inner.area if inner.area else 1.0


def clip(box: Box, width: int, height: int) -> Box:
    x0 = min(max(box.x0, 0), width)
    y0 = min(max(box.y0, 0), height)
    return Box(x0, y0, max(x0, min(box.x1, width)), max(y0, min(box.y1, height)))


def grow(box: Box, fraction: float = 0.0, pixels: int = 0) -> Box:
    dx = int(box.width * fraction) + pixels
    dy = int(box.height * fraction) + pixels
    return Box(box.x0 - dx, box.y0 - dy, box.x1 + dx, box.y1 + dy)


def shift(det: Detection, dx: int, dy: int) -> Detection:
    """``det`` moved by (dx, dy): a detection made on a crop, in the whole image's pixels."""
    box = Box(det.box.x0 + dx, det.box.y0 + dy, det.box.x1 + dx, det.box.y1 + dy)
    polygon = tuple((x + dx, y + dy) for x, y in det.polygon) if det.polygon else det.polygon
    return replace(det, box=box, polygon=polygon)


def merge_overlapping(boxes: Iterable[Box]) -> list[Box]:
    """Replace every group of overlapping boxes by the box around the group."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for i, other in enumerate(out):
                if intersection_area(box, other) > 0:
                    out[i] = union((box, other))
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def face_groups(faces: Iterable[Detection]) -> list[list[Detection]]:
    """The face detections of one person together, each group's largest box first: boxes that
    overlap (IoU over 0.3, two detectors on one face) or lie mostly inside a larger one (a
    detector's second box inside a face) are one face."""
    groups: list[list[Detection]] = []
    for det in sorted(faces, key=lambda d: -d.box.area):
        for group in groups:
            if iou(group[0].box, det.box) > 0.3 or coverage(det.box, group[0].box) >= 0.7:
                group.append(det)
                break
        else:
            groups.append([det])
    return groups


def nms(detections: Iterable[Detection], threshold: float = 0.4, merge: bool = False,
        nested: float | None = None) -> tuple[Detection, ...]:
    """Keep the highest-scoring detection of each overlapping group (per kind). With ``merge``
    the kept box grows to cover the boxes it suppressed by IoU: two pyramid levels see one face
    at different extents, and the best-scoring box is not always the one that covers it all.
    With ``nested``, a box lying at least that share inside another (either way round) is
    suppressed too, whatever their IoU, and the kept box does not grow to it: a detector's
    second, smaller box inside one face, or a less sure box around a face and much besides (a
    turned pass can take a man's profile and the hair beside it for one face three times as
    wide)."""
    def overlapping(a: Box, b: Box) -> bool:
        return iou(a, b) >= threshold or nested is not None and max(coverage(a, b), coverage(b, a)) >= nested

    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        over = [i for i, k in enumerate(kept) if k.kind == det.kind and overlapping(k.box, det.box)]
        if not over:
            kept.append(det)
        elif merge and iou(kept[over[0]].box, det.box) >= threshold:
            k = kept[over[0]]
            kept[over[0]] = replace(k, box=union([k.box, det.box]))
    return tuple(kept)
