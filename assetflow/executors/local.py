"""Executors on this machine: threads (the default) and processes.

Threads suit most assets: DuckDB, pyarrow, pandas and polars release the GIL.
Processes suit CPU-bound pure-Python assets; each worker process imports the
asset files it needs by path, once, and results come back as stored values.

A thread cannot be stopped, so the threads and inline executors hand a Python
asset with a ``timeout`` to a worker process (the scheduler builds such jobs
with ``local=None`` and stored inputs): an attempt past its timeout ends with
that process instead of running on beside later runs.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from assetflow.executors import Job, JobResult, Notify, run_job
from assetflow.executors.pool import ProcessPool


class _Isolating:
    """Runs jobs built for another process (``job.local is None``) in a worker process."""

    workers: int
    _isolated: ProcessPool | None = None

    def _isolate(self, job: Job) -> Future[JobResult]:
        if self._isolated is None:
            self._isolated = ProcessPool(self.workers)
        return self._isolated.submit(job)

    def _shutdown_isolated(self, *, wait: bool) -> None:
        if self._isolated is not None:
            self._isolated.shutdown(wait=wait)
            self._isolated = None


class InlineExecutor(_Isolating):
    """Runs each job in the calling thread, at once: one asset at a time.

    The in-order runner: no handoff between threads, so a debugger's
    breakpoint in an asset works, and tracebacks are the plainest.
    """

    name = "inline"
    workers = 1

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        if job.local is None:
            return self._isolate(job)
        future: Future[JobResult] = Future()
        try:
            future.set_result(run_job(job, notify))
        except BaseException as e:  # handed to the scheduler, which re-raises it
            future.set_exception(e)
        return future

    def shutdown(self, *, wait: bool) -> None:
        self._shutdown_isolated(wait=wait)


class ThreadExecutor(_Isolating):
    """Runs jobs in a pool of threads of this process; values pass without copies."""

    name = "threads"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assetflow")

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        if job.local is None:
            return self._isolate(job)
        return self._pool.submit(run_job, job, notify)

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self._shutdown_isolated(wait=wait)


class ProcessExecutor:
    """Runs jobs in worker processes (see :class:`assetflow.executors.pool.ProcessPool`)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPool(workers)

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        return self._pool.submit(job)

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait)
