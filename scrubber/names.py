"""File and folder names are PHI too: ``Smith_John_MRN00482913_DOB1984-07-22.jpg``.

``NameScreen.screen(relpath)`` splits every path component into words (at ``_ - . +`` and
spaces, between letters and digits, at lower-to-upper case changes), runs the identifier
recognizers over them as over one OCR line, and adds two rules that only hold for names:
two adjacent words that are a first name and a surname from the census lists, in either
order, are a person's name; a run of seven or more digits that is not a camera's date or
time (``IMG_20240501_123456``) is a record number. It returns a :class:`SafeName`:

* ``display``: what reports, logs, pages and the progress line show; a component holding an
  identifier is masked (``S**** J*** MRN******** ...``), and every character that could forge
  a log line or change a terminal (control characters, undecodable bytes) is escaped.
* ``relpath(sha256, ext)``: the relative path a safe copy is published under; a file name
  holding an identifier becomes ``photo-<first 12 hex of the photo's SHA-256><ext>``, a folder
  name ``folder-<first 12 hex of the SHA-256 of its name>``, both stable across runs. Names
  with undecodable bytes or control characters are treated the same way.

``keep_file_names = true`` in the policy keeps names as they are (for folders known to be
safe); the display form is still escaped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from scrubber.detection import mask_text

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
# camera and phone names: IMG_20240501_123456, PXL_20240501_123456789, 20240501_123456
_CAMERA_DATE = re.compile(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_CAMERA_TIME = re.compile(r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d\d{0,3}")


def escape(text: str) -> str:
    """``text`` safe for one log line, a terminal and a UTF-8 file: undecodable bytes (held as
    surrogates by ``os.fsdecode``) become ``\\xNN``, control and format characters ``\\uNNNN``."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _printable(text: str) -> bool:
    return escape(text) == text


@dataclass(frozen=True)
class SafeName:
    display: str  # masked and escaped: the only form reports, logs and pages show
    parts: tuple[tuple[str, bool], ...]  # (component, holds an identifier or is not printable)

    @property
    def neutral_file(self) -> bool:
        """The file name itself is published under a neutral name."""
        return bool(self.parts) and self.parts[-1][1]

    def relpath(self, sha256: str | None, ext: str | None = None) -> str:
        """The relative path a safe copy of this file is published under (``ext`` replaces the
        file's extension)."""
        out = []
        last = len(self.parts) - 1
        for i, (part, flagged) in enumerate(self.parts):
            if i == last:
                suffix = ext if ext is not None else PurePosixPath(part).suffix
                stem = PurePosixPath(part).stem if PurePosixPath(part).suffix else part
                if flagged:
                    stem = f"photo-{(sha256 or hashlib.sha256(part.encode('utf-8', 'surrogateescape')).hexdigest())[:12]}"
                out.append(stem + suffix)
            else:
                out.append(f"folder-{hashlib.sha256(part.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}"
                           if flagged else part)
        return "/".join(out)


class NameScreen:
    """Screens path components with the policy's identifier recognizers (built once)."""

    def __init__(self, identifiers: tuple[str, ...], threshold: float = 0.5, allowlist: tuple[str, ...] = (),
                 keep: bool = False):
        from scrubber.phi import registry

        self.keep = keep
        self.recognizers = registry.get(identifiers)
        self.settings = registry.AnalyzerSettings(threshold, allowlist)
        self.names = "name" in identifiers

    @classmethod
    def for_policy(cls, policy) -> "NameScreen":
        return cls(policy.identifiers, policy.threshold, policy.allowlist, policy.keep_file_names)

    def screen(self, relpath: str) -> SafeName:
        parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
        if self.keep:
            return SafeName("/".join(escape(p) for p in parts), tuple((p, not _printable(p)) for p in parts))
        judged = []
        shown = []
        for i, part in enumerate(parts):
            is_file = i == len(parts) - 1
            stem, suffix = (part, "")
            if is_file and PurePosixPath(part).suffix:
                stem, suffix = PurePosixPath(part).stem, PurePosixPath(part).suffix
            spans = self.identifiers_in(stem)
            flagged = bool(spans) or not _printable(part)
            judged.append((part, flagged))
            shown.append(escape(_masked(stem, spans) + suffix) if spans else escape(part))
        return SafeName("/".join(shown), tuple(judged))

    def identifiers_in(self, stem: str) -> list[tuple[int, int]]:
        """Character spans of ``stem`` that hold an identifier."""
        from scrubber.phi.context import enhance, has_context

        words, starts = _words(stem)
        text = " ".join(words)
        offsets = []  # text offset -> stem offset
        for w, s in zip(words, starts):
            offsets.extend(range(s, s + len(w)))
            offsets.append(s + len(w))
        found: list[tuple[int, int]] = []

        def add(a: int, b: int) -> None:
            if b > a:
                found.append((offsets[a], offsets[b - 1] + 1))

        from scrubber.phi.pattern import normalise

        allowed = {normalise(a) for a in self.settings.allowlist}
        camera = _camera_spans(words, starts)
        raw = stem.replace("_", " ")  # the name's own punctuation ("Okafor, Ngozi", e-mail), same offsets
        for line, on_words in ((raw, False), (text, True)):
            for rec in self.recognizers:
                for m in rec.analyze(line):
                    score = m.score
                    if not on_words and "pattern:last-first:0" in m.evidence:
                        score = max(score, self.settings.threshold)  # "Okafor, Ngozi" as a file name
                    if has_context(rec.CONTEXT, line[: m.start], ""):
                        score = enhance(score)
                    if score < self.settings.threshold or normalise(line[m.start : m.end]) in allowed:
                        continue
                    if on_words:
                        add(m.start, m.end)
                    else:
                        found.append((m.start, m.end))
        if self.names:
            from scrubber.phi.names import _is_common, _is_first, _is_last

            spans = _spans(words)
            for (a, w1), (b, w2) in zip(zip(spans, words), zip(spans[1:], words[1:])):
                if w1.isalpha() and w2.isalpha() and not (_is_common(w1) or _is_common(w2)) and (
                        _is_first(w1) and _is_last(w2) or _is_last(w1) and _is_first(w2)):
                    add(a[0], b[1])
        for word, (a, b) in zip(words, _spans(words)):
            if word.isdigit() and len(word) >= 7:
                add(a, b)
        # a camera's date and time stamp is not about a person
        return sorted({(a, b) for a, b in found if not any(c <= a and b <= d for c, d in camera)})


def _spans(words: list[str]) -> list[tuple[int, int]]:
    """Where each word lies in ``" ".join(words)``."""
    out, pos = [], 0
    for w in words:
        out.append((pos, pos + len(w)))
        pos += len(w) + 1
    return out


def _words(stem: str) -> tuple[list[str], list[int]]:
    """Words of a name and where each starts in it."""
    words, starts = [], []
    for m in re.finditer(r"[^_\-.+\s,;()\[\]{}]+", stem):
        piece, base = m.group(), m.start()
        cuts = [0] + [c.start() for c in _CAMEL.finditer(piece)] + [len(piece)]
        for a, b in zip(cuts, cuts[1:]):
            if b > a:
                words.append(piece[a:b])
                starts.append(base + a)
    # keep a date's separators: "1984-07-22" is one word for the date recognizer
    merged_w, merged_s = [], []
    for w, s in zip(words, starts):
        if merged_w and w.isdigit() and merged_w[-1][-1:].isdigit() and s - (merged_s[-1] + len(merged_w[-1])) == 1 \
                and stem[s - 1] in "-./":
            merged_w[-1] = merged_w[-1] + stem[s - 1] + w
        else:
            merged_w.append(w)
            merged_s.append(s)
    return merged_w, merged_s


def _camera_spans(words: list[str], starts: list[int]) -> list[tuple[int, int]]:
    """Where a name holds a camera's date and time stamp (in the name's offsets)."""
    out, after_date = [], False
    for w, s in zip(words, starts):
        stamp = w.isdigit() and _camera_stamp(w, after_date)
        if stamp:
            out.append((s, s + len(w)))
        after_date = stamp and bool(_CAMERA_DATE.fullmatch(w[:8]))
    return out


def _camera_stamp(run: str, after_date: bool) -> bool:
    """A camera's date (YYYYMMDD), optionally with its time (HHMMSS and milliseconds), or that
    time alone right after such a date (``PXL_20240501_123456789``)."""
    if _CAMERA_DATE.fullmatch(run[:8]) and (len(run) == 8 or _CAMERA_TIME.fullmatch(run[8:])):
        return True
    return after_date and bool(_CAMERA_TIME.fullmatch(run))


def _masked(stem: str, spans: list[tuple[int, int]]) -> str:
    out = list(stem)
    for a, b in spans:
        out[a:b] = list(mask_text(stem[a:b]).ljust(b - a, "*")[: b - a])
    return "".join(out)
