"""The state database in ``HOLD/.scrubber/state.db`` (SQLite, WAL): one row per file the
watcher claimed, the stage it reached, and a few facts about the HOLD folder (``meta``: the
watcher's id, its last poll, the audit log's anchor).

No column holds a file's name as it came: ``relpath`` is the screened display form
(``scrubber.names``), ``pubdir``/``pubname`` the names its copies are written under, and
``claim`` a neutral name inside the claim folder. A name read back from here is still
validated (``safe_relpath``) before any path is built from it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path, PurePosixPath

from scrubber.outputs import private_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    relpath TEXT NOT NULL,          -- display form of the path inside INBOX (masked, escaped)
    claim TEXT NOT NULL UNIQUE,     -- path of the claimed file
    sha256 TEXT,
    stage TEXT NOT NULL,            -- claiming, claimed, scanned, written, done
    outcome TEXT,                   -- pending, ready, review, rejected, duplicate, unclaimable (lost)
    record TEXT,                    -- the scan result (masked) as JSON
    verdict TEXT,
    reasons TEXT,
    target TEXT,                    -- READY or HOLD path of the output
    original TEXT,                  -- HOLD/originals path
    duplicate_of INTEGER,
    seconds REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_sha ON files (sha256, outcome);
CREATE INDEX IF NOT EXISTS files_stage ON files (stage);
"""
# columns added after the first release (older databases get them on open)
_ADDED = {"pubdir": "TEXT", "pubname": "TEXT", "scanned_stat": "TEXT"}


class State:
    """SQLite state in WAL mode; one connection shared by the worker threads under a lock."""

    def __init__(self, hold: Path):
        folder = private_dir(Path(hold) / ".scrubber")
        self.path = folder / "state.db"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
        for column, kind in _ADDED.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE files ADD COLUMN {column} {kind}")
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            if (folder / name).exists():
                (folder / name).chmod(0o600)
        self._lock = threading.Lock()

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def insert(self, sql: str, args: tuple) -> int:
        with self._lock:
            return self._db.execute(sql, args).lastrowid

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.execute("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def update(self, row_id: int, **fields) -> None:
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.execute(f"UPDATE files SET {cols} WHERE id = ?", (*fields.values(), row_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def safe_relpath(rel: str | None) -> PurePosixPath | None:
    """``rel`` as a relative path that stays inside whatever root it is joined to, or None:
    not empty, not absolute, no ``..``, no drive, no NUL, no backslash."""
    if not rel or "\0" in rel or "\\" in rel:
        return None
    path = PurePosixPath(rel)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or ":" in path.parts[0]:
        return None
    return path


def inside(root: Path, rel: str | None) -> Path | None:
    """``root / rel`` when ``rel`` is safe and the result, resolved, is still inside ``root``."""
    checked = safe_relpath(rel)
    if checked is None:
        return None
    target = Path(root) / checked
    base = Path(root).resolve()
    resolved = target.resolve()
    if resolved != base and base not in resolved.parents:
        return None
    return target
