"""Records or signage: is a surface that was found (a screen, a page, a whiteboard) a record,
filled whole, or a sign, left alone with any identifier on it filled word by word?

A surface is **signage** when everything on it was read and is ordinary:

* every line on it was read: a line nobody could read may hold anything;
* no barcode and no identifier a record holds (a name, a date, a record, account or Social
  Security number, a plate...) lies on it; a phone number, an email or web address or a
  street address may (a clinic's sign shows them), and is filled word by word;
* no word that records use as a label (``MRN``, ``DOB``, ``Dx``, ``Allergies``, ``Bed``);
* every other word is an ordinary English word (the 40,000 most frequent in pyspellchecker's
  English list, MIT licence), a short number, an ordinal, a time or a range (``214``, ``3rd``,
  ``9:30``, ``9-5``), a token of one or two characters, or part of allowlisted text. A word
  that is also a first name or surname in the census lists is ordinary only among the 6,000
  most frequent words: "will", "field", "click", "hill" are; "John", "Sarah", "Garcia" are
  not. A word cut by the photo's edge may be anything. One word in ``SLACK`` (20) may be
  read unsure, or be a lowercase word the list lacks ("coronavirus", "a.typecode("); a
  capitalised word the list lacks never (it may be a name).

Everything else (rows of names and numbers, a chart, a census, a label, handwriting) is a
record. A record's words are never read out to decide this; only whether each one is ordinary.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from importlib import resources

from scrubber.detection import Box, Detection, Kind, coverage

SIGN_KINDS = (Kind.SCREEN, Kind.DOCUMENT, Kind.WHITEBOARD)  # a wristband is always a record
SIGN_IDENTIFIERS = frozenset({"PHONE", "EMAIL", "URL", "ADDRESS", "ZIP"})  # a sign may show these
RECORD_WORDS = frozenset({
    "mrn", "dob", "d.o.b", "ssn", "acct", "account", "dx", "diagnosis", "allergies", "allergy", "admit", "admitted",
    "admission", "discharge", "discharged", "dos", "npi", "insurance", "rx", "meds", "medication", "vitals", "bp",
    "census", "pt", "bed", "patient", "patients", "sex", "age", "mr#", "id", "attending", "physician", "provider"})
VOCABULARY = 40_000  # the most frequent English words that count as ordinary
COMMON_NAMES = 6_000  # a name-list word is ordinary only among this many most frequent words
MIN_CONFIDENCE = 0.5  # a word read less sure than this is spent from the budget below
SLACK = 20  # one word in this many (rounded: from 10 words on) may be unsure (see _judged)
EDGE = 0.02  # a word this close to the photo's edge (share of its side) may be cut off

_TIME = r"\d{1,2}(?:[:.]\d{2})?(?:am|pm|a\.m|p\.m)?"
_SHORT = re.compile(rf"^(?:\d{{1,4}}|\d{{1,3}}(?:st|nd|rd|th)|{_TIME}(?:-{_TIME})?|\d{{1,4}}[-/]\d{{1,4}}|\S{{1,2}})$")
_DIGIT_LOOKALIKES = str.maketrans({"l": "1", "I": "1", "|": "1", "O": "0", "o": "0"})  # in a token with a digit
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_NAME_LIKE = re.compile(r"^[A-Z][A-Za-z'-]+$")
_CODE_JOINS = re.compile(r"[._()]")
_ID_LIKE = re.compile(r"\d{4}")
_NAME_PREFIXES = frozenset({"mac", "van", "von", "del", "della", "des"})


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    """Word -> frequency rank (0 most frequent) for the ``VOCABULARY`` most frequent words."""
    raw = resources.files("spellchecker").joinpath("resources/en.json.gz").read_bytes()
    counts = json.loads(gzip.decompress(raw))
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])[:VOCABULARY]
    return {word: rank for rank, (word, _) in enumerate(ordered)}


@lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    from scrubber.phi.names import _names

    return _names("first_names") | _names("last_names")


def ordinary(word: str, allowed: frozenset[str] = frozenset()) -> bool:
    """Is ``word`` (as read, with its punctuation) something only signage needs: see the module
    docstring. ``allowed``: lower-case words of allowlisted text."""
    bare = _EDGES.sub("", word.translate(_QUOTES))
    if not bare or _SHORT.match(bare.lower()):
        return True
    if any(ch.isdigit() for ch in bare) and _SHORT.match(bare.translate(_DIGIT_LOOKALIKES).lower()):
        return True  # "9-llam": 9-11am as the OCR misreads it
    parts = [p.lower() for p in re.split(r"[-/&'.]", _CAMEL.sub(" ", bare).replace(" ", "-")) if p]
    for part in parts:
        if part in allowed or _SHORT.match(part):
            continue
        if part in RECORD_WORDS:
            return False
        rank = _ranks().get(part)
        if rank is None or (part in _name_words() and rank >= COMMON_NAMES):
            return False
    return True


def signs(detections: tuple[Detection, ...], width: int, height: int,
          allowlist: tuple[str, ...] = ()) -> set[int]:
    """Indices into ``detections`` of the surfaces that are signage (see the module docstring)."""
    surfaces = [(i, d) for i, d in enumerate(detections) if d.kind in SIGN_KINDS]
    if not surfaces:
        return set()
    allowed = frozenset(w.lower() for text in allowlist for w in re.findall(r"[\w']+", text))
    lines = _best_readings(detections)
    out = set()
    for i, surface in surfaces:
        on = [d for d in detections if d is not surface and coverage(d.box, surface.box) >= 0.5]
        if any(d.kind is Kind.BARCODE or (d.kind is Kind.IDENTIFIER and d.label not in SIGN_IDENTIFIERS)
               or (d.kind is Kind.TEXT and "unreadable" in d.evidence) for d in on):
            continue
        words = [d for key in {d.line[0] for d in on if d.kind is Kind.TEXT and d.line} for d in lines.get(key, [])]
        words = [w for w in words if coverage(w.box, surface.box) >= 0.5]
        spoken = [w for w in words if not any(d.kind is Kind.IDENTIFIER and coverage(w.box, d.box) >= 0.5
                                              for d in on)]
        judged = [_judged(w, width, height, allowed) for w in spoken]
        if words and "no" not in judged and judged.count("unsure") <= (len(words) + SLACK // 2) // SLACK:
            out.add(i)
    return out


def _judged(word: Detection, width: int, height: int, allowed: frozenset[str]) -> str:
    """"yes" (ordinary, read surely, or cut by the edge), "unsure" (read unsure, a lowercase
    or camel-case word not in the list, also joined with dots, underscores or brackets as
    programs write them: "coronavirus", "NumMonths", "a.typecode(") or "no" (anything else: a
    capitalised unknown word may be a name, four digits may be part of an ID)."""
    text = word.text or ""
    if _at_edge(word.box, width, height):
        return "yes"
    if ordinary(text, allowed):
        return "yes" if word.score >= MIN_CONFIDENCE else "unsure"
    bare = _EDGES.sub("", text.translate(_QUOTES))
    letters = _CODE_JOINS.sub("", bare)  # "a.typecode(", "os.path": names as programs join them
    if letters.isalpha() and (letters.islower() or _program_word(bare)):
        return "unsure"
    if word.score < MIN_CONFIDENCE and not _NAME_LIKE.match(bare) and not _ID_LIKE.search(bare):
        return "unsure"  # a misreading ("9-llam" for "9-11am") that is neither a name nor an ID
    return "no"


def _program_word(word: str) -> bool:
    """``NumMonths``, ``ScrollBar``: a word joined in camel case, as programs and their manuals
    write them (a name's ``McAllister``, ``DeLeon`` and ``MacArthur`` are not)."""
    parts = _CAMEL.sub(" ", word).split()
    return len(parts) > 1 and len(parts[0]) >= 3 and parts[0].lower() not in _NAME_PREFIXES


def _at_edge(box: Box, width: int, height: int) -> bool:
    dx, dy = EDGE * width, EDGE * height
    return box.x0 <= dx or box.y0 <= dy or box.x1 >= width - dx or box.y1 >= height - dy


def _best_readings(detections: tuple[Detection, ...]) -> dict[int, list[Detection]]:
    """Each OCR line's words in its better reading: a line read both ways up comes back twice
    (keys ``(i,)`` and ``(i, 1)``); the reading with the higher mean word score is the line."""
    readings: dict[tuple, list[Detection]] = {}
    for d in detections:
        if d.kind is Kind.TEXT and d.line is not None and "unreadable" not in d.evidence:
            readings.setdefault(d.line, []).append(d)
    best: dict[int, list[Detection]] = {}
    for key, words in readings.items():
        other = best.get(key[0])
        if other is None or sum(w.score for w in words) / len(words) > sum(w.score for w in other) / len(other):
            best[key[0]] = words
    return best
