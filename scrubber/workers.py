"""Scan workers: the one way ``scan``, ``watch``, ``serve`` and a Dask worker run a file.

* ``ScanProcess``: one child interpreter (``python -m scrubber.workers``, started with
  ``subprocess`` so that a daemonic process such as a Dask worker can start one too) that
  builds ``Scrubber`` once, proves it can run, then scans job after job and writes each
  shareable result where the job says (``outputs.deliver``).

  * Start-up: the models load and ``Scrubber.self_test`` runs every detector on a small
    generated picture; a detector that cannot run (no usable temporary folder for
    Tesseract, a missing model) stops the start with its reason (``WorkerFailed``), so a
    service refuses to start instead of holding every photo.
  * ``run(job)`` waits at most ``timeout_s``; a child that overruns, grows past
    ``memory_mb`` of resident memory or dies is killed and replaced, and the file's result
    is ``blocked`` with reason ``timeout``, ``memory-limit`` or ``worker-crashed``. A video
    clip's scan tells the parent of its progress (every ``PROGRESS_EVERY_S``): each time,
    the clip gets ``timeout_s`` again from then, so a three-minute clip is not stopped for
    its length, and a scan that stops moving still is.
  * The child ends within half a second of its parent, so a killed parent (a Dask worker
    lost with its machine) leaves no scan running on behind it.
  * A job in ``review`` mode scans with the policy's ``block`` actions turned into
    redactions (``Policy.for_review``): the redacted copy a reviewer may approve, verified
    like any other.

* ``Pool``: ``workers`` of them behind ``submit(job) -> Future[Result]``.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path

from scrubber import outputs
from scrubber.errors import ScrubberError
from scrubber.imageio import OutputFormat
from scrubber.pipeline import Result, Scrubber
from scrubber.policy import Policy, Status


class WorkerFailed(ScrubberError):
    exit_code = 4
    reason = "worker-failed"


PROGRESS_EVERY_S = 2.0  # how often a clip's scan tells the parent it is still moving


@dataclass(frozen=True)
class Job:
    """One file to scan. ``out``: where a shareable result is written (nothing is written
    without it); ``same_ok``: an ``out`` already holding exactly these bytes counts as
    written (see ``outputs.write``)."""

    source: str
    out: str | None = None
    fmt: str | None = None
    display: str | None = None
    review: bool = False
    overwrite: bool = False
    same_ok: bool = False
    preview: int = 0  # > 0: the result carries a redacted preview this many px on its longer side

    @property
    def name(self) -> str:
        return self.display or self.source


def stopped(job: Job, reason: str, why: str, seconds: float = 0.0) -> Result:
    """The blocked result of a job whose scan did not finish (``timeout``, ``worker-crashed``...)."""
    return Result(job.name, Status.BLOCKED, (reason,), error=f"{job.name}: scan stopped: {why}",
                  timings={"total": seconds})


# ---------------------------------------------------------------- the child


def run_job(scrubber: Scrubber, job: Job, progress=None) -> Result:
    """Scan ``job.source`` with ``scrubber`` here, and write a shareable result where the job says.
    ``progress(done, total)``: a clip's frames."""
    result = scrubber.process(Path(job.source), out_format=OutputFormat(job.fmt) if job.fmt else None,
                              display=job.display, progress=progress)
    if job.preview:
        from scrubber.preview import preview

        t = time.perf_counter()
        try:
            small = preview(result, Path(job.source), scrubber.policy, job.preview)
        except (ScrubberError, OSError, ValueError) as err:  # no picture is no reason to lose the result
            small = None
            result = replace(result, notes=result.notes + (f"no-preview:{type(err).__name__}",))
        result = replace(result, preview=small, timings=result.timings | {"preview": round(time.perf_counter() - t, 4)})
    if job.out:
        result = outputs.deliver(result, Path(job.out), overwrite=job.overwrite, same_ok=job.same_ok)
    return result


def _die_with_parent(parent: int, every_s: float = 0.5) -> None:
    """End this process as soon as ``parent`` is gone (checked every ``every_s``); a result
    nobody will read is not written either."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _child(fd: int, parent: int) -> None:
    """The worker process: build the models once, test them, then scan what the parent sends."""
    import logging
    import signal

    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    conn = Connection(fd)
    policy, level = conn.recv()
    logging.basicConfig(level=level, format="scrubber: %(levelname)s: %(message)s")
    import cv2

    cv2.setNumThreads(1)

    try:
        scrubbers = {False: Scrubber(policy)}
        problems = scrubbers[False].self_test()
    except ScrubberError as err:
        problems = [str(err)]
    if problems:
        conn.send(("failed", "; ".join(problems)))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the parent went away
            return
        if job is None:
            return
        if job.review not in scrubbers:
            scrubbers[job.review] = Scrubber(policy.for_review())
        told = [0.0]

        def alive(done: int, total: int) -> None:  # a clip's frames: the parent's sign of progress
            if time.monotonic() - told[0] >= PROGRESS_EVERY_S:
                told[0] = time.monotonic()
                conn.send(("progress", done, total))

        conn.send(replace(run_job(scrubbers[job.review], job, alive), data=None))


def _resident_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


# ---------------------------------------------------------------- the parent's side


class ScanProcess:
    """One worker process with a per-file time limit and a resident-memory limit."""

    def __init__(self, policy: Policy, timeout_s: float, memory_mb: float = 0.0, start_s: float = 180.0):
        self.policy, self.timeout_s, self.memory_mb, self.start_s = policy, timeout_s, memory_mb, start_s
        self.peak_mb = 0.0  # the largest resident size seen while a job ran
        self._stopped = False
        self._start()

    def _start(self) -> None:
        import logging

        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = os.environ | {"OMP_THREAD_LIMIT": "1",
                            "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                                          if p)}
        # a Dask nanny sets this for its workers; inherited, glibc hands memory back after
        # every large free, and a 12-MP scan spends a tenth longer in the kernel
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from scrubber.workers import _child; "
                 "_child(int(sys.argv[1]), int(sys.argv[2]))", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        except OSError as err:
            raise WorkerFailed(f"scan worker cannot start: {err.strerror or err}") from err
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        message = ("failed", "did not start in time")
        try:
            self._conn.send((self.policy, logging.getLogger("scrubber").getEffectiveLevel()))
            if self._conn.poll(self.start_s):
                message = self._conn.recv()
        except (EOFError, OSError):
            message = ("failed", "exited while starting")
        if message[0] != "ready":
            self.kill()
            raise WorkerFailed(f"scan worker cannot run: {message[1]}")

    def run(self, job: Job) -> Result:
        """Scan ``job`` within the time and memory limits (see the module docstring)."""
        started = time.monotonic()
        deadline = started + self.timeout_s
        try:
            self._conn.send(job)
        except OSError:
            deadline = started  # the child is gone: replaced below
        reason = "timeout"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if deadline == started:
                    reason = "worker-crashed"
                break
            if self._conn.poll(min(0.25, left)):
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    reason = "worker-crashed"
                    break
                if isinstance(message, tuple) and message[:1] == ("progress",):
                    # a clip moving through its frames gets the limit again from here: the
                    # limit is on time without progress (a hang), not on a clip's length
                    deadline = max(deadline, time.monotonic() + self.timeout_s)
                    continue
                return message
            if self._proc.poll() is not None:
                reason = "worker-crashed"
                break
            resident = _resident_mb(self._proc.pid)
            self.peak_mb = max(self.peak_mb, resident)
            if self.memory_mb and resident > self.memory_mb:
                reason = "memory-limit"
                break
        self._proc.kill()
        self._proc.wait()
        self._conn.close()
        if self._stopped:
            return stopped(job, "worker-crashed", "the scan was stopped", round(time.monotonic() - started, 4))
        self._start()
        why = {"timeout": f"took longer than {self.timeout_s:g} s", "worker-crashed": "the worker process died",
               "memory-limit": f"needed more than {self.memory_mb:g} MB"}[reason]
        return stopped(job, reason, why, round(time.monotonic() - started, 4))

    def kill(self) -> None:
        """Stop the child now; a job it was running ends ``worker-crashed`` (nothing restarts)."""
        self._stopped = True
        self._proc.kill()
        self._proc.wait()
        self._conn.close()

    def close(self) -> None:
        """Ask the child to finish (it ends after the current job) and wait for it a while."""
        try:
            self._conn.send(None)
        except OSError:
            pass
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._conn.close()


class Pool:
    """``workers`` ScanProcesses behind ``submit(job) -> Future[Result]``. They start side by
    side (each loads the models and runs its self test); any that cannot start stops the pool
    with ``WorkerFailed``."""

    def __init__(self, policy: Policy, workers: int, timeout_s: float, memory_mb: float = 0.0,
                 start_s: float = 180.0):
        workers = max(1, workers)
        with ThreadPoolExecutor(workers) as starter:
            starts = [starter.submit(ScanProcess, policy, timeout_s, memory_mb, start_s) for _ in range(workers)]
        self.processes: list[ScanProcess] = [f.result() for f in starts if f.exception() is None]
        failed = next((f.exception() for f in starts if f.exception() is not None), None)
        if failed is not None:
            self.close(now=True)
            raise failed
        self._idle: queue.SimpleQueue[ScanProcess] = queue.SimpleQueue()
        for process in self.processes:
            self._idle.put(process)
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="scan")

    def submit(self, job: Job) -> Future:
        """Queue ``job``; its future's result is the file's ``Result`` (a ``WorkerFailed``
        exception when a replacement worker could not start)."""
        return self._threads.submit(self._run, job)

    def _run(self, job: Job) -> Result:
        process = self._idle.get()
        try:
            return process.run(job)
        finally:
            self._idle.put(process)

    @property
    def peak_mb(self) -> float:
        return max((p.peak_mb for p in self.processes), default=0.0)

    def close(self, now: bool = False) -> None:
        """Finish the queued jobs and stop the workers; ``now`` drops what has not started and
        kills the workers (Ctrl-C)."""
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.shutdown(wait=not now, cancel_futures=now)
        for process in self.processes:
            process.kill() if now else process.close()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.close(now=kind is not None)
