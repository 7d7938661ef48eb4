"""Explicit name -> detector class registry. No import-time scanning: a new detector is one
module, one test file and one line here. Detector modules import their heavy libraries
lazily in ``__init__`` so ``scrubber --help`` stays instant."""

from __future__ import annotations

import importlib
from typing import Protocol

from scrubber.detection import Detection, Kind
from scrubber.errors import UnknownDetector
from scrubber.imageio import Frame
from scrubber.registry import pick


class Detector(Protocol):
    """What every detector declares, and how the pipeline calls it.

    * ``kinds``: every ``Kind`` its ``detect`` may return; the re-check of a safe copy runs a
      detector only where one of its kinds was redacted.
    * ``needs_context``: called after the others as ``detect(frame, found)`` with their
      detections (surfaces are built from text and barcodes); otherwise ``detect(frame)``.
    * ``rereads``: it has ``reread(frame, quads) -> tuple[Detection, ...]``, which reads the
      given quadrilaterals of a safe copy again (the re-check's question: is any of the text
      a fill touched still readable?).
    """

    name: str
    version: str
    kinds: frozenset[Kind]
    needs_context: bool
    rereads: bool

    def detect(self, frame: Frame) -> tuple[Detection, ...]: ...


_DECLARED = ("name", "version", "kinds", "needs_context", "rereads")


# name -> "module:Class" (imported on first use)
DETECTORS: dict[str, str] = {
    "faces-yunet": "scrubber.detect.faces_yunet:YuNetFaces",
    "faces-dlib": "scrubber.detect.faces_dlib:DlibFaces",  # opt-in: not in the default policy
    "text-ocr": "scrubber.detect.text_ocr:TesseractText",
    "barcodes": "scrubber.detect.barcodes:Barcodes",
    "surfaces": "scrubber.detect.surfaces:Surfaces",
    "plates": "scrubber.detect.plates:Plates",
}


def get(names: tuple[str, ...] | list[str]) -> list[type]:
    """Classes for ``names``, in order; unknown or repeated names stop the run here, and so
    does a class that does not declare all of ``Detector``'s attributes."""
    classes = []
    for spec in pick(names, DETECTORS, UnknownDetector, "detector"):
        module, name = spec.split(":")
        cls = getattr(importlib.import_module(module), name)
        missing = [a for a in _DECLARED if not hasattr(cls, a)]
        if missing or not isinstance(cls.kinds, frozenset) or (cls.rereads and not hasattr(cls, "reread")):
            raise TypeError(f"{spec} does not declare the Detector protocol ({', '.join(missing) or 'kinds/reread'})")
        classes.append(cls)
    return classes
