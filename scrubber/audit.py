"""Append-only audit log of review decisions, chained so that tampering shows.

``HOLD/audit.jsonl``: one JSON object per line. Each line carries ``prev``, the SHA-256 of the
previous line's bytes (64 zeros for the first), so editing, deleting or reordering any line
breaks the chain from there on. A chain alone cannot show that its last lines were cut off,
or that the whole log was written anew with a fresh chain: every append also records the line
count and the last line's hash (the anchor) in the state database
(``HOLD/.scrubber/state.db``), and ``verify`` walks the chain and checks it ends at the anchor.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

GENESIS = "0" * 64
_lock = threading.Lock()


def log_path(hold: Path) -> Path:
    return Path(hold) / "audit.jsonl"


def _last_hash(path: Path) -> str:
    if not path.exists() or path.stat().st_size == 0:
        return GENESIS
    with open(path, "rb") as fh:
        lines = fh.read().splitlines()
    return hashlib.sha256(lines[-1]).hexdigest() if lines else GENESIS


def append(hold: Path, reviewer: str, file: str, sha256: str, action: str, reason: str) -> dict:
    """Append one decision durably (write, flush, fsync) and return the record."""
    path = log_path(hold)
    with _lock:
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "reviewer": reviewer,
            "file": file,
            "sha256": sha256,
            "action": action,
            "reason": reason,
            "prev": _last_hash(path),
        }
        line = json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        lines = len(path.read_bytes().splitlines())
        _set_anchor(hold, lines, hashlib.sha256(line.rstrip(b"\n")).hexdigest())
    return record


def _set_anchor(hold: Path, lines: int, head: str) -> None:
    from scrubber.state import State

    state = State(hold)
    try:
        state.set_meta("audit_anchor", f"{lines} {head}")
    finally:
        state.close()


def _anchor(hold: Path) -> tuple[int, str] | None:
    import sqlite3

    db = Path(hold) / ".scrubber" / "state.db"
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'audit_anchor'").fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    if not row:
        return None
    count, head = row[0].split()
    return int(count), head


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    lines: int
    problem: str | None = None


def verify(hold: Path) -> ChainCheck:
    path = log_path(hold)
    anchor = _anchor(hold)
    if not path.exists():
        if anchor:
            return ChainCheck(False, 0, f"the log is missing, but {anchor[0]} decisions were recorded")
        return ChainCheck(True, 0)
    prev = GENESIS
    raw_lines = path.read_bytes().splitlines()
    for number, raw in enumerate(raw_lines, start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            return ChainCheck(False, number, f"line {number} is not JSON")
        if record.get("prev") != prev:
            return ChainCheck(False, number, f"line {number}: chain broken (prev does not match line {number - 1})")
        prev = hashlib.sha256(raw).hexdigest()
    if anchor is None:
        if raw_lines:
            return ChainCheck(False, len(raw_lines), "no anchor in the state database: truncation cannot be ruled out")
        return ChainCheck(True, 0)
    count, head = anchor
    if len(raw_lines) < count:
        return ChainCheck(False, len(raw_lines), f"truncated: {count} decisions were recorded, {len(raw_lines)} remain")
    if len(raw_lines) > count:
        return ChainCheck(False, len(raw_lines), f"{len(raw_lines) - count} line(s) after the last recorded decision")
    if prev != head:
        return ChainCheck(False, count, f"line {count} is not the last recorded decision (the log was rewritten)")
    return ChainCheck(True, len(raw_lines))


def _records(hold: Path) -> Iterator[dict]:
    path = log_path(hold)
    if path.exists():
        for raw in path.read_bytes().splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and "file" in record:
                yield record


def decisions(hold: Path) -> dict[str, dict]:
    """The latest decision per held file."""
    return {record["file"]: record for record in _records(hold)}


def published(hold: Path, item_id: str, sha256: str) -> dict | None:
    """The decision that already published this held file (approve or release), if any."""
    return next((r for r in _records(hold) if r["file"] == item_id and r.get("sha256") == sha256
                 and r.get("action") in ("approve", "release")), None)


def held_items(hold: Path) -> list[tuple[str, Path]]:
    """The photos held for review, as (item id, path): each regular file in ``HOLD/review``
    beside its JSON sidecar (never a link). The item id is its path inside ``HOLD/review``."""
    folder = Path(hold) / "review"
    out = []
    for sidecar in sorted(folder.rglob("*.json")):
        held = sidecar.with_suffix("")
        if held.is_file() and not held.is_symlink():
            out.append((held.relative_to(folder).as_posix(), held))
    return out


def queue_counts(hold: Path) -> tuple[int, int]:
    """(waiting for a decision, decided) among the held photos: what the review queue shows."""
    done = decisions(hold)
    items = held_items(hold)
    decided = sum(item_id in done for item_id, _ in items)
    return len(items) - decided, decided
