"""Explicit name -> detector class registry. No import-time scanning: a new detector is one
module, one test file and one line here. Detector modules import their heavy libraries
lazily in ``__init__`` so ``scrubber --help`` stays instant."""

from __future__ import annotations

import importlib
from typing import Protocol

from scrubber.detection import Detection
from scrubber.errors import UnknownDetector
from scrubber.imageio import Frame
from scrubber.registry import pick


class Detector(Protocol):
    """``detect(frame)``; a detector with ``needs_context = True`` is called after the others as
    ``detect(frame, found)`` with their detections (surfaces are built from text and barcodes)."""

    name: str
    version: str

    def detect(self, frame: Frame) -> tuple[Detection, ...]: ...


# name -> "module:Class" (imported on first use)
DETECTORS: dict[str, str] = {
    "faces-yunet": "scrubber.detect.faces_yunet:YuNetFaces",
    "faces-dlib": "scrubber.detect.faces_dlib:DlibFaces",
    "text-ocr": "scrubber.detect.text_ocr:TesseractText",
    "barcodes": "scrubber.detect.barcodes:Barcodes",
    "surfaces": "scrubber.detect.surfaces:Surfaces",  # needs_context: runs on the others' detections
}


def get(names: tuple[str, ...] | list[str]) -> list[type]:
    """Classes for ``names``, in order; unknown or repeated names stop the run here."""
    classes = []
    for spec in pick(names, DETECTORS, UnknownDetector, "detector"):
        module, cls = spec.split(":")
        classes.append(getattr(importlib.import_module(module), cls))
    return classes
