"""Parallel scheduling, retries, timeouts, failure isolation, cancellation and run output.

Parallelism is judged from the recorded event times, never from how long a
test took.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_assetflow

import assetflow
from assetflow import events as ev
from assetflow.state import StateStore

SLOW = """
import time
from assetflow import asset

DELAY = 0.4


@asset
def left():
    time.sleep(DELAY)
    return 1


@asset
def right():
    time.sleep(DELAY)
    return 2


@asset
def bottom(left, right):
    return left + right
"""


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _intervals(events: list[ev.Event]) -> dict[str, tuple[float, float]]:
    started = {e.asset: e.time for e in events if isinstance(e, ev.AssetStarted)}
    ended = {e.asset: e.time for e in events if isinstance(e, ev.AssetMaterialized)}
    return {a: (started[a], ended[a]) for a in ended}


def _run(root: Path, **kwargs) -> tuple[assetflow.run.RunResult, list[ev.Event]]:  # type: ignore[name-defined]
    seen: list[ev.Event] = []
    result = assetflow.materialize(project=root, on_event=seen.append, **kwargs)
    return result, seen


def test_two_workers_run_independent_assets_at_once(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW})
    result, events = _run(root, workers=2)
    assert result.ok
    spans = _intervals(events)
    (l0, l1), (r0, r1) = spans["left"], spans["right"]
    assert l0 < r1 and r0 < l1, spans  # they overlap


def test_one_worker_runs_one_at_a_time(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW})
    result, events = _run(root, workers=1)
    assert result.ok
    spans = _intervals(events)
    (l0, l1), (r0, r1) = spans["left"], spans["right"]
    assert l1 <= r0 or r1 <= l0, spans  # they do not overlap


def test_diamond_bottom_starts_after_both_sides(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW})
    _, events = _run(root, workers=2)
    spans = _intervals(events)
    assert spans["bottom"][0] >= max(spans["left"][1], spans["right"][1])
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert isinstance(events[-1], ev.RunFinished) and events[-1].counts == {"materialized": 3}


FLAKY = """
from pathlib import Path
from assetflow import asset

COUNTER = Path(__file__).parent.parent / "attempts.txt"


def _attempt():
    n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(n))
    return n


@asset(retries=RETRIES, retry_delay=1.5, backoff=3.0)
def flaky():
    if _attempt() <= 2:
        raise ConnectionError("the API hiccuped")
    return "ok"


@asset
def after(flaky):
    return flaky + "!"
"""


def test_retries_then_success_records_every_attempt(tmp_path):
    root = _project(tmp_path, {"assets/flaky.py": FLAKY.replace("RETRIES", "2")})
    delays: list[float] = []
    result, events = _run(root, sleep=delays.append)
    assert result.ok
    flaky = next(a for a in result.assets if a.name == "flaky")
    assert flaky.outcome == "materialized" and flaky.attempts == 3
    # Exponential backoff with +-25% jitter: 1.5 s, then 1.5 * 3 = 4.5 s.
    assert len(delays) == 2
    assert 1.5 * 0.75 <= delays[0] <= 1.5 * 1.25
    assert 4.5 * 0.75 <= delays[1] <= 4.5 * 1.25
    retried = [e for e in events if isinstance(e, ev.AssetRetried)]
    assert [(e.attempt, e.error) for e in retried] == [
        (1, "ConnectionError: the API hiccuped"),
        (2, "ConnectionError: the API hiccuped"),
    ]
    rows = StateStore(root / ".assetflow").history("flaky")
    assert [(m.attempt, m.outcome) for m in reversed(rows)] == [
        (1, "failed"),
        (2, "failed"),
        (3, "materialized"),
    ]
    [status] = assetflow.status("flaky", project=root)
    assert status.status == "fresh"


def test_too_few_retries_fail(tmp_path):
    root = _project(tmp_path, {"assets/flaky.py": FLAKY.replace("RETRIES", "1")})
    delays: list[float] = []
    result, _ = _run(root, sleep=delays.append)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes == {"flaky": "failed", "after": "skipped"}
    assert len(delays) == 1
    assert [m.attempt for m in StateStore(root / ".assetflow").history("flaky")] == [2, 1]


def test_retry_on_limits_what_is_retried(tmp_path):
    source = FLAKY.replace("RETRIES", "3").replace(
        "retry_delay=1.5", "retry_delay=1.5, retry_on=(TimeoutError,)"
    )
    root = _project(tmp_path, {"assets/flaky.py": source})
    delays: list[float] = []
    result, _ = _run(root, sleep=delays.append)
    assert delays == []  # a ConnectionError is not a TimeoutError
    assert next(a for a in result.assets if a.name == "flaky").attempts == 1


def test_timeout_fails_an_attempt_that_runs_too_long(tmp_path):
    source = (
        "import time\nfrom assetflow import asset\n\n\n"
        "@asset(timeout=0.2)\ndef slow():\n    time.sleep(30)\n    return 1\n"
    )
    root = _project(tmp_path, {"assets/slow.py": source})
    result, _ = _run(root)
    [slow] = result.assets
    assert slow.outcome == "failed"
    assert "longer than its timeout of 0.2 s" in (slow.error or "")
    # The abandoned attempt may still write: the next run sweeps what it leaves.
    assert (root / ".assetflow" / "run.dirty").exists()


ISOLATION = """
from assetflow import asset


@asset
def good():
    return 1


@asset
def good_child(good):
    return good + 1


@asset
def bad():
    raise ValueError("bad input")


@asset
def bad_child(bad):
    return bad


@asset
def mixed(good_child, bad_child):
    return 0
"""


def test_failure_isolation_across_branches_and_exit_code(tmp_path):
    root = _project(tmp_path, {"assets/branches.py": ISOLATION})
    result, _ = _run(root, workers=2)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes == {
        "good": "materialized",
        "good_child": "materialized",
        "bad": "failed",
        "bad_child": "skipped",
        "mixed": "skipped",
    }
    bad = next(a for a in result.assets if a.name == "bad")
    assert "assets/branches.py" in (bad.traceback or "") and "assetflow/" not in (
        bad.traceback or ""
    )
    cli = run_assetflow("materialize", cwd=root, env={"CI": "true"})
    assert cli.returncode == 1
    assert "FAILED bad: ValueError: bad input" in cli.stderr
    assert 'raise ValueError("bad input")' in cli.stderr  # the user's frame, in the summary


CHAIN = """
import time
from assetflow import asset


@asset
def first():
    return 1


@asset
def second(first):
    time.sleep(2.0)
    return first + 1


@asset
def third(second):
    return second + 1
"""


def _start_plain_run(root: Path) -> subprocess.Popen[str]:
    """`assetflow materialize -j 1` with one plain progress line per event on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
    env["CI"] = "true"
    return subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "-j", "1"],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def test_sigint_cancels_cleanly_and_the_next_run_finishes_the_rest(tmp_path):
    root = _project(tmp_path, {"assets/chain.py": CHAIN})
    proc = _start_plain_run(root)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # bounded by the run itself: it ends within seconds either way
        lines.append(line)
        if line.startswith("start second"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    store = StateStore(root / ".assetflow")
    current = store.snapshot().current
    assert set(current) == {"first", "second"}  # second finished while we waited
    [run] = store.runs(1)
    assert run.outcome == "cancelled" and run.cancelled == 1
    again, _ = _run(root)
    assert {a.name: a.outcome for a in again.assets} == {
        "first": "fresh",
        "second": "fresh",
        "third": "materialized",
    }


def test_processes_and_inline_executors_match_threads(make_project):
    import shutil

    first = make_project("pipeline")
    second = first.parent / "pipeline_processes"
    shutil.copytree(first, second)
    by_executor = {}
    third = first.parent / "pipeline_inline"
    shutil.copytree(first, third)
    for executor, root in (("threads", first), ("processes", second), ("inline", third)):
        result = assetflow.materialize(project=root, executor=executor, workers=2)
        assert result.ok, [a.error for a in result.assets if a.error]
        current = StateStore(root / ".assetflow").snapshot().current
        by_executor[executor] = {n: (m.data_version, m.rows) for n, m in current.items()}
    assert by_executor["threads"] == by_executor["processes"] == by_executor["inline"]
    assert len(by_executor["threads"]) == 7


def test_plain_log_is_one_line_per_event(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW.replace("0.4", "0.01")})
    result = run_assetflow("materialize", "-j", "2", cwd=root, env={"CI": "true"})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("run 1:")
    assert sum(line.startswith("start ") for line in lines) == 3
    assert sum(line.startswith("done ") for line in lines) == 3
    assert lines[-1].startswith("run 1 success: 3 materialized")
    assert "\x1b[" not in result.stderr  # no colours or cursor moves


def test_jsonl_streams_events_on_stdout(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW.replace("0.4", "0.01")})
    result = run_assetflow("materialize", "--format", "jsonl", cwd=root)
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert docs[0]["event"] == "run_started" and docs[-1]["event"] == "run_finished"
    assert {d["asset"] for d in docs if d["event"] == "asset_materialized"} == {
        "left",
        "right",
        "bottom",
    }
    assert result.stderr == ""


def test_runs_lists_and_shows_runs(tmp_path):
    root = _project(tmp_path, {"assets/slow.py": SLOW.replace("0.4", "0.01")})
    assert run_assetflow("materialize", cwd=root).returncode == 0
    assert run_assetflow("materialize", cwd=root).returncode == 0
    listed = json.loads(run_assetflow("runs", "--format", "json", cwd=root).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [2, 1]
    assert listed["runs"][1]["counts"]["materialized"] == 3
    assert listed["runs"][1]["user"] and listed["runs"][1]["host"]
    shown = json.loads(run_assetflow("runs", "show", "1", "--format", "json", cwd=root).stdout)
    assert {a["asset"] for a in shown["attempts"]} == {"left", "right", "bottom"}
    assert shown["executor"] == "threads"


@pytest.mark.parametrize("workers", ["0", "-1"], ids=["zero", "negative"])
def test_bad_worker_count_is_a_usage_error(tmp_path, workers):
    root = _project(tmp_path, {"assets/slow.py": SLOW})
    result = run_assetflow("materialize", "-j", workers, cwd=root)
    assert result.returncode == 2


def test_second_sigint_stops_waiting(tmp_path):
    root = _project(tmp_path, {"assets/chain.py": CHAIN.replace("2.0", "30.0")})
    proc = _start_plain_run(root)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("start second"):
            proc.send_signal(signal.SIGINT)
        if line.startswith("interrupted: waiting"):
            proc.send_signal(signal.SIGINT)  # stop waiting for the 30 s asset
            break
    proc.communicate(timeout=20)  # far less than the asset's 30 s
    assert proc.returncode == 130
    store = StateStore(root / ".assetflow")
    assert set(store.snapshot().current) == {"first"}
    assert [m.outcome for m in store.history("second")] == ["cancelled"]
    assert (root / ".assetflow" / "run.dirty").exists()  # the next run sweeps
    fixed = root / "assets" / "chain.py"
    fixed.write_text(fixed.read_text().replace("30.0", "0.0"))
    again, _ = _run(root)
    assert {a.name: a.outcome for a in again.assets}["third"] == "materialized"
    assert not (root / ".assetflow" / "run.dirty").exists()


def test_sigterm_cancels_like_ctrl_c(tmp_path):
    root = _project(tmp_path, {"assets/chain.py": CHAIN})
    proc = _start_plain_run(root)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("start second"):
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, rest
    assert set(StateStore(root / ".assetflow").snapshot().current) == {"first", "second"}
