"""A pool of worker processes that knows which job each process runs.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker
dies (an asset calling ``os._exit``, a crash in C code, the OOM killer): every
job in flight fails with ``BrokenProcessPool``, and none is known to have
caused it. Here each worker process runs one job at a time for a dispatcher
thread that owns it, so a dead worker fails exactly the job it ran, with its
exit code, and the next job gets a new process. Other jobs never notice.

A worker ignores Ctrl-C (the coordinator cancels the run and, if told to stop
waiting, terminates the workers), captures its file descriptors 1 and 2 per
job (what C code and child processes print stays out of the run's own
output), and ends after a job that had a timed-out attempt, so the abandoned
attempt ends with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assetflow import capture
from assetflow.errors import InfrastructureError
from assetflow.executors import Attempt, Job, JobResult, Notify, run_job

_JOIN_S = 5.0  # how long a worker that ended (or was told to) gets to exit


class ProcessPool:
    """Runs jobs in up to ``workers`` worker processes.

    A worker is a new Python interpreter (``python -c``), talking over a socket
    pair: forking a process that runs DuckDB's threads can deadlock the child,
    and multiprocessing's ``spawn`` would run the caller's ``__main__`` script
    again in each worker (a script calling ``assetflow.materialize()`` without an
    ``if __name__ == "__main__"`` guard would start a run in every worker).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._queue: queue.Queue[tuple[Job, Future[JobResult]] | None] = queue.Queue()
        self._dispatchers: list[threading.Thread] = []
        self._processes: dict[int, Any] = {}  # dispatcher index → its live process
        self._lock = threading.Lock()
        self._closing = False
        self._folder = tempfile.TemporaryDirectory(prefix="assetflow-workers-")

    def submit(self, job: Job, notify: Notify | None = None) -> Future[JobResult]:
        """Queue ``job``; the next free worker runs it (``notify`` is not used)."""
        future: Future[JobResult] = Future()
        # The asset object stays here: the worker imports its file by path.
        self._queue.put((dataclasses.replace(job, local=None), future))
        with self._lock:
            if len(self._dispatchers) < self.workers:
                index = len(self._dispatchers)
                thread = threading.Thread(
                    target=self._dispatch,
                    args=(index,),
                    daemon=True,
                    name=f"assetflow-worker-{index}",
                )
                self._dispatchers.append(thread)
                thread.start()
        return future

    def shutdown(self, *, wait: bool) -> None:
        """Stop the workers; ``wait=False`` terminates running jobs' processes."""
        with self._lock:
            self._closing = not wait
            dispatchers = list(self._dispatchers)
            processes = list(self._processes.values())
        if not wait:
            self._cancel_queued()
            for process in processes:
                process.terminate()
        for _ in dispatchers:
            self._queue.put(None)
        for thread in dispatchers:
            thread.join(None if wait else _JOIN_S)
        self._folder.cleanup()

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].cancel()

    # -- one dispatcher thread per worker process ---------------------------------

    def _dispatch(self, index: int) -> None:
        worker: _Worker | None = None
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if worker is None:
                        worker = self._start(index)
                    outcome = worker.run(job)
                except BaseException as e:  # no process could start, or the job would not travel
                    future.set_exception(e)
                    if worker is not None:
                        worker.stop()
                        worker = None
                    continue
                if isinstance(outcome, _Ended):
                    worker = None
                    with self._lock:
                        self._processes.pop(index, None)
                        closing = self._closing
                    if closing:
                        future.set_exception(InfrastructureError("the run stopped its workers."))
                    else:
                        future.set_result(outcome.result(job))
                    continue
                kind, payload, retire = outcome
                if kind == "ok":
                    future.set_result(payload)
                else:
                    future.set_exception(payload)
                if retire:
                    worker.join()
                    worker = None
                    with self._lock:
                        self._processes.pop(index, None)
        finally:
            if worker is not None:
                worker.stop()
                with self._lock:
                    self._processes.pop(index, None)

    def _start(self, index: int) -> _Worker:
        ours, theirs = socket.socketpair()
        capture_path = str(Path(self._folder.name) / f"worker-{index}.out")
        with theirs:
            fd = theirs.fileno()
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(fd), capture_path],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=2,  # stdout belongs to the coordinator's output, never to a worker
            )
        with self._lock:
            self._processes[index] = process
            if self._closing:
                process.terminate()
        return _Worker(process, Connection(ours.detach()), capture_path)


# Ctrl-C is the coordinator's to handle: ignored first, before the imports.
_BOOT = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from assetflow.executors.pool import serve; serve(int(sys.argv[1]), sys.argv[2])"
)


@dataclasses.dataclass(slots=True)
class _Ended:
    """A worker process that ended while it ran a job."""

    exitcode: int | None
    started: float
    retries: list[tuple[int, str]]  # (attempt, error) of attempts it reported as failed
    output: str | None

    def result(self, job: Job) -> JobResult:
        code = self.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        attempts = [Attempt(n, self.started, self.started, error) for n, error in self.retries]
        error = f"asset {job.asset!r} ended its worker process ({how})"
        number = len(attempts) + 1
        attempts.append(
            Attempt(number, self.started, time.time(), error, output=self.output, crashed=True)
        )
        return JobResult(job.asset, tuple(attempts), None)


@dataclasses.dataclass(slots=True)
class _Worker:
    process: Any
    conn: Connection
    capture_path: str

    def run(self, job: Job) -> tuple[str, Any, bool] | _Ended:
        """Send ``job`` and wait for its result, or for the process to end."""
        started = time.time()
        retries: list[tuple[int, str]] = []
        try:
            self.conn.send(job)
            while True:
                kind, payload, retire = self.conn.recv()  # EOFError: the process ended
                if kind == "retry":
                    retries.append(payload)
                    continue
                return kind, payload, retire
        except (EOFError, OSError):
            pass
        self.conn.close()
        return _Ended(self._wait(), started, retries, _read(self.capture_path))

    def _wait(self) -> int | None:
        try:
            return int(self.process.wait(_JOIN_S))
        except subprocess.TimeoutExpired:
            self.process.kill()
            return int(self.process.wait())

    def join(self) -> None:
        self.conn.close()
        self._wait()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.conn.close()
        self._wait()


def _read(path: str) -> str | None:
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    return capture.clip(text) if text else None


# -- in the worker process ------------------------------------------------------------


def serve(fd: int, capture_path: str) -> None:
    """A worker process's loop: run each job sent over socket ``fd``, until told to stop."""
    conn = Connection(fd)
    with capture.redirect():
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return  # the coordinator is gone
            if job is None:
                return
            message = _run_captured(conn, job, capture_path)
            try:
                conn.send(message)
            except Exception as e:  # an exception that does not pickle
                conn.send(("error", InfrastructureError(f"{type(e).__name__}: {e}"), False))
            if message[2]:
                # A timed-out attempt may still run in a thread: it ends with this process.
                conn.close()
                os._exit(0)


def _run_captured(conn: Connection, job: Job, capture_path: str) -> tuple[str, Any, bool]:
    """Run ``job`` with file descriptors 1 and 2 going to ``capture_path``."""

    def notify(asset: str, attempt: int, error: str, delay: float) -> None:
        conn.send(("retry", (attempt, error), False))

    with open(capture_path, "w+b") as f:
        saved = _redirect_fds(f.fileno())
        try:
            result = run_job(job, notify)
        except BaseException as e:  # assetflow's own failure: the coordinator reports it
            return "error", e, False
        finally:
            _restore_fds(saved)
        f.seek(0)
        printed = f.read().decode("utf-8", "replace")
    # The stored value travels back; the value itself may not pickle, and nobody here needs it.
    result = dataclasses.replace(result, value=None)
    if printed and result.attempts:
        last = result.attempts[-1]
        text = capture.clip((last.output or "") + printed)
        result = dataclasses.replace(
            result, attempts=(*result.attempts[:-1], dataclasses.replace(last, output=text))
        )
    return "ok", result, any(a.timed_out for a in result.attempts)


def _flush() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()


def _redirect_fds(target: int) -> tuple[int, int]:
    """Point fds 1 and 2 at ``target``; return duplicates of what they were."""
    _flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(target, 1)
    os.dup2(target, 2)
    return saved


def _restore_fds(saved: tuple[int, int]) -> None:
    _flush()
    for fd, original in zip((1, 2), saved, strict=True):
        os.dup2(original, fd)
        os.close(original)
