"""Executors on this machine: threads (the default) and processes.

Threads suit most assets: DuckDB, pyarrow, pandas and polars release the GIL.
Processes suit CPU-bound pure-Python assets; each worker process imports the
asset files it needs by path, once, and results come back as stored values.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

from assetflow.executors import Job, JobResult, Notify, run_job


class InlineExecutor:
    """Runs each job in the calling thread, at once: one asset at a time.

    The in-order runner: no handoff between threads, so a debugger's
    breakpoint in an asset works, and tracebacks are the plainest.
    """

    name = "inline"
    workers = 1

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        future: Future[JobResult] = Future()
        try:
            future.set_result(run_job(job, notify))
        except BaseException as e:  # handed to the scheduler, which re-raises it
            future.set_exception(e)
        return future

    def shutdown(self, *, wait: bool) -> None:
        pass


class ThreadExecutor:
    """Runs jobs in a pool of threads of this process; values pass without copies."""

    name = "threads"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assetflow")

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        return self._pool.submit(run_job, job, notify)

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


class ProcessExecutor:
    """Runs jobs in worker processes.

    Workers are started with ``spawn``: forking a process that runs DuckDB's
    threads can deadlock the child.
    """

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        # The asset object stays here: the worker imports its file by path.
        return self._pool.submit(run_job, dataclasses.replace(job, local=None))

    def shutdown(self, *, wait: bool) -> None:
        if not wait:
            # Abandoning running jobs: stop their processes, or exiting would wait for
            # them. Python 3.11 has no public call for it (3.14 adds terminate_workers).
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=wait, cancel_futures=True)
