"""The Dask executor: assets compute on the workers of a Dask distributed cluster.

Without an address it starts a ``LocalCluster`` on this machine, one worker
process per ``--workers`` (``ASSETFLOW_DASK_PROCESSES=0`` makes it one in-process
worker with that many threads, which starts fast: for tests). With an address
(``--address`` or ``DASK_SCHEDULER_ADDRESS``) it connects to a running scheduler.
As with processes, the worker imports the asset's file by path and hands back
the stored value, never the value itself.

Storage (``shared_storage`` in ``[tool.assetflow]``): a worker reads the
project's files and writes asset data under the state folder at the absolute
paths this machine uses; the coordinator then records that data. Workers on
another machine can only do that if the project and its state folder are on a
shared filesystem mounted at the same path there. assetflow cannot check the
mount, so it refuses workers on other hosts unless ``shared_storage = true``
says the user has set it up.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Collection, Mapping
from concurrent import futures
from concurrent.futures import Future
from typing import Any

from assetflow import capture
from assetflow.errors import AssetflowError, DefinitionError, InfrastructureError, UsageError
from assetflow.executors import Job, JobResult, Notify, run_job

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler at an address
_CLOSE_TIMEOUT = 5.0  # seconds to wait for the client and cluster to close when abandoning jobs


class DaskExecutor:
    """Runs jobs on a Dask cluster: a local one it starts, or the scheduler at ``address``.

    Args:
        count: the local cluster's concurrency (worker processes, or threads of one
            in-process worker); ignored with an address, where the workers decide.
        address: a scheduler address like ``tcp://host:8786``; default a local cluster.
        shared_storage: the project and state folder are at the same path on every worker.
        processes: local workers are processes (default: ``ASSETFLOW_DASK_PROCESSES``,
            else True); False runs one in-process worker, which starts fast for tests.
        timeout: seconds to wait for the scheduler at ``address``.

    Raises:
        DefinitionError: workers on another machine without ``shared_storage``.
        InfrastructureError: the scheduler at ``address`` cannot be reached.
    """

    name = "dask"

    def __init__(
        self,
        count: int,
        *,
        address: str | None = None,
        shared_storage: bool = False,
        processes: bool | None = None,
        timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        # Imported here, so that assetflow needs no Dask until it is used; and as Any,
        # because most of distributed's functions carry no annotations to check against.
        dd: Any = importlib.import_module("distributed")
        self._cluster: Any = None
        self._pending: dict[str, tuple[Any, Future[JobResult]]] = {}  # key: (Dask's, ours)
        self._lock = threading.Lock()
        self._token = uuid.uuid4().hex[:8]  # keys stay unique on a scheduler shared by runs
        if address is None:
            if processes is None:
                setting = os.environ.get("ASSETFLOW_DASK_PROCESSES", "1").strip().lower()
                processes = setting not in ("0", "false", "no", "off")
            self._cluster = dd.LocalCluster(
                n_workers=count if processes else 1,
                threads_per_worker=1 if processes else count,
                processes=processes,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self._client: Any = dd.Client(self._cluster, set_as_default=False)
            self.workers = count
            return
        _probe(address, timeout)
        try:
            self._client = dd.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise InfrastructureError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s; "
                "start it, or fix --address or DASK_SCHEDULER_ADDRESS."
            ) from e
        try:
            found = self._client.scheduler_info(n_workers=-1)["workers"]
            check_worker_hosts(found, shared_storage=shared_storage)
        except BaseException:
            self._client.close()
            raise
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in found.values()))

    def submit(self, job: Job, notify: Notify | None) -> Future[JobResult]:
        """Run ``job`` on a worker; retries are reported after the job, as for processes."""
        key = f"assetflow-{job.asset}-{job.first_id}-{self._token}"
        ours: Future[JobResult] = Future()
        # The asset object stays here: the worker imports its file by path.
        theirs = self._client.submit(
            _run_remote, dataclasses.replace(job, local=None), key=key, pure=False
        )
        with self._lock:
            self._pending[key] = (theirs, ours)
        theirs.add_done_callback(lambda f: self._settle(key, job.asset, f, ours))
        return ours

    def _settle(self, key: str, asset: str, theirs: Any, ours: Future[JobResult]) -> None:
        # Runs on Dask's callback thread, once ``theirs`` is done: result() does not block.
        with self._lock:
            self._pending.pop(key, None)
        if not ours.set_running_or_notify_cancel():
            return  # cancelled by shutdown(wait=False)
        error = (
            InfrastructureError(f"the Dask scheduler cancelled asset {asset!r}; run again.")
            if theirs.cancelled()
            else theirs.exception()
        )
        if error is None:
            ours.set_result(theirs.result())
        elif isinstance(error, AssetflowError):
            ours.set_exception(error)
        else:
            # A lost worker or a value that would not travel: the cluster's failure, not the
            # asset's (run_job already turns the user's exceptions into failed attempts).
            wrapped = InfrastructureError(f"asset {asset!r} could not run on Dask: {error}")
            wrapped.__cause__ = error
            ours.set_exception(wrapped)

    def shutdown(self, *, wait: bool) -> None:
        """Close the client, and the local cluster if this executor started it."""
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        if wait:
            futures.wait([ours for _, ours in pending])
        else:
            for _, ours in pending:
                ours.cancel()
            if pending:
                self._client.cancel([theirs for theirs, _ in pending], force=True)
        timeout = None if wait else _CLOSE_TIMEOUT
        try:
            self._client.close(timeout=timeout)
            if self._cluster is not None:
                self._cluster.close(timeout=timeout)
        except TimeoutError:
            # A worker thread cannot be stopped: an in-process cluster running an abandoned
            # job does not close in time, and ends with this process, as the threads do.
            if wait:
                raise


def _run_remote(job: Job) -> JobResult:
    """``run_job`` on a worker, handing back the stored value only: values need not pickle."""
    with capture.redirect():  # what the attempts print travels back with them
        return dataclasses.replace(run_job(job), value=None)


def check_worker_hosts(
    workers: Mapping[str, Mapping[str, Any]],
    *,
    shared_storage: bool,
    local_hosts: Collection[str] | None = None,
) -> None:
    """Refuse workers on another machine unless the project is on shared storage.

    ``workers`` is ``client.scheduler_info()["workers"]``; ``local_hosts`` are this
    machine's names and addresses (default: looked up).

    Raises:
        DefinitionError: a worker's host is not this machine and ``shared_storage`` is off.
    """
    if shared_storage:
        return
    here = set(local_hosts) if local_hosts is not None else _this_machine()
    hosts = sorted({str(w.get("host", "")) for w in workers.values()})
    away = [h for h in hosts if h not in here and not h.startswith("127.")]
    if away:
        raise DefinitionError(
            f"the Dask workers at {', '.join(away)} are on another machine; put the project "
            "and its state folder on a shared filesystem mounted at the same path there, "
            "set `shared_storage = true` in [tool.assetflow], and run again."
        )


def _this_machine() -> set[str]:
    name = socket.gethostname()
    found = {"127.0.0.1", "localhost", "::1", name}
    try:
        _, aliases, addresses = socket.gethostbyname_ex(name)
    except OSError:  # a host name that does not resolve: the names above still count
        return found
    return found | set(aliases) | set(addresses)


def _probe(address: str, timeout: float) -> None:
    """Fail at once when nothing listens at a TCP ``address``, rather than after ``timeout``."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location, default_port=8786)
    except ValueError as e:
        raise UsageError(
            f"--address {address!r} is not a Dask scheduler address like tcp://host:8786."
        ) from e
    if scheme not in ("tcp", "tls"):
        return  # other transports (inproc, ucx) are left to Dask
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise InfrastructureError(
            f"cannot reach the Dask scheduler at {address} ({e.strerror or e}); "
            "start it, or fix --address or DASK_SCHEDULER_ADDRESS."
        ) from e
