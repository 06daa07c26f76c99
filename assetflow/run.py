"""Running a plan: statuses for ``status``, and the in-order runner for ``materialize``.

The runner holds the run lock, observes sources, then gives each selected
asset its turn in dependency order: re-assess it against what its upstreams
produced so far (early cutoff falls out of this), decide, compute, store.
Attempts are recorded in batches; a value becomes current only when its batch
commits. A failing asset never stops independent work: its downstream is
skipped, everything else runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assetflow.compute import (
    Available,
    Context,
    Engine,
    compute_python,
    compute_sql,
    user_traceback,
)
from assetflow.definition import Asset
from assetflow.errors import AssetflowError, MaterializationError
from assetflow.graph import AssetGraph
from assetflow.observation import SourceState, observe_all
from assetflow.plan import Action, AssetStatus, Cause, CauseKind, Status, Upstream, assess, decide
from assetflow.project import Config
from assetflow.state import Materialization, Observation, Snapshot, StateStore, run_lock, utcnow
from assetflow.storage import Storage

log = logging.getLogger("assetflow")

_FLUSH_EVERY_S = 5.0
_FLUSH_EVERY_N = 50_000
#: Present while a run is going; found at the start of a run, it means the last one was killed.
DIRTY_FILE = "run.dirty"


@dataclass(frozen=True, slots=True)
class AssetResult:
    """What a run did with one selected asset."""

    name: str
    outcome: str  # materialized | fresh | failed | skipped | cancelled
    causes: tuple[Cause, ...] = ()
    rows: int | None = None
    duration_s: float = 0.0
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of ``materialize``: one entry per selected asset, in dependency order."""

    run_id: int | None
    assets: tuple[AssetResult, ...]
    dry_run: bool = False

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
                result = AssetStatus(name, Status.FRESH, (), None)
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
            )
        self.statuses[name] = result
        self.views.pop(name, None)
        return result

    def published(self, name: str, m: Materialization) -> None:
        """Take a new materialization as current: fresh by construction."""
        self.snapshot.current[name] = m
        self.snapshot.failures.pop(name, None)
        self.present[name] = True
        self.statuses[name] = AssetStatus(name, Status.FRESH, (), m.finished_at)
        self.views.pop(name, None)


_OWN_CAUSES = frozenset(
    {
        CauseKind.NEVER_MATERIALIZED,
        CauseKind.DATA_MISSING,
        CauseKind.LAST_RUN_FAILED,
        CauseKind.CODE_CHANGED,
        CauseKind.DEPS_CHANGED,
        CauseKind.SOURCE_CHANGED,
        CauseKind.OVERDUE,
    }
)


def _runs_anyway(status: AssetStatus) -> bool:
    """Whether a cause of the asset's own makes it run, whatever its upstreams produce."""
    return any(c.kind in _OWN_CAUSES for c in status.causes)


def tracked_upstream(asset: Asset) -> tuple[str, ...]:
    """Upstreams whose data versions matter: all but ordering-only ``deps``."""
    ordering = {d.lower() for d in asset.options.deps}
    if not ordering:
        return asset.upstream
    real = {i.asset.lower() for i in asset.inputs}
    if asset.sql is not None:
        real |= set(asset.sql.deps)
    return tuple(u for u in asset.upstream if u.lower() not in ordering or u.lower() in real)


def _world(
    graph: AssetGraph, config: Config, package: str, snapshot: Snapshot, now: dt.datetime | None
) -> _World:
    from assetflow.fingerprint import cached_code_versions

    sources = [a for a in graph if a.kind == "source"]
    world = _World(
        graph=graph,
        config=config,
        snapshot=snapshot,
        storage=Storage(config.state_dir),
        code=cached_code_versions(
            graph, package, assets_dir=config.assets_dir, cache_dir=config.state_dir / "cache"
        ),
        sources=observe_all(sources, config.root, snapshot.observations),
        now=now,
    )
    for name in graph.names:
        world.assess(name)
    return world


def statuses(
    graph: AssetGraph, config: Config, package: str, *, now: dt.datetime | None = None
) -> dict[str, AssetStatus]:
    """The status of every asset and source, with causes (reads state read-only)."""
    snapshot = StateStore(config.state_dir).snapshot()
    return _world(graph, config, package, snapshot, now or utcnow()).statuses


class _Recorder:
    """Collects attempts and source observations and writes them in batches."""

    def __init__(self, store: StateStore, storage: Storage, keep_versions: int) -> None:
        self.store = store
        self.storage = storage
        self.keep_versions = keep_versions
        self.pending: list[Materialization] = []
        self.observations: list[Observation] = []
        self.last_flush = time.monotonic()

    def add(self, m: Materialization) -> None:
        self.pending.append(m)
        if (
            len(self.pending) >= _FLUSH_EVERY_N
            or time.monotonic() - self.last_flush > _FLUSH_EVERY_S
        ):
            self.flush()

    def flush(self, finish_run: tuple[int, str, dict[str, int]] | None = None) -> None:
        collected = self.store.record(
            self.pending, self.observations, finish_run=finish_run, keep_versions=self.keep_versions
        )
        self.pending, self.observations = [], []
        self.last_flush = time.monotonic()
        # Old versions are deleted only once the state no longer points at them.
        for location in collected:
            self.storage.path(location).unlink(missing_ok=True)


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
    on_result: Callable[[AssetResult], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> RunResult:
    """Materialize what is missing, stale, overdue or failed among ``names``."""
    now = now or utcnow()
    store = StateStore(config.state_dir)
    targets = [n for n in graph.order(names) if graph[n].kind != "source"]
    if not targets:
        return RunResult(None, (), dry_run=dry_run)
    if dry_run:
        world = _world(graph, config, package, store.snapshot(), now)
        return RunResult(None, tuple(_dry_run(world, targets, force)), dry_run=True)
    with run_lock(config.state_dir, on_wait=on_wait):
        dirty = config.state_dir / DIRTY_FILE
        if dirty.exists():
            # The last run did not end cleanly: remove what it wrote but never recorded.
            Storage(config.state_dir).sweep(store.kept_locations())
        dirty.touch()
        with store.begin_run(command="materialize", selection=selection) as start:
            run_id = start.run_id
            world = _world(graph, config, package, start.snapshot, now)
            observations = _changed_observations(world, run_id)
            if not force and all(world.statuses[t].fresh for t in targets):
                # Nothing to run: record the run's end without opening the database again.
                start.finish("success", {"fresh": len(targets)}, observations)
                nothing_to_do = True
            else:
                nothing_to_do = False
        if nothing_to_do:
            _publish_catalog(world)
            dirty.unlink(missing_ok=True)
            results = [AssetResult(t, "fresh") for t in targets]
            if on_result is not None:
                for r in results:
                    on_result(r)
            return RunResult(run_id, tuple(results))
        recorder = _Recorder(store, world.storage, config.keep_versions)
        recorder.observations = observations
        first_id = world.snapshot.last_materialization_id + 1
        runner = _Runner(world, recorder, run_id, first_id, force, on_result)
        outcome = "error"
        try:
            results = runner.run(targets)
            outcome = "failed" if any(r.outcome == "failed" for r in results) else "success"
        except KeyboardInterrupt:
            outcome = "cancelled"
            raise
        finally:
            runner.engine.close()
            # Whatever happened, what finished is recorded and the rest is cancelled.
            results = runner.cancel_rest(targets)
            _finish(world, store, recorder, run_id, results, outcome)
            dirty.unlink(missing_ok=True)
    return RunResult(run_id, tuple(results))


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
    store: StateStore,
    recorder: _Recorder,
    run_id: int,
    results: Sequence[AssetResult],
    outcome: str,
) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    recorder.flush(finish_run=(run_id, outcome, counts))
    _publish_catalog(world)


def _publish_catalog(world: _World) -> None:
    from assetflow.catalog import update_catalog

    files = {a.name: a.source.path for a in world.graph if a.source is not None and a.source.path}
    update_catalog(world.config, world.snapshot.current, files)


class _Runner:
    def __init__(
        self,
        world: _World,
        recorder: _Recorder,
        run_id: int,
        first_id: int,
        force: bool,
        on_result: Callable[[AssetResult], None] | None,
    ) -> None:
        self.world = world
        self.recorder = recorder
        self.run_id = run_id
        self.next_id = first_id
        self.force = force
        self.on_result = on_result
        self.engine = Engine(world.storage, world.config.root)
        self.outcomes: dict[str, str] = {}
        self.changed: set[str] = set()  # assets whose status changed during this run
        self.memory: dict[str, Any] = {}
        self.results: list[AssetResult] = []

    def run(self, targets: Sequence[str]) -> list[AssetResult]:
        consumers = self._consumers(targets)
        for name in targets:
            result = self._turn(name)
            self.outcomes[name] = result.outcome
            self.results.append(result)
            if self.on_result is not None:
                self.on_result(result)
            for up in self.world.graph.upstream(name):
                consumers[up] = consumers.get(up, 1) - 1
                if consumers[up] <= 0:
                    self.memory.pop(up, None)
        return self.results

    def cancel_rest(self, targets: Sequence[str]) -> list[AssetResult]:
        done = {r.name for r in self.results}
        return self.results + [AssetResult(n, "cancelled") for n in targets if n not in done]

    def _consumers(self, targets: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in targets:
            for up in self.world.graph.upstream(name):
                counts[up] = counts.get(up, 0) + 1
        return counts

    def _turn(self, name: str) -> AssetResult:
        world = self.world
        asset = world.graph[name]
        # A status changes only through an upstream whose status changed in this run,
        # and an asset with a cause of its own runs whatever its upstreams did.
        before = world.statuses[name]
        recheck = not _runs_anyway(before) and any(u in self.changed for u in asset.upstream)
        status = world.assess(name) if recheck else before
        if status != before:
            self.changed.add(name)
        if status.fresh and not self.force and not self._upstream_trouble(asset):
            return AssetResult(name, "fresh")  # the no-op run's path: nothing to decide
        tracked = tracked_upstream(asset)
        action, reason = decide(
            status,
            upstreams={u: world.upstream_view(u) for u in tracked},
            ran_upstreams={u: self.outcomes[u] for u in asset.upstream if u in self.outcomes},
            force=self.force,
        )
        if action is Action.FRESH:
            return AssetResult(name, "fresh")
        if action is Action.SKIP:
            return AssetResult(name, "skipped", status.causes, error=f"skipped ({reason})")
        if action is Action.FAIL:
            mat_id = self.next_id
            self.next_id += 1
            error = MaterializationError(f"{asset.where}: {reason}; restore it or fix the path.")
            return self._failed(asset, mat_id, status, utcnow(), time.perf_counter(), error)
        return self._compute(asset, status, tracked)

    def _upstream_trouble(self, asset: Asset) -> bool:
        return any(
            self.outcomes.get(u) in ("failed", "skipped", "cancelled") for u in asset.upstream
        )

    def _compute(self, asset: Asset, status: AssetStatus, tracked: Sequence[str]) -> AssetResult:
        world = self.world
        mat_id = self.next_id
        self.next_id += 1
        inputs = {
            u: (v.data_version or "", v.run_id) for u in tracked for v in [world.upstream_view(u)]
        }
        started = utcnow()
        clock = time.perf_counter()
        try:
            upstreams = {u: self._available(u) for u in asset.upstream if u in tracked}
            if asset.kind == "sql":
                stored = compute_sql(self.engine, asset, mat_id, upstreams)
                value = None
            else:
                previous = world.snapshot.current.get(asset.name)
                context = Context(asset.name, self.run_id, previous)
                stored, value = compute_python(self.engine, asset, mat_id, upstreams, context)
        except AssetflowError as e:
            # User code, a query, or reading an upstream failed: this asset's failure.
            return self._failed(asset, mat_id, status, started, clock, e)
        materialization = Materialization(
            id=mat_id,
            asset=asset.name,
            run_id=self.run_id,
            outcome="materialized",
            code_version=world.code.get(asset.name),
            inputs=inputs,
            data_version=stored.data_version,
            started_at=started,
            finished_at=utcnow(),
            rows=stored.rows,
            bytes=stored.bytes,
            schema=stored.schema,
            format=stored.format,
            location=stored.location,
            value=stored.inline,
        )
        self.recorder.add(materialization)
        world.published(asset.name, materialization)
        self.changed.add(asset.name)
        if value is not None and world.graph.downstream(asset.name):
            self.memory[asset.name] = value
        return AssetResult(
            asset.name, "materialized", status.causes, stored.rows, time.perf_counter() - clock
        )

    def _failed(
        self,
        asset: Asset,
        mat_id: int,
        status: AssetStatus,
        started: dt.datetime,
        clock: float,
        e: AssetflowError,
    ) -> AssetResult:
        cause = e.__cause__ if e.__cause__ is not None else e
        tb = user_traceback(cause, self.world.config.root) if e.__cause__ is not None else None
        message = str(e)
        self.recorder.add(
            Materialization(
                id=mat_id,
                asset=asset.name,
                run_id=self.run_id,
                outcome="failed",
                code_version=self.world.code.get(asset.name),
                inputs={},
                data_version=None,
                started_at=started,
                finished_at=utcnow(),
                error=message,
                traceback=tb,
            )
        )
        return AssetResult(
            asset.name, "failed", status.causes, None, time.perf_counter() - clock, message, tb
        )

    def _available(self, name: str) -> Available:
        world = self.world
        a = world.graph[name]
        if a.kind == "source":
            return Available(source=a, observed=world.sources[name].version)
        if name in self.memory:
            return Available(value=self.memory[name], in_memory=True)
        current = world.snapshot.current[name]
        return Available(
            stored_format=current.format, stored_location=current.location, inline=current.value
        )


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
        else:
            results.append(AssetResult(name, "fresh"))
    return results
