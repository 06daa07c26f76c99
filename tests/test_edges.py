"""Edge cases of definitions, sources, selections and commands, each once a bug."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from conftest import run_assetflow, stored_value

import assetflow
from assetflow.errors import DefinitionError

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("freshness", "words"),
    [
        ("'0 6 * * *'", "is not a duration"),
        ("'soon'", "is not a duration"),
        ("{'warn': '1h', 'eror': '2h'}", "unknown key 'eror'"),
        ("{'timezone': 'UTC'}", "sets no limit"),
        ("{'error': 'tomorrow'}", "is not a duration"),
        ("3600", "freshness=3600 must be a string or a mapping"),
    ],
    ids=["cron-as-string", "word", "typo-key", "no-limit", "bad-duration", "number"],
)
def test_freshness_is_validated_at_definition(make_project, freshness, words):
    root = make_project("pipeline")
    _write(
        root,
        "assets/fresh.py",
        f"from assetflow import asset\n\n\n@asset(freshness={freshness})\ndef f():\n    return 1\n",
    )
    with pytest.raises(DefinitionError, match=words) as info:
        assetflow.load(root)
    assert str(info.value).startswith("assets/fresh.py:")


def test_freshness_policies_that_later_issues_evaluate_are_stored(make_project):
    root = make_project("pipeline")
    _write(
        root,
        "assets/fresh.py",
        "from assetflow import asset\n\n\n"
        "@asset(freshness={'cron': '0 6 * * *', 'within': '1h', 'timezone': 'Europe/Paris'})\n"
        "def f():\n    return 1\n",
    )
    policy = assetflow.load(root).graph["f"].options.freshness
    assert policy == {"cron": "0 6 * * *", "within": "1h", "timezone": "Europe/Paris"}


def test_group_option_takes_nested_groups(make_project):
    root = make_project("pipeline")
    _write(
        root,
        "assets/g.py",
        "from assetflow import asset\n\n\n@asset(group='marts/finance')\ndef g():\n    return 1\n",
    )
    assert assetflow.load(root).graph["g"].group == "marts/finance"
    _write(
        root,
        "assets/g.py",
        "from assetflow import asset\n\n\n@asset(group='marts//x')\ndef g():\n    return 1\n",
    )
    with pytest.raises(DefinitionError, match="group 'marts//x' is not valid"):
        assetflow.load(root)


def test_bad_lock_timeout_is_a_usage_error(make_project):
    root = make_project("pipeline")
    result = run_assetflow("materialize", cwd=root, env={"ASSETFLOW_LOCK_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert "ASSETFLOW_LOCK_TIMEOUT='soon' is not a number of seconds" in result.stderr


def test_missing_source_file_fails_its_readers_and_keeps_the_catalog(make_project):
    root = make_project("pipeline")
    assert assetflow.materialize(project=root, now=NOW).ok
    (root / "data" / "events.csv").unlink()
    [events] = assetflow.status("events", project=root, now=NOW)
    assert events.status == "missing" and "data/events.csv not found" in events.causes[0].detail
    result = assetflow.materialize(project=root, now=NOW)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes["counts"] == "failed"
    assert outcomes["total"] == "skipped" and outcomes["independent"] == "fresh"
    counts = next(a for a in result.assets if a.name == "counts")
    assert "source events is missing (data/events.csv not found)" in counts.error
    assert not (root / ".assetflow" / "run.dirty").exists()
    # The catalog still works, with the source's view gone and the tables kept.
    con = duckdb.connect(str(root / ".assetflow" / "catalog.duckdb"), read_only=True)
    try:
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
    finally:
        con.close()
    assert "counts" in views and "events" not in views
    cli = run_assetflow("materialize", cwd=root)
    assert cli.returncode == 1
    assert "FAILED counts" in cli.stderr


def test_dry_run_ignores_ordering_only_deps(make_project):
    root = make_project("pipeline")
    _write(
        root,
        "assets/ordered.py",
        "from assetflow import asset\n\n\n@asset(deps=['independent'])\ndef ordered():\n"
        "    return 1\n",
    )
    assert assetflow.materialize(project=root, now=NOW).ok
    _write(root, "assets/core.py", (root / "assets/core.py").read_text().replace("42", "43"))
    plan = assetflow.materialize(project=root, now=NOW, dry_run=True)
    actions = {a.name: a.outcome for a in plan.assets}
    assert actions["independent"] == "run" and actions["ordered"] == "fresh"
    real = assetflow.materialize(project=root, now=NOW)
    assert {a.name: a.outcome for a in real.assets}["ordered"] == "fresh"


def test_dry_run_text_says_skipped_once(make_project):
    root = make_project("pipeline")
    assert assetflow.materialize(project=root, now=NOW).ok
    core = root / "assets/core.py"
    core.write_text(core.read_text().replace('return "even" if', 'return "EVEN" if'))
    result = run_assetflow("materialize", "shout", "--dry-run", cwd=root)
    assert result.returncode == 0
    line = next(ln for ln in result.stdout.splitlines() if "shout" in ln)
    assert line.count("skipped") == 1 and "parity is stale and not selected" in line


def test_glob_source_is_always_a_list_and_observer_called_once(make_project, tmp_path):
    root = make_project("pipeline")
    (root / "data" / "parts").mkdir()
    (root / "data" / "parts" / "a.csv").write_text("x\n1\n")
    calls = tmp_path / "calls.txt"
    _write(
        root,
        "assets/globbed.py",
        "from pathlib import Path\nfrom assetflow import asset, source\n\n"
        "parts = source('data/parts/*.csv')\n\n\n"
        "@source\ndef api_version():\n"
        f"    with open({str(calls)!r}, 'a') as f:\n        f.write('x')\n"
        "    return 'v' + str(len(Path({0!r}).read_text()))\n\n\n".format(str(calls))
        + "@asset\ndef files(parts: Path, api_version):\n"
        "    return [p.name for p in parts] + [api_version]\n",
    )
    result = assetflow.materialize("files", project=root, now=NOW)
    assert result.ok, result.assets
    assert calls.read_text() == "x"  # observed when planning, and that value passed on
    assert stored_value(root, "files") == ["a.csv", "v1"]


def test_sql_relative_file_paths_resolve_against_the_project_root(make_project, tmp_path):
    root = make_project("pipeline")
    _write(
        root, "assets/from_file.sql", "SELECT count(*) AS n FROM read_csv_auto('data/events.csv')\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_assetflow("materialize", "from_file", "--project", str(root), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    shown = run_assetflow(
        "show", "from_file", "--format", "json", "--project", str(root), cwd=elsewhere
    )
    assert json.loads(shown.stdout)["preview"] == [[4]]


def test_selection_matching_nothing_records_no_run(make_project):
    root = make_project("pipeline")
    result = run_assetflow("materialize", "nope*", cwd=root)
    assert result.returncode == 0
    assert "Nothing selected" in result.stderr
    assert not (root / ".assetflow" / "state.duckdb").exists()


def test_show_a_source_and_a_never_built_asset(make_project):
    root = make_project("pipeline")
    shown = run_assetflow("show", "events", "--format", "json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["columns"] == ["id", "kind", "value"] and len(doc["preview"]) == 4
    never = run_assetflow("show", "counts", cwd=root)
    assert never.returncode == 2
    assert (
        "has not been materialized yet; run 'assetflow materialize +counts' first" in never.stderr
    )


def test_newer_state_schema_is_refused_clearly(make_project):
    root = make_project("pipeline")
    assert assetflow.materialize(project=root, now=NOW).ok
    con = duckdb.connect(str(root / ".assetflow" / "state.duckdb"))
    con.execute("UPDATE assetflow_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    for command in ("status", "materialize"):
        result = run_assetflow(command, cwd=root)
        assert result.returncode == 3, result.stderr
        assert "schema version 99, newer than this assetflow understands" in result.stderr
        assert "Traceback" not in result.stderr


def test_sql_header_prose_comment_is_not_an_option(make_project):
    root = make_project("pipeline")
    _write(
        root,
        "assets/noted.sql",
        "-- Note: counts per kind, again.\n-- tags: x\nSELECT * FROM counts\n",
    )
    assert assetflow.load(root).graph["noted"].tags == {"x"}


def test_freshness_warn_level_reports_and_error_level_runs(make_project):
    root = make_project("pipeline")
    core = root / "assets" / "core.py"
    core.write_text(
        core.read_text().replace(
            "@asset\ndef independent",
            '@asset(freshness={"warn": "1h", "error": "6h"})\ndef independent',
        )
    )
    assert assetflow.materialize("independent", project=root).ok  # at the real clock
    built = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    [warned] = assetflow.status("independent", project=root, now=built + dt.timedelta(hours=2))
    assert warned.status == "fresh"
    assert [c.kind for c in warned.causes] == ["freshness_warning"]
    quiet = assetflow.materialize("independent", project=root, now=built + dt.timedelta(hours=2))
    assert [a.outcome for a in quiet.assets] == ["fresh"]
    late = built + dt.timedelta(hours=7)
    [overdue] = assetflow.status("independent", project=root, now=late)
    assert overdue.status == "overdue" and overdue.causes[0].detail.startswith("overdue: ")
    again = assetflow.materialize("independent", project=root, now=late)
    assert [a.outcome for a in again.assets] == ["materialized"]


def test_cron_deadline_makes_an_asset_overdue(make_project):
    root = make_project("pipeline")
    core = root / "assets" / "core.py"
    policy = '{"cron": "0 6 * * *", "within": "1h", "timezone": "UTC"}'
    core.write_text(
        core.read_text().replace(
            "@asset\ndef independent", f"@asset(freshness={policy})\ndef independent"
        )
    )
    assert assetflow.materialize("independent", project=root).ok
    built = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    next_six = (built + dt.timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    if built.hour < 6:
        next_six -= dt.timedelta(days=1)
    [grace] = assetflow.status("independent", project=root, now=next_six + dt.timedelta(minutes=30))
    assert grace.status == "fresh"  # within the hour of grace
    [missed] = assetflow.status("independent", project=root, now=next_six + dt.timedelta(hours=2))
    assert missed.status == "overdue"
    assert "missed the 06:00 UTC deadline" in missed.causes[0].detail


def test_source_freshness_follows_its_last_change(make_project):
    import os

    root = make_project("pipeline")
    sources = root / "assets" / "sources.py"
    sources.write_text(
        sources.read_text().replace(
            'description="Raw events.")', 'description="Raw events.", freshness="1d")'
        )
    )
    assert assetflow.materialize(project=root).ok  # observes the file now
    built = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    [fresh] = assetflow.status("events", project=root, now=built + dt.timedelta(hours=12))
    assert fresh.status == "fresh"
    # A touch is observed again, but the content (and its age) did not change.
    csv = root / "data" / "events.csv"
    stat = csv.stat()
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    assert assetflow.materialize(project=root).ok
    [late] = assetflow.status("events", project=root, now=built + dt.timedelta(days=2))
    assert late.status == "overdue"
    assert late.causes[0].detail.startswith("overdue: last changed 2d")
    # New content is a change: fresh again.
    csv.write_text(csv.read_text() + "5,view,3\n")
    [changed] = assetflow.status("events", project=root, now=built + dt.timedelta(days=2))
    assert changed.status == "fresh"
