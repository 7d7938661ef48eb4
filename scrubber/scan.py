"""Batch scanning of a folder: discover files, plan output paths, run worker processes.

Files are found recursively (or not), extensions matched in any case; the file type is
then decided by decoding (``imageio.load`` refuses a mismatch). Outputs mirror the input's
relative paths under the output folder; two inputs that would land on one output name
keep their original extension in the name instead of overwriting each other. Workers are
separate processes (``spawn``), each building its ``Scrubber`` once.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from scrubber.imageio import FORMAT_EXTENSIONS, IMAGE_EXTENSIONS, OutputFormat
from scrubber.pipeline import Result, Scrubber
from scrubber.policy import Policy, Status


@dataclass(frozen=True)
class Job:
    source: Path
    relative: str
    target: Path


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
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            images.append(path)
        else:
            skipped += 1
    return sorted(images), skipped


def plan(folder: Path, files: list[Path], out: Path) -> list[Job]:
    jobs, taken = [], set()
    for path in files:
        rel = path.relative_to(folder)
        fmt = next((f for f, exts in FORMAT_EXTENSIONS.items() if path.suffix.lower() in exts), "PNG")
        target = out / rel.with_suffix(OutputFormat.for_source(fmt).extension)
        if target in taken:  # photo.png and photo.bmp would both become photo.png
            target = out / rel.with_name(f"{rel.stem}_{path.suffix.lstrip('.').lower()}").with_suffix(
                OutputFormat.for_source(fmt).extension)
        taken.add(target)
        jobs.append(Job(path, rel.as_posix(), target))
    return jobs


_worker: Scrubber | None = None


def _init_worker(policy: Policy, single_thread: bool = True) -> None:
    """Build the worker's models once. With several workers each stays on one thread:
    processes, not threads, share the cores (Tesseract with OpenMP threads was 7x slower)."""
    global _worker
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if single_thread:
        import cv2

        cv2.setNumThreads(1)
    _worker = Scrubber(policy)


def _run(job: Job, overwrite: bool) -> Result:
    assert _worker is not None, "worker not initialised"
    return _worker.process(job.source, out=job.target, overwrite=overwrite, display=job.relative)


def run(jobs: list[Job], policy: Policy, workers: int, overwrite: bool,
        on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Process ``jobs``; results come back in job order. Ctrl-C cancels what has not started."""
    results: dict[int, Result] = {}
    if workers <= 1:
        _init_worker(policy, single_thread=False)
        for i, job in enumerate(jobs):
            results[i] = _run(job, overwrite)
            on_result(results[i])
        return [results[i] for i in range(len(jobs))]

    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(policy,)) as pool:
        pending: dict[Future, int] = {pool.submit(_run, job, overwrite): i for i, job in enumerate(jobs)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        results[i] = fut.result()
                    except Exception as err:  # a crashed worker: that file is blocked, the run goes on
                        results[i] = Result(jobs[i].relative, Status.BLOCKED, ("worker-crashed",),
                                            error=f"{jobs[i].relative}: worker failed ({type(err).__name__}: {err})")
                    on_result(results[i])
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return [results[i] for i in range(len(jobs))]
