"""Progress of a run for people (plain lines or a live ``rich`` view) and programs (JSON lines).

:func:`make_reporter` returns a subscriber for ``materialize(on_event=...)``. This is the
only module that uses ``rich``, and it imports it inside functions so that importing the
CLI stays fast.

Example:
    >>> import io
    >>> from assetflow.events import AssetStarted
    >>> err = io.StringIO()
    >>> report = make_reporter(mode="plain", stderr=err, environ={})
    >>> report(AssetStarted(run_id=1, time=0.0, asset="orders", attempt=2))
    >>> report.close()
    >>> err.getvalue()
    'start orders (attempt 2)\\n'
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TextIO

from assetflow.errors import UsageError
from assetflow.events import (
    AssetCancelled,
    AssetFailed,
    AssetFresh,
    AssetMaterialized,
    AssetPlanned,
    AssetRetried,
    AssetSkipped,
    AssetStarted,
    CheckEvaluated,
    Event,
    RunFinished,
    RunStarted,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

MODES = ("auto", "plain", "rich", "jsonl")
_DONE = (AssetMaterialized, AssetFresh, AssetSkipped, AssetFailed, AssetCancelled)
_COUNT_ORDER = ("materialized", "fresh", "failed", "skipped", "cancelled")
_MAX_RUNNING_ROWS = 10


class Reporter(Protocol):
    """A run subscriber that may own a live display, which :meth:`close` stops."""

    def __call__(self, event: Event) -> None: ...

    def close(self) -> None:
        """Stop any live display (call it in a ``finally``); safe to call twice."""


def make_reporter(
    *,
    mode: str = "auto",
    verbosity: int = 0,
    stderr: TextIO | None = None,
    stdout: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
) -> Reporter:
    """A reporter that renders run events in ``mode``.

    Args:
        mode: ``"plain"`` lines, a live ``"rich"`` view, ``"jsonl"`` on stdout, or
            ``"auto"``: rich on a terminal unless ``CI``, ``NO_COLOR`` or ``TERM=dumb``.
        verbosity: -1 shows only failures and the end, 1 adds fresh and planned assets.
        stderr: where people read progress; ``sys.stderr`` by default.
        stdout: where ``jsonl`` goes; ``sys.stdout`` by default.
        environ: the environment ``auto`` and ``rich`` consult; ``os.environ`` by default.
        clock: the time running assets' elapsed time is measured to; ``time.time`` by default.
    """
    err = stderr if stderr is not None else sys.stderr
    out = stdout if stdout is not None else sys.stdout
    env = environ if environ is not None else os.environ
    if mode == "auto":
        mode = "rich" if _wants_rich(err, env) else "plain"
    if mode == "plain":
        return _PlainReporter(err, verbosity)
    if mode == "jsonl":
        return _JsonlReporter(out)
    if mode == "rich":
        return _RichReporter(err, out, verbosity, env, clock or time.time)
    raise UsageError(f"Unknown progress mode {mode!r}: use one of {', '.join(MODES)}.")


def _wants_rich(stream: TextIO, environ: Mapping[str, str]) -> bool:
    # NO_COLOR counts when present even if empty (no-color.org); CI only when non-empty.
    if environ.get("CI") or "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_duration(seconds: float, *, places: int = 2) -> str:
    """Seconds for people: ``0.04 s``, ``1.23 s``, ``2m 03s``, ``1h 02m 03s``.

    Example:
        >>> format_duration(0.041), format_duration(123.4), format_duration(3723)
        ('0.04 s', '2m 03s', '1h 02m 03s')
    """
    if round(seconds, places) < 60:
        return f"{seconds:.{places}f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"


_JOINED_LINES = 3


def _one_line(text: str) -> str:
    # A multi-line error must not break "one line per event"; the CLI prints it in full.
    # A long one (DuckDB's CSV errors run to 25 lines) is printed once, at the end.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > _JOINED_LINES:
        return f"{lines[0]} (+{len(lines) - 1} lines below)"
    return " | ".join(lines)


def first_line(text: str | None, width: int | None = None) -> str:
    """The first meaningful line of ``text``, cut to ``width`` with an ellipsis.

    An ellipsis also marks that lines followed, so a table cell never hides that
    there is more: ``history --format json`` and ``status --why`` have it all.

    Example:
        >>> first_line("\\nCSV Error on Line: 3\\n  Expected 4 columns", 14)
        'CSV Error on …'
        >>> first_line("short")
        'short'
    """
    lines = [line.strip() for line in (text or "").splitlines()]
    meaningful = [line for line in lines if any(ch.isalnum() for ch in line)]
    head = meaningful[0] if meaningful else ""
    more = len(meaningful) > 1
    if width is not None and len(head) > width:
        return head[: width - 1] + "…"
    return head + " …" if more else head


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _run_name(run_id: int | None) -> str:
    return "run" if run_id is None else f"run {run_id}"


def _counts(counts: Mapping[str, int]) -> str:
    keys = [k for k in _COUNT_ORDER if k in counts] + sorted(set(counts) - set(_COUNT_ORDER))
    return ", ".join(f"{counts[k]} {k}" for k in keys if counts[k]) or "nothing run"


def _describe(event: Event) -> tuple[str, str, str] | None:
    """``(head, rest, style)`` of an event's line, or None for events we do not render."""
    match event:
        case RunStarted():
            what = f"{_plural(len(event.assets), 'asset')}, {_plural(event.workers, 'worker')}"
            return f"{_run_name(event.run_id)}:", f"{what} ({event.executor})", "bold"
        case AssetPlanned():
            why = f": {'; '.join(event.causes)}" if event.causes else ""
            return "plan ", f"{event.asset}{why}", "dim"
        case AssetStarted():
            again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            return "start", f"{event.asset}{again}", "cyan"
        case AssetMaterialized():
            rows = f"  {event.rows} rows" if event.rows is not None else ""
            tries = f"  ({event.attempts} attempts)" if event.attempts > 1 else ""
            took = format_duration(event.duration_s)
            return "done ", f"{event.asset}{rows}  {took}{tries}", "green"
        case AssetFresh():
            return "fresh", event.asset, "dim"
        case AssetFailed():
            return "FAIL ", f"{event.asset}: {_one_line(event.error)}", "bold red"
        case AssetRetried():
            delay = format_duration(event.delay_s, places=1)
            failed = f"attempt {event.attempt} failed: {_one_line(event.error)}"
            return "retry", f"{event.asset} in {delay} ({failed})", "yellow"
        case AssetSkipped():
            return "skip ", f"{event.asset} ({event.reason})", "dim"
        case AssetCancelled():
            return "cancelled", event.asset, "yellow"
        case RunFinished():
            head = f"{_run_name(event.run_id)} {event.outcome}:"
            style = "bold green" if event.outcome == "success" else "bold red"
            return head, f"{_counts(event.counts)} in {format_duration(event.duration_s)}", style
    return None


def check_lines(checks: list[CheckEvaluated]) -> list[tuple[str, str]]:
    """An asset's checks as ``(line, style)``: one compact line, then each failure's rows.

    Example:
        >>> ok = CheckEvaluated(run_id=1, time=0.0, asset="orders", check="unique(id)",
        ...     severity="error", passed=True, violations=0, message="unique(id) passed")
        >>> check_lines([ok])
        [('check orders: ✓ unique(id)', 'dim')]
    """
    from assetflow.checks import sample_table

    if not checks:
        return []
    parts = [
        f"✓ {c.check}"
        if c.passed
        else f"{'✗' if c.severity == 'error' else '!'} {_one_line(c.message)}"
        for c in checks
    ]
    failed = any(not c.passed and c.severity == "error" for c in checks)
    warned = any(not c.passed for c in checks)
    style = "bold red" if failed else ("yellow" if warned else "dim")
    lines = [(f"check {checks[0].asset}: {', '.join(parts)}", style)]
    for c in checks:
        if not c.passed:
            lines += [(row, "") for row in sample_table(c.sample, c.violations, indent="      ")]
    return lines


def _shown_in_plain(event: Event, verbosity: int) -> bool:
    if verbosity < 0:
        return isinstance(event, AssetFailed | RunFinished)
    return verbosity >= 1 or not isinstance(event, AssetFresh | AssetPlanned)


def _shown_above_live(event: Event, verbosity: int) -> bool:
    # The bar and the running table already show starts and completions.
    if verbosity < 0:
        return isinstance(event, AssetFailed)
    if verbosity == 0:
        return isinstance(event, AssetFailed | AssetRetried | RunStarted | RunFinished)
    return True


class _Throttled:
    """Flushes a stream at most every 0.1 s, and always for the events that matter.

    Flushing every line cost a 10 000-asset run a second; a log read live
    still sees each line within a tenth of a second.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = 0.0

    def write(self, text: str, *, now: bool = False) -> None:
        self._stream.write(text)
        clock = time.monotonic()
        if now or clock - self._last >= 0.1:
            self._stream.flush()
            self._last = clock

    def close(self) -> None:
        self._stream.flush()


_URGENT = (AssetFailed, RunFinished, RunStarted)


class _Checks:
    """Holds each asset's check events until the asset's own line is out."""

    def __init__(self) -> None:
        self._held: dict[str, list[CheckEvaluated]] = {}

    def hold(self, event: Event) -> bool:
        if isinstance(event, CheckEvaluated):
            self._held.setdefault(event.asset, []).append(event)
            return True
        return False

    def lines(self, event: Event, verbosity: int) -> list[tuple[str, str]]:
        """The check lines to print after ``event`` (those of the asset it finishes).

        A fresh asset has check lines when its changed checks were re-evaluated.
        """
        if not isinstance(event, AssetMaterialized | AssetFailed | AssetFresh):
            return []
        checks = self._held.pop(event.asset, [])
        if verbosity < 0 and all(c.passed for c in checks):
            return []
        return check_lines(checks)


class _PlainReporter:
    def __init__(self, stream: TextIO, verbosity: int) -> None:
        self._out = _Throttled(stream)
        self._verbosity = verbosity
        self._checks = _Checks()

    def __call__(self, event: Event) -> None:
        if self._checks.hold(event):
            return
        line = _describe(event)
        shown = line is not None and _shown_in_plain(event, self._verbosity)
        if line is not None and shown:
            head, rest, _ = line
            self._out.write(f"{head} {rest}\n", now=isinstance(event, _URGENT))
        for text, _ in self._checks.lines(event, self._verbosity):
            self._out.write(f"{text}\n")

    def close(self) -> None:
        self._out.close()


class _JsonlReporter:
    def __init__(self, stream: TextIO) -> None:
        self._out = _Throttled(stream)

    def __call__(self, event: Event) -> None:
        self._out.write(json.dumps(event.to_json()) + "\n", now=isinstance(event, _URGENT))

    def close(self) -> None:
        self._out.close()


class _RichReporter:
    """A live bar and table of running assets between RunStarted and RunFinished."""

    def __init__(
        self,
        stderr: TextIO,
        stdout: TextIO,
        verbosity: int,
        environ: Mapping[str, str],
        clock: Callable[[], float],
    ) -> None:
        from rich.console import Console

        # Asked for rich: draw it even if the stream does not say it is a terminal.
        self._console: Console = Console(
            file=stderr,
            force_terminal=True,
            no_color="NO_COLOR" in environ,  # rich ignores an empty NO_COLOR; no-color.org does not
            highlight=False,
            _environ=environ,
        )
        self._stdout = stdout
        self._verbosity = verbosity
        self._clock = clock
        self._lock = threading.Lock()  # the refresh thread renders while events arrive
        self._live: Live | None = None
        self._total = 0
        self._done: dict[str, Event] = {}  # each asset's first final event
        self._running: dict[str, AssetStarted] = {}
        self._checks = _Checks()

    def __call__(self, event: Event) -> None:
        if self._checks.hold(event):
            return
        if isinstance(event, RunStarted):
            self._start(event)
        with self._lock:
            self._track(event)
        live = self._live
        if live is None:
            if _shown_in_plain(event, self._verbosity):
                self._print(event)
        else:
            above = _shown_above_live(event, self._verbosity)
            # Printing redraws the live view as last refreshed, so refresh first. Otherwise only
            # starts refresh: thousands of fresh assets must not redraw each; the timer does.
            if above or isinstance(event, AssetStarted):
                live.refresh()
            if above:
                self._print(event)
        self._print_checks(self._checks.lines(event, self._verbosity))
        if isinstance(event, RunFinished):
            self.close()

    def close(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def _start(self, event: RunStarted) -> None:
        from rich.live import Live

        self.close()  # a watch loop starts a new run with the same reporter
        with self._lock:
            self._total, self._done, self._running = len(event.assets), {}, {}
        # Redirecting stdout into a stderr console is only harmless when both are the screen.
        redirect = bool(getattr(self._stdout, "isatty", lambda: False)())
        self._live = Live(
            console=self._console,
            get_renderable=self._render,
            refresh_per_second=8,
            redirect_stdout=redirect,
        )
        self._live.start()

    def _track(self, event: Event) -> None:
        if isinstance(event, AssetStarted):
            self._running[event.asset] = event
        elif isinstance(event, _DONE):
            self._running.pop(event.asset, None)
            self._done.setdefault(event.asset, event)

    def _print(self, event: Event) -> None:
        from rich.text import Text

        line = _describe(event)
        if line is None:
            return
        head, rest, style = line
        self._console.print(Text.assemble((head, style), " ", rest), soft_wrap=True)

    def _print_checks(self, lines: list[tuple[str, str]]) -> None:
        from rich.text import Text

        if lines and self._live is not None:
            self._live.refresh()
        for text, style in lines:
            self._console.print(Text(text, style=style), soft_wrap=True)

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            total, done = self._total, len(self._done)
            failed = sum(isinstance(e, AssetFailed) for e in self._done.values())
            running = sorted(self._running.values(), key=lambda e: e.time)
        bar = Table.grid(padding=(0, 1))
        tally = Text(f"{min(done, total)}/{total}")
        if failed:
            tally.append(f"  {failed} failed", style="bold red")
        bar.add_row(ProgressBar(total=max(total, 1), completed=min(done, total), width=40), tally)
        if self._verbosity < 0 or not running:
            return bar
        table = Table.grid(padding=(0, 2))
        now = self._clock()
        for started in running[:_MAX_RUNNING_ROWS]:
            again = f" (attempt {started.attempt})" if started.attempt > 1 else ""
            elapsed = format_duration(max(now - started.time, 0.0), places=1)
            table.add_row(Text(f"  {started.asset}{again}", style="cyan"), elapsed)
        if len(running) > _MAX_RUNNING_ROWS:
            table.add_row(Text(f"  +{len(running) - _MAX_RUNNING_ROWS} more", style="dim"), "")
        return Group(bar, table)
