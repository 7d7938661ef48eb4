"""Consent roster: people who signed a photo release stay visible; every other face is obscured.

The roster is one JSON file (schema version 1), written atomically with permissions 0600.
A roster that someone else could have written (group- or world-writable, or owned by another
user) is refused like a corrupt one. Results record an entry by its id (``r-`` and 10 hex),
never by the name: a consenting patient's name is PHI.
It stores only 128-d ``face_recognition`` encodings, never photos. A missing, unreadable or
corrupt roster never means "everyone consented": it means nobody did (with a warning).

A face is kept visible only when all of these hold:

* it is at least ``min_face`` pixels tall (smaller faces encode unreliably);
* its encoding is within ``threshold`` of exactly one active entry (nearest of that entry's
  encodings), and of no other entry: two candidates means nobody;
* that entry is neither revoked nor expired, and no revoked or expired entry is nearer.

The default threshold, 0.40, is tighter than face_recognition's usual 0.6; see
``bench/consent_eval.py`` and ``bench/CONSENT.md`` for the measurement behind it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from scrubber.errors import ScrubberError

SCHEMA = 1
DEFAULT_THRESHOLD = 0.40
DEFAULT_MIN_FACE = 80


class ConsentError(ScrubberError):
    exit_code = 2
    reason = "consent-error"


def default_roster_path() -> Path:
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "scrubber" / "roster.json"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scrubber" / "roster.json"


@dataclass(frozen=True)
class Entry:
    name: str
    encodings: tuple[tuple[float, ...], ...]
    added: str
    expires: str | None = None  # ISO date; consent ends at the end of that day
    note: str = ""
    revoked: str | None = None  # ISO time of revocation
    id: str = ""  # what reports and sidecars record instead of the name (a patient's name is PHI)

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha256(f"{self.name}\0{self.added}".encode()).hexdigest()
            object.__setattr__(self, "id", f"r-{digest[:10]}")

    def status(self, today: dt.date) -> str:
        if self.revoked:
            return "revoked"
        if self.expires and dt.date.fromisoformat(self.expires) < today:
            return "expired"
        return "active"

    def distance(self, encoding: np.ndarray) -> float:
        return float(np.min(np.linalg.norm(np.asarray(self.encodings) - encoding, axis=1)))


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str  # "consent" when kept; otherwise why not
    entry: str | None = None  # the entry's name: for the person at the console only
    distance: float | None = None
    expires: str | None = None
    entry_id: str | None = None  # what results record

    def evidence(self) -> tuple[str, ...]:
        out = [f"consent:{self.reason}"]
        if self.entry_id:
            out.append(f"roster-entry:{self.entry_id}")
        if self.distance is not None:
            out.append(f"distance:{self.distance:.3f}")
        if self.expires:
            out.append(f"expires:{self.expires}")
        return tuple(out)


@dataclass(frozen=True)
class Roster:
    path: Path
    entries: tuple[Entry, ...] = ()
    warning: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------ file

    @classmethod
    def load(cls, path: Path | None = None) -> "Roster":
        path = Path(path) if path else default_roster_path()
        if not path.exists():
            return cls(path, (), f"{path}: no consent roster: nobody is on it, every face is obscured")
        unsafe = _unsafe(path)
        if unsafe:
            return cls(path, (), f"{path}: consent roster refused ({unsafe}): treated as empty, every face is "
                                 "obscured")
        try:
            doc = json.loads(path.read_text())
            if doc.get("schema") != SCHEMA:
                raise ValueError(f"schema {doc.get('schema')!r}, expected {SCHEMA}")
            entries = []
            for e in doc["entries"]:
                encodings = tuple(tuple(float(v) for v in enc) for enc in e["encodings"])
                if not encodings or any(len(enc) != 128 for enc in encodings):
                    raise ValueError(f"entry {e.get('name')!r} has no valid 128-d encodings")
                if e.get("expires"):
                    dt.date.fromisoformat(e["expires"])
                entries.append(Entry(str(e["name"]), encodings, str(e.get("added", "")), e.get("expires"),
                                     str(e.get("note", "")), e.get("revoked"), str(e.get("id") or "")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            return cls(path, (), f"{path}: consent roster unreadable ({err}): treated as empty, every face is "
                                 "obscured")
        return cls(path, tuple(entries))

    def save(self) -> None:
        from scrubber.imageio import write_atomic

        doc = {"schema": SCHEMA, "entries": [
            {"id": e.id, "name": e.name, "added": e.added, "expires": e.expires, "note": e.note, "revoked": e.revoked,
             "encodings": [list(enc) for enc in e.encodings]} for e in self.entries]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(json.dumps(doc).encode(), self.path, overwrite=True, mode=0o600)

    # ------------------------------------------------------------ changes

    def add(self, name: str, encodings: list[np.ndarray], expires: dt.date | None, note: str) -> "Roster":
        if not name.strip():
            raise ConsentError("a roster entry needs a name")
        new = tuple(tuple(round(float(v), 6) for v in enc) for enc in encodings)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        exp = expires.isoformat() if expires else None
        entries = list(self.entries)
        for i, e in enumerate(entries):
            if _same(e.name, name):  # enrolling again adds photos and renews the consent
                entries[i] = replace(e, encodings=e.encodings + new, expires=exp, note=note or e.note, revoked=None)
                break
        else:
            entries.append(Entry(name, new, now, exp, note))
        return replace(self, entries=tuple(entries), warning=None)

    def entry(self, name: str) -> Entry:
        """The entry named ``name`` (case and spacing aside); ``ConsentError`` naming the
        closest entry when there is none."""
        for e in self.entries:
            if _same(e.name, name):
                return e
        import difflib

        near = difflib.get_close_matches(name.casefold(), [e.name.casefold() for e in self.entries], n=1, cutoff=0.6)
        hint = next((f" (did you mean '{e.name}'?)" for e in self.entries if near and e.name.casefold() == near[0]), "")
        raise ConsentError(f"{self.path}: no roster entry named '{name}'{hint}")

    def revoke(self, name: str) -> "Roster":
        """Consent withdrawn: the entry and its encodings stay, for the record, and match nobody."""
        target = self.entry(name)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return replace(self, entries=tuple(replace(e, revoked=now) if e is target else e for e in self.entries))

    def forget(self, name: str) -> "Roster":
        """The entry and its face encodings deleted from the roster."""
        target = self.entry(name)
        return replace(self, entries=tuple(e for e in self.entries if e is not target))

    # ------------------------------------------------------------ matching

    def decide(self, encoding: np.ndarray | None, face_height: int, threshold: float = DEFAULT_THRESHOLD,
               min_face: int = DEFAULT_MIN_FACE, today: dt.date | None = None) -> Decision:
        today = today or dt.date.today()
        if not self.entries:
            return Decision(False, "no-roster")
        if face_height < min_face or encoding is None:
            return Decision(False, "face-too-small")
        scored = sorted(((e.distance(encoding), e) for e in self.entries), key=lambda t: t[0])
        close = [(d, e) for d, e in scored if d < threshold]
        if not close:
            return Decision(False, "no-match", scored[0][1].name, scored[0][0], entry_id=scored[0][1].id)
        d, best = close[0]
        if best.status(today) != "active":
            return Decision(False, best.status(today), best.name, d, best.expires, best.id)
        if len(close) > 1:
            return Decision(False, "ambiguous", best.name, d, best.expires, best.id)
        return Decision(True, "consent", best.name, d, best.expires, best.id)

    def active_count(self, today: dt.date | None = None) -> int:
        today = today or dt.date.today()
        return sum(e.status(today) == "active" for e in self.entries)


def _unsafe(path: Path) -> str | None:
    """Why a roster file must not be trusted: anyone else who can write it decides whose face
    stays visible. None when it is owned by this user and writable by nobody else."""
    if os.name != "posix":
        return None
    try:
        st = path.stat()
    except OSError as err:
        return f"cannot stat it: {err.strerror or err}"
    if st.st_mode & 0o022:
        return f"writable by {'others' if st.st_mode & 0o002 else 'its group'} (mode {st.st_mode & 0o777:o}; "\
               f"chmod 600 it)"
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    return None


def encode_face(pixels: np.ndarray, box) -> np.ndarray | None:
    """face_recognition's 128-d encoding of the face at ``box`` (a ``Box``)."""
    import face_recognition

    found = face_recognition.face_encodings(np.ascontiguousarray(pixels), [(box.y0, box.x1, box.y1, box.x0)])
    return found[0] if found else None


def _same(a: str, b: str) -> bool:
    """One person's name, whatever its case and spacing."""
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())
