"""Watched folder for a shared drive: ``scrubber watch INBOX --ready READY --hold HOLD``.

Network shares (SMB/NFS) deliver no change notifications, so the inbox is *polled*. A file
is taken only once it is complete: same size and mtime over ``stable_polls`` polls, older
than ``min_age``, not a temporary name, and openable. Then, per file:

Only regular files are taken: symbolic links, FIFOs, sockets and devices are never opened
(logged once and left where they are), nor are folders reached through a link.

1. **claim**: an atomic rename into ``INBOX/.scrubber-claims/<watcher-id>/`` under a neutral
   name (two watchers on one inbox: only one rename succeeds). The row, with the screened
   name (``scrubber.names``) and the names its copies will get, is written to the state
   database first; a rename that fails (permissions, another filesystem) is recorded once as
   ``unclaimable`` and not tried again until the file changes.
2. **scan** in a worker process (``scrubber.workers``) with a time and memory limit, once the
   claimed file has been unchanged for ``min_age``.
3. **outputs**: a shareable result is written to READY (temp + fsync + no-clobber link, name
   collisions get ``-1``, ``-2``...); a blocked photo is copied to ``HOLD/review/`` and a
   non-image to ``HOLD/rejected/``, each with a sidecar JSON of reasons.
4. **original**: copied to ``HOLD/originals/`` (streamed, fsync, hash verified). The claimed
   file stays where it is until it has been unchanged for ``settle`` seconds: a writer that
   paused longer than ``min_age`` and still holds the file open writes on into the claimed
   file, and a file that changed after its scan is scanned again. Only then is it removed.
   Nothing is ever deleted before its copy is durable.

State lives in SQLite (WAL) in ``HOLD/.scrubber/state.db``, one row per claimed file with its
stage, so a restart after a crash, power loss or ``kill -9`` resumes each file from the stage
it reached: no file lost, none published twice. A file whose SHA-256 was already published
is a duplicate: it is recorded and its original kept, but it is not published again.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import logging
import logging.handlers
import os
import socket
import sqlite3
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from scrubber import audit, outputs
from scrubber.errors import ScrubberError
from scrubber.imageio import (MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, OutputFormat, fsync_dir, named_format, open_regular,
                              safe_extension, sha256_file)
from scrubber.names import NameScreen, escape
from scrubber.policy import Policy
from scrubber.state import State, inside
from scrubber.workers import Job, Pool

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
    settle_s: float = 30.0  # a claimed file must be unchanged this long before it leaves the inbox
    memory_mb: float = 6144.0  # per worker; a scan that needs more is killed and blocked


class HoldInUse(ScrubberError):
    exit_code = 2
    reason = "hold-in-use"


class HoldLock:
    """``HOLD/.scrubber/watch.lock``: held (``flock``) by the one watcher using this HOLD, and
    naming it (pid, host, start time) for a second watcher's refusal and for ``status``."""

    def __init__(self, hold: Path):
        self.path = outputs.private_dir(Path(hold) / ".scrubber") / "watch.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 400).decode("utf-8", "replace").split()
            os.close(fd)
            who = f"pid {owner[0]} on {owner[1]}" if len(owner) >= 2 else "another process"
            raise HoldInUse(f"{self.path.parent.parent}: already used by a running watcher ({who}); two watchers "
                            "must not share one HOLD folder (give each its own --hold)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_owner(hold: Path) -> tuple[str, str] | None:
    """(pid, host) of the watcher running on ``hold`` now, or None when none is."""
    import fcntl

    path = Path(hold) / ".scrubber" / "watch.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 400).decode("utf-8", "replace").split()
            return (owner[0], owner[1]) if len(owner) >= 2 else ("?", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- file helpers


def is_temporary(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in TEMP_PATTERNS)


def _suffix(name: str) -> str:
    """The extension a claim keeps (lower case), when it is a short, plain one."""
    ext = PurePosixPath(name).suffix.lower()
    return ext if 1 < len(ext) <= 8 and ext[1:].isascii() and ext[1:].isalnum() else ""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def _stat_key(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}"


# ---------------------------------------------------------------- the watcher


class Watcher:
    def __init__(self, settings: WatchSettings, policy: Policy, on_event: Callable[[str], None] = log.info):
        self.s = settings
        self.policy = policy
        self.emit = on_event
        self.screen = NameScreen.for_policy(policy)
        for folder in (settings.inbox, settings.ready):
            folder.mkdir(parents=True, exist_ok=True)
        outputs.private_dir(settings.hold)
        for sub in ("review", "rejected", "originals", "logs"):
            outputs.private_dir(settings.hold / sub)
        self.lock = HoldLock(settings.hold)
        self.lock.acquire()
        self.state = State(settings.hold)
        wid = self.state.meta("watcher_id")
        if wid is None:
            wid = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
            self.state.set_meta("watcher_id", wid)
        self.state.set_meta("inbox", str(settings.inbox.resolve()))
        self.state.set_meta("ready", str(settings.ready.resolve()))
        self.claims = settings.inbox / CLAIMS / escape(wid).replace("/", "_")
        self.tmp_prefix = f".scrubber-{wid}-"  # our temporary files, removed after a crash
        self.claims.mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, tuple[int, int, int]] = {}  # relpath -> (size, mtime_ns, stable count)
        self._passed: dict[str, str] = {}  # relpath -> why it is left alone (logged once)
        self._stop = threading.Event()
        self._publish_lock = threading.Lock()
        self.pool: Pool | None = None  # the scan workers, while ``run`` runs

    def close(self) -> None:
        self.lock.release()

    # ------------------------------------------------------------ discovery

    def poll(self) -> list[tuple[Path, tuple[int, int]]]:
        """Regular files in INBOX complete for long enough, oldest first, with the (size,
        mtime) they held still at. Links, FIFOs and devices are logged once and left alone."""
        ready: list[tuple[float, Path, tuple[int, int]]] = []
        now = time.time()
        present = set()
        for root, dirs, files in os.walk(self.s.inbox):
            keep = []
            for d in dirs:
                if d.startswith(".") or d == CLAIMS:
                    continue
                if os.path.islink(os.path.join(root, d)):
                    self._pass(Path(root) / d, "symbolic link to a folder: not followed")
                    continue
                keep.append(d)
            dirs[:] = keep
            for name in files:
                path = Path(root) / name
                rel = path.relative_to(self.s.inbox).as_posix()
                if is_temporary(name):
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self._pass(path, f"{_kind(st.st_mode)}: never opened")
                    continue
                if self._passed.get(rel) == _stat_key(st):
                    continue  # could not be taken; tried again only once it changes
                if st.st_size > self.policy.max_bytes:
                    self._give_up(rel, st, f"{st.st_size:,} bytes, over the policy's max_file_mb")
                    continue
                present.add(rel)
                size, mtime = st.st_size, st.st_mtime_ns
                old = self._seen.get(rel)
                count = old[2] + 1 if old and old[:2] == (size, mtime) else 0
                self._seen[rel] = (size, mtime, count)
                if count >= self.s.stable_polls and now - st.st_mtime >= self.s.min_age_s:
                    problem = _unopenable(path)
                    if problem:
                        self._give_up(rel, st, f"cannot be opened ({problem})")
                    else:
                        ready.append((st.st_mtime, path, (size, mtime)))
        for rel in set(self._seen) - present:
            del self._seen[rel]
        return [(p, seen) for _, p, seen in sorted(ready)]

    def _pass(self, path: Path, why: str) -> None:
        rel = path.relative_to(self.s.inbox).as_posix()
        if self._passed.get(rel) != why:
            self._passed[rel] = why
            self.emit(f"{self.screen.screen(rel).display}: {why}, left in the inbox")

    def _give_up(self, rel: str, st: os.stat_result, why: str) -> None:
        """A file that cannot be taken: logged once, not tried again until it changes."""
        self._seen.pop(rel, None)
        if self._passed.get(rel) != _stat_key(st):
            self._passed[rel] = _stat_key(st)
            self.emit(f"{self.screen.screen(rel).display}: {why}; left in the inbox, tried again when it changes")

    # ------------------------------------------------------------ one file

    def claim(self, path: Path, seen: tuple[int, int] | None = None) -> int | None:
        rel = path.relative_to(self.s.inbox).as_posix()
        safe = self.screen.screen(rel)
        pub = PurePosixPath(safe.relpath(None))
        name_ok = not safe.neutral_file and len(pub.name.encode("utf-8", "surrogateescape")) <= 200
        target = self.claims / f"{uuid.uuid4().hex[:12]}{_suffix(path.name)}"
        now = time.time()
        row = self.state.insert(
            "INSERT INTO files (relpath, claim, stage, pubdir, pubname, created, updated) "
            "VALUES (?, ?, 'claiming', ?, ?, ?, ?)",
            (safe.display, str(target), str(pub.parent) if str(pub.parent) != "." else "",
             pub.name if name_ok else None, now, now),
        )
        try:
            os.rename(path, target)
        except FileNotFoundError:  # another watcher took it, or it was removed
            self.state.execute("DELETE FROM files WHERE id = ?", (row,))
            self._seen.pop(rel, None)
            return None
        except OSError as err:  # permissions, another filesystem (EXDEV), a name the share refuses
            code = errno.errorcode.get(err.errno, "error")
            self.state.update(row, stage="done", outcome="unclaimable", verdict="not-scanned",
                              reasons=f"claim-failed:{code}")
            try:
                self._give_up(rel, os.lstat(path), f"cannot be claimed ({err.strerror or code})")
            except OSError:
                self._seen.pop(rel, None)
            return None
        self._seen.pop(rel, None)
        self.state.update(row, stage="claimed")
        try:
            now_stat = os.lstat(target)
        except OSError:
            now_stat = None
        if seen is not None and now_stat is not None and (now_stat.st_size, now_stat.st_mtime_ns) != seen:
            # written to between the last poll and the rename: ``handle`` waits for it to hold still
            self.emit(f"{safe.display}: changed while it was being claimed; waiting for it to hold still")
        return row

    def handle(self, row_id: int) -> bool:
        """Carry one claimed file towards 'done' from whatever stage it reached:
        claimed -> scanned (result in the database, safe copy in HOLD/.scrubber/out)
        -> written (published to READY, or held in review/rejected; original copied) -> done
        (the claimed file unchanged for ``settle_s``, then removed). True when it is done;
        False when it must wait (still settling) and is taken up again at the next poll."""
        t0 = time.perf_counter()
        rel, claim, stage, original = self.state.execute(
            "SELECT relpath, claim, stage, original FROM files WHERE id = ?", (row_id,))[0]
        if stage == "done":
            return True
        claim_path = Path(claim)
        if claim_path.parent != self.claims:  # a path read back from disk: only our claim folder
            self.state.update(row_id, stage="done", outcome="lost", reasons="claim-outside-claim-folder")
            self.emit(f"file #{row_id}: its claim is not in {self.claims} (recorded as lost)")
            return True
        try:
            st = os.lstat(claim_path)
        except FileNotFoundError:
            sha = self.state.execute("SELECT sha256 FROM files WHERE id = ?", (row_id,))[0][0]
            if stage == "written" and original and sha and Path(original).is_file() \
                    and sha256_file(Path(original)) == sha:
                self.state.update(row_id, stage="done")  # crashed between removing the claim and 'done'
                return True
            self.state.update(row_id, stage="done", outcome="lost")
            self.emit(f"{rel}: claimed file vanished (recorded as lost)")
            return True
        if not stat.S_ISREG(st.st_mode):
            self.state.update(row_id, stage="done", outcome="ignored", reasons=f"not-a-regular-file:{_kind(st.st_mode)}")
            self.emit(f"{rel}: the claimed {_kind(st.st_mode)} is not a regular file; never opened, left in {self.claims}")
            return True
        if stage == "claimed":
            if time.time() - st.st_mtime < self.s.min_age_s:
                return False  # written to since it was claimed: wait until it holds still
            sha = sha256_file(claim_path)
            self.state.update(row_id, sha256=sha, scanned_stat=_stat_key(st))
            self._scan(row_id, rel, claim_path, sha)
            stage = "scanned"
        sha, scanned = self.state.execute("SELECT sha256, scanned_stat FROM files WHERE id = ?", (row_id,))[0]
        if _stat_key(os.lstat(claim_path)) != scanned:
            return self._changed(row_id, rel)
        if stage == "scanned":
            self._outputs(row_id, rel, claim_path, sha)
            stage = "written"
        if stage == "written":
            outputs.copy_file(claim_path, self._hold_path("originals", row_id, sha, claim_path.suffix), sha,
                              reuse=original, reserve=lambda path: self.state.update(row_id, original=str(path)),
                              tmp_prefix=self.tmp_prefix, max_bytes=self.policy.max_bytes * 4)
            st = os.lstat(claim_path)
            if _stat_key(st) != scanned:
                return self._changed(row_id, rel)
            if time.time() - st.st_mtime < self.s.settle_s:
                return False  # a writer that paused may still hold it open: keep watching
            claim_path.unlink()
            fsync_dir(claim_path.parent)
            self._tmp_output(row_id, claim_path.suffix).unlink(missing_ok=True)
            seconds = time.perf_counter() - t0
            self.state.update(row_id, stage="done", seconds=seconds)
            outcome, verdict, reasons, target = self.state.execute(
                "SELECT outcome, verdict, reasons, target FROM files WHERE id = ?", (row_id,))[0]
            self.emit(f"{rel}: {outcome} ({verdict}; {reasons or 'nothing found'}) -> "
                      f"{escape(target) if target else '-'} in {seconds:.1f} s")
        return True

    def _changed(self, row_id: int, rel: str) -> bool:
        """The claimed file changed after its scan (a writer still at it): scan it again. Copies
        already made (a partial original in HOLD/originals) stay."""
        self.state.update(row_id, stage="claimed", sha256=None, scanned_stat=None, outcome=None, record=None,
                          verdict=None, reasons=None, target=None, original=None)
        self.emit(f"{rel}: changed after it was scanned (still being written); it will be scanned again")
        return False

    def _published_rel(self, row_id: int, sha: str, ext: str) -> PurePosixPath:
        pubdir, pubname = self.state.execute("SELECT pubdir, pubname FROM files WHERE id = ?", (row_id,))[0]
        name = PurePosixPath(pubname).stem if pubname else f"photo-{sha[:12]}"
        return PurePosixPath(pubdir or ".") / f"{name}{ext}"

    def _hold_path(self, folder: str, row_id: int, sha: str, ext: str) -> Path:
        root = self.s.hold / folder
        return inside(root, str(self._published_rel(row_id, sha, ext))) or root / f"photo-{sha[:12]}{ext}"

    def _tmp_output(self, row_id: int, ext: str) -> Path:
        return self.s.hold / ".scrubber" / "out" / f"{row_id}{safe_extension(f'x{ext}')}"

    def _scan(self, row_id, rel, claim_path, sha) -> None:
        from scrubber.report import result_record

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
        if claim_path.suffix.lower() not in MEDIA_EXTENSIONS:
            record = {"path": rel, "verdict": "blocked", "reasons": ["not-an-image"],
                      "error": f"{rel}: not an image file"}
        else:
            tmp = self._tmp_output(row_id, claim_path.suffix)
            outputs.make_dirs(tmp.parent, private=True)
            tmp.unlink(missing_ok=True)
            fmt = None if claim_path.suffix.lower() in VIDEO_EXTENSIONS else _output_format(claim_path.suffix).value
            job = Job(str(claim_path), str(tmp), fmt, display=rel)
            record = result_record(self.pool.submit(job).result())
        shareable = record["verdict"] in ("clean", "redacted") and bool(record.get("output"))
        unreadable = bool(record.get("error")) and not shareable and (record.get("reasons") or [""])[0] in (
            "not-an-image", "unreadable", "too-large")
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
            tmp = self._tmp_output(row_id, claim_path.suffix)
            if not tmp.exists():  # crashed before the scan finished writing: scan again
                self.state.update(row_id, stage="claimed", outcome=None)
                raise RuntimeError("safe copy missing after restart; scanning again")
            wanted = inside(self.s.ready, str(self._published_rel(row_id, sha, tmp.suffix)))
            if wanted is None:
                wanted = self.s.ready / f"photo-{sha[:12]}{tmp.suffix}"
            published = self._publish(row_id, tmp, wanted, target)
            self.state.update(row_id, stage="written", target=str(published))
            return
        copy = outputs.copy_file(claim_path, self._hold_path(outcome, row_id, sha, claim_path.suffix), sha,
                                 reuse=target, reserve=lambda path: self.state.update(row_id, target=str(path)),
                                 tmp_prefix=self.tmp_prefix, max_bytes=self.policy.max_bytes * 4)
        sidecar = {"file": rel, "sha256": sha, "outcome": outcome, "held_copy": copy.name,
                   "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")} | {
            k: record.get(k) for k in ("verdict", "reasons", "error", "width", "height", "detections", "residuals",
                                       "timings")}
        outputs.write((json.dumps(sidecar, indent=1) + "\n").encode(), copy.with_name(copy.name + ".json"),
                      overwrite=True, private=True, tmp_prefix=self.tmp_prefix)
        self.state.update(row_id, stage="written")

    def _publish(self, row_id: int, tmp: Path, wanted: Path, reserved: str | None) -> Path:
        """Link the safe copy into READY under a free name, exactly once. The name is reserved
        in the database before the link, so after a crash an existing reserved file with our
        content means 'already published'."""
        digest = sha256_file(tmp)
        if reserved and Path(reserved).is_file() and sha256_file(Path(reserved)) == digest:
            return Path(reserved)
        return outputs.write_free(tmp.read_bytes(), wanted, tmp_prefix=self.tmp_prefix,
                                  reserve=lambda path: self.state.update(row_id, target=str(path)))

    # ------------------------------------------------------------ recovery and loop

    def recover(self) -> list[int]:
        """Rows a previous run left unfinished, plus claimed files it never recorded (named
        ``unrecorded/...``: a claim's name says nothing about where it came from); our own
        half-written temporary files (a crash inside a write) are removed."""
        for folder in (self.s.ready, self.s.hold):
            for leftover in folder.rglob(f"{self.tmp_prefix}*.tmp"):
                leftover.unlink(missing_ok=True)
        for row_id, rel, claim in self.state.execute(
                "SELECT id, relpath, claim FROM files WHERE stage = 'claiming'"):
            if os.path.lexists(claim):
                self.state.update(row_id, stage="claimed")
            else:
                self.state.execute("DELETE FROM files WHERE id = ?", (row_id,))
        known = {r[0] for r in self.state.execute("SELECT claim FROM files")}
        for path in sorted(self.claims.iterdir()):
            if str(path) not in known and not path.name.startswith("."):
                now = time.time()
                self.state.insert("INSERT INTO files (relpath, claim, stage, pubdir, pubname, created, updated) "
                                  "VALUES (?, ?, 'claimed', 'unrecorded', NULL, ?, ?)",
                                  (f"unrecorded/{escape(path.name)}", str(path), now, now))
        return [r[0] for r in self.state.execute("SELECT id FROM files WHERE stage != 'done' ORDER BY id")]

    def stop(self) -> None:
        self._stop.set()

    def run(self, once: bool = False) -> int:
        """Poll until stopped (or, with ``once``, until the inbox holds nothing ready and
        nothing is unfinished). Returns the number of files finished."""
        import queue

        jobs: queue.Queue = queue.Queue()
        done = [0]
        failures: dict[int, int] = {}  # row -> failed attempts (three, then left for the operator)
        try:
            self.pool = Pool(self.policy, self.s.workers, self.s.timeout_s, self.s.memory_mb)
        except BaseException:
            self.close()
            raise

        def work() -> None:
            while True:
                item = jobs.get()
                if item is None:
                    return
                row = item if isinstance(item, int) else None
                try:
                    if row is None:
                        row = self.claim(*item)
                    if row is not None and self.handle(row):
                        done[0] += 1
                except Exception as err:  # one bad file never stops the watcher
                    if row is not None:
                        failures[row] = failures.get(row, 0) + 1
                    label = f"file #{row}" if row is not None else \
                        self.screen.screen(item[0].relative_to(self.s.inbox).as_posix()).display
                    self.emit(f"{label}: error: {type(err).__name__}: {escape(str(err))} (will retry)")
                finally:
                    jobs.task_done()

        def unfinished() -> list[int]:
            rows = [r for (r,) in self.state.execute(
                "SELECT id FROM files WHERE stage NOT IN ('done', 'claiming') ORDER BY id")]
            for r in rows:
                if failures.get(r, 0) == 3:
                    failures[r] += 1
                    self.emit(f"file #{r}: still unfinished after 3 attempts; left for the operator")
            return [r for r in rows if failures.get(r, 0) < 3]

        threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, self.s.workers))]
        for t in threads:
            t.start()
        try:
            for row in self.recover():
                jobs.put(row)
            jobs.join()
            while not self._stop.is_set():
                for row in unfinished():
                    jobs.put(row)
                found = self.poll()
                for item in found:
                    if self._stop.is_set():
                        break
                    jobs.put(item)
                jobs.join()
                self.state.set_meta("last_poll", str(time.time()))
                if once and not found and not self._seen and not unfinished():
                    break  # the inbox holds nothing more, finished or still being written
                self._stop.wait(self.s.poll_s)
        finally:
            for _ in threads:
                jobs.put(None)
            for t in threads:
                t.join()
            self.pool.close()
            self.state.set_meta("last_stop", str(time.time()))
            self.close()
        return done[0]


def _output_format(ext: str) -> OutputFormat:
    return OutputFormat.for_source(named_format(f"x{ext}") or "PNG")


def _unopenable(path: Path) -> str | None:
    """Why ``path`` cannot be opened for reading (None when it can); a FIFO or a link swapped
    in since the last look is not waited on or followed."""
    try:
        fd = open_regular(path)
    except OSError as err:
        return err.strerror or str(err)
    try:
        os.read(fd, 1)
        return None
    except OSError as err:
        return err.strerror or str(err)
    finally:
        os.close(fd)


def file_logger(hold: Path) -> logging.Handler:
    """A log file in HOLD/logs rotated at midnight, 90 days kept, readable by this user only."""
    path = outputs.private_dir(Path(hold) / "logs") / "watch.log"
    handler = logging.handlers.TimedRotatingFileHandler(path, when="midnight", backupCount=90, encoding="utf-8",
                                                        errors="backslashreplace")
    os.chmod(path, outputs.PRIVATE_FILE)
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
    running: tuple[str, str] | None = None  # (pid, host) of the watcher running now
    last_poll: float | None = None
    review: tuple[int, int] = (0, 0)  # held photos (waiting for a decision, decided): as the review queue counts


def status(hold: Path) -> WatchStatus:
    db = hold / ".scrubber" / "state.db"
    if not db.exists():
        raise ScrubberError(f"{hold}: no watcher state here (expected {db})")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        outcomes = dict(conn.execute("SELECT COALESCE(outcome, '(in progress)'), COUNT(*) FROM files "
                                     "WHERE stage = 'done' GROUP BY outcome").fetchall())
        unfinished = conn.execute("SELECT COUNT(*) FROM files WHERE stage != 'done'").fetchone()[0]
        last = conn.execute("SELECT MAX(updated) FROM files").fetchone()[0]
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    finally:
        conn.close()
    inbox = meta.get("inbox")
    backlog = None
    if inbox and Path(inbox).is_dir():
        backlog = 0
        for root, dirs, files in os.walk(inbox):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            backlog += sum(not is_temporary(f) and os.path.isfile(os.path.join(root, f))
                           and not os.path.islink(os.path.join(root, f)) for f in files)
    last_poll = float(meta["last_poll"]) if meta.get("last_poll") else None
    return WatchStatus(outcomes, unfinished, backlog, last, inbox, lock_owner(hold), last_poll,
                       audit.queue_counts(hold))
