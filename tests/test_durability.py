"""Crash safety and concurrency, with real processes on real state files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import run_assetflow


def _start(root: Path, *args: str, rows: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
    env["BIG_ROWS"] = str(rows)
    return subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_sigkill_while_writing_leaves_previous_version_current(make_project):
    root = make_project("big")
    assert run_assetflow("materialize", cwd=root, env={"BIG_ROWS": "1000"}).returncode == 0
    data_dir = root / ".assetflow" / "data" / "big"
    before = sorted(p.name for p in data_dir.iterdir())

    proc = _start(root, "big", "--force", rows=20_000_000)
    started = _wait_for(lambda: any(p.name.startswith(".tmp-") for p in data_dir.iterdir()))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert started, "the large table never started writing"
    assert proc.returncode == -signal.SIGKILL

    status = run_assetflow("status", "--format", "json", cwd=root)
    assert status.returncode == 0, status.stderr
    statuses = {a["name"]: a["status"] for a in json.loads(status.stdout)["assets"]}
    assert statuses["big"] == "fresh"
    shown = run_assetflow("show", "big", "--format", "json", cwd=root)
    assert json.loads(shown.stdout)["rows"] == 1000

    again = run_assetflow("materialize", "big", "--force", cwd=root, env={"BIG_ROWS": "1000"})
    assert again.returncode == 0, again.stderr
    leftovers = [p.name for p in data_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert len(list(data_dir.iterdir())) == len(before) + 1


def test_next_run_removes_unrecorded_files(make_project):
    root = make_project("big")
    assert run_assetflow("materialize", cwd=root).returncode == 0
    # What a run killed after publishing a file but before recording it leaves:
    # the file, and the marker of a run that did not end.
    orphan = root / ".assetflow" / "data" / "big" / "999.parquet"
    orphan.write_bytes(b"not recorded")
    (root / ".assetflow" / "run.dirty").touch()
    assert run_assetflow("materialize", cwd=root).returncode == 0
    assert not orphan.exists()
    assert not (root / ".assetflow" / "run.dirty").exists()
    kept = list((root / ".assetflow" / "data" / "big").iterdir())
    assert len(kept) == 1


def test_two_runs_started_together_both_finish(make_project):
    root = make_project("template")
    first, second = _start(root, rows=0), _start(root, rows=0)
    outs = [p.communicate(timeout=180) for p in (first, second)]
    assert first.returncode == 0, outs[0][1]
    assert second.returncode == 0, outs[1][1]
    query = (
        "SELECT (SELECT count(*) FROM state.runs WHERE outcome = 'success'), "
        "(SELECT count(*) FROM state.materializations WHERE outcome = 'materialized'), "
        "(SELECT count(DISTINCT asset) FROM state.materializations)"
    )
    result = run_assetflow("sql", query, "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == [[2, 8, 8]]


def test_reader_during_a_run_gets_data(make_project):
    root = make_project("big")
    assert run_assetflow("materialize", cwd=root).returncode == 0
    proc = _start(root, "--force", rows=3_000_000)
    try:
        readers = [run_assetflow("status", "--format", "json", cwd=root) for _ in range(3)]
    finally:
        proc.communicate(timeout=180)
    assert proc.returncode == 0
    for r in readers:
        assert r.returncode == 0, r.stderr
        assert {a["name"] for a in json.loads(r.stdout)["assets"]} == {"big", "big_count"}
