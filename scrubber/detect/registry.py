"""Explicit name -> detector class registry. No import-time scanning: a new detector is one
module, one test file and one line here. Detector modules import their heavy libraries
lazily in ``__init__`` so ``scrubber --help`` stays instant."""

from __future__ import annotations

import importlib
from typing import Protocol

from scrubber.detection import Detection
from scrubber.errors import UnknownDetector
from scrubber.imageio import Frame


class Detector(Protocol):
    name: str
    version: str

    def detect(self, frame: Frame) -> tuple[Detection, ...]: ...


# name -> "module:Class" (imported on first use)
DETECTORS: dict[str, str] = {
    "faces-yunet": "scrubber.detect.faces_yunet:YuNetFaces",
    "faces-dlib": "scrubber.detect.faces_dlib:DlibFaces",
    "text-ocr": "scrubber.detect.text_ocr:TesseractText",
    "barcodes": "scrubber.detect.barcodes:Barcodes",
}


def get(names: tuple[str, ...] | list[str]) -> list[type]:
    """Classes for ``names``, in order; unknown or repeated names stop the run here."""
    seen: set[str] = set()
    classes = []
    for name in names:
        if name not in DETECTORS:
            raise UnknownDetector(f"unknown detector '{name}' (valid: {', '.join(sorted(DETECTORS))})")
        if name in seen:
            raise UnknownDetector(f"detector '{name}' listed twice")
        seen.add(name)
        module, cls = DETECTORS[name].split(":")
        classes.append(getattr(importlib.import_module(module), cls))
    return classes
