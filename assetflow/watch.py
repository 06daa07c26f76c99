"""``assetflow watch``: materialize what is stale, then again after every save.

Watcher threads (watchfiles, imported only here) feed batches of changed paths
into one queue: the assets and checks folders and the folders of glob sources
recursively, the project root and the folders of file sources flat. The main
thread drains the queue whole, so saves made while a rebuild runs become one
more rebuild after it, never a pile. A batch only says that something changed:
each rebuild reloads the project in this process under a fresh package name
(unless only source data changed), re-plans, and runs what became stale in the
selection through :func:`assetflow.run.materialize`, early cutoff included.

A broken save (a syntax error, an unknown upstream, a cycle) prints its error
and keeps the last good definitions. Nothing holds the run lock or the state
database between rebuilds, so other commands work while this one waits.
Every rebuild's report ends with a line starting ``✓`` or ``✗``.

Example:
    >>> str(schema_diff([("id", "BIGINT"), ("x", "VARCHAR")], [("id", "DOUBLE"), ("y", "DATE")]))
    '+y DATE, -x VARCHAR, id BIGINT→DOUBLE'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from assetflow import events as ev
from assetflow.changes import ChangeFilter, Scope, relative
from assetflow.checks import sample_table
from assetflow.errors import (
    AssetflowError,
    DefinitionError,
    InfrastructureError,
    UsageError,
    disk_error,
)
from assetflow.progress import format_duration

if TYPE_CHECKING:
    from assetflow.api import LoadedProject
    from assetflow.project import Config

_STEP_MS = 30  # a batch ends when no new change arrived for one step...
_DEBOUNCE_MS = 400  # ...or after this long, if changes keep coming
_OUTPUT_LINES = 10  # of a failed asset's output, under its FAIL line
_READY_MS = 100  # watchfiles yields this often when idle: how a thread says it is watching
_POLL_MS = 250  # --poll: how often files are listed
_PACKAGE = re.compile(r"_assetflow_\d+")


def schema_diff(
    old: Sequence[Sequence[str]] | None, new: Sequence[Sequence[str]] | None
) -> SchemaDiff:
    """Columns added, removed and retyped from ``old`` to ``new`` (``(name, type)`` pairs)."""
    before = {str(c[0]): str(c[1]) for c in old or ()}
    after = {str(c[0]): str(c[1]) for c in new or ()}
    return SchemaDiff(
        added=tuple((n, t) for n, t in after.items() if n not in before),
        removed=tuple((n, t) for n, t in before.items() if n not in after),
        retyped=tuple((n, before[n], t) for n, t in after.items() if before.get(n, t) != t),
    )


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """How a table's columns changed between two versions."""

    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()  # (name, old type, new type)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def __str__(self) -> str:
        return ", ".join(
            [f"+{n} {t}" for n, t in self.added]
            + [f"-{n} {t}" for n, t in self.removed]
            + [f"{n} {a}→{b}" for n, a, b in self.retyped]
        )


class _Watchers:
    """Watcher threads feeding batches of relevant changed paths into one queue."""

    def __init__(self, keep: ChangeFilter, *, poll: bool) -> None:
        self.keep = keep
        self.poll = poll
        self.directories: tuple[tuple[Path, ...], tuple[Path, ...]] = ((), ())
        self.batches: queue.Queue[set[str] | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def watch(self, directories: tuple[tuple[Path, ...], tuple[Path, ...]]) -> bool:
        """Watch these folders from now on (at once: returns once they are watched).

        Returns:
            Whether the folders changed.
        """
        if directories == self.directories and self._threads:
            return False
        self.stop()
        self.directories, self._stop = directories, threading.Event()
        kinds = zip(directories, (True, False), strict=True)
        groups = [(paths, deep) for paths, deep in kinds if paths]
        ready = [threading.Event() for _ in groups]
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(paths, deep, flag),
                name="assetflow-watch",
                daemon=True,
            )
            for (paths, deep), flag in zip(groups, ready, strict=True)
        ]
        for t in self._threads:
            t.start()
        for flag in ready:
            flag.wait(10)  # a thread that failed to start reports its error through the queue
        return True

    def _run(self, paths: tuple[Path, ...], recursive: bool, ready: threading.Event) -> None:
        from watchfiles import watch

        try:
            for changes in watch(
                *paths,
                watch_filter=self.keep,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                stop_event=self._stop,
                rust_timeout=_READY_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
                force_polling=True if self.poll else None,
                poll_delay_ms=_POLL_MS,
                recursive=recursive,
                ignore_permission_denied=True,
            ):
                ready.set()
                if changes:
                    self.batches.put({path for _, path in changes})
        except BaseException as e:  # the main thread reports it
            self.batches.put(e)
        finally:
            ready.set()

    def next(self, timeout: float) -> set[str] | None:
        """The changes queued so far, merged into one batch; None if none came in ``timeout``."""
        try:
            first = self.batches.get(timeout=timeout)
        except queue.Empty:
            return None
        items = [first]
        while not self.batches.empty():
            items.append(self.batches.get_nowait())
        batch: set[str] = set()
        for item in items:
            if isinstance(item, BaseException):
                raise InfrastructureError(
                    f"watching for changes failed ({type(item).__name__}: {item}); "
                    "try --poll, or raise the inotify watch limit."
                ) from item
            batch |= item
        return batch

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []


_PLAIN = {"✓": "OK", "✗": "!!", "→": "->"}
_STYLES = {"head": "1", "ok": "32", "bad": "1;31", "warn": "33", "dim": "2", "done": "1;32"}


class _Report:
    """Writes one compact report per rebuild: colours on a terminal, plain text in a pipe."""

    def __init__(self, out: TextIO, color: bool, clock: Callable[[], float]) -> None:
        self.out = out
        self.color = color
        self.clock = clock
        encoding = getattr(out, "encoding", None) or "utf-8"
        try:
            "".join(_PLAIN).encode(encoding)
            self.ascii = False
        except (UnicodeEncodeError, LookupError):
            self.ascii = True

    def line(self, text: str, style: str = "") -> None:
        if self.ascii:
            for fancy, plain in _PLAIN.items():
                text = text.replace(fancy, plain)
            text = text.encode("ascii", "replace").decode("ascii")
        if self.color and style:
            text = f"\x1b[{_STYLES[style]}m{text}\x1b[0m"
        self.out.write(text + "\n")
        self.out.flush()

    def header(self, what: str) -> None:
        self.line(f"[{time.strftime('%H:%M:%S', time.localtime(self.clock()))}] {what}", "head")

    def end(self, ok: bool, text: str) -> None:
        self.line(f"{'✓' if ok else '✗'} {text}", "done" if ok else "bad")


@dataclass(slots=True)
class _Collector:
    """What a run did, from its events, in the order they came."""

    ran: dict[str, ev.AssetMaterialized] = field(default_factory=dict)
    failed: dict[str, ev.AssetFailed] = field(default_factory=dict)
    skipped: dict[str, ev.AssetSkipped] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    checks: dict[str, list[ev.CheckEvaluated]] = field(default_factory=dict)
    run_id: int | None = None

    def __call__(self, event: ev.Event) -> None:
        self.run_id = event.run_id
        if isinstance(event, ev.AssetMaterialized):
            self.ran[event.asset] = event
        elif isinstance(event, ev.AssetFailed):
            self.failed[event.asset] = event
        elif isinstance(event, ev.AssetSkipped):
            self.skipped[event.asset] = event
        elif isinstance(event, ev.AssetCancelled):
            self.cancelled.append(event.asset)
        elif isinstance(event, ev.AssetFresh):
            self.fresh.append(event.asset)
        elif isinstance(event, ev.CheckEvaluated):
            self.checks.setdefault(event.asset, []).append(event)


@dataclass(frozen=True, slots=True)
class _Options:
    select: tuple[str, ...]
    exclude: tuple[str, ...]
    project: str | os.PathLike[str] | None
    state: str | os.PathLike[str] | None
    executor: str
    workers: int | None
    now: Callable[[], dt.datetime | None]
    debug: bool


class _Session:
    """The last good project, and the rebuilds run against it."""

    def __init__(self, options: _Options, config: Config, report: _Report) -> None:
        self.options = options
        self.report = report
        self.loaded: LoadedProject | None = None
        self.broken = True  # until a load succeeds
        self.scope = Scope.of(config, None)
        self.keep = ChangeFilter(self.scope)
        self.on_scope: Callable[[Scope], None] = lambda scope: None
        self.first = True

    def rebuild(self, changed: Collection[str] | None) -> None:
        """Reload if definitions may have changed, then run what is stale; report it."""
        started = time.perf_counter()
        first, self.first = self.first, False
        if changed is not None:
            self.report.header(self._what(changed))
        try:
            try:
                if changed is None or self.broken or self.scope.needs_reload(changed):
                    _forget_bytecode(changed or ())
                    self._reload()
            finally:
                # Sources come and go with definitions, and folders with saves (a missing
                # source's folder made, say): re-derive what to watch before anything runs.
                self.on_scope(self.scope)
                if changed is None:  # after "watching ...", which that prints
                    self.report.header("initial build")
            self._run(started, first)
        except AssetflowError as e:
            if first and isinstance(e, UsageError):
                raise  # a bad selection on the command line: a usage error, exit 2
            self.report.end(False, str(e))
        except Exception as e:  # a bug of ours must not end the user's session
            if self.options.debug:
                self.report.line(traceback.format_exc().rstrip())
            state_dir = self.loaded.config.state_dir if self.loaded else None
            disk = disk_error(e, state_dir=state_dir)
            if disk is not None:  # a full or read-only disk: the environment, not a bug
                self.report.end(False, str(disk))
                return
            self.report.end(
                False,
                f"internal error: {type(e).__name__}: {e} (a bug in assetflow; rerun with "
                "--debug for the traceback and report it)",
            )

    def _what(self, changed: Collection[str]) -> str:
        names = sorted(
            relative(self.scope.root, p) + ("" if os.path.exists(p) else " (removed)")
            for p in changed
        )
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return f"{', '.join(names[:3])}{more} changed"

    def _reload(self) -> None:
        from assetflow.api import load

        try:
            loaded = load(self.options.project, state=self.options.state)
        except DefinitionError:
            self.broken = True
            _forget_packages(self.loaded.project.package if self.loaded else None)
            raise
        self.loaded, self.broken = loaded, False
        _forget_packages(loaded.project.package)
        self.scope = Scope.of(loaded.config, loaded.graph)

    def _run(self, started: float, first: bool) -> None:
        from assetflow.api import select_names
        from assetflow.run import materialize

        loaded = self.loaded
        assert loaded is not None
        now = self.options.now()
        try:
            names = select_names(loaded, self.options.select, self.options.exclude, now=now)
        except DefinitionError as e:  # a selected name that is gone
            if first:
                raise UsageError(str(e)) from None
            raise
        seen = _Collector()
        try:
            materialize(
                loaded.graph,
                loaded.config,
                loaded.project.package,
                names,
                now=now,
                selection=" ".join(self.options.select),
                executor=self.options.executor,
                workers=self.options.workers,
                on_event=seen,
                on_notice=lambda message: self.report.line(f"  {message}", "dim"),
            )
        except KeyboardInterrupt:
            self._assets(seen, loaded)
            self.report.end(False, "interrupted (what finished is recorded)")
            raise
        self._assets(seen, loaded)
        self.report.end(*_summary(seen, time.perf_counter() - started))

    def _assets(self, seen: _Collector, loaded: LoadedProject) -> None:
        tables = [n for n, done in seen.ran.items() if done.rows is not None]  # only they have one
        diffs = _schema_diffs(loaded.config.state_dir, seen.run_id, tables)
        width = max((len(n) for n in (*seen.ran, *seen.failed, *seen.skipped)), default=0)
        for name, done in seen.ran.items():
            rows = "" if done.rows is None else f"  {done.rows:,} row{'s' * (done.rows != 1)}"
            diff = diffs.get(name)
            schema = f"  schema: {diff}" if diff else ""
            took = format_duration(done.duration_s)
            self.report.line(f"  ran  {name:<{width}}{rows}  {took}{schema}", "ok")
            self._checks(seen.checks.get(name, []))
        for name, failed in seen.failed.items():
            self.report.line(f"  FAIL {name}: {_one_line(failed.error, failed.traceback)}", "bad")
            self._output(name, failed.output)
            self._checks(seen.checks.get(name, []))
        for name, skipped in seen.skipped.items():
            self.report.line(f"  skip {name} ({skipped.reason})", "warn")
        for name in seen.cancelled:
            self.report.line(f"  cancelled {name}", "warn")
        ran = set(seen.ran)
        cut = [n for n in seen.fresh if ran.intersection(loaded.graph.upstream(n))]
        if cut:
            self.report.line(f"  same {', '.join(cut)} (inputs unchanged: cut off)", "dim")

    def _output(self, name: str, output: str | None) -> None:
        """The end of what a failed asset printed: the lines nearest its failure."""
        lines = (output or "").rstrip().splitlines()
        if len(lines) > _OUTPUT_LINES:
            more = len(lines) - _OUTPUT_LINES
            self.report.line(
                f"       ({more} lines before: assetflow history {name} --output)", "dim"
            )
        for line in lines[-_OUTPUT_LINES:]:
            self.report.line(f"       | {line}", "dim")

    def _checks(self, checks: Sequence[ev.CheckEvaluated]) -> None:
        if checks:
            parts = [
                f"✓ {c.check}"
                if c.passed
                else f"{'✗' if c.severity == 'error' else '!'} {c.message}"
                for c in checks
            ]
            bad = any(not c.passed for c in checks)
            self.report.line(f"       checks: {', '.join(parts)}", "warn" if bad else "dim")
            for c in checks:
                if not c.passed:
                    for row in sample_table(c.sample, c.violations, indent="         "):
                        self.report.line(row, "dim")


def _summary(seen: _Collector, elapsed: float) -> tuple[bool, str]:
    took = format_duration(elapsed)
    ran = len(seen.ran)
    rebuilt = f"rebuilt {ran} asset{'s' * (ran != 1)}"
    problems = [
        f"{len(items)} {word}"
        for items, word in ((seen.failed, "failed"), (seen.skipped, "skipped"))
        if items
    ]
    if problems:
        return False, f"{', '.join(problems)}{f'; {rebuilt}' if ran else ''} in {took}"
    return True, f"{rebuilt} in {took}" if ran else f"nothing to do ({took})"


def _one_line(error: str, trace: str | None) -> str:
    """The error's first line, and where in the user's code it was raised."""
    text = (error.strip().splitlines() or [""])[0]
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace or "")
    return f"{text} ({frames[-1][0]}:{frames[-1][1]})" if frames else text


def _schema_diffs(
    state_dir: Path, run_id: int | None, names: list[str]
) -> dict[str, SchemaDiff | None]:
    """Per asset materialized in ``run_id``, its columns' changes from its previous version."""
    from assetflow.state import StateStore

    if run_id is None or not names:
        return {}
    with StateStore(state_dir).connect(read_only=True) as con:
        rows = con.execute(
            "SELECT asset, run_id, schema FROM materializations "
            "WHERE asset IN (SELECT unnest(?)) AND outcome = 'materialized' AND run_id <= ? "
            "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY id DESC) <= 2 "
            "ORDER BY asset, id DESC",
            [names, run_id],
        ).fetchall()
    versions: dict[str, list[tuple[int, Any]]] = {}
    for asset, run, schema in rows:
        versions.setdefault(asset, []).append((run, json.loads(schema) if schema else None))
    diffs: dict[str, SchemaDiff | None] = {}
    for asset, found in versions.items():
        if len(found) == 2 and found[0][0] == run_id and found[0][1] and found[1][1]:
            diffs[asset] = schema_diff(found[1][1], found[0][1])
    return diffs


def _forget_bytecode(paths: Iterable[str]) -> None:
    """Delete the cached bytecode of changed Python files before they are imported again.

    A ``.pyc`` is trusted while the source's size and mtime in whole seconds match:
    two same-length saves within a second would otherwise import the first one.
    """
    from importlib.util import cache_from_source

    for path in paths:
        if path.endswith(".py"):
            with contextlib.suppress(OSError, ValueError):
                os.unlink(cache_from_source(path))


def _forget_packages(keep: str | None) -> None:
    """Drop the modules of earlier loads (and of failed ones) so reloads do not pile up."""
    for name in [m for m in sys.modules if _PACKAGE.fullmatch(m.partition(".")[0])]:
        if name.partition(".")[0] != keep:
            del sys.modules[name]


def watch(
    select: Sequence[str] = (),
    *,
    exclude: Sequence[str] = (),
    project: str | os.PathLike[str] | None = None,
    state: str | os.PathLike[str] | None = None,
    poll: bool = False,
    executor: str = "threads",
    workers: int | None = None,
    now: Callable[[], dt.datetime | None] = lambda: None,
    out: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    debug: bool = False,
) -> None:
    """Materialize what is stale in the selection, then again after every relevant save.

    Args:
        select: a selection (default everything), re-evaluated at each rebuild.
        exclude: assets to leave out.
        project: the project directory (default: found from the working directory up).
        state: the state folder (default: the config's).
        poll: poll the file system instead of OS notifications (network and
            container file systems).
        executor: ``threads`` (default), ``processes`` or ``inline``.
        workers: how many assets run at once (default: the number of cores).
        now: the time freshness is judged at, asked at each rebuild (None: the clock).
        out: where reports go (default: ``sys.stderr``, with progress, as for
            ``materialize``: stdout stays free for data); colours only on a terminal
            and without ``NO_COLOR``, ``CI`` or ``TERM=dumb``.
        environ: the environment consulted for colours (default: ``os.environ``).
        stop: returns soon after this event is set (default: runs until interrupted).
        debug: print tracebacks of internal errors.

    Raises:
        DefinitionError: the project cannot be found or its config is invalid at start.
        UsageError: the selection does not parse or names no asset at start.
        KeyboardInterrupt: interrupted; a rebuild in progress was cancelled and recorded.
    """
    from assetflow.project import load_config

    stream = out if out is not None else sys.stderr
    env = os.environ if environ is None else environ
    color = bool(getattr(stream, "isatty", lambda: False)()) and not (
        env.get("CI") or "NO_COLOR" in env or env.get("TERM") == "dumb"
    )
    report = _Report(stream, color, time.time)
    options = _Options(tuple(select), tuple(exclude), project, state, executor, workers, now, debug)
    session = _Session(options, load_config(project, state=state), report)
    watchers = _Watchers(session.keep, poll=poll)

    def follow(scope: Scope) -> None:
        directories = scope.directories()
        session.keep.update(scope, directories)
        if watchers.watch(directories):
            report.line(f"watching {scope.describe()} (Ctrl-C to stop)", "dim")

    # Watching starts once the project has loaded (it names the folders of sources),
    # before anything runs: a save during the first build starts a second one.
    session.on_scope = follow
    try:
        session.rebuild(None)
        while stop is None or not stop.is_set():
            batch = watchers.next(timeout=0.1)
            if batch:
                session.rebuild(batch)
    finally:
        watchers.stop()
