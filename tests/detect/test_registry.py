import pytest

from scrubber.detect import registry
from scrubber.errors import UnknownDetector


def test_every_registered_detector_imports_and_names_itself():
    for name, cls in zip(registry.DETECTORS, registry.get(list(registry.DETECTORS))):
        assert cls.name == name and cls.version


def test_unknown_detector_lists_the_valid_names():
    with pytest.raises(UnknownDetector, match="valid: barcodes, faces-dlib"):
        registry.get(["faces-yunet", "screens-magic"])


def test_a_detector_listed_twice_is_refused():
    with pytest.raises(UnknownDetector, match="twice"):
        registry.get(["barcodes", "barcodes"])
