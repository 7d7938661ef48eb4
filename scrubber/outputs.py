"""Where outputs go: the one place that writes a file scrubber produced.

* ``write(data, dest)``: temporary file in the destination folder, fsync, then an atomic
  no-clobber link (``overwrite`` replaces instead), the folder fsynced; ``OutputExists`` when
  the name is taken.
* ``deliver(result, dest)``: a scan result's verified bytes written with ``write`` and read
  back; the result then names its output (or carries the one-line error).
* ``write_free(data, wanted)``: the same under the first free name of ``wanted``, ``-1``,
  ``-2``...; ``reserve`` is called with each name before it is tried, so a caller that
  records it can recognise its own file after a crash.
* Permissions: a safe copy meant for others (READY, a scan's output folder) gets the usual
  ``0666`` less the process umask, as any file the user writes; a private file (anything in
  HOLD: originals, held photos, sidecars, state) is ``0600`` in a ``0700`` folder, whatever
  the umask.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from scrubber.errors import OutputExists, SaveFailed, ScrubberError

if TYPE_CHECKING:
    from scrubber.pipeline import Result

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
_umask: list[int] = []
_umask_lock = threading.Lock()


def umask() -> int:
    """The process umask, read once (``/proc/self/status`` where it exists: reading it with
    ``os.umask`` means setting it for a moment, which races with other threads)."""
    with _umask_lock:
        if not _umask:
            value = None
            try:
                for line in Path("/proc/self/status").read_text().splitlines():
                    if line.startswith("Umask:"):
                        value = int(line.split()[1], 8)
            except (OSError, ValueError):
                pass
            if value is None:
                value = os.umask(0o022)
                os.umask(value)
            _umask.append(value)
        return _umask[0]


def file_mode(private: bool) -> int:
    return PRIVATE_FILE if private else 0o666 & ~umask()


def private_dir(folder: Path) -> Path:
    """``folder`` (and missing parents) created, and ``folder`` itself set to ``0700``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, PRIVATE_DIR)
    return folder


def make_dirs(folder: Path, private: bool) -> None:
    """Create ``folder`` and its missing parents; private ones are ``0700`` whatever the umask."""
    folder = Path(folder)
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for level in reversed(missing):
        try:
            level.mkdir()
        except FileExistsError:
            pass
        if private:
            os.chmod(level, PRIVATE_DIR)


def write(data: bytes, dest: Path, *, overwrite: bool = False, private: bool = False,
          tmp_prefix: str | None = None, same_ok: bool = False) -> Path:
    """Write ``data`` to ``dest`` durably (see the module docstring); returns ``dest``.
    ``same_ok``: a regular file already at ``dest`` holding exactly ``data`` counts as written
    (a job run again after its worker was lost meets its own earlier output)."""
    from scrubber.imageio import write_atomic

    if same_ok and not overwrite and _holds(Path(dest), data):
        return Path(dest)
    if private:
        make_dirs(Path(dest).parent, private=True)
    write_atomic(data, Path(dest), overwrite=overwrite, tmp_prefix=tmp_prefix, mode=file_mode(private))
    return Path(dest)


def _holds(path: Path, data: bytes) -> bool:
    from scrubber.imageio import read_limited

    try:  # read_limited refuses links and anything but a regular file
        return read_limited(path, len(data), follow_symlinks=False) == data
    except (ScrubberError, OSError):  # missing, unreadable, longer than data, not a regular file: not ours
        return False


def deliver(result: "Result", dest: Path, *, overwrite: bool = False, same_ok: bool = False,
            private: bool = False) -> "Result":
    """Write ``result.data`` (a shareable scan's verified safe copy) to ``dest`` and read it
    back; the result with ``output`` set, or with ``error`` (and no output) when it could not
    be written. A result without data (blocked, unreadable) has nothing to write; with
    ``overwrite``, an earlier safe copy at ``dest`` (a regular file, never a link) is removed,
    so no stale copy of a photo now blocked stays beside a report that calls it blocked."""
    import time

    if result.data is None:
        if overwrite and _remove_stale(Path(dest)):
            return replace(result, notes=result.notes + ("earlier-output-removed",))
        return result
    t = time.perf_counter()
    try:
        write(result.data, dest, overwrite=overwrite, private=private, same_ok=same_ok)
        if Path(dest).read_bytes() != result.data:  # the bytes whose metadata the scan checked
            raise SaveFailed(f"{dest}: read-back check failed")
    except (OutputExists, SaveFailed) as err:
        return replace(result, error=str(err))
    except OSError as err:
        return replace(result, error=f"{dest}: cannot write ({err.strerror or err})")
    timings = result.timings | {"write": round(time.perf_counter() - t, 4)}
    return replace(result, output=str(dest), timings=timings)


def _remove_stale(dest: Path) -> bool:
    """Remove the regular file ``dest`` (not a link, a folder or anything else); True if it
    was there and is gone."""
    import stat

    from scrubber.imageio import fsync_dir

    try:
        if not stat.S_ISREG(os.lstat(dest).st_mode):
            return False
        os.unlink(dest)
    except OSError:
        return False
    fsync_dir(dest.parent)
    return True


def candidates(wanted: Path, limit: int = 100_000) -> Iterator[Path]:
    """``wanted``, then ``stem-1.ext``, ``stem-2.ext``..."""
    wanted = Path(wanted)
    yield wanted
    for i in range(1, limit):
        yield wanted.with_name(f"{wanted.stem}-{i}{wanted.suffix}")


def write_free(data: bytes, wanted: Path, *, reserve: Callable[[Path], None] = lambda path: None,
               private: bool = False, tmp_prefix: str | None = None) -> Path:
    """Write ``data`` under the first free name of ``wanted`` and return it."""
    for candidate in candidates(wanted):
        if candidate.exists() or candidate.is_symlink():
            continue
        reserve(candidate)
        try:
            return write(data, candidate, private=private, tmp_prefix=tmp_prefix)
        except OutputExists:  # taken a moment ago (another watcher): the next name
            continue
    raise OutputExists(f"{wanted}: no free name")


def copy_file(src: Path, wanted: Path, sha256: str, *, reuse: str | None = None,
              reserve: Callable[[Path], None] = lambda path: None, private: bool = True,
              tmp_prefix: str | None = None, max_bytes: int | None = None) -> Path:
    """Copy the regular file ``src`` (never a link's target) to the first free name of
    ``wanted``, streamed, fsynced and checked against ``sha256``. ``reuse``: a name reserved
    before a crash; if it already holds these bytes it is the copy."""
    import hashlib
    import tempfile

    from scrubber.errors import SaveFailed
    from scrubber.imageio import fsync_dir, open_regular, sha256_file

    if reuse and Path(reuse).is_file() and not Path(reuse).is_symlink() and sha256_file(Path(reuse)) == sha256:
        return Path(reuse)
    wanted = Path(wanted)
    make_dirs(wanted.parent, private)
    fd_src = open_regular(src)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=tmp_prefix or ".copy-", suffix=".tmp", dir=wanted.parent)
        tmp = Path(tmp_name)
        try:
            os.fchmod(fd, file_mode(private))
            digest, total = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := os.read(fd_src, 1 << 20):
                    total += len(chunk)
                    if max_bytes is not None and total > max_bytes:
                        raise SaveFailed(f"{src}: grew past {max_bytes:,} bytes while being copied")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise SaveFailed(f"{wanted}: the copy does not match the original's SHA-256 (it changed)")
            for candidate in candidates(wanted):
                if candidate.exists() or candidate.is_symlink():
                    continue
                reserve(candidate)
                try:
                    os.link(tmp, candidate)
                except FileExistsError:
                    continue
                except OSError:  # a filesystem without hard links
                    if candidate.exists():
                        continue
                    os.replace(tmp, candidate)
                fsync_dir(candidate.parent)
                return candidate
            raise OutputExists(f"{wanted}: no free name")
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        os.close(fd_src)
