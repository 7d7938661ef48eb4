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


def test_every_detector_declares_what_it_returns_and_only_returns_that(scrubber):
    from scrubber.detection import Kind
    from tests.conftest import frame_of

    classes = registry.get(list(registry.DETECTORS))
    assert [c.name for c in classes if c.needs_context] == ["surfaces"]
    assert [c.name for c in classes if c.rereads] == ["text-ocr"]
    declared = {c.name: c.kinds for c in classes}
    assert declared["text-ocr"] == {Kind.TEXT} and Kind.WRISTBAND in declared["surfaces"]
    for name in ("monitor_patient_list.jpg", "wristband.jpg", "group_photo.jpg"):
        found, _ = scrubber.find(frame_of(name), {})
        for det in found:
            if det.kind is not Kind.IDENTIFIER:  # identifiers come from the recognizers
                assert det.kind in declared[det.source], (name, det.source, det.kind)


def test_a_detector_that_does_not_declare_its_kinds_is_refused(monkeypatch):
    import types

    module = types.ModuleType("scrubber_test_detector")

    class Bare:
        name, version, needs_context, rereads = "bare", "1", False, False

        def detect(self, frame):
            return ()

    module.Bare = Bare
    monkeypatch.setitem(__import__("sys").modules, "scrubber_test_detector", module)
    monkeypatch.setitem(registry.DETECTORS, "bare", "scrubber_test_detector:Bare")
    with pytest.raises(TypeError, match="kinds"):
        registry.get(["bare"])
