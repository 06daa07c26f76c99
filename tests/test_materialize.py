"""The semantics matrix of ``materialize``: what runs, what doesn't, and why.

Each test drives the public API on a copy of ``tests/projects/pipeline`` with an
injected ``now``. The graph::

    events (source) -> counts -> total -> adjusted
                          |        +----> parity -> shout
                          +-> report (SQL)
    independent
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from conftest import stored_value

import assetflow

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)


def _ran(result) -> set[str]:
    return {a.name for a in result.assets if a.outcome == "materialized"}


def _outcomes(result) -> dict[str, str]:
    return {a.name: a.outcome for a in result.assets}


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def pipeline(make_project) -> Path:
    root = make_project("pipeline")
    first = assetflow.materialize(project=root, now=NOW)
    assert first.ok
    return root


ALL = {"counts", "total", "adjusted", "parity", "shout", "independent", "report"}


def test_first_run_materializes_everything(make_project):
    root = make_project("pipeline")
    result = assetflow.materialize(project=root, now=NOW)
    assert _ran(result) == ALL
    assert result.run_id == 1
    assert all(a.causes[0].kind == "never_materialized" for a in result.assets)


def test_second_run_materializes_nothing(pipeline):
    result = assetflow.materialize(project=pipeline, now=NOW)
    assert _ran(result) == set()
    assert set(_outcomes(result).values()) == {"fresh"}
    assert {s.status for s in assetflow.status(project=pipeline, now=NOW)} == {"fresh"}


def test_comment_only_edit_changes_nothing(pipeline):
    _edit(pipeline, "assets/core.py", "# a comment", "# another comment, longer")
    _edit(pipeline, "assets/core.py", '"""Events per kind."""', '"""Events, per kind."""')
    _edit(pipeline, "assets/report.sql", "FROM counts", "FROM   counts -- same query")
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == set()


def test_body_edit_reruns_asset_and_downstream(pipeline):
    _edit(pipeline, "assets/core.py", 'return "even" if', 'return "EVEN" if')
    [parity] = assetflow.status("parity", project=pipeline, now=NOW)
    assert parity.status == "stale"
    assert parity.causes[0].kind == "code_changed"
    assert parity.causes[0].detail.startswith("code changed (")
    [shout] = assetflow.status("shout", project=pipeline, now=NOW)
    assert [c.kind for c in shout.causes] == ["upstream_stale"]
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == {"parity", "shout"}


def test_helper_edit_reruns_the_caller(pipeline):
    _edit(pipeline, "assets/core.py", "return x + OFFSET", "return x + OFFSET + 1")
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == {"adjusted"}


def test_module_constant_edit_reruns_its_users(pipeline):
    _edit(pipeline, "assets/core.py", "OFFSET = 1", "OFFSET = 2")
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == {"adjusted"}


def test_identical_output_stops_the_cascade(pipeline):
    # A different body that computes the same table: counts re-runs, its data
    # version is unchanged, so total and everything below stay fresh.
    _edit(
        pipeline,
        "assets/core.py",
        'return grouped.rename_columns(["kind", "n"]).sort_by("kind")',
        'renamed = grouped.rename_columns(["kind", "n"])\n    return renamed.sort_by("kind")',
    )
    result = assetflow.materialize(project=pipeline, now=NOW)
    assert _ran(result) == {"counts"}
    assert _outcomes(result)["total"] == "fresh"
    assert _outcomes(result)["report"] == "fresh"


def test_cutoff_midway_changed_total_same_parity(pipeline):
    # 4 events -> 6 events: total changes (4 -> 6) but parity stays "even".
    with (pipeline / "data/events.csv").open("a") as f:
        f.write("5,view,1\n6,view,2\n")
    result = assetflow.materialize(project=pipeline, now=NOW)
    assert _ran(result) == {"counts", "total", "adjusted", "parity", "report"}
    assert _outcomes(result)["shout"] == "fresh"


def test_source_edit_reruns_downstream_and_touch_does_not(pipeline):
    csv = pipeline / "data/events.csv"
    stat = csv.stat()
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == set()
    csv.write_text(csv.read_text().replace("4,buy,100", "4,click,100"))
    [counts] = assetflow.status("counts", project=pipeline, now=NOW)
    assert counts.causes[0].kind == "source_changed"
    result = assetflow.materialize(project=pipeline, now=NOW)
    # counts changes (no more "buy"), total re-runs and sums to 4 again: the cascade stops.
    assert _ran(result) == {"counts", "report", "total"}
    assert _outcomes(result)["adjusted"] == "fresh"


def test_added_and_removed_upstream_is_deps_changed(pipeline):
    _edit(pipeline, "assets/core.py", "def independent():", "def independent(total):")
    [ind] = assetflow.status("independent", project=pipeline, now=NOW)
    kinds = {c.kind for c in ind.causes}
    assert "deps_changed" in kinds and "code_changed" in kinds
    assert "+total" in next(c.detail for c in ind.causes if c.kind == "deps_changed")
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == {"independent"}
    _edit(pipeline, "assets/core.py", "def independent(total):", "def independent():")
    [ind] = assetflow.status("independent", project=pipeline, now=NOW)
    assert "-total" in next(c.detail for c in ind.causes if c.kind == "deps_changed")


def test_pinned_version_ignores_body_edits(make_project):
    root = make_project("pipeline")
    _edit(
        root, "assets/core.py", "@asset\ndef independent", '@asset(version="v1")\ndef independent'
    )
    assert assetflow.materialize(project=root, now=NOW).ok
    _edit(root, "assets/core.py", '{"answer": 42}', '{"answer": 43}')
    assert _ran(assetflow.materialize(project=root, now=NOW)) == set()
    _edit(root, "assets/core.py", 'version="v1"', 'version="v2"')
    assert _ran(assetflow.materialize(project=root, now=NOW)) == {"independent"}


def test_overdue_asset_reruns(make_project):
    root = make_project("pipeline")
    _edit(
        root, "assets/core.py", "@asset\ndef independent", '@asset(freshness="1h")\ndef independent'
    )
    first = assetflow.materialize(project=root)  # recorded at the real clock
    assert first.ok
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=2)
    [ind] = assetflow.status("independent", project=root, now=later)
    assert ind.status == "overdue" and ind.causes[0].kind == "overdue"
    soon = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=30)
    assert _ran(assetflow.materialize(project=root, now=soon)) == set()
    assert _ran(assetflow.materialize(project=root, now=later)) == {"independent"}


def test_failed_asset_keeps_last_good_data_and_reruns(pipeline):
    _edit(
        pipeline,
        "assets/core.py",
        'return "even" if',
        'raise RuntimeError("boom")\n    return "x" if',
    )
    result = assetflow.materialize(project=pipeline, now=NOW)
    assert not result.ok
    outcomes = _outcomes(result)
    assert outcomes["parity"] == "failed" and outcomes["shout"] == "skipped"
    failed = next(a for a in result.assets if a.name == "parity")
    assert "RuntimeError: boom" in failed.error
    assert "assets/core.py" in failed.traceback and "assetflow/" not in failed.traceback
    skipped = next(a for a in result.assets if a.name == "shout")
    assert "upstream parity failed" in skipped.error
    [parity] = assetflow.status("parity", project=pipeline, now=NOW)
    assert parity.status == "failed"
    assert any(c.kind == "last_run_failed" for c in parity.causes)
    assert stored_value(pipeline, "parity") == "even"
    # Fixed: it runs again, and so does the skipped downstream... which then finds
    # parity unchanged ("even"), so shout stays fresh.
    _edit(
        pipeline,
        "assets/core.py",
        'raise RuntimeError("boom")\n    return "x" if',
        'return "even" if',
    )
    again = assetflow.materialize(project=pipeline, now=NOW)
    assert _ran(again) == {"parity"} and _outcomes(again)["shout"] == "fresh"


def test_skipped_downstream_runs_next_time(make_project):
    root = make_project("pipeline")
    _edit(root, "assets/core.py", "return pc.sum(", "raise ValueError('no')\n    return pc.sum(")
    result = assetflow.materialize(project=root, now=NOW)
    outcomes = _outcomes(result)
    assert outcomes["total"] == "failed"
    assert {outcomes[n] for n in ("adjusted", "parity", "shout")} == {"skipped"}
    assert outcomes["independent"] == "materialized" and outcomes["report"] == "materialized"
    _edit(root, "assets/core.py", "raise ValueError('no')\n    return pc.sum(", "return pc.sum(")
    assert _ran(assetflow.materialize(project=root, now=NOW)) == {
        "total",
        "adjusted",
        "parity",
        "shout",
    }


def test_force_runs_the_selection(pipeline):
    result = assetflow.materialize("total+", project=pipeline, now=NOW, force=True)
    assert _ran(result) == {"total", "adjusted", "parity", "shout"}


def test_selection_with_ancestors(make_project):
    root = make_project("pipeline")
    result = assetflow.materialize("+total", project=root, now=NOW)
    assert _ran(result) == {"counts", "total"}
    assert [a.name for a in result.assets] == ["counts", "total"]


def test_selection_without_its_missing_upstream_is_skipped(make_project):
    root = make_project("pipeline")
    result = assetflow.materialize("total", project=root, now=NOW)
    [only] = result.assets
    assert only.outcome == "skipped" and "select it too (+total)" in only.error


def test_stale_upstream_outside_selection_waits(pipeline):
    _edit(pipeline, "assets/core.py", 'return "even" if', 'return "EVEN" if')
    result = assetflow.materialize("shout", project=pipeline, now=NOW)
    [shout] = result.assets
    assert shout.outcome == "skipped" and "parity is stale and not selected" in shout.error


def test_dry_run_changes_nothing(pipeline):
    _edit(pipeline, "assets/core.py", 'return "even" if', 'return "EVEN" if')
    plan = assetflow.materialize(project=pipeline, now=NOW, dry_run=True)
    actions = _outcomes(plan)
    assert (
        actions["parity"] == "run" and actions["shout"] == "check" and actions["total"] == "fresh"
    )
    assert plan.run_id is None
    assert _ran(assetflow.materialize(project=pipeline, now=NOW)) == {"parity", "shout"}


def test_json_value_and_pickle_value_round_trip(make_project):
    root = make_project("pipeline")
    (root / "assets" / "values.py").write_text(
        "import datetime\nfrom assetflow import asset\n\n\n"
        "@asset\ndef as_json():\n    return {'a': [1, 2.5, None, 'x']}\n\n\n"
        "@asset\ndef as_pickle():\n    return {(1, 2): datetime.date(2026, 1, 1)}\n\n\n"
        "@asset\ndef both(as_json, as_pickle):\n"
        "    return [as_json['a'][1], as_pickle[(1, 2)].year]\n"
    )
    assert assetflow.materialize(project=root, now=NOW).ok
    from assetflow.state import StateStore

    current = StateStore(root / ".assetflow").snapshot().current
    assert current["as_json"].format == "json" and current["as_pickle"].format == "pickle"
    # Run again in a new process-like load: values come back from storage.
    _edit(root, "assets/values.py", "return [as_json", "return [0, as_json")
    assert _ran(assetflow.materialize(project=root, now=NOW)) == {"both"}


def test_data_version_is_content_hash(make_project):
    from assetflow.state import StateStore

    root = make_project("pipeline")
    assetflow.materialize(project=root, now=NOW)
    before = StateStore(root / ".assetflow").snapshot().current
    assetflow.materialize(project=root, now=NOW, force=True)
    after = StateStore(root / ".assetflow").snapshot().current
    assert {n: m.data_version for n, m in before.items()} == {
        n: m.data_version for n, m in after.items()
    }
    assert before["counts"].schema == [("kind", "VARCHAR"), ("n", "BIGINT")]
    assert len({m.data_version for m in after.values()}) == len(after)


def test_keep_versions_collects_old_data(make_project):
    root = make_project("pipeline")
    (root / "assetflow.toml").write_text('assets = "assets"\nkeep_versions = 2\n')
    for i in range(4):
        _edit(root, "assets/core.py", f'{{"answer": {42 + i}}}', f'{{"answer": {43 + i}}}')
        assert assetflow.materialize("independent", project=root, now=NOW).ok
    from assetflow.state import StateStore

    history = StateStore(root / ".assetflow").history("independent")
    assert len(history) == 4
    # Small values live inline in the state: collection drops the old ones there.
    assert [m.value is not None for m in history] == [True, True, False, False]


def test_unsupported_return_value_fails_clearly(make_project):
    root = make_project("pipeline")
    (root / "assets" / "bad.py").write_text(
        "import threading\nfrom assetflow import asset\n\n\n"
        "@asset\ndef lock():\n    return threading.Lock()\n"
    )
    result = assetflow.materialize("lock", project=root, now=NOW)
    [lock] = result.assets
    assert lock.outcome == "failed"
    assert "returned a lock, which cannot be stored" in lock.error
    assert "return a pyarrow Table" in lock.error


def test_sql_failure_names_file_and_duckdb_message(make_project):
    root = make_project("pipeline")
    _edit(root, "assets/report.sql", "n * 2 AS n2", "n * 2 AS n2, missing_column")
    result = assetflow.materialize(project=root, now=NOW)
    report = next(a for a in result.assets if a.name == "report")
    assert report.outcome == "failed"
    assert report.error.startswith("assets/report.sql: DuckDB error:")
    assert "missing_column" in report.error


@pytest.mark.parametrize("damage", ["delete", "truncate"], ids=["deleted", "corrupt"])
def test_damaged_data_file_makes_asset_missing(pipeline, damage):
    data = next((pipeline / ".assetflow/data/counts").iterdir())
    if damage == "delete":
        data.unlink()
    else:
        data.write_bytes(data.read_bytes()[:20])
    [counts] = assetflow.status("counts", project=pipeline, now=NOW)
    assert counts.status == "missing" and counts.causes[0].kind == "data_missing"
    result = assetflow.materialize(project=pipeline, now=NOW)
    assert "counts" in _ran(result)
    assert result.ok


def test_pandas_polars_and_duckdb_inputs(make_project):
    root = make_project("pipeline")
    (root / "assets" / "frames.py").write_text(
        "import duckdb\nimport pandas as pd\nimport polars as pl\nfrom assetflow import asset\n\n\n"
        "@asset\ndef via_pandas(counts: pd.DataFrame) -> pd.DataFrame:\n"
        "    return counts.assign(n3=counts['n'] * 3)\n\n\n"
        "@asset\ndef via_polars(via_pandas: pl.DataFrame) -> pl.DataFrame:\n"
        "    return via_pandas.with_columns((pl.col('n3') + 1).alias('n4'))\n\n\n"
        "@asset\ndef via_duckdb(via_polars: duckdb.DuckDBPyRelation) -> int:\n"
        "    return int(via_polars.aggregate('sum(n4)').fetchall()[0][0])\n"
    )
    result = assetflow.materialize(project=root, now=NOW)
    assert result.ok, [a.error for a in result.assets if a.error]
    # counts n = [1, 2, 1] for buy, click, view -> n4 = 3n + 1 -> 4 + 7 + 4
    assert stored_value(root, "via_duckdb") == 15
