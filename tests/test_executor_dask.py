"""The Dask executor, on real LocalClusters: same results as threads, failures, addresses.

Most tests share one in-process cluster on TCP and reach it by address, the way a
user reaches a running scheduler; two start their own cluster, as ``--executor dask``
without an address does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import pytest
from conftest import stored_value

import assetflow
from assetflow.errors import DefinitionError, InfrastructureError, MaterializationError
from assetflow.executors import Job
from assetflow.executors.dask import CONNECT_TIMEOUT, DaskExecutor, check_worker_hosts
from assetflow.run import RunResult
from assetflow.state import StateStore

ALL = {"counts", "total", "adjusted", "parity", "shout", "independent", "report"}
AWAY = {"tcp://10.9.9.9:1234": {"host": "10.9.9.9", "nthreads": 4}}
WHERE = """
import os

from assetflow import asset


@asset
def pid():
    return os.getpid()
"""
BLOCKED = """
import time
from pathlib import Path

from assetflow import asset


@asset
def blocked():
    while not (Path(__file__).parent.parent / "gate").exists():
        time.sleep(0.01)
    return 1
"""
SENTENCE = (
    "the Dask workers at 10.9.9.9 are on another machine; put the project and its state "
    "folder on a shared filesystem mounted at the same path there, set "
    "`shared_storage = true` in [tool.assetflow], and run again."
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """One in-process worker with two threads, on TCP so its host is a real address."""
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=None
    ) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_ambient_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    # A scheduler address in the developer's environment would redirect every run.
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.delenv("ASSETFLOW_DASK_PROCESSES", raising=False)


def _versions(root: Path) -> dict[str, str | None]:
    current = StateStore(root / ".assetflow").snapshot().current
    return {name: current[name].data_version for name in ALL}


def _outcomes(result: RunResult) -> dict[str, str]:
    return {a.name: a.outcome for a in result.assets}


def _same_as_threads(root: Path, **dask_options: str) -> int:
    """Materialize ``root`` with Dask and a copy with threads; compare; say where ``pid`` ran."""
    (root / "assets" / "where.py").write_text(WHERE)
    twin = shutil.copytree(root, root.with_name(root.name + "_threads"))
    on_dask = assetflow.materialize(project=root, executor="dask", workers=2, **dask_options)
    on_threads = assetflow.materialize(project=twin, executor="threads", workers=2)
    assert _outcomes(on_dask) == dict.fromkeys({*ALL, "pid"}, "materialized")
    assert _outcomes(on_dask) == _outcomes(on_threads)
    assert _versions(root) == _versions(twin)
    assert None not in _versions(root).values()
    ran_in = stored_value(root, "pid")
    assert isinstance(ran_in, int)
    return ran_in


def test_dask_local_cluster_in_process_matches_threads(make_project, monkeypatch):
    monkeypatch.setenv("ASSETFLOW_DASK_PROCESSES", "0")
    assert _same_as_threads(make_project("pipeline")) == os.getpid()


def test_dask_local_cluster_of_processes_matches_threads(make_project):
    assert _same_as_threads(make_project("pipeline")) != os.getpid()


def test_dask_address_on_this_machine_matches_threads(make_project, cluster):
    _same_as_threads(make_project("pipeline"), address=cluster.scheduler_address)


def test_dask_address_workers_are_the_cluster_threads(cluster):
    executor = DaskExecutor(1, address=cluster.scheduler_address)
    try:
        assert executor.name == "dask"
        assert executor.workers == 2
    finally:
        executor.shutdown(wait=True)


def test_dask_failing_asset_fails_and_skips_downstream(make_project, cluster):
    root = make_project("pipeline")
    core = root / "assets" / "core.py"
    old = 'return pc.sum(counts.column("n")).as_py()'
    assert old in core.read_text()
    core.write_text(core.read_text().replace(old, 'raise ValueError("no total today")'))
    result = assetflow.materialize(
        project=root, executor="dask", workers=2, address=cluster.scheduler_address
    )
    outcomes = _outcomes(result)
    assert not result.ok
    assert outcomes["total"] == "failed"
    assert {outcomes[n] for n in ("adjusted", "parity", "shout")} == {"skipped"}
    assert {outcomes[n] for n in ("counts", "report", "independent")} == {"materialized"}
    (total,) = [a for a in result.assets if a.name == "total"]
    assert "no total today" in (total.error or "")
    assert "core.py" in (total.traceback or "")


def _job(root: Path, asset: str, file: str) -> Job:
    return Job(
        asset=asset,
        run_id=1,
        first_id=1,
        root=str(root),
        state_dir=str(root / ".assetflow"),
        assets_dir=str(root / "assets"),
        file=file,
        inputs={},
    )


def test_dask_submit_passes_assetflow_errors_through(make_project, cluster):
    job = _job(make_project("pipeline"), "vanished", "assets/core.py")
    executor = DaskExecutor(1, address=cluster.scheduler_address)
    try:
        future = executor.submit(job, None)
        with pytest.raises(MaterializationError, match="'vanished' is not in this file"):
            future.result(timeout=30)
    finally:
        executor.shutdown(wait=True)


def test_dask_shutdown_without_waiting_cancels_running_jobs(make_project, cluster):
    root = make_project("pipeline")
    (root / "assets" / "blocking.py").write_text(BLOCKED)
    executor = DaskExecutor(1, address=cluster.scheduler_address)
    future = executor.submit(_job(root, "blocked", "assets/blocking.py"), None)
    closing = threading.Thread(target=executor.shutdown, kwargs={"wait": False})
    closing.start()
    closing.join(timeout=CONNECT_TIMEOUT)
    (root / "gate").touch()  # lets the abandoned job end on the shared worker
    assert not closing.is_alive()
    assert future.cancelled()


def test_check_worker_hosts_refuses_another_machine():
    with pytest.raises(DefinitionError) as caught:
        check_worker_hosts(AWAY, shared_storage=False, local_hosts={"127.0.0.1", "here"})
    assert str(caught.value) == SENTENCE


@pytest.mark.parametrize(
    ("workers", "shared_storage"),
    [
        (AWAY, True),
        ({"tcp://192.168.1.5:1": {"host": "192.168.1.5"}}, False),
        ({"tcp://127.0.1.1:1": {"host": "127.0.1.1"}}, False),
        ({}, False),
    ],
    ids=["shared-storage", "own-address", "loopback", "no-workers"],
)
def test_check_worker_hosts_accepts(workers, shared_storage):
    check_worker_hosts(workers, shared_storage=shared_storage, local_hosts={"192.168.1.5"})


def test_dask_unreachable_address_is_infrastructure_error_at_once(make_project):
    root = make_project("pipeline")
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"tcp://127\.0\.0\.1:1\b"):
        assetflow.materialize(project=root, executor="dask", address="tcp://127.0.0.1:1")
    assert time.monotonic() - started < CONNECT_TIMEOUT / 2


def test_importing_dask_executor_does_not_import_dask():
    code = (
        "import sys, assetflow.executors.dask\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
