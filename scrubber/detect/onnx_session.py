"""The onnxruntime session every ONNX model here runs in: on the CPU, one thread (parallelism
comes from worker processes), quiet."""

from __future__ import annotations

from pathlib import Path

from scrubber.errors import ModelMissing


def session(model: Path | bytes, what: str):
    """An ``onnxruntime.InferenceSession`` for ``model`` (a file, or a serialised graph), or
    :class:`ModelMissing` naming ``what`` and why it could not load."""
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ModelMissing("onnxruntime is not installed: pip install onnxruntime") from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model) if isinstance(model, Path) else model, options,
                                    providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ModelMissing(f"{what} could not load ({type(err).__name__}: {err})") from err
