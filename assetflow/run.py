"""Running a plan: statuses for ``status``, and the runs of ``materialize``.

A run holds the run lock, reads the state, observes sources and assesses
every asset, then hands the selection to the :class:`Scheduler`, which gives
each asset its turn as its upstreams finish (early cutoff falls out of
re-assessing at that turn). Attempts are recorded in batches; a value becomes
current only when its batch commits. A failing asset never stops independent
work: its downstream is skipped, everything else runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assetflow import events as ev
from assetflow.checks import CheckResult
from assetflow.definition import Asset
from assetflow.errors import UsageError
from assetflow.executors import Executor, make_executor
from assetflow.freshness import evaluate
from assetflow.graph import AssetGraph, edge_kinds
from assetflow.observation import SourceState, observe_all
from assetflow.plan import Action, AssetStatus, Cause, CauseKind, Status, Upstream, assess, decide
from assetflow.project import Config
from assetflow.scheduler import AssetResult, Scheduler
from assetflow.state import (
    Materialization,
    Observation,
    RunEnd,
    Snapshot,
    StateStore,
    run_lock,
    utcnow,
)
from assetflow.storage import Storage

log = logging.getLogger("assetflow")

#: Seconds between commits of finished assets (``ASSETFLOW_COMMIT_SECONDS``).
_FLUSH_EVERY_S = 5.0
_FLUSH_EVERY_N = 50_000
#: Present while a run is going; found at the start of a run, it means the last one was killed.
DIRTY_FILE = "run.dirty"
#: Present when old versions could not be deleted yet (a reader was reading); the next run does.
GARBAGE_FILE = "gc.pending"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of ``materialize``: one entry per selected asset, in dependency order."""

    run_id: int | None
    assets: tuple[AssetResult, ...]
    dry_run: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """No asset failed or was cancelled (a dry run, which runs nothing, is always ok)."""
        return self.dry_run or not any(a.outcome in ("failed", "cancelled") for a in self.assets)

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.assets if a.outcome == outcome)


@dataclass(slots=True)
class _World:
    """Everything known about the project's state while planning or running."""

    graph: AssetGraph
    config: Config
    snapshot: Snapshot
    storage: Storage
    code: dict[str, str]
    sources: dict[str, SourceState]
    now: dt.datetime | None
    present: dict[str, bool] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)  # check versions, by asset
    statuses: dict[str, AssetStatus] = field(default_factory=dict)
    views: dict[str, Upstream] = field(default_factory=dict)  # kept current by assess()

    def upstream_view(self, name: str) -> Upstream:
        """An asset or source as its downstream sees it now."""
        view = self.views.get(name)
        if view is None:
            view = self.views[name] = self._view(name)
        return view

    def _view(self, name: str) -> Upstream:
        a = self.graph[name]
        if a.kind == "source":
            state = self.sources[name]
            return Upstream(
                state.version,
                None,
                Status.FRESH if state.present else Status.MISSING,
                True,
                state.detail,
            )
        current = self.snapshot.current.get(name)
        status = self.statuses[name].status
        if current is None or not self.present.get(name, True):
            return Upstream(None, None, status, False)
        return Upstream(current.data_version, current.run_id, status, False)

    def assess(self, name: str) -> AssetStatus:
        a = self.graph[name]
        if a.kind == "source":
            state = self.sources[name]
            if state.present:
                result = self._source_freshness(a, state)
            else:
                detail = f"source {name} is missing{state.detail}"
                result = AssetStatus(
                    name, Status.MISSING, (Cause(CauseKind.SOURCE_MISSING, detail),), None
                )
        else:
            current = self.snapshot.current.get(name)
            present = current is not None and self.storage.present(current.location, current.bytes)
            self.present[name] = present
            failure = self.snapshot.failures.get(name)
            result = assess(
                a,
                record=current.as_record(present) if current else None,
                failure=failure.error if failure else None,
                code_version=self.code.get(name),
                upstreams={u: self.upstream_view(u) for u in tracked_upstream(a)},
                now=self.now,
                exports=self._export_problems(a, current.id) if current and present else (),
                checks_changed=current is not None and present and not self.judged(a, current.id),
            )
        self.statuses[name] = result
        self.views.pop(name, None)
        return result

    def judged(self, asset: Asset, mat_id: int) -> bool:
        """Whether the asset's checks, as they are now, judged materialization ``mat_id``."""
        version = self.checks.get(asset.name)
        if version is None:
            return True
        from assetflow.verdicts import judged

        return judged(self.storage.state_dir, asset.name, mat_id, version)

    def _export_problems(self, asset: Asset, mat_id: int) -> list[str]:
        if not asset.options.exports:
            return []
        from assetflow.exports import export_problems

        return export_problems(
            asset, mat_id, root=self.config.root, state_dir=self.storage.state_dir
        )

    def _source_freshness(self, source: Asset, state: SourceState) -> AssetStatus:
        """A present source's status: judged by its policy against its last change."""
        policy = source.options.freshness
        seen = self.snapshot.observations.get(source.name)
        # A version not seen before changed just now.
        changed = (
            seen.changed_at if seen is not None and seen.version == state.version else self.now
        )
        if policy is None or self.now is None or changed is None:
            return AssetStatus(source.name, Status.FRESH, (), changed)
        verdict = evaluate(policy, changed, self.now, source.where)
        if verdict is None or verdict.level == "ok":
            return AssetStatus(source.name, Status.FRESH, (), changed)
        detail = verdict.detail.replace("materialized", "changed")
        if verdict.level == "warn":
            cause = Cause(CauseKind.FRESHNESS_WARNING, f"freshness warning: {detail}")
            return AssetStatus(source.name, Status.FRESH, (cause,), changed)
        cause = Cause(CauseKind.OVERDUE, f"overdue: {detail}")
        return AssetStatus(source.name, Status.OVERDUE, (cause,), changed)

    def published(self, name: str, m: Materialization) -> None:
        """Take a new materialization as current: fresh by construction."""
        self.snapshot.current[name] = m
        self.snapshot.failures.pop(name, None)
        self.present[name] = True
        self.statuses[name] = AssetStatus(name, Status.FRESH, (), m.finished_at)
        self.views.pop(name, None)


def tracked_upstream(asset: Asset) -> tuple[str, ...]:
    """Upstreams whose data versions matter: all but the ordering-only ones.

    Ordering-only: ``deps`` entries and what only the asset's checks read (see
    :func:`assetflow.graph.edge_kinds`). A check's verdict depends on the other
    asset's data, but the asset's own data does not, so a change there is no reason
    to recompute it; ``assetflow check`` re-runs checks against current data.
    """
    if not asset.options.deps and not asset.check_reads:
        return asset.upstream
    return tuple(u for u, kind in edge_kinds(asset).items() if kind == "data")


def _code_versions(graph: AssetGraph, config: Config, package: str) -> dict[str, str]:
    """Every asset's code version, with the values of the settings it reads folded in."""
    from assetflow.fingerprint import cached_code_versions
    from assetflow.settings import with_settings

    code = cached_code_versions(
        graph, package, assets_dir=config.assets_dir, cache_dir=config.state_dir / "cache"
    )
    readers = {a.name: a.settings for a in graph if a.settings}
    return with_settings(code, readers, config.settings) if readers else code


def _check_versions(graph: AssetGraph, package: str) -> dict[str, str]:
    if not any(a.options.checks or a.custom_checks or a.sql_checks for a in graph):
        return {}
    from assetflow.fingerprint import check_versions

    return check_versions(graph, package)


def _world(
    graph: AssetGraph,
    config: Config,
    package: str,
    snapshot: Snapshot,
    now: dt.datetime | None,
    *,
    need_code: bool = True,
) -> _World:
    sources = [a for a in graph if a.kind == "source"]
    world = _World(
        graph=graph,
        config=config,
        snapshot=snapshot,
        storage=Storage(config.state_dir),
        code=_code_versions(graph, config, package) if need_code else {},
        sources=observe_all(sources, config.root, snapshot.observations),
        now=now,
        checks=_check_versions(graph, package) if need_code else {},
    )
    for name in graph.names:
        world.assess(name)
    return world


def statuses(
    graph: AssetGraph,
    config: Config,
    package: str,
    *,
    now: dt.datetime | None = None,
    snapshot: Snapshot | None = None,
) -> dict[str, AssetStatus]:
    """The status of every asset and source, with causes (reads state read-only).

    Args:
        snapshot: the state to judge against, when the caller has read it already.
    """
    if snapshot is None:
        snapshot = StateStore(config.state_dir).snapshot()
    # Code versions only matter against a record: with none, every asset is missing.
    need_code = bool(snapshot.current)
    return _world(graph, config, package, snapshot, now or utcnow(), need_code=need_code).statuses


class _Recorder:
    """Collects attempts and source observations and writes them in batches."""

    def __init__(self, store: StateStore, storage: Storage, keep_versions: int) -> None:
        self.store = store
        self.storage = storage
        self.keep_versions = keep_versions
        self.pending: list[Materialization] = []
        self.observations: list[Observation] = []
        self.checks: list[tuple[Any, ...]] = []
        self.garbage: list[str] = []  # collected versions, deleted when the run ends
        self.every_s = _commit_seconds()
        self.last_flush = time.monotonic()

    def add(self, m: Materialization, checks: Sequence[CheckResult] = ()) -> None:
        """Queue an attempt, with the check results of its data (same transaction)."""
        self.checks.extend(
            (
                m.id,
                m.asset,
                m.run_id,
                c.check,
                c.severity,
                c.passed,
                c.violations,
                c.message,
                c.sample,
            )
            for c in checks
        )
        self.pending.append(m)
        if len(self.pending) >= _FLUSH_EVERY_N or time.monotonic() - self.last_flush > self.every_s:
            self.flush()

    def add_checks(
        self, mat_id: int, asset: str, run_id: int, checks: Sequence[CheckResult]
    ) -> None:
        """Queue check results of an existing materialization, re-evaluated in this run."""
        self.checks.extend(
            (
                mat_id,
                asset,
                run_id,
                c.check,
                c.severity,
                c.passed,
                c.violations,
                c.message,
                c.sample,
            )
            for c in checks
        )

    def flush(self, finish_run: RunEnd | None = None) -> None:
        collected = self.store.record(
            self.pending,
            self.observations,
            finish_run=finish_run,
            keep_versions=self.keep_versions,
            checks=self.checks,
        )
        self.pending, self.observations, self.checks = [], [], []
        self.last_flush = time.monotonic()
        # Old versions are deleted at the run's end, once neither the state nor the
        # catalog points at them: until then the catalog may still show them.
        self.garbage.extend(collected)


def _commit_seconds() -> float:
    raw = os.environ.get("ASSETFLOW_COMMIT_SECONDS")
    if not raw:
        return _FLUSH_EVERY_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise UsageError(
            f"ASSETFLOW_COMMIT_SECONDS={raw!r} is not a number of seconds; set it to one, "
            "such as 5, or unset it."
        )
    return value


def materialize(
    graph: AssetGraph,
    config: Config,
    package: str,
    names: Sequence[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    selection: str = "",
    executor: str = "threads",
    workers: int | None = None,
    address: str | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Materialize what is missing, stale, overdue or failed among ``names``.

    Raises:
        KeyboardInterrupt: the run was interrupted; what finished is recorded first.
    """
    now = now or utcnow()
    _commit_seconds()  # a bad setting is refused before the run starts
    emit = on_event or (lambda event: None)
    notice = on_notice or (lambda message: None)
    store = StateStore(config.state_dir)
    targets = [n for n in graph.order(names) if graph[n].kind != "source"]
    if not targets:
        return RunResult(None, (), dry_run=dry_run)
    if dry_run:
        world = _world(graph, config, package, store.snapshot(), now)
        return RunResult(None, tuple(_dry_run(world, targets, force)), dry_run=True)
    pool = make_executor(
        executor, workers=workers, address=address, shared_storage=config.shared_storage
    )
    clock = time.time()
    abandoned = True  # until the run says otherwise
    try:
        with run_lock(
            config.state_dir, on_wait=lambda who: notice(f"waiting for another run ({who})")
        ):
            result, abandoned = _run_locked(
                graph,
                config,
                package,
                targets,
                store,
                pool,
                force,
                now,
                selection,
                emit,
                notice,
                sleep,
                clock,
            )
    finally:
        # Wait for idle workers to exit, unless jobs were abandoned still running.
        pool.shutdown(wait=not abandoned)
    if result.interrupted:
        raise KeyboardInterrupt
    return result


def _run_locked(
    graph: AssetGraph,
    config: Config,
    package: str,
    targets: list[str],
    store: StateStore,
    pool: Executor,
    force: bool,
    now: dt.datetime,
    selection: str,
    emit: Callable[[ev.Event], None],
    notice: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: float,
) -> tuple[RunResult, bool]:
    """Run under the run lock; also say whether jobs were abandoned still running."""
    dirty = config.state_dir / DIRTY_FILE
    # What "took" means, in the live output and in `assetflow runs` alike: from this
    # command starting the run (waiting for another run included) to its end being recorded.
    with store.begin_run(
        command="materialize",
        selection=selection,
        executor=pool.name,
        workers=pool.workers,
        started=clock,
    ) as start:
        run_id = start.run_id
        world = _world(graph, config, package, start.snapshot, now)
        observations = _changed_observations(world, run_id)
        emit(
            ev.RunStarted(
                run_id=run_id,
                time=clock,
                selection=selection,
                assets=tuple(targets),
                workers=pool.workers,
                executor=pool.name,
            )
        )
        # A fresh asset whose checks changed still has its checks to run.
        nothing_to_do = not force and all(
            world.statuses[t].fresh
            and not any(c.kind is CauseKind.CHECKS_CHANGED for c in world.statuses[t].causes)
            for t in targets
        )
        if nothing_to_do:
            # Record the run's end without opening the database again.
            finished = time.time()
            start.finish("success", {"fresh": len(targets)}, observations, finished)
    # Only now, with the state's schema known to be ours, may files be touched.
    if dirty.exists() or (config.state_dir / GARBAGE_FILE).exists():
        # The last run did not end cleanly, or left old versions: show the current data
        # in the catalog, then remove what no state row keeps.
        _collect(world, store.kept_locations)
    if nothing_to_do:
        _publish_catalog(world)
        dirty.unlink(missing_ok=True)
        for t in targets:
            emit(ev.AssetFresh(run_id=run_id, time=time.time(), asset=t))
        emit(
            ev.RunFinished(
                run_id=run_id,
                time=time.time(),
                outcome="success",
                counts={"fresh": len(targets)},
                duration_s=finished - clock,
            )
        )
        return RunResult(run_id, tuple(AssetResult(t, "fresh") for t in targets)), False
    dirty.touch()
    recorder = _Recorder(store, world.storage, config.keep_versions)
    recorder.observations = observations
    scheduler = Scheduler(
        world,
        recorder,
        run_id,
        world.snapshot.last_materialization_id + 1,
        executor=pool,
        force=force,
        emit=emit,
        notice=notice,
        sleep=sleep,
    )
    outcome = "error"
    results: list[AssetResult] = []
    try:
        results = scheduler.run(targets)
        if scheduler.interrupted:
            outcome = "cancelled"
        elif any(r.outcome == "failed" for r in results):
            outcome = "failed"
        else:
            outcome = "success"
    finally:
        # Whatever happened, what finished is recorded and the rest is cancelled.
        results = results or list(scheduler.results.values())  # what settled before an error
        done = {r.name for r in results}
        results += [AssetResult(n, "cancelled") for n in targets if n not in done]
        counts, finished = _finish(world, recorder, run_id, results, outcome)
        if not scheduler.abandoned:
            dirty.unlink(missing_ok=True)
        emit(
            ev.RunFinished(
                run_id=run_id,
                time=time.time(),
                outcome=outcome,
                counts=counts,
                duration_s=finished - clock,
            )
        )
    result = RunResult(run_id, tuple(results), interrupted=scheduler.interrupted)
    return result, scheduler.abandoned


def _changed_observations(world: _World, run_id: int) -> list[Observation]:
    observed = []
    for name, state in world.sources.items():
        prev = world.snapshot.observations.get(name)
        if state.version is None:
            continue
        if prev is None or prev.version != state.version or prev.stat_key != state.stat_key:
            observed.append(Observation(name, state.version, state.stat_key, utcnow(), run_id))
    return observed


def _finish(
    world: _World,
    recorder: _Recorder,
    run_id: int,
    results: Sequence[AssetResult],
    outcome: str,
) -> tuple[dict[str, int], float]:
    """Record the run's end; its counts, and when it ended (``time.time()``)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    finished = time.time()
    recorder.flush(finish_run=(run_id, outcome, counts, finished))
    if _publish_catalog(world) and world.storage.delete(recorder.garbage):
        return counts, finished
    # A reader is reading, or the catalog still shows old versions: the next run deletes them.
    (world.config.state_dir / GARBAGE_FILE).touch()
    return counts, finished


def _collect(world: _World, kept: Callable[[], dict[str, list[str]]]) -> None:
    """Publish the catalog, then delete every stored file no state row keeps."""
    garbage = world.config.state_dir / GARBAGE_FILE
    if _publish_catalog(world) and world.storage.sweep(kept()) is not None:
        garbage.unlink(missing_ok=True)
    else:
        garbage.touch()


def _publish_catalog(world: _World) -> bool:
    """Bring the catalog up to the state; return whether it is current."""
    from assetflow.catalog import update_catalog

    files = {a.name: a.source.path for a in world.graph if a.source is not None and a.source.path}
    readers = {a.name: a.source.reader for a in world.graph if a.source and a.source.reader}
    return update_catalog(world.config, world.snapshot.current, files, readers)


def _dry_run(world: _World, targets: Sequence[str], force: bool) -> list[AssetResult]:
    """What a run would do: ``run``, ``check`` (runs if an upstream's data changes),
    ``skipped`` or ``fresh``."""
    will_run: set[str] = set()
    results = []
    for name in targets:
        status = world.statuses[name]
        asset = world.graph[name]
        if any(u in will_run for u in tracked_upstream(asset)):
            will_run.add(name)
            own = [c for c in status.causes if c.kind is not CauseKind.UPSTREAM_STALE]
            if own or force:
                results.append(AssetResult(name, "run", status.causes))
            else:
                note = "runs if an upstream's data changes"
                results.append(AssetResult(name, "check", status.causes, error=note))
            continue
        action, reason = decide(
            status,
            upstreams={u: world.upstream_view(u) for u in tracked_upstream(asset)},
            ran_upstreams={},
            force=force,
        )
        if action is Action.RUN:
            will_run.add(name)
            results.append(AssetResult(name, "run", status.causes))
        elif action is Action.SKIP:
            results.append(AssetResult(name, "skipped", status.causes, error=reason))
        elif action is Action.FAIL:
            results.append(AssetResult(name, "fail", status.causes, error=reason))
        elif any(c.kind is CauseKind.CHECKS_CHANGED for c in status.causes):
            note = "its checks changed: re-evaluated on its current data, not recomputed"
            results.append(AssetResult(name, "check", status.causes, error=note))
        else:
            results.append(AssetResult(name, "fresh"))
    return results
