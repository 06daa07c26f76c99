"""Executors: where assets compute. The coordinator owns the plan, state and events.

An executor takes a :class:`Job` and returns a future of its :class:`JobResult`.
A job is everything one asset needs to compute, retries included: the worker
runs every attempt itself (so backoff and per-attempt timeouts work the same
in a thread, a process or a Dask worker) and returns what each attempt did.
The coordinator records those attempts; workers never open the state database.

Jobs for other processes name their asset by file and name, and the worker
imports that file by path, as discovery does; their inputs are stored values
(locations, or the bytes of inline values), never Python objects.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assetflow.capture import Output, capturing
from assetflow.checks import CheckResult, as_checks, run_checks, verdict
from assetflow.compute import (
    Available,
    Context,
    Engine,
    compute_python,
    compute_sql,
    took_down,
    user_traceback,
)
from assetflow.definition import Asset
from assetflow.errors import (
    WRITE_ERRNOS,
    DefinitionError,
    DiskError,
    MaterializationError,
    disk_error,
    inside,
)
from assetflow.parquet import table_query
from assetflow.storage import TABLE, Storage, Stored

if TYPE_CHECKING:
    from assetflow.state import Materialization

EXECUTORS = ("threads", "processes", "dask", "inline")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt at computing an asset."""

    number: int
    started: float  # time.time()
    finished: float
    error: str | None = None
    traceback: str | None = None
    timed_out: bool = False
    output: str | None = None  # what it printed and logged (the last 64 KiB)
    crashed: bool = False  # its worker process died: it may have left files behind


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a job did: its attempts, and the stored value of the last if it succeeded."""

    asset: str
    attempts: tuple[Attempt, ...]
    stored: Stored | None
    value: Any = None  # the value itself, for downstream assets in the same process
    checks: tuple[CheckResult, ...] = ()  # of the last attempt's data

    @property
    def ok(self) -> bool:
        return self.stored is not None


@dataclass(frozen=True, slots=True)
class Job:
    """One asset to compute, with its inputs and retry policy.

    ``first_id`` and the ids after it (one per possible attempt) name the
    stored files, so an abandoned attempt never collides with a later one.
    """

    asset: str
    run_id: int
    first_id: int
    root: str
    state_dir: str
    assets_dir: str
    file: str  # relative to root
    inputs: Mapping[str, Available]  # by parameter (python) or upstream name (sql)
    previous: Materialization | None = None
    check_refs: Mapping[str, str] = field(default_factory=dict)  # asset → query of its data
    local: Asset | None = field(default=None, compare=False)  # the asset itself, in-process
    settings: Mapping[str, Any] = field(default_factory=dict)  # the values of those it reads
    sleep: Callable[[float], None] = time.sleep


Notify = Callable[[str, int, str, float], None]  # (asset, attempt, error, delay): a retry


class Executor(Protocol):
    """Runs jobs somewhere and hands back futures."""

    name: str
    workers: int

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        """Start ``job``; ``notify`` (in-process executors only) hears of retries live."""
        ...

    def shutdown(self, *, wait: bool) -> None:
        """Release workers; ``wait=False`` abandons running jobs."""
        ...


def make_executor(
    name: str,
    *,
    workers: int | None = None,
    address: str | None = None,
    shared_storage: bool = False,
) -> Executor:
    """The executor called ``name``, with ``workers`` workers (default: the number of cores).

    Raises:
        DefinitionError: an unknown name, or a configuration that cannot work.
    """
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 1:
        raise DefinitionError(f"--workers {count} must be at least 1.")
    if name == "threads":
        from assetflow.executors.local import ThreadExecutor

        return ThreadExecutor(count)
    if name == "inline":
        from assetflow.executors.local import InlineExecutor

        return InlineExecutor()
    if name == "processes":
        from assetflow.executors.local import ProcessExecutor

        return ProcessExecutor(count)
    if name == "dask":
        from assetflow.executors.dask import DaskExecutor

        return DaskExecutor(count, address=address, shared_storage=shared_storage)
    raise DefinitionError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}.")


_ENGINES: dict[tuple[str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(job: Job) -> Engine:
    # One engine per worker process and project: its DuckDB database is reused.
    key = (job.root, job.state_dir)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(Storage(Path(job.state_dir)), Path(job.root))
        return _ENGINES[key]


def run_job(
    job: Job,
    notify: Notify | None = None,
    engine: Engine | None = None,
    rand: Callable[[], float] = random.random,
) -> JobResult:
    """Compute ``job`` with its retry policy: the function every executor runs."""
    asset = job.local if job.local is not None else load_asset(job)
    engine = engine if engine is not None else _engine(job)
    options = asset.options
    attempts: list[Attempt] = []
    checks: tuple[CheckResult, ...] = ()
    for number in range(1, options.retries + 2):
        started = time.time()
        mat_id = job.first_id + number - 1
        output = Output()
        stop: list[Callable[[], None]] = []  # how to stop this attempt, when it can be
        try:
            stored, value = _with_timeout(
                functools.partial(_attempt, engine, asset, job, mat_id, output, stop),
                options.timeout,
                stop,
            )
            checks = _audit(engine, asset, job, stored)
        except CheckFailed as e:
            # The same data would fail again: no retry.
            attempts.append(Attempt(number, started, time.time(), str(e), output=output.text()))
            return JobResult(asset.name, tuple(attempts), None, checks=e.results)
        except Exception as e:
            disk = _disk_trouble(engine, asset, e)
            if disk is not None:
                raise disk from e  # the disk, not the asset: the run stops (exit 3)
            # The user's own exception, when the error wraps one: its frames are the story.
            cause = e.__cause__ if isinstance(e, MaterializationError) and e.__cause__ else e
            # A SQL asset's story is its file and DuckDB's message, not DuckDB's frames.
            own = cause is not e and asset.kind != "sql"
            tb = user_traceback(cause, Path(job.root)) if own else None
            timed_out = isinstance(e, _AttemptTimeout)
            attempts.append(
                Attempt(number, started, time.time(), str(e), tb, timed_out, output.text())
            )
            if number <= options.retries and _retryable(cause, options.retry_on):
                delay = options.retry_delay * options.backoff ** (number - 1)
                delay *= 0.75 + rand() / 2  # jitter, so retries of many assets spread out
                if notify is not None:
                    notify(asset.name, number, str(e), delay)
                job.sleep(delay)
                continue
            return JobResult(asset.name, tuple(attempts), None)
        except (SystemExit, KeyboardInterrupt) as e:
            # Raised by user code outside its function (a value's __reduce__, say): still
            # the asset's failure. A real Ctrl-C is counted by the scheduler, never raised here.
            error = took_down(f"asset {asset.name!r}", e)
            attempts.append(Attempt(number, started, time.time(), error, output=output.text()))
            return JobResult(asset.name, tuple(attempts), None)
        attempts.append(Attempt(number, started, time.time(), output=output.text()))
        return JobResult(asset.name, tuple(attempts), stored, value, checks)
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover


def _attempt(
    engine: Engine,
    asset: Asset,
    job: Job,
    mat_id: int,
    output: Output,
    stop: list[Callable[[], None]],
) -> tuple[Stored, Any]:
    """One attempt, in the thread that runs it: its prints go to ``output``."""
    if asset.kind == "sql":
        # A query past its timeout is interrupted in DuckDB; a thread cannot be stopped.
        stop.append(engine.con.interrupt)
    with capturing(output):
        return _compute(engine, asset, job, mat_id)


def _compute(engine: Engine, asset: Asset, job: Job, mat_id: int) -> tuple[Stored, Any]:
    if asset.kind == "sql":
        return compute_sql(engine, asset, mat_id, job.inputs), None
    context = Context(asset.name, job.run_id, job.previous)
    return compute_python(engine, asset, mat_id, job.inputs, context, job.settings)


def _audit(engine: Engine, asset: Asset, job: Job, stored: Stored) -> tuple[CheckResult, ...]:
    """Run the asset's checks on its new data; an error-severity failure unpublishes it."""
    if not asset.options.checks:
        return ()
    checks = as_checks(asset.options.checks, asset.where)
    if stored.format != TABLE or stored.location is None:
        results = tuple(
            CheckResult(
                c.label,
                c.severity,
                False,
                0,
                f"check {c.label} needs a table, and {asset.name} is a {stored.format} value",
            )
            for c in checks
        )
    else:
        results = tuple(
            run_checks(
                engine.con,
                checks,
                table_query(engine.storage.path(stored.location), stored.schema),
                job.check_refs,
                asset.where,
            )
        )
    message = verdict(results)
    if message is not None:
        # Write, audit, publish: failed data never becomes current, so it goes.
        if stored.location is not None:
            engine.storage.path(stored.location).unlink(missing_ok=True)
        raise CheckFailed(message, results)
    return results


def _disk_trouble(engine: Engine, asset: Asset, error: Exception) -> DiskError | None:
    """A full, read-only or forbidden disk under the asset's reads or writes, if that is it.

    What a Python asset's own function raised is its own failure, whatever it was.
    A SQL asset's query may read a forbidden file of the user's: that is its own
    failure too, unless the file is in the state folder or only a write causes it.
    """
    if asset.kind != "sql" and isinstance(error, MaterializationError):
        return None
    storage = engine.storage
    found = disk_error(error, storage.data_dir / asset.name, state_dir=storage.state_dir)
    if found is None or asset.kind != "sql":
        return found
    ours = found.errno in WRITE_ERRNOS or inside(found.path or "", storage.state_dir)
    return found if ours else None


def _retryable(error: BaseException, retry_on: tuple[type[BaseException], ...]) -> bool:
    return not retry_on or isinstance(error, retry_on)


class CheckFailed(MaterializationError):
    """An error-severity check failed on an attempt's data; ``results`` says which."""

    def __init__(self, message: str, results: tuple[CheckResult, ...]) -> None:
        super().__init__(message)
        self.results = results


class _AttemptTimeout(MaterializationError):
    """An attempt ran longer than the asset's ``timeout``."""


def _with_timeout(
    fn: Callable[[], Any], timeout: float | None, stop: Sequence[Callable[[], None]] = ()
) -> Any:
    """``fn()``, or :class:`_AttemptTimeout` after ``timeout`` seconds.

    A thread cannot be stopped from outside: past its timeout an attempt is
    stopped with ``stop`` when it offers a way (a DuckDB query is interrupted),
    and otherwise abandoned. That is why the threads and inline executors run
    Python assets with a timeout in a worker process (see ``ThreadExecutor``),
    which ends after the job; what an abandoned attempt writes is never recorded.
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed back to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=target, daemon=True, name="assetflow-attempt")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        for call in stop:
            call()
        if stop:
            worker.join(_STOP_GRACE_S)
        raise _AttemptTimeout(f"the attempt ran longer than its timeout of {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


_STOP_GRACE_S = 5.0  # how long a stopped attempt gets to unwind


_LOADED: dict[str, str] = {}  # assets folder → package this worker imported it under
_LOADED_LOCK = threading.Lock()


def load_asset(job: Job) -> Asset:
    """Import the job's asset file by path in this worker, as discovery does, and find it."""
    from assetflow import project
    from assetflow.definition import python_asset

    assets_dir = Path(job.assets_dir)
    with _LOADED_LOCK:
        package = _LOADED.get(job.assets_dir)
        if package is None:
            package = _LOADED[job.assets_dir] = f"_assetflow_worker_{len(_LOADED) + 1}"
            project.new_package(package, assets_dir)
        path = Path(job.root) / job.file
        module = project.import_file(path, job.file, package, assets_dir)
    for value in project.declared_assets(module):
        if value.name == job.asset:
            return python_asset(value, file=job.file, group="", settings=frozenset(job.settings))
    raise MaterializationError(f"{job.file}: asset {job.asset!r} is not in this file any more.")


__all__ = [
    "EXECUTORS",
    "Attempt",
    "Executor",
    "Job",
    "JobResult",
    "Notify",
    "load_asset",
    "make_executor",
    "run_job",
]
