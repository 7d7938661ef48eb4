"""Typed errors. Library code raises these with one sentence naming the file and the cause;
only :mod:`scrubber.cli` turns them into a printed line and an exit code."""

from __future__ import annotations


class ScrubberError(Exception):
    """Base class. ``exit_code`` is what ``scrubber check`` exits with when this stops it."""

    exit_code = 4
    reason = "error"


class PolicyError(ScrubberError):
    exit_code = 2
    reason = "policy-error"


class ImageUnreadable(ScrubberError):
    exit_code = 4
    reason = "unreadable"


class ImageTooLarge(ImageUnreadable):
    reason = "too-large"


class ModelMissing(ScrubberError):
    exit_code = 4
    reason = "model-missing"


class OutputExists(ScrubberError):
    exit_code = 2
    reason = "output-exists"


class DetectorFailed(ScrubberError):
    exit_code = 3
    reason = "detector-error"

    def __init__(self, message: str, tag: str = "detector-error"):
        super().__init__(message)
        self.tag = tag  # machine-readable reason, e.g. "recognizer-error:phi-mrn"


class UnknownDetector(PolicyError):
    reason = "unknown-detector"


class UnknownIdentifier(PolicyError):
    reason = "unknown-identifier"


class SaveFailed(ScrubberError):
    exit_code = 4
    reason = "save-failed"


class ClusterUnreachable(ScrubberError):
    exit_code = 2
    reason = "cluster-unreachable"
