"""A second reader for the text lines Tesseract cannot read: PP-OCR's recogniser, run directly
with onnxruntime.

Tesseract reads most lines, but on photos it gives up on some that a person reads at once,
or reads them as nonsense: an accented word ("Théâtre"), a word in a stylised sign face
("EXIT"), a slanted wristband's "DOB: 12/26/1953". A line nobody reads comes back
``unreadable``, and a surface holding one is a record, filled whole; a line read as nonsense
hides its identifiers from the recognisers. ``text_ocr`` hands the lines no reading of
Tesseract's read well to this reader; what it reads surely (``LineReader.least``, the mean of
its characters' probabilities) is one more reading of the line, and goes to the identifier
recognisers like any other words.

The model, PP-OCRv6's "small" multilingual recogniser (``PP-OCRv6_rec_small.onnx``, 21 MB;
Latin letters with their accents, Chinese and Japanese), is PaddleOCR's as converted to ONNX
by RapidOCR, both Apache-2.0. It ships inside the ``rapidocr`` wheel (a dependency), read from
the installed package without importing it: nothing is downloaded. Its character list is in
the model's own metadata. The line is fed at 48 px high, normalised to [-1, 1]; the output is
one probability row per 8 input columns, decoded greedily (CTC: repeats merged, blanks
dropped), and each word's span runs from two rows before its first character's peak to three
after its last one's: a peak lies inside its letter, a letter is about three rows wide.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from scrubber.detect.onnx_session import session
from scrubber.errors import DetectorFailed, ModelMissing

MODEL = "models/PP-OCRv6_rec_small.onnx"  # inside the rapidocr package
HEIGHT = 48  # px the model reads a line at


def model_path() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / MODEL
        if path.is_file():
            return path
    raise ModelMissing(f"the second text reader's model is missing: rapidocr's {MODEL} (pip install rapidocr)")


class LineReader:
    """``read(crop)``: the words PP-OCR reads on one upright line crop (grey, dark on light)."""

    least = 0.8  # mean character probability of a line that counts as read

    def __init__(self, path: Path | None = None):
        self.path = path or model_path()
        self._session = session(self.path, f"text reader model {self.path.name}")
        characters = self._session.get_modelmeta().custom_metadata_map.get("character")
        if not characters:
            raise ModelMissing(f"text reader model {self.path.name} has no character list")
        characters = characters.split("\n")
        self._chars = ["", *characters, " "]  # 0 is CTC's blank; the last class is the space
        self._input = self._session.get_inputs()[0].name

    def read(self, crop: np.ndarray) -> tuple[list[tuple[str, float, int, int]], float]:
        """(words as (text, mean probability, x0, x1 in ``crop``'s columns), the mean
        probability of all characters read; 0.0 when nothing was read)."""
        import cv2

        h, w = crop.shape[:2]
        width = max(HEIGHT // 3, int(round(w * HEIGHT / max(1, h))))
        grey = cv2.resize(crop, (width, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR)
        blob = np.repeat((grey.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0))[None, None], 3, axis=1)
        try:
            probs = self._session.run(None, {self._input: blob})[0][0]
        except Exception as err:
            raise DetectorFailed(f"the second text reader failed ({type(err).__name__}: {err})") from err
        best, sure = probs.argmax(axis=1), probs.max(axis=1)
        # CTC: a character is where the best class changes to one that is not the blank
        peaks = np.flatnonzero((best != 0) & np.r_[True, best[1:] != best[:-1]])
        if not len(peaks):
            return [], 0.0
        step = w / len(probs)  # crop columns per output row
        words: list[tuple[str, float, int, int]] = []
        word: list[int] = []
        for t in [*peaks, None]:  # None ends the last word
            char = self._chars[best[t]] if t is not None and best[t] < len(self._chars) else " "
            if char.strip():
                word.append(t)
                continue
            if word:
                words.append(("".join(self._chars[best[k]] for k in word), float(sure[word].mean()),
                              int(max(0.0, (word[0] - 2) * step)), int(min(w, (word[-1] + 3) * step))))
            word = []
        return words, float(sure[peaks].mean())
