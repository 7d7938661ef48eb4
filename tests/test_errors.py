import pytest

from scrubber import errors


@pytest.mark.parametrize(
    "cls, code",
    [
        (errors.PolicyError, 2),
        (errors.UnknownDetector, 2),
        (errors.UnknownIdentifier, 2),
        (errors.OutputExists, 2),
        (errors.DetectorFailed, 3),
        (errors.ImageUnreadable, 4),
        (errors.ImageTooLarge, 4),
        (errors.ModelMissing, 4),
        (errors.SaveFailed, 4),
    ],
)
def test_every_error_is_a_scrubber_error_with_the_documented_exit_code(cls, code):
    assert issubclass(cls, errors.ScrubberError)
    assert cls.exit_code == code


def test_detector_failed_carries_a_machine_readable_tag():
    err = errors.DetectorFailed("recognizer phi-mrn failed", tag="recognizer-error:phi-mrn")
    assert err.tag == "recognizer-error:phi-mrn"
    assert str(err) == "recognizer phi-mrn failed"
