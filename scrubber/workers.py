"""A scan worker: a spawned process that builds ``Scrubber`` once, proves it can run, and scans
file after file under a time and memory limit.

* Start-up: the models load and ``Scrubber.self_test`` runs every detector on a small
  generated picture; a detector that cannot run (no usable temporary folder for Tesseract, a
  missing model) stops the start with its reason (``WorkerFailed``), so a service refuses to
  start instead of holding every photo.
* ``ScanProcess.scan`` sends one job and waits at most ``timeout_s``; a worker that overruns,
  grows past ``memory_mb`` of resident memory or dies is killed and replaced, and the file's
  result is ``blocked`` with reason ``timeout``, ``memory-limit`` or ``worker-crashed``.
* A job in ``review`` mode scans with the policy's ``block`` actions turned into redactions
  (``Policy.for_review``): the redacted copy a reviewer may approve, verified like any other.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

from scrubber.errors import ScrubberError
from scrubber.imageio import OutputFormat
from scrubber.pipeline import Result
from scrubber.policy import Policy, Status


class WorkerFailed(ScrubberError):
    exit_code = 4
    reason = "worker-failed"


@dataclass(frozen=True)
class Job:
    source: str
    out: str | None = None
    fmt: str | None = None
    display: str | None = None
    review: bool = False


def _worker_main(conn, policy: Policy) -> None:
    """Child process: build the models once, test them, then scan whatever the parent sends."""
    import logging
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.getLogger().setLevel(logging.ERROR)  # as the CLI: causes reach the parent in results
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    cv2.setNumThreads(1)
    from scrubber.pipeline import Scrubber

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
        job = conn.recv()
        if job is None:
            return
        if job.review not in scrubbers:
            scrubbers[job.review] = Scrubber(policy.for_review())
        result = scrubbers[job.review].process(
            Path(job.source), out=Path(job.out) if job.out else None,
            out_format=OutputFormat(job.fmt) if job.fmt else None, display=job.display)
        conn.send(result)


def _resident_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class ScanProcess:
    """One worker process with a per-file time limit and a resident-memory limit."""

    def __init__(self, policy: Policy, timeout_s: float, memory_mb: float = 0.0, start_s: float = 180.0):
        self.policy, self.timeout_s, self.memory_mb, self.start_s = policy, timeout_s, memory_mb, start_s
        self._ctx = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker_main, args=(child, self.policy), daemon=True)
        self._proc.start()
        child.close()
        try:
            message = self._conn.recv() if self._conn.poll(self.start_s) else ("failed", "did not start in time")
        except EOFError:
            message = ("failed", "exited while starting")
        if message[0] != "ready":
            self.close()
            raise WorkerFailed(f"scan worker cannot run: {message[1]}")

    def scan(self, source: Path, out: Path | None, fmt: OutputFormat | None, display: str | None = None,
             review: bool = False) -> Result:
        name = display or str(source)
        self._conn.send(Job(str(source), str(out) if out else None, fmt.value if fmt else None, display, review))
        deadline = time.monotonic() + self.timeout_s
        reason = "timeout"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self._conn.poll(min(0.25, left)):
                try:
                    return self._conn.recv()
                except EOFError:
                    reason = "worker-crashed"
                    break
            if not self._proc.is_alive():
                reason = "worker-crashed"
                break
            if self.memory_mb and _resident_mb(self._proc.pid) > self.memory_mb:
                reason = "memory-limit"
                break
        self._proc.kill()
        self._proc.join()
        self._start()
        why = {"timeout": f"took longer than {self.timeout_s:g} s", "worker-crashed": "the worker process died",
               "memory-limit": f"needed more than {self.memory_mb:g} MB"}[reason]
        return Result(name, Status.BLOCKED, (reason,), error=f"{name}: scan stopped: {why}",
                      timings={"total": self.timeout_s})

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
