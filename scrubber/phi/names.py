"""Person names.

* Labelled: ``Patient: Samuel Oduya``, ``Pt Rosa Delgado``, ``Name - J. Smith`` — the
  capitalised words after the label, whatever they are (0.85).
* Titled: ``Dr. Ellen Brooks``, ``Mrs Okafor`` (0.8).
* ``LAST, FIRST`` (also in capitals): a comma-separated pair where either word is in the
  shipped census name lists (0.75), or neither is (0.3, needs context; 0.6 when a record's
  label follows on the same line: ``OKAFOR, NGOZI  MRN 00571226``).
* ``First Last``: both words in the lists (0.7); one (0.35, needs context such as a
  ``Patient`` header or ``Bed 7`` on the line above); neither (0.15).
* ``DOE JANE`` / ``JANE DOE`` in capitals with no comma (wristbands, X-ray overlays, lists):
  a first name and a surname from the lists, in either order (0.7); one of them (0.35, needs
  context); neither (0.1).
* A name-shaped line too weak alone counts in a column of names (``phi.registry``).

Name lists: the 1990 US Census first-name and surname files (public domain), top 2,300
first names and 5,000 surnames, shipped in ``scrubber/phi/data``. Traps: title-case
signage ("Happy Nurses Week", "Riverside Family Clinic") — words in ``common_words.txt``
never count as name evidence, and a pair of them is never a name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from scrubber.phi.pattern import Match, PatternRecognizer

_LABEL = r"(?:patient(?:\s+name)?|pt(?:\s+name)?|name|resident|client|guardian|mother|father|spouse|next\s+of\s+kin|nok|attending|physician|provider|nurse|rn|md)"
_TITLES = {"dr", "mr", "mrs", "ms", "miss", "mx", "prof"}
_RECORD_AFTER = re.compile(r"\b(?:MRN|DOB|D\.O\.B|ACCT|SSN|MR#)\b[\s:#]*\S", re.IGNORECASE)
_WORD = r"[A-Z][A-Za-z'\-]+"
_CAPS = r"[A-Z][A-Z'\-]+"


@lru_cache(maxsize=None)
def _names(kind: str) -> frozenset[str]:
    text = resources.files("scrubber.phi").joinpath(f"data/{kind}.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _is_first(word: str) -> bool:
    return word.lower() in _names("first_names") and not _is_common(word)


def _is_last(word: str) -> bool:
    return word.lower() in _names("last_names") and not _is_common(word)


def _is_common(word: str) -> bool:
    return word.lower() in _names("common_words")


class NameRecognizer(PatternRecognizer):
    LABEL = "NAME"
    CONTEXT = ("patient", "pt", "name", "bed", "rm", "room", "resident", "attending", "nurse", "dr", "discharge",
               "admit", "admitted", "family", "contact", "guardian", "visitor", "census")
    _labelled = re.compile(rf"\b{_LABEL}\b\.?\s*[:\-]?\s*((?:{_WORD}|[A-Z]\.)(?:,?\s+(?:{_WORD}|[A-Z]\.)){{0,2}})", re.I)
    _titled = re.compile(rf"\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof)\.?\s+((?:[A-Z]\.\s+)?{_WORD}(?:\s+{_WORD})?)")
    _last_first = re.compile(rf"\b({_WORD}|{_CAPS}),\s*({_WORD}|{_CAPS})(?:\s+[A-Z]\.?)?\b")
    _first_last = re.compile(rf"\b({_WORD})\s+((?:[A-Z]\.\s+)?)({_WORD})\b")
    _caps_pair = re.compile(rf"(?<![A-Za-z,])({_CAPS})\s+({_CAPS})(?:\s+[A-Z]\.?)?(?![A-Za-z,])")

    def analyze(self, text: str) -> list[Match]:
        found: list[Match] = []

        def add(start: int, end: int, score: float, how: str) -> None:
            found.append(Match(start, end, self.LABEL, score, (f"pattern:{how}",)))

        for m in self._labelled.finditer(text):
            words = [w for w in re.findall(r"[A-Za-z'\-]+", m.group(1))]
            # a label must be followed by a capitalised value, not a header word
            if words and words[0].lower() in _TITLES:
                continue  # "Attending: Dr. Ellen Brooks": the titled pattern takes the name
            if not all(_is_common(w) for w in words) and m.group(1)[0].isupper():
                add(m.start(1), m.end(1), 0.85, "labelled")
        for m in self._titled.finditer(text):
            add(m.start(1), m.end(1), 0.8, "titled")
        for m in self._last_first.finditer(text):
            last, first = m.group(1), m.group(2)
            if _is_common(last) or _is_common(first):
                continue
            hits = _is_last(last) + _is_first(first)
            # names the lists do not know need context; a record's label later on the same
            # line ("OKAFOR, NGOZI  MRN 00571226") is that context: rows of a list or census
            score = 0.75 if hits else 0.6 if _RECORD_AFTER.search(text, m.end()) else 0.3
            add(m.start(), m.end(), score, f"last-first:{hits}")
        for m in self._first_last.finditer(text):
            first, last = m.group(1), m.group(3)
            if _is_common(first) or _is_common(last) or first.isupper() and last.isupper():
                continue
            hits = _is_first(first) + _is_last(last)
            add(m.start(1), m.end(3), {2: 0.7, 1: 0.35, 0: 0.15}[hits], f"first-last:{hits}")
        for m in self._caps_pair.finditer(text):
            a, b = m.group(1), m.group(2)
            if _is_common(a) or _is_common(b):
                continue
            # capitals without a comma, as wristbands, X-ray overlays and lists print them:
            # DOE JANE (last first) or JANE DOE; a pair the lists know both ways round counts
            # by itself, one with a single known word needs context (or a column of names)
            hits = max(_is_last(a) + _is_first(b), _is_first(a) + _is_last(b))
            score = {2: 0.7, 1: 0.35, 0: 0.1}[hits]
            if hits and _RECORD_AFTER.search(text, m.end()):
                score = 0.6
            add(m.start(1), m.end(2), score, f"caps-pair:{hits}")
        return found
