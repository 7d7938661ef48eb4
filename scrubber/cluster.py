"""``scan --cluster``: the scan's jobs run on a ``dask.distributed`` cluster.

* ``--cluster tcp://HOST:8786`` connects to a running scheduler; ``--cluster local[:N]``
  starts a ``LocalCluster`` of N worker processes (one thread each) on this machine.
* Every Dask worker gets ``ScrubberPlugin``: on its first task it starts a
  ``workers.Pool`` with one scan process per worker thread, which loads the models once and
  applies the same per-file time and memory limits as a local scan.
* Jobs travel in chunks (``chunk_size``), not one task per file: a million files make tens
  of thousands of tasks, not a million.
* A Dask worker that dies (its machine went away, it was killed) has its chunks run again
  elsewhere by the scheduler. Jobs carry ``same_ok``: a file the lost worker had already
  written holds exactly the bytes the new run makes (scans are deterministic), so it counts
  as written instead of being written twice. A chunk the scheduler gives up on (its workers
  died ``distributed.scheduler.allowed-failures`` times) is blocked ``worker-crashed``.
* Paths are absolute and must mean the same on every worker: the input and output folders
  are on a filesystem all workers see.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import replace
from typing import Callable

from scrubber.errors import ClusterUnreachable
from scrubber.pipeline import Result
from scrubber.policy import Policy
from scrubber.workers import Job, Pool, WorkerFailed, stopped

PLUGIN = "scrubber"

# A scan's tasks last seconds, not milliseconds: Dask's defaults for fast tasks (a 20 ms event
# loop tick, a stack profiler every 10 ms, memory polled ten times a second) cost the CPU the
# scans need. These apply to a local cluster and to this client; for remote workers the
# README gives the same settings as a Dask config file.
SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


try:
    import distributed
except ImportError:  # an optional extra: ``--cluster`` says how to install it
    distributed = None


def _require_dask() -> None:
    if distributed is None:
        raise ClusterUnreachable("--cluster needs Dask: pip install 'scrubber[cluster]'")


class ScrubberPlugin(distributed.WorkerPlugin if distributed else object):
    """Holds one ``workers.Pool`` per Dask worker, started by the worker's first chunk (in a
    task thread: a model load in ``setup`` would stall the worker's event loop)."""

    name = PLUGIN

    def __init__(self, policy: Policy, timeout_s: float, memory_mb: float):
        self.policy, self.timeout_s, self.memory_mb = policy, timeout_s, memory_mb
        self._pool: Pool | None = None
        self._lock = threading.Lock()
        self._threads = 1

    def setup(self, worker) -> None:
        self._threads = max(1, worker.state.nthreads)

    def pool(self) -> Pool:
        with self._lock:
            if self._pool is None:
                self._pool = Pool(self.policy, self._threads, self.timeout_s, self.memory_mb)
            return self._pool

    def teardown(self, worker) -> None:
        if self._pool is not None:
            self._pool.close(now=True)

    def __getstate__(self):  # sent to the workers without a pool or a lock
        return {"policy": self.policy, "timeout_s": self.timeout_s, "memory_mb": self.memory_mb}

    def __setstate__(self, state):
        self.__init__(**state)


def scan_chunk(jobs: list[Job]) -> list[Result]:
    """A Dask task: the chunk's jobs through this worker's pool, one result per job."""
    from distributed import get_worker

    pool = get_worker().plugins[PLUGIN].pool()
    results = []
    for job, future in [(job, pool.submit(job)) for job in jobs]:
        try:
            results.append(future.result())
        except WorkerFailed as err:
            results.append(stopped(job, "worker-failed", str(err)))
    return results


def chunk_size(files: int, threads: int, most: int = 32) -> int:
    """Files per task: about eight tasks per worker thread, so the last tasks finish close
    together, and at most ``most`` (a lost worker costs at most that many files' work)."""
    return max(1, min(most, files // max(1, 8 * threads)))


class Cluster:
    """A client of the cluster ``address`` names (see the module docstring); connecting is
    done here, so an unreachable scheduler stops a scan before it starts."""

    def __init__(self, address: str, workers: int = 0, connect_s: float = 15.0):
        _require_dask()
        self.cluster = None
        kind, _, count = address.partition(":")
        import dask

        # Dask's loggers keep their own level (INFO); the scan's console shows what the CLI's does
        logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
        try:
            dask.config.set(SETTINGS)  # read when each server starts (a nanny hands them to its worker)
            if kind == "local":
                n = int(count) if count else workers or os.cpu_count() or 1
                if n < 1:
                    raise ValueError
                self.cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                        dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(address, timeout=connect_s)
        except ValueError as err:
            self.close()
            raise ClusterUnreachable(f"{address}: not a cluster address (tcp://HOST:PORT, local or local:N)") from err
        except (OSError, TimeoutError) as err:
            self.close()
            raise ClusterUnreachable(f"{address}: cannot reach the Dask scheduler ({err})") from err

    def threads(self) -> int:
        return sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values())

    def run(self, jobs: list[Job], policy: Policy, timeout_s: float,
            on_result: Callable[[Result], None] = lambda r: None, memory_mb: float = 0.0) -> list[Result]:
        """Process ``jobs`` on the cluster; results in job order, ``on_result`` as chunks finish."""
        jobs = [replace(job, same_ok=True) for job in jobs]
        results: dict[int, Result] = {}
        futures = {}
        try:
            self.client.register_plugin(ScrubberPlugin(policy, timeout_s, memory_mb), name=PLUGIN)
            size = chunk_size(len(jobs), self.threads())
            scan_id = uuid.uuid4().hex[:8]
            for start in range(0, len(jobs), size):
                indexes = range(start, min(start + size, len(jobs)))
                future = self.client.submit(scan_chunk, [jobs[i] for i in indexes], pure=False,
                                            key=f"scrubber-{scan_id}-{start}")
                futures[future] = indexes
            for future in distributed.as_completed(list(futures)):
                indexes = futures.pop(future)
                try:
                    chunk = future.result()
                except WorkerFailed:  # a worker whose models cannot run: as a local pool that cannot start
                    raise
                except distributed.KilledWorker:
                    chunk = [stopped(jobs[i], "worker-crashed", "the cluster lost every worker that ran it")
                             for i in indexes]
                except Exception as err:  # the task itself failed: its files are blocked, the scan goes on
                    chunk = [stopped(jobs[i], "worker-crashed", f"{type(err).__name__}: {err}") for i in indexes]
                for i, result in zip(indexes, chunk):
                    results[i] = result
                    on_result(result)
        finally:
            for future in futures:
                future.cancel()
        return [results[i] for i in range(len(jobs))]

    def close(self) -> None:
        for part in (getattr(self, "client", None), self.cluster):
            if part is not None:
                part.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
