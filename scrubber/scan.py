"""Batch scanning of a folder: discover files, plan output paths, run worker processes.

Files are found recursively (or not), extensions matched in any case; the file type is
then decided by decoding (``imageio.load`` refuses a mismatch). Outputs mirror the input's
relative paths under the output folder; two inputs that would land on one output name
keep their original extension in the name instead of overwriting each other. Files are
scanned by ``scrubber.workers`` (a pool of processes, each with a per-file time limit) or,
with ``--cluster``, by ``scrubber.cluster`` on Dask workers; both take the same jobs.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Iterator

from scrubber.imageio import MEDIA_EXTENSIONS, safe_extension
from scrubber.pipeline import Result
from scrubber.policy import Policy
from scrubber.workers import Job, Pool, WorkerFailed, stopped

if TYPE_CHECKING:
    from scrubber.names import NameScreen


def discover(folder: Path, recursive: bool, exclude: Path | None = None) -> tuple[list[Path], int]:
    """Image files under ``folder`` (sorted) and the number of other files left alone."""
    images, skipped = [], 0
    exclude = exclude.resolve() if exclude else None

    def walk() -> Iterator[Path]:
        if recursive:
            for root, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                                 (exclude is None or (Path(root) / d).resolve() != exclude))
                for f in files:
                    yield Path(root) / f
        else:
            yield from (p for p in folder.iterdir() if p.is_file())

    for path in walk():
        if path.name.startswith("."):
            continue
        if path.suffix.lower() in MEDIA_EXTENSIONS:
            images.append(path)
        else:
            skipped += 1
    return sorted(images), skipped


def plan(folder: Path, files: list[Path], out: Path, screen: "NameScreen | None" = None,
         overwrite: bool = False) -> list[Job]:
    """One job per file: its display name (the screened, escaped relative path reports and the
    progress line show) and where its safe copy goes, as absolute paths. Outputs mirror the
    input's relative paths, with names that hold identifiers replaced (``scrubber.names``).
    Two inputs never share an output, even on a case-insensitive share: ``photo.png`` and
    ``photo.bmp`` give ``photo.png`` and ``photo_bmp.png``; a file never lands where a mirrored
    folder must be (``a.bmp`` beside a folder ``a.png/``), then ``-1``, ``-2``..."""
    return _named_jobs([(path, path.relative_to(folder).as_posix()) for path in files], out, screen, overwrite)


def plan_flat(files: list[Path], out: Path, screen: "NameScreen | None" = None,
              overwrite: bool = False) -> list[Job]:
    """As ``plan``, for photos from anywhere (``scrubber check A.jpg B.png --out DIR``): every
    safe copy goes straight into ``out`` under its photo's screened file name."""
    return _named_jobs([(path, path.name) for path in files], out, screen, overwrite)


def _named_jobs(files: list[tuple[Path, str]], out: Path, screen: "NameScreen | None",
                overwrite: bool) -> list[Job]:
    from scrubber.imageio import sha256_file
    from scrubber.names import NameScreen

    screen = screen or NameScreen((), keep=True)
    named = []
    for path, rel in files:
        safe = screen.screen(rel)
        ext = safe_extension(path)
        sha = None
        if safe.neutral_file:
            try:
                sha = sha256_file(path)
            except OSError:
                sha = None  # unreadable: its name comes from the name itself; the scan reports why
        named.append((path, safe, PurePosixPath(safe.relpath(sha, ext)), ext))
    folders = {str(parent).casefold() for _, _, rel, _ in named for parent in rel.parents if str(parent) != "."}
    jobs, taken = [], set()
    for path, safe, rel, ext in named:
        tagged = f"{rel.stem}_{path.suffix.lstrip('.').lower()}"
        options = itertools.chain((rel, rel.with_name(f"{tagged}{ext}")),
                                  (rel.with_name(f"{tagged}-{i}{ext}") for i in itertools.count(1)))
        target = next(o for o in options if str(o).casefold() not in taken and str(o).casefold() not in folders)
        taken.add(str(target).casefold())
        jobs.append(Job(str(path.absolute()), out=str((out / target).absolute()), display=safe.display,
                        overwrite=overwrite))
    return jobs


def check_folders(folder: Path, out: Path) -> str | None:
    """Why ``out`` cannot take a scan of ``folder``: the same folder, one inside the other (a scan
    would read its own outputs, or ``--overwrite`` replace originals), or ``out`` is a file."""
    src, dst = folder.resolve(), out.resolve()
    if src == dst:
        return f"{out}: the output folder must differ from the input folder"
    if src in dst.parents:
        return f"{out}: the output folder is inside the input folder {folder}; choose a folder outside it"
    if dst in src.parents:
        return f"{out}: the input folder {folder} is inside the output folder; choose a folder outside it"
    if dst.exists() and not dst.is_dir():
        return f"{out}: exists and is not a folder"
    return None


def run(jobs: list[Job], policy: Policy, workers: int, timeout_s: float,
        on_result: Callable[[Result], None] = lambda r: None, memory_mb: float = 0.0) -> list[Result]:
    """Process ``jobs`` in a ``workers.Pool``; results come back in job order, ``on_result``
    sees each as it finishes. Ctrl-C kills the workers and drops what has not started."""
    results: dict[int, Result] = {}
    with Pool(policy, min(workers, len(jobs)) or 1, timeout_s, memory_mb) as pool:
        pending: dict[Future, int] = {pool.submit(job): i for i, job in enumerate(jobs)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    results[i] = fut.result()
                except WorkerFailed as err:  # a lost worker's replacement could not start
                    results[i] = stopped(jobs[i], "worker-failed", str(err))
                on_result(results[i])
    return [results[i] for i in range(len(jobs))]
