"""Scheduling a run: each asset starts as soon as its upstreams in the run are done.

The coordinator (this module, in the calling thread) owns the plan, the state
and the events. At an asset's turn it re-assesses the asset against what its
upstreams produced so far, then either settles it at once (fresh, skipped,
failed for a missing source) or submits a job to the executor, up to
``workers`` at a time. SQL assets go to a lane of their own: one at a time,
in the coordinator's DuckDB, which is itself multi-threaded.

Ctrl-C (or SIGTERM turned into it) stops new starts and waits for running
assets; a second one stops waiting. Finished assets stay recorded, the rest
are cancelled, and nothing unrecorded becomes current.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assetflow import capture
from assetflow import events as ev
from assetflow.checks import CheckResult
from assetflow.compute import Available, Engine
from assetflow.definition import Asset
from assetflow.executors import Executor, Job, JobResult, run_job
from assetflow.graph import edge_kinds
from assetflow.plan import Action, AssetStatus, Cause, CauseKind, Status, decide
from assetflow.state import Materialization
from assetflow.storage import Stored

if TYPE_CHECKING:
    from assetflow.run import _Recorder, _World

_EPOCH = dt.datetime(1970, 1, 1)

_OWN_CAUSES = frozenset(
    {
        CauseKind.NEVER_MATERIALIZED,
        CauseKind.DATA_MISSING,
        CauseKind.LAST_RUN_FAILED,
        CauseKind.CODE_CHANGED,
        CauseKind.DEPS_CHANGED,
        CauseKind.SOURCE_CHANGED,
        CauseKind.OVERDUE,
        CauseKind.EXPORT_CHANGED,
    }
)


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
    attempts: int = 0
    output: str | None = None  # what its last attempt printed and logged


def _utc(seconds: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=seconds)


def runs_anyway(status: AssetStatus) -> bool:
    """Whether a cause of the asset's own makes it run, whatever its upstreams produce."""
    return any(c.kind in _OWN_CAUSES for c in status.causes)


class Scheduler:
    """Runs one plan with one executor; see the module docstring."""

    def __init__(
        self,
        world: _World,
        recorder: _Recorder,
        run_id: int,
        first_id: int,
        *,
        executor: Executor,
        force: bool,
        emit: Callable[[ev.Event], None],
        notice: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.world = world
        self.recorder = recorder
        self.run_id = run_id
        self.next_id = first_id
        self.executor = executor
        self.force = force
        self.emit = emit
        self.notice = notice
        self.sleep = sleep
        self.engine = Engine(world.storage, world.config.root)
        self.in_process = executor.name in ("threads", "inline")
        self.outcomes: dict[str, str] = {}
        self.changed: set[str] = set()  # assets whose status changed during this run
        self.memory: dict[str, Any] = {}
        self.results: dict[str, AssetResult] = {}
        self.running: dict[str, tuple[Job, AssetStatus, float]] = {}
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.interrupted = False
        self.abandoned = False
        self._signals = 0  # SIGINT/SIGTERM received while running
        self._handled = 0  # a job was left running: its files may need sweeping
        self._sql_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assetflow-sql")

    # -- the loop -------------------------------------------------------------

    def run(self, targets: Sequence[str]) -> list[AssetResult]:
        graph = self.world.graph
        in_run = set(targets)
        index = {name: i for i, name in enumerate(targets)}
        waiting = {n: {u for u in graph.upstream(n) if u in in_run} for n in targets}
        ready = [(index[n], n) for n in targets if not waiting[n]]
        heapq.heapify(ready)
        consumers = {n: sum(1 for d in graph.downstream(n) if d in in_run) for n in in_run}
        restore = self._catch_signals()
        try:
            with capture.redirect():
                self._loop(waiting, ready, index, consumers)
        except BaseException:
            # assetflow's own failure: what runs is left behind, and recorded as such.
            self._abandon()
            raise
        finally:
            restore()
            self._sql_lane.shutdown(wait=not self.abandoned, cancel_futures=True)
            self.engine.close()
        for name in targets:
            if name not in self.results:
                self.results[name] = AssetResult(name, "cancelled")
                self.emit(ev.AssetCancelled(run_id=self.run_id, time=time.time(), asset=name))
        return [self.results[n] for n in targets]

    def _loop(
        self,
        waiting: dict[str, set[str]],
        ready: list[tuple[int, str]],
        index: dict[str, int],
        consumers: dict[str, int],
    ) -> None:
        while ready or self.running:
            if self._signals > self._handled:
                self._handled += 1
                self._settle_all(self._interrupt(), waiting, ready, index, consumers)
            while ready and len(self.running) < self.executor.workers and not self.interrupted:
                _, name = heapq.heappop(ready)
                result = self._start(name)
                if result is not None:
                    self._settle(result, waiting, ready, index, consumers)
            if self.interrupted and not self.running:
                break
            if not self.running:
                continue
            for result in self._wait():
                self._settle(result, waiting, ready, index, consumers)

    def _catch_signals(self) -> Callable[[], None]:
        """Turn SIGINT and SIGTERM into a counter the loop reads, and return the undo.

        A KeyboardInterrupt raised at an arbitrary point (while printing, say)
        would leave running assets unrecorded; a counter is read where it is safe.
        Signal handlers belong to the main thread: elsewhere, KeyboardInterrupt
        in the wait below is the fallback.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def count(signum: int, frame: object) -> None:
            self._signals += 1

        previous = {sig: signal.signal(sig, count) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _wait(self) -> list[AssetResult]:
        """Block until something finishes; Ctrl-C cancels, a second one stops waiting.

        Every message already waiting is handled in one go: with cheap assets,
        waking once per completion is most of the cost of scheduling.
        """
        if self._signals > self._handled:
            self._handled += 1
            return self._interrupt()
        try:
            messages = [self.inbox.get(timeout=0.1)]
        except queue.Empty:
            return []
        except KeyboardInterrupt:
            return self._interrupt()
        while not self.inbox.empty():
            messages.append(self.inbox.get_nowait())
        results = []
        for kind, payload in messages:
            if kind == "retry":
                self._retried(*payload)
            elif payload[0] in self.running:  # else abandoned after a second Ctrl-C
                results.append(self._finished(*payload))
        return results

    def _retried(self, name: str, attempt: int, error: str, delay: float) -> None:
        now = time.time()
        self.emit(
            ev.AssetRetried(
                run_id=self.run_id,
                time=now,
                asset=name,
                attempt=attempt,
                error=error,
                delay_s=delay,
            )
        )
        self.emit(
            ev.AssetStarted(run_id=self.run_id, time=now + delay, asset=name, attempt=attempt + 1)
        )

    def _interrupt(self) -> list[AssetResult]:
        if not self.interrupted:
            self.interrupted = True
            self.notice(
                f"interrupted: waiting for {len(self.running)} running asset(s) to finish; "
                "press Ctrl-C again to stop waiting"
            )
            return []
        return self._abandon()

    def _abandon(self) -> list[AssetResult]:
        """Stop waiting: what is running is cancelled and never recorded as current."""
        self.abandoned = True
        results = []
        for name, (job, status, started) in list(self.running.items()):
            del self.running[name]
            self.recorder.add(self._row(job, "cancelled", 1, started, time.time()))
            self.emit(ev.AssetCancelled(run_id=self.run_id, time=time.time(), asset=name))
            result = AssetResult(name, "cancelled", status.causes)
            self.results[name] = result
            results.append(result)
        return results

    def _settle_all(self, results: list[AssetResult], *args: Any) -> None:
        for result in results:
            self._settle(result, *args)

    def _settle(
        self,
        result: AssetResult,
        waiting: dict[str, set[str]],
        ready: list[tuple[int, str]],
        index: dict[str, int],
        consumers: dict[str, int],
    ) -> None:
        name = result.name
        self.results[name] = result
        self.outcomes[name] = result.outcome
        for d in self.world.graph.downstream(name):
            if d in waiting:
                waiting[d].discard(name)
                if not waiting[d] and d not in self.results:
                    heapq.heappush(ready, (index[d], d))
        # Values in memory are kept only until the last downstream in the run has them.
        for up in self.world.graph.upstream(name):
            if up in consumers:
                consumers[up] -= 1
                if consumers[up] <= 0:
                    self.memory.pop(up, None)

    # -- one asset's turn -----------------------------------------------------

    def _start(self, name: str) -> AssetResult | None:
        """Settle ``name`` now, or submit its job and return ``None``."""
        world = self.world
        asset = world.graph[name]
        from assetflow.run import tracked_upstream

        before = world.statuses[name]
        recheck = not runs_anyway(before) and any(u in self.changed for u in asset.upstream)
        status = world.assess(name) if recheck else before
        if status != before:
            self.changed.add(name)
        now = time.time()
        troubled = any(
            self.outcomes.get(u) in ("failed", "skipped", "cancelled") for u in asset.upstream
        )
        if status.fresh and not self.force and not troubled:
            if any(c.kind is CauseKind.CHECKS_CHANGED for c in status.causes):
                return self._recheck(asset, status)
            self.emit(ev.AssetFresh(run_id=self.run_id, time=now, asset=name))
            return AssetResult(name, "fresh")
        tracked = tracked_upstream(asset)
        # What only its checks read never skips an asset that need not run (_blocked_check).
        checked = (
            {u for u, kind in edge_kinds(asset).items() if kind == "check"}
            if asset.check_reads
            else set()
        )
        action, reason = decide(
            status,
            upstreams={u: world.upstream_view(u) for u in tracked},
            ran_upstreams={
                u: self.outcomes[u]
                for u in asset.upstream
                if u in self.outcomes and u not in checked
            },
            force=self.force,
        )
        if action is Action.RUN and asset.check_reads:
            blocked = self._blocked_check(asset)
            if blocked is not None:
                action, reason = Action.SKIP, blocked
        if action is Action.FRESH:
            self.emit(ev.AssetFresh(run_id=self.run_id, time=now, asset=name))
            return AssetResult(name, "fresh")

        if action is Action.SKIP:
            self.emit(ev.AssetSkipped(run_id=self.run_id, time=now, asset=name, reason=reason))
            return AssetResult(name, "skipped", status.causes, error=f"skipped ({reason})")
        if action is Action.FAIL:
            error = f"{asset.where}: {reason}; restore it or fix the path."
            return self._failed_unrun(asset, tracked, status, now, now, error)
        job = self._job(asset, tracked)
        self.emit(
            ev.AssetPlanned(
                run_id=self.run_id,
                time=now,
                asset=name,
                causes=tuple(c.detail for c in status.causes),
            )
        )
        self.emit(ev.AssetStarted(run_id=self.run_id, time=now, asset=name, attempt=1))
        self.running[name] = (job, status, now)
        future = self._submit(asset, job)

        def done(f: Future[JobResult], name: str = name) -> None:
            self.inbox.put(("done", (name, f)))

        future.add_done_callback(done)
        return None

    def _recheck(self, asset: Asset, status: AssetStatus) -> AssetResult:
        """Re-evaluate the asset's checks, which changed, on its current data.

        The data is not recomputed: it is what a build would make, only the verdict
        is not current. Passing (or failing only warn checks), the asset is fresh;
        an error check failing makes it ``failed`` like a failing build, and the
        current data stays current.
        """
        from assetflow.checks import as_checks, run_checks, verdict
        from assetflow.compute import run_custom_checks
        from assetflow.parquet import table_query
        from assetflow.run import tracked_upstream
        from assetflow.storage import TABLE
        from assetflow.verdicts import record_verdict

        world = self.world
        name = asset.name
        started = time.time()
        current = world.snapshot.current[name]
        stored = Stored(
            current.format or "",
            current.location,
            current.data_version or "",
            current.rows,
            current.bytes or 0,
            current.schema,
            current.value,
        )
        found: list[CheckResult] = []
        if asset.options.checks:
            checks = as_checks(asset.options.checks, asset.where)
            if stored.format != TABLE or stored.location is None:
                found += [
                    CheckResult(
                        c.label,
                        c.severity,
                        False,
                        0,
                        f"check {c.label} needs a table, and {name} is a {stored.format} value",
                    )
                    for c in checks
                ]
            else:
                query = table_query(world.storage.path(stored.location), stored.schema)
                found += run_checks(
                    self.engine.con, checks, query, self._check_refs(asset), asset.where
                )
        if asset.custom_checks:
            value = world.storage.load(stored.format, stored.location, stored.inline)
            reads = {p for c in asset.custom_checks for p in c.reads}
            others = {p: a for p in sorted(reads) if (a := self._readable(p)) is not None}
            found += run_custom_checks(self.engine, asset, value, others)
        found += self._sql_checks(asset, stored)
        finished = time.time()
        for check in found:
            self.emit(
                ev.CheckEvaluated(
                    run_id=self.run_id,
                    time=finished,
                    asset=name,
                    check=check.check,
                    severity=check.severity,
                    passed=check.passed,
                    violations=check.violations,
                    message=check.message,
                    sample=check.sample,
                )
            )
        error = verdict(found)
        if error is None:
            self.recorder.add_checks(current.id, name, self.run_id, found)
            record_verdict(world.storage.state_dir, name, current.id, world.checks[name])
            world.statuses[name] = AssetStatus(name, Status.FRESH, (), current.finished_at)
            world.views.pop(name, None)
            self.emit(ev.AssetFresh(run_id=self.run_id, time=finished, asset=name))
            return AssetResult(name, "fresh", status.causes, duration_s=finished - started)
        return self._failed_unrun(
            asset, tracked_upstream(asset), status, started, finished, error, found
        )

    def _failed_unrun(
        self,
        asset: Asset,
        tracked: tuple[str, ...],
        status: AssetStatus,
        started: float,
        finished: float,
        error: str,
        checks: Sequence[CheckResult] = (),
    ) -> AssetResult:
        """Record and report one failed attempt that ran no asset code (a missing
        source, checks failing on current data)."""
        job = self._job(asset, tracked)
        self.recorder.add(self._row(job, "failed", 1, started, finished, error=error), checks)
        self.emit(
            ev.AssetFailed(
                run_id=self.run_id,
                time=finished,
                asset=asset.name,
                error=error,
                traceback=None,
                attempts=1,
            )
        )
        return AssetResult(
            asset.name, "failed", status.causes, None, finished - started, error, attempts=1
        )

    def _blocked_check(self, asset: Asset) -> str | None:
        """Why ``asset`` must not run: an error check of it reads an asset that failed.

        The check would judge the new data against data this run failed to make
        (or against none), and an error check that cannot judge keeps the data
        from publishing; skipping says so before the work, like for any upstream.
        A warning check runs anyway, against the other asset's current data.
        """
        from assetflow.checks import check_reads

        for read in check_reads(asset):
            name = self.world.graph.lookup(read.name)
            outcome = self.outcomes.get(name or "")
            if read.severity == "error" and outcome in ("failed", "skipped", "cancelled"):
                verb = outcome if outcome == "failed" else f"was {outcome}"
                return f"{read.check} reads {name}, which {verb}"
        return None

    def _submit(self, asset: Asset, job: Job) -> Future[JobResult]:
        def notify(name: str, attempt: int, error: str, delay: float) -> None:
            self.inbox.put(("retry", (name, attempt, error, delay)))

        if asset.kind == "sql":
            return self._sql_lane.submit(run_job, job, notify, self.engine)
        return self.executor.submit(job, notify if job.local is not None else None)

    def _job(self, asset: Asset, tracked: Sequence[str]) -> Job:
        world = self.world
        first_id = self.next_id
        self.next_id += asset.options.retries + 1  # an id per possible attempt
        # A thread cannot be stopped: an attempt that may time out runs in a worker process.
        in_process = self.in_process and asset.options.timeout is None
        if asset.kind == "sql":
            inputs = {u: self._available(u, in_process=True) for u in tracked}
        else:
            inputs = {i.param: self._available(i.asset, in_process) for i in asset.inputs}
        config = world.config
        return Job(
            asset=asset.name,
            run_id=self.run_id,
            first_id=first_id,
            root=str(config.root),
            state_dir=str(config.state_dir),
            assets_dir=str(config.assets_dir),
            file=asset.file,
            inputs=inputs,
            previous=world.snapshot.current.get(asset.name),
            check_refs=self._check_refs(asset),
            local=asset if in_process or asset.kind == "sql" else None,
            sleep=self.sleep,
            settings={name: config.settings[name] for name in asset.settings},
        )

    def _check_refs(self, asset: Asset) -> dict[str, str]:
        """The query of each asset a ``relationships`` check of ``asset`` reads."""
        from assetflow.checks import as_checks, referenced_assets

        names = [
            o for c in as_checks(asset.options.checks, asset.where) for o in referenced_assets(c)
        ]
        return self._queries(names)

    def _queries(self, names: Sequence[str]) -> dict[str, str]:
        """Name (as written) → the query of that asset's or source's current data."""
        from assetflow.compute import data_query

        world = self.world
        refs: dict[str, str] = {}
        for written in names:
            name = world.graph.lookup(written)
            if name is not None:
                current = world.snapshot.current.get(name)
                query = data_query(world.config.root, world.storage, world.graph[name], current)
                if query is not None:
                    refs[written] = query
        return refs

    def _readable(self, written: str) -> Available | None:
        """The current data of the asset or source named ``written``, if it has any."""
        name = self.world.graph.lookup(written)
        if name is None:
            return None
        if self.world.graph[name].kind != "source" and (
            name not in self.world.snapshot.current or not self.world.present.get(name, True)
        ):
            return None
        return self._available(name, in_process=True)

    def _available(self, name: str, in_process: bool) -> Available:
        world = self.world
        a = world.graph[name]
        if a.kind == "source":
            observed = world.sources[name].version
            if a.source is not None and a.source.observe is not None and not in_process:
                # The observer function cannot travel to another process; its version can.
                return Available(value=observed, in_memory=True)
            return Available(source=a, observed=observed)
        if in_process and name in self.memory:
            return Available(value=self.memory[name], in_memory=True)
        current = world.snapshot.current[name]
        return Available(
            stored_format=current.format, stored_location=current.location, inline=current.value
        )

    # -- a job's end ----------------------------------------------------------

    def _finished(self, name: str, future: Future[JobResult]) -> AssetResult:
        job, status, started = self.running.pop(name)
        result = future.result()  # a failure of the worker itself is assetflow's: it propagates
        asset = self.world.graph[name]
        if result.ok and (asset.custom_checks or asset.sql_checks):
            result = self._custom_checks(asset, result)
        if result.ok and asset.options.exports:
            result = self._exports(asset, job, result)
        if job.local is None and len(result.attempts) > 1:
            for a in result.attempts[:-1]:  # out-of-process retries are told afterwards
                self.emit(
                    ev.AssetRetried(
                        run_id=self.run_id,
                        time=a.finished,
                        asset=name,
                        attempt=a.number,
                        error=a.error or "",
                        delay_s=0.0,
                    )
                )
        if any(a.timed_out or a.crashed for a in result.attempts):
            self.abandoned = True  # such an attempt may have left a file behind: sweep it
        last = result.attempts[-1]
        for check in result.checks:
            self.emit(
                ev.CheckEvaluated(
                    run_id=self.run_id,
                    time=last.finished,
                    asset=name,
                    check=check.check,
                    severity=check.severity,
                    passed=check.passed,
                    violations=check.violations,
                    message=check.message,
                    sample=check.sample,
                )
            )
        for a in result.attempts if not result.ok else result.attempts[:-1]:
            row = self._row(
                job,
                "failed",
                a.number,
                a.started,
                a.finished,
                error=a.error,
                traceback=a.traceback,
                output=a.output,
            )
            self.recorder.add(row, result.checks if a is last else ())
        duration = last.finished - started
        if not result.ok:
            self.emit(
                ev.AssetFailed(
                    run_id=self.run_id,
                    time=time.time(),
                    asset=name,
                    error=last.error or "",
                    traceback=last.traceback,
                    attempts=len(result.attempts),
                    output=last.output,
                )
            )
            return AssetResult(
                name,
                "failed",
                status.causes,
                None,
                duration,
                last.error,
                last.traceback,
                len(result.attempts),
                last.output,
            )
        stored = result.stored
        assert stored is not None
        world = self.world
        m = self._row(
            job,
            "materialized",
            last.number,
            last.started,
            last.finished,
            stored=stored,
            output=last.output,
        )
        self.recorder.add(m, result.checks)
        if name in world.checks:
            from assetflow.verdicts import record_verdict

            record_verdict(world.storage.state_dir, name, m.id, world.checks[name])
        world.published(name, m)
        self.changed.add(name)
        if result.value is not None and world.graph.downstream(name):
            self.memory[name] = result.value
        self.emit(
            ev.AssetMaterialized(
                run_id=self.run_id,
                time=time.time(),
                asset=name,
                rows=stored.rows,
                duration_s=duration,
                attempts=len(result.attempts),
            )
        )
        return AssetResult(
            name,
            "materialized",
            status.causes,
            stored.rows,
            duration,
            attempts=len(result.attempts),
            output=last.output,
        )

    def _custom_checks(self, asset: Asset, result: JobResult) -> JobResult:
        """Run the asset's ``@check`` functions on its stored value, before it is recorded.

        They run here, in the coordinator, whatever the executor: a worker process
        could not import check functions from any module of the project.
        """
        from assetflow.checks import verdict
        from assetflow.compute import run_custom_checks
        from assetflow.executors import Attempt

        stored = result.stored
        assert stored is not None
        value = result.value
        if value is None:
            value = self.world.storage.load(stored.format, stored.location, stored.inline)
        reads = {p for c in asset.custom_checks for p in c.reads}
        others = {p: a for p in sorted(reads) if (a := self._readable(p)) is not None}
        found = run_custom_checks(self.engine, asset, value, others)
        found += self._sql_checks(asset, stored)
        checks = (*result.checks, *found)
        error = verdict(found)
        if error is None:
            return dataclasses.replace(result, checks=checks)
        # Write, audit, publish: the value failed its audit, so it never becomes current.
        if stored.location is not None:
            self.world.storage.path(stored.location).unlink(missing_ok=True)
        last = result.attempts[-1]
        failed = Attempt(last.number, last.started, last.finished, error, output=last.output)
        return JobResult(result.asset, (*result.attempts[:-1], failed), None, checks=checks)

    def _exports(self, asset: Asset, job: Job, result: JobResult) -> JobResult:
        """Write the asset's exports from its new value, which has passed its checks.

        Here, in the coordinator, like the checks: the files are the project's, and
        only a value that is about to become current may be written to them.
        """
        from assetflow.compute import export_argument
        from assetflow.errors import MaterializationError
        from assetflow.executors import Attempt
        from assetflow.exports import write_exports

        stored = result.stored
        assert stored is not None
        value = result.value
        if value is None:
            value = self.world.storage.load(stored.format, stored.location, stored.inline)
        last = result.attempts[-1]
        try:
            write_exports(
                asset,
                job.first_id + last.number - 1,
                value,
                root=self.engine.root,
                state_dir=self.world.storage.state_dir,
                convert=lambda v, writer, path: export_argument(
                    self.engine, asset, writer, v, path
                ),
            )
        except MaterializationError as e:
            if stored.location is not None:
                self.world.storage.path(stored.location).unlink(missing_ok=True)
            failed = Attempt(last.number, last.started, last.finished, str(e), output=last.output)
            return JobResult(
                result.asset, (*result.attempts[:-1], failed), None, checks=result.checks
            )
        return result

    def _sql_checks(self, asset: Asset, stored: Stored) -> list[CheckResult]:
        """Run the asset's SQL check files, with its name bound to the new data."""
        from assetflow.checks import CheckResult, run_sql_checks

        if not asset.sql_checks:
            return []
        if stored.format != "parquet" or stored.location is None:
            return [
                CheckResult(c.label, c.severity, False, 0, f"{c.label} needs a table")
                for c in asset.sql_checks
            ]
        from assetflow.parquet import table_query

        reads = {t for c in asset.sql_checks for t in c.reads if t != asset.name.lower()}
        return run_sql_checks(
            self.engine.con,
            asset.sql_checks,
            asset.name,
            table_query(self.world.storage.path(stored.location), stored.schema),
            self._queries(sorted(reads)),
        )

    def _row(
        self,
        job: Job,
        outcome: str,
        attempt: int,
        started: float,
        finished: float,
        *,
        error: str | None = None,
        traceback: str | None = None,
        stored: Stored | None = None,
        output: str | None = None,
    ) -> Materialization:
        """The state row of one attempt; with ``stored``, a successful one."""
        from assetflow.run import tracked_upstream

        world = self.world
        inputs: dict[str, tuple[str, int | None]] = {}
        if stored is not None:
            for u in tracked_upstream(world.graph[job.asset]):
                view = world.upstream_view(u)
                inputs[u] = (view.data_version or "", view.run_id)
        return Materialization(
            job.first_id + attempt - 1,
            job.asset,
            self.run_id,
            outcome,
            world.code.get(job.asset),
            inputs,
            stored.data_version if stored else None,
            _utc(started),
            _utc(finished),
            stored.rows if stored else None,
            stored.bytes if stored else None,
            stored.schema if stored else None,
            stored.format if stored else None,
            stored.location if stored else None,
            error,
            traceback,
            attempt,
            stored.inline if stored else None,
            output,
        )
