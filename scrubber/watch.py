"""Watched folder for a shared drive: ``scrubber watch INBOX --ready READY --hold HOLD``.

Network shares (SMB/NFS) deliver no change notifications, so the inbox is *polled*. A file
is taken only once it is complete: same size and mtime over ``stable_polls`` polls, older
than ``min_age``, not a temporary name, and openable. Then, per file:

1. **claim**: an atomic rename into ``INBOX/.scrubber-claims/<watcher-id>/`` (two watchers on
   one inbox: only one rename succeeds). The row is written to the state database first.
2. **scan** in a worker process with a time limit (a hung scan is killed: ``blocked``).
3. **outputs**: a shareable result is written to READY (temp + fsync + no-clobber link, name
   collisions get ``-1``, ``-2``...); a blocked photo is copied to ``HOLD/review/`` and a
   non-image to ``HOLD/rejected/``, each with a sidecar JSON of reasons.
4. **original**: copied to ``HOLD/originals/`` (fsync, hash verified), then removed from the
   claim folder. Nothing is ever deleted before its copy is durable.

State lives in SQLite (WAL) in ``HOLD/.scrubber/state.db``, one row per claimed file with its
stage, so a restart after a crash, power loss or ``kill -9`` resumes each file from the stage
it reached: no file lost, none published twice. A file whose SHA-256 was already published
is a duplicate: it is recorded and its original kept, but it is not published again.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import logging.handlers
import multiprocessing
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote

from scrubber.errors import OutputExists
from scrubber.imageio import FORMAT_EXTENSIONS, IMAGE_EXTENSIONS, OutputFormat, fsync_dir, sha256_file, write_atomic
from scrubber.policy import Policy

log = logging.getLogger("scrubber.watch")

TEMP_PATTERNS = ("*.part", "*.partial", "*.tmp", "*.crdownload", "~$*", "._*", ".DS_Store", "Thumbs.db", ".*")
CLAIMS = ".scrubber-claims"


@dataclass(frozen=True)
class WatchSettings:
    inbox: Path
    ready: Path
    hold: Path
    poll_s: float = 5.0
    workers: int = 1
    min_age_s: float = 5.0  # a file's mtime must be at least this old
    stable_polls: int = 2  # polls with unchanged size and mtime before a file is taken
    timeout_s: float = 300.0  # per file; a scan that takes longer is killed and blocked


# ---------------------------------------------------------------- state database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    relpath TEXT NOT NULL,          -- path inside INBOX when it was found
    claim TEXT NOT NULL UNIQUE,     -- path of the claimed file
    sha256 TEXT,
    stage TEXT NOT NULL,            -- claiming, claimed, scanned, written, done
    outcome TEXT,                   -- pending, ready, review, rejected, duplicate (lost)
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


class State:
    """SQLite state in WAL mode; one connection shared by the worker threads under a lock."""

    def __init__(self, hold: Path):
        folder = hold / ".scrubber"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "state.db"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
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


# ---------------------------------------------------------------- scan worker process


def _worker_main(conn, policy: Policy) -> None:
    """Child process: build the models once, then scan whatever the parent sends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    cv2.setNumThreads(1)
    from scrubber.pipeline import Scrubber
    from scrubber.report import result_record

    scrubber = Scrubber(policy)
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        source, out, fmt = job
        result = scrubber.process(Path(source), out=Path(out) if out else None,
                                  out_format=OutputFormat(fmt) if fmt else None)
        conn.send(result_record(result))


class ScanProcess:
    """One worker process with a per-file time limit: a scan that overruns is killed and the
    process replaced, and the file is reported ``blocked`` with reason ``timeout``."""

    def __init__(self, policy: Policy, timeout_s: float):
        self.policy, self.timeout_s = policy, timeout_s
        self._ctx = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker_main, args=(child, self.policy), daemon=True)
        self._proc.start()
        if not self._conn.poll(120) or self._conn.recv() != "ready":
            self.close()
            raise RuntimeError("scan worker did not start")

    def scan(self, source: Path, out: Path | None, fmt: OutputFormat | None) -> dict:
        self._conn.send((str(source), str(out) if out else None, fmt.value if fmt else None))
        if self._conn.poll(self.timeout_s):
            try:
                return self._conn.recv()
            except EOFError:
                pass
            reason = "worker-crashed"
        else:
            reason = "timeout"
        self._proc.kill()
        self._proc.join()
        self._start()
        return {"verdict": "blocked", "reasons": [reason], "error": f"{source.name}: scan {reason}",
                "output": None, "detections": [], "timings": {"total": self.timeout_s}}

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# ---------------------------------------------------------------- file helpers


def is_temporary(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in TEMP_PATTERNS)


def copy_durable(src: Path, dest: Path, sha256: str, reuse: str | None = None,
                 reserve: Callable[[Path], None] = lambda path: None, tmp_prefix: str | None = None) -> Path:
    """Copy ``src`` to a free name at ``dest`` (``-1``, ``-2``... on collision), fsync, verify.

    ``reserve`` records each name before it is written, so that after a crash the caller can
    pass it back as ``reuse``: a reserved copy holding the same bytes is kept, not copied again.
    """
    if reuse and Path(reuse).exists() and sha256_file(Path(reuse)) == sha256:
        return Path(reuse)
    dest.parent.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    for candidate in _candidates(dest):
        if candidate.exists():
            continue
        reserve(candidate)
        try:
            write_atomic(data, candidate, tmp_prefix=tmp_prefix)
        except OutputExists:
            continue
        if sha256_file(candidate) != sha256:
            raise OSError(f"{candidate}: copy does not match the original's SHA-256")
        return candidate
    raise OSError(f"{dest}: no free name")


def _candidates(dest: Path):
    yield dest
    for i in range(1, 100_000):
        yield dest.with_name(f"{dest.stem}-{i}{dest.suffix}")


def _claim_name(relpath: str) -> str:
    return f"{uuid.uuid4().hex[:12]}__{quote(relpath, safe='')}"


def _relpath_of(claim_name: str) -> str:
    return unquote(claim_name.split("__", 1)[1]) if "__" in claim_name else claim_name


# ---------------------------------------------------------------- the watcher


class Watcher:
    def __init__(self, settings: WatchSettings, policy: Policy, on_event: Callable[[str], None] = log.info):
        self.s = settings
        self.policy = policy
        self.emit = on_event
        for folder in (settings.inbox, settings.ready, settings.hold):
            folder.mkdir(parents=True, exist_ok=True)
        for sub in ("review", "rejected", "originals", "logs"):
            (settings.hold / sub).mkdir(exist_ok=True)
        self.state = State(settings.hold)
        wid = self.state.meta("watcher_id")
        if wid is None:
            wid = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
            self.state.set_meta("watcher_id", wid)
        self.state.set_meta("inbox", str(settings.inbox.resolve()))
        self.state.set_meta("ready", str(settings.ready.resolve()))
        self.claims = settings.inbox / CLAIMS / wid
        self.tmp_prefix = f".scrubber-{wid}-"  # our temporary files, removed after a crash
        self.claims.mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, tuple[int, int, int]] = {}  # relpath -> (size, mtime_ns, stable count)
        self._stop = threading.Event()
        self._publish_lock = threading.Lock()
        self._workers: list[ScanProcess] = []

    # ------------------------------------------------------------ discovery

    def poll(self) -> list[Path]:
        """Files in INBOX that have been complete for long enough, oldest first."""
        ready: list[tuple[float, Path]] = []
        now = time.time()
        present = set()
        for root, dirs, files in os.walk(self.s.inbox):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != CLAIMS]
            for name in files:
                path = Path(root) / name
                rel = path.relative_to(self.s.inbox).as_posix()
                if is_temporary(name):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                present.add(rel)
                size, mtime = st.st_size, st.st_mtime_ns
                old = self._seen.get(rel)
                count = old[2] + 1 if old and old[:2] == (size, mtime) else 0
                self._seen[rel] = (size, mtime, count)
                if count >= self.s.stable_polls and now - st.st_mtime >= self.s.min_age_s and _openable(path):
                    ready.append((st.st_mtime, path))
        for rel in set(self._seen) - present:
            del self._seen[rel]
        return [p for _, p in sorted(ready)]

    # ------------------------------------------------------------ one file

    def claim(self, path: Path) -> int | None:
        rel = path.relative_to(self.s.inbox).as_posix()
        target = self.claims / _claim_name(rel)
        now = time.time()
        row = self.state.insert(
            "INSERT INTO files (relpath, claim, stage, created, updated) VALUES (?, ?, 'claiming', ?, ?)",
            (rel, str(target), now, now),
        )
        try:
            os.rename(path, target)
        except FileNotFoundError:  # another watcher took it, or it was removed
            self.state.execute("DELETE FROM files WHERE id = ?", (row,))
            self._seen.pop(rel, None)
            return None
        self.state.update(row, stage="claimed")
        self._seen.pop(rel, None)
        return row

    def handle(self, row_id: int, scanner: ScanProcess) -> None:
        """Carry one claimed file to 'done' from whatever stage it reached:
        claimed -> scanned (result in the database, safe copy in HOLD/.scrubber/out)
        -> written (published to READY, or held in review/rejected) -> done (original kept)."""
        t0 = time.perf_counter()
        rel, claim, sha, stage = self.state.execute(
            "SELECT relpath, claim, sha256, stage FROM files WHERE id = ?", (row_id,))[0]
        claim_path = Path(claim)
        if stage == "done":
            return
        if not claim_path.exists():
            original = self.state.execute("SELECT original FROM files WHERE id = ?", (row_id,))[0][0]
            if stage == "written" and original and sha and Path(original).exists() \
                    and sha256_file(Path(original)) == sha:
                self.state.update(row_id, stage="done")  # crashed between removing the claim and 'done'
                return
            self.state.update(row_id, stage="done", outcome="lost")
            self.emit(f"{rel}: claimed file vanished (recorded as lost)")
            return
        if sha is None:
            sha = sha256_file(claim_path)
            self.state.update(row_id, sha256=sha)
        if stage == "claimed":
            self._scan(row_id, rel, claim_path, sha, scanner)
            stage = "scanned"
        if stage == "scanned":
            self._outputs(row_id, rel, claim_path, sha)
            stage = "written"
        if stage == "written":
            original = copy_durable(claim_path, self.s.hold / "originals" / Path(rel), sha,
                                    reuse=self.state.execute("SELECT original FROM files WHERE id = ?",
                                                             (row_id,))[0][0],
                                    reserve=lambda path: self.state.update(row_id, original=str(path)),
                                    tmp_prefix=self.tmp_prefix)
            claim_path.unlink()
            fsync_dir(claim_path.parent)
            self._tmp_output(row_id, rel).unlink(missing_ok=True)
            seconds = time.perf_counter() - t0
            self.state.update(row_id, stage="done", seconds=seconds)
            outcome, verdict, reasons, target = self.state.execute(
                "SELECT outcome, verdict, reasons, target FROM files WHERE id = ?", (row_id,))[0]
            self.emit(f"{rel}: {outcome} ({verdict}; {reasons or 'nothing found'}) -> {target or '-'} "
                      f"in {seconds:.1f} s")

    def _tmp_output(self, row_id: int, rel: str) -> Path:
        return self.s.hold / ".scrubber" / "out" / f"{row_id}{_output_format(rel).extension}"

    def _scan(self, row_id, rel, claim_path, sha, scanner) -> None:
        with self._publish_lock:  # the duplicate check and the reservation are one step
            first = self.state.execute(
                "SELECT id FROM files WHERE sha256 = ? AND id < ? AND outcome IN "
                "('pending', 'ready', 'review', 'rejected') ORDER BY id LIMIT 1", (sha, row_id))
            if not first:
                self.state.update(row_id, outcome="pending")
        if first:
            self.state.update(row_id, stage="scanned", outcome="duplicate", duplicate_of=first[0][0],
                              verdict="duplicate", reasons=f"duplicate-of:{first[0][0]}")
            return
        if Path(rel).suffix.lower() not in IMAGE_EXTENSIONS:
            record = {"verdict": "blocked", "reasons": ["not-an-image"], "error": f"{rel}: not an image file"}
        else:
            tmp = self._tmp_output(row_id, rel)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            record = scanner.scan(claim_path, tmp, _output_format(rel))
        shareable = record["verdict"] in ("clean", "redacted") and bool(record.get("output"))
        unreadable = bool(record.get("error")) and not shareable and record.get("reasons", [""])[0] in (
            "not-an-image", "unreadable")
        outcome = "ready" if shareable else "rejected" if unreadable else "review"
        self.state.update(row_id, stage="scanned", outcome=outcome, verdict=record["verdict"],
                          reasons=";".join(record.get("reasons", [])), record=json.dumps(record))

    def _outputs(self, row_id, rel, claim_path, sha) -> None:
        outcome, target, record = self.state.execute(
            "SELECT outcome, target, record FROM files WHERE id = ?", (row_id,))[0]
        if outcome == "duplicate":
            self.state.update(row_id, stage="written")
            return
        record = json.loads(record)
        if outcome == "ready":
            tmp = self._tmp_output(row_id, rel)
            if not tmp.exists():  # crashed before the scan finished writing: scan again
                self.state.update(row_id, stage="claimed", outcome=None)
                raise RuntimeError("safe copy missing after restart; scanning again")
            published = self._publish(row_id, tmp, self.s.ready / Path(rel).with_suffix(tmp.suffix), target)
            self.state.update(row_id, stage="written", target=str(published))
            return
        copy = copy_durable(claim_path, self.s.hold / outcome / Path(rel), sha, reuse=target,
                            reserve=lambda path: self.state.update(row_id, target=str(path)),
                            tmp_prefix=self.tmp_prefix)
        sidecar = {"file": rel, "sha256": sha, "outcome": outcome, "held_copy": str(copy),
                   "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")} | {
            k: record.get(k) for k in ("verdict", "reasons", "error", "detections", "timings")}
        write_atomic((json.dumps(sidecar, indent=1) + "\n").encode(), copy.with_name(copy.name + ".json"),
                     overwrite=True, tmp_prefix=self.tmp_prefix)
        self.state.update(row_id, stage="written")

    def _publish(self, row_id: int, tmp: Path, wanted: Path, reserved: str | None) -> Path:
        """Link the safe copy into READY under a free name, exactly once. The name is reserved
        in the database before the link, so after a crash an existing reserved file with our
        content means 'already published'."""
        digest = sha256_file(tmp)
        if reserved and Path(reserved).exists() and sha256_file(Path(reserved)) == digest:
            return Path(reserved)
        data = tmp.read_bytes()
        for candidate in _candidates(wanted):
            if candidate.exists():
                continue
            self.state.update(row_id, target=str(candidate))
            try:
                write_atomic(data, candidate, tmp_prefix=self.tmp_prefix)
            except OutputExists:  # another watcher took the name a moment ago
                continue
            return candidate
        raise OSError(f"{wanted}: no free name in READY")

    # ------------------------------------------------------------ recovery and loop

    def recover(self) -> list[int]:
        """Rows a previous run left unfinished, plus claimed files it never recorded; our own
        half-written temporary files (a crash inside ``write_atomic``) are removed."""
        for folder in (self.s.ready, self.s.hold):
            for leftover in folder.rglob(f"{self.tmp_prefix}*.tmp"):
                leftover.unlink(missing_ok=True)
        for row_id, rel, claim in self.state.execute(
                "SELECT id, relpath, claim FROM files WHERE stage = 'claiming'"):
            if Path(claim).exists():
                self.state.update(row_id, stage="claimed")
            else:
                self.state.execute("DELETE FROM files WHERE id = ?", (row_id,))
        known = {r[0] for r in self.state.execute("SELECT claim FROM files")}
        for path in sorted(self.claims.iterdir()):
            if str(path) not in known and not path.name.startswith("."):
                now = time.time()
                self.state.insert("INSERT INTO files (relpath, claim, stage, created, updated) "
                                  "VALUES (?, ?, 'claimed', ?, ?)", (_relpath_of(path.name), str(path), now, now))
        return [r[0] for r in self.state.execute("SELECT id FROM files WHERE stage != 'done' ORDER BY id")]

    def stop(self) -> None:
        self._stop.set()

    def run(self, once: bool = False) -> int:
        """Poll until stopped (or, with ``once``, until the inbox holds nothing ready and
        nothing is unfinished). Returns the number of files finished."""
        import queue

        jobs: queue.Queue = queue.Queue()
        done = [0]
        errors: list[str] = []
        self._workers = [ScanProcess(self.policy, self.s.timeout_s) for _ in range(max(1, self.s.workers))]

        def work(scanner: ScanProcess) -> None:
            while True:
                item = jobs.get()
                if item is None:
                    return
                try:
                    row = self.claim(item) if isinstance(item, Path) else item
                    if row is not None:
                        self.handle(row, scanner)
                        done[0] += 1
                except Exception as err:  # one bad file never stops the watcher
                    errors.append(str(err))
                    self.emit(f"{item}: error: {type(err).__name__}: {err} (will retry)")
                finally:
                    jobs.task_done()

        threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in self._workers]
        for t in threads:
            t.start()
        try:
            for row in self.recover():
                jobs.put(row)
            jobs.join()
            attempts: dict[int, int] = {}
            while not self._stop.is_set():
                # unfinished rows (a failed step) are tried again, three times at most
                for (row,) in self.state.execute(
                        "SELECT id FROM files WHERE stage NOT IN ('done', 'claiming') ORDER BY id"):
                    attempts[row] = attempts.get(row, 0) + 1
                    if attempts[row] <= 3:
                        jobs.put(row)
                    elif attempts[row] == 4:
                        self.emit(f"file #{row}: still unfinished after 3 attempts; left for the operator")
                found = self.poll()
                for path in found:
                    if self._stop.is_set():
                        break
                    jobs.put(path)
                jobs.join()
                if once and not found and not self._seen:
                    break  # the inbox holds nothing more, finished or still being written
                self._stop.wait(self.s.poll_s)
        finally:
            for _ in threads:
                jobs.put(None)
            for t in threads:
                t.join()
            for w in self._workers:
                w.close()
            self.state.set_meta("last_stop", str(time.time()))
        return done[0]


def _output_format(rel: str) -> OutputFormat:
    ext = Path(rel).suffix.lower()
    fmt = next((f for f, exts in FORMAT_EXTENSIONS.items() if ext in exts), "PNG")
    return OutputFormat.for_source(fmt)


def _openable(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


def file_logger(hold: Path) -> logging.Handler:
    """A log file in HOLD/logs rotated at midnight, 90 days kept."""
    handler = logging.handlers.TimedRotatingFileHandler(hold / "logs" / "watch.log", when="midnight",
                                                        backupCount=90, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    return handler


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class WatchStatus:
    outcomes: dict[str, int]
    unfinished: int
    backlog: int | None
    last_activity: float | None
    inbox: str | None


def status(hold: Path) -> WatchStatus:
    db = hold / ".scrubber" / "state.db"
    if not db.exists():
        from scrubber.errors import ScrubberError

        raise ScrubberError(f"{hold}: no watcher state here (expected {db})")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        outcomes = dict(conn.execute("SELECT COALESCE(outcome, '(in progress)'), COUNT(*) FROM files "
                                     "WHERE stage = 'done' GROUP BY outcome").fetchall())
        unfinished = conn.execute("SELECT COUNT(*) FROM files WHERE stage != 'done'").fetchone()[0]
        last = conn.execute("SELECT MAX(updated) FROM files").fetchone()[0]
        row = conn.execute("SELECT value FROM meta WHERE key = 'inbox'").fetchone()
    finally:
        conn.close()
    inbox = row[0] if row else None
    backlog = None
    if inbox and Path(inbox).is_dir():
        backlog = 0
        for root, dirs, files in os.walk(inbox):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            backlog += sum(not is_temporary(f) for f in files)
    return WatchStatus(outcomes, unfinished, backlog, last, inbox)
