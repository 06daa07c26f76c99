"""Progress reporters: plain lines, the live rich view, JSON lines, and how ``auto`` picks."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

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
    Event,
    RunFinished,
    RunStarted,
)
from assetflow.progress import format_duration, make_reporter

T0 = 1_700_000_000.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_events() -> list[Event]:
    """A realistic run: one retry then success, one fresh, one failure and its fallout."""
    return [
        RunStarted(
            run_id=12,
            time=T0,
            selection="*",
            assets=("stg_orders", "customers", "daily_revenue", "kpis", "forecast"),
            workers=2,
            executor="threads",
        ),
        AssetPlanned(run_id=12, time=T0, asset="stg_orders", causes=("code changed",)),
        AssetStarted(run_id=12, time=T0 + 0.1, asset="stg_orders", attempt=1),
        AssetStarted(run_id=12, time=T0 + 0.2, asset="daily_revenue", attempt=1),
        AssetRetried(
            run_id=12, time=T0 + 0.3, asset="stg_orders", attempt=1,
            error="ConnectionError: reset\nby peer", delay_s=1.0,
        ),
        AssetMaterialized(
            run_id=12, time=T0 + 1.5, asset="stg_orders", rows=200, duration_s=0.04, attempts=2
        ),
        AssetFresh(run_id=12, time=T0 + 1.5, asset="customers"),
        AssetFailed(
            run_id=12, time=T0 + 1.6, asset="daily_revenue",
            error="ZeroDivisionError: division by zero\nin revenue.py line 3",
            traceback='Traceback (most recent call last):\n  File "revenue.py"', attempts=1,
        ),
        AssetSkipped(
            run_id=12, time=T0 + 1.6, asset="kpis", reason="upstream daily_revenue failed"
        ),
        AssetCancelled(run_id=12, time=T0 + 1.7, asset="forecast"),
        RunFinished(
            run_id=12, time=T0 + 1.8, outcome="failed",
            counts={"materialized": 1, "fresh": 1, "failed": 1, "skipped": 1, "cancelled": 1},
            duration_s=1.23,
        ),
    ]  # fmt: skip


def plain_lines(verbosity: int) -> list[str]:
    err = io.StringIO()
    reporter = make_reporter(mode="plain", verbosity=verbosity, stderr=err, environ={})
    for event in run_events():
        reporter(event)
    reporter.close()
    return err.getvalue().splitlines()


def test_plain_prints_one_line_per_event_at_normal_verbosity() -> None:
    assert plain_lines(0) == [
        "run 12: 5 assets, 2 workers (threads)",
        "start stg_orders",
        "start daily_revenue",
        "retry stg_orders in 1.0 s (attempt 1 failed: ConnectionError: reset | by peer)",
        "done  stg_orders  200 rows  0.04 s  (2 attempts)",
        "FAIL  daily_revenue: ZeroDivisionError: division by zero | in revenue.py line 3",
        "skip  kpis (upstream daily_revenue failed)",
        "cancelled forecast",
        "run 12 failed: 1 materialized, 1 fresh, 1 failed, 1 skipped, 1 cancelled in 1.23 s",
    ]


def test_plain_verbose_adds_planned_and_fresh_lines() -> None:
    extra = set(plain_lines(1)) - set(plain_lines(0))
    assert extra == {"plan  stg_orders: code changed", "fresh customers"}


def test_plain_quiet_prints_only_failure_and_finish() -> None:
    lines = plain_lines(-1)
    assert [line.split()[0] for line in lines] == ["FAIL", "run"]


def test_plain_never_prints_the_traceback() -> None:
    assert not any("Traceback" in line for line in plain_lines(1))


def test_plain_event_of_a_started_attempt_names_it() -> None:
    err = io.StringIO()
    make_reporter(mode="plain", stderr=err)(
        AssetStarted(run_id=1, time=T0, asset="stg_orders", attempt=2)
    )
    assert err.getvalue() == "start stg_orders (attempt 2)\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.041, "0.04 s"),
        (1.234, "1.23 s"),
        (59.999, "1m 00s"),
        (123.4, "2m 03s"),
        (3723, "1h 02m 03s"),
    ],
    ids=["sub-second", "seconds", "rounds-up-to-a-minute", "minutes", "hours"],
)
def test_format_duration_reads_as_people_write(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("stream", "environ", "chosen"),
    [
        (FakeTTY(), {"CI": "true"}, "plain"),
        (FakeTTY(), {"NO_COLOR": ""}, "plain"),
        (FakeTTY(), {"TERM": "dumb"}, "plain"),
        (io.StringIO(), {}, "plain"),
        (FakeTTY(), {"CI": ""}, "rich"),
        (FakeTTY(), {"TERM": "xterm-256color"}, "rich"),
    ],
    ids=["ci", "no-color-even-empty", "term-dumb", "not-a-tty", "empty-ci-is-off", "clean-tty"],
)
def test_auto_mode_picks_rich_only_on_a_clean_terminal(
    stream: io.StringIO, environ: dict[str, str], chosen: str
) -> None:
    reporter = make_reporter(mode="auto", stderr=stream, environ=environ)
    reporter(
        RunStarted(run_id=1, time=T0, selection="*", assets=("a",), workers=1, executor="threads")
    )
    reporter.close()
    # Plain writes exactly the line; rich also draws a bar.
    assert stream.getvalue() == "run 1: 1 asset, 1 worker (threads)\n" or chosen == "rich"
    assert ("0/1" in stream.getvalue()) is (chosen == "rich")


def rich_output(verbosity: int, environ: dict[str, str] | None = None) -> tuple[str, str]:
    """What a terminal would show (escape codes removed), and the raw stream."""
    err = FakeTTY()
    reporter = make_reporter(
        mode="rich",
        verbosity=verbosity,
        stderr=err,
        environ={"COLUMNS": "100", **(environ or {})},
        clock=lambda: T0 + 2.5,
    )
    for event in run_events():
        reporter(event)
    reporter.close()
    reporter.close()  # idempotent
    return ANSI.sub("", err.getvalue()), err.getvalue()


@pytest.mark.parametrize("verbosity", [-1, 0, 1], ids=["quiet", "normal", "verbose"])
def test_rich_shows_failures_above_the_live_view(verbosity: int) -> None:
    out, raw = rich_output(verbosity)
    assert "FAIL  daily_revenue: ZeroDivisionError: division by zero | in revenue.py line 3" in out
    assert "Traceback" not in out
    assert "5/5  1 failed" in out  # the bar counts every considered asset, failed ones included
    assert "\x1b[" in raw  # styled, unlike plain


def test_rich_redraws_the_bar_before_printing_a_failure() -> None:
    out, _ = rich_output(0)
    assert out.index("3/5  1 failed") < out.index("FAIL  daily_revenue")


def test_rich_verbose_names_every_asset() -> None:
    out, _ = rich_output(1)
    for line in ("done  stg_orders", "fresh customers", "skip  kpis", "cancelled forecast"):
        assert line in out


@pytest.mark.parametrize(
    ("verbosity", "shown", "hidden"),
    [
        (-1, [], ["retry", "run 12", "stg_orders"]),
        (0, ["retry stg_orders", "run 12 failed:", "stg_orders"], ["done  stg_orders"]),
    ],
    ids=["quiet-is-bar-and-failures", "normal-adds-retries-running-and-run-lines"],
)
def test_rich_verbosity_chooses_what_is_printed(
    verbosity: int, shown: list[str], hidden: list[str]
) -> None:
    out, _ = rich_output(verbosity)
    assert [s for s in shown if s not in out] == []
    assert [h for h in hidden if h in out] == []


def test_rich_lists_running_assets_with_elapsed_time() -> None:
    err = FakeTTY()
    reporter = make_reporter(
        mode="rich", stderr=err, environ={"COLUMNS": "100"}, clock=lambda: T0 + 2.5
    )
    reporter(run_events()[0])
    reporter(AssetStarted(run_id=12, time=T0 + 0.5, asset="stg_orders", attempt=2))
    reporter.close()
    assert re.search(r"stg_orders \(attempt 2\)\s+2\.0 s", ANSI.sub("", err.getvalue()))


def test_rich_prints_lines_for_events_before_run_started() -> None:
    err = FakeTTY()
    reporter = make_reporter(mode="rich", stderr=err, environ={"COLUMNS": "100"})
    reporter(AssetSkipped(run_id=None, time=T0, asset="kpis", reason="not selected"))
    reporter.close()
    assert ANSI.sub("", err.getvalue()) == "skip  kpis (not selected)\n"


def test_rich_uses_no_colour_under_no_color() -> None:
    out, raw = rich_output(0, environ={"NO_COLOR": ""})
    assert "FAIL  daily_revenue" in out
    assert re.findall(r"\x1b\[[0-9;]*[39][0-7]m", raw) == []  # bold stays; colours go


def test_jsonl_writes_every_event_in_order_on_stdout_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    reporter = make_reporter(mode="jsonl", verbosity=-1, stdout=out, stderr=err)
    events = run_events()
    for event in events:
        reporter(event)
    reporter.close()
    documents = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["event"] for d in documents] == [e.kind for e in events]
    assert documents[0]["assets"][0] == "stg_orders"
    assert err.getvalue() == ""


def test_make_reporter_rejects_an_unknown_mode() -> None:
    with pytest.raises(UsageError, match=r"'fancy'.*auto, plain, rich, jsonl"):
        make_reporter(mode="fancy")


def test_import_progress_does_not_import_rich() -> None:
    code = (
        "import sys, assetflow.progress\nprint(any(m.split('.')[0] == 'rich' for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
