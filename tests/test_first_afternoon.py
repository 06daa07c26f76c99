"""Issue 14, a data engineer's first afternoon: checks and failures shown where people look,
errors people can read, and output they can trust. Driven through the real CLI."""

from __future__ import annotations

import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_assetflow

from assetflow.events import (
    AssetFailed,
    AssetMaterialized,
    AssetStarted,
    CheckEvaluated,
    Event,
    RunFinished,
    RunStarted,
)
from assetflow.progress import make_reporter


@pytest.fixture
def afternoon(make_project) -> Path:
    return make_project("afternoon")


def test_materialize_text_shows_each_assets_checks_and_failing_rows(afternoon: Path) -> None:
    result = run_assetflow("materialize", cwd=afternoon)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    passing_and_warning = (
        "check orders: ✓ not_null(order_id), ✓ unique(order_id), "
        "! 1 row violates accepted_values(status, ['paid', 'open'])"
    )
    failing = (
        "check customers_of_orders: ✓ unique(order_id), ✗ 1 row violates not_null(customer_id)"
    )
    assert passing_and_warning in lines
    assert failing in lines
    # Under the failure, the violating rows as a small table.
    at = lines.index(failing)
    assert lines[at + 1].split() == ["order_id", "customer_id"]
    assert lines[at + 3].split() == ["4", "NULL"]
    at = lines.index(passing_and_warning)
    assert lines[at + 3].split() == ["4", "NULL", "lost", "1.0"]


def test_check_says_how_many_checks_it_evaluated_and_shows_rows(
    afternoon: Path, tmp_path: Path
) -> None:
    run_assetflow("materialize", cwd=afternoon)
    summary = tmp_path / "summary.md"
    junit = tmp_path / "junit.xml"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}

    result = run_assetflow("check", "--junit-xml", str(junit), cwd=afternoon, env=env)

    assert result.returncode == 1
    assert "1 error, 1 warning in 3 assets (3 checks evaluated)" in result.stdout
    assert ["4", "NULL", "lost", "1.0"] in [line.split() for line in result.stdout.splitlines()]
    assert "| 4 | NULL | lost | 1.0 |" in summary.read_text()
    [case] = [
        c
        for c in ET.parse(junit).iter("testcase")
        if c.attrib["name"] == "orders: accepted_values(status, ['paid', 'open'])"
    ]
    out = case.findtext("system-out") or ""
    assert ["4", "NULL", "lost", "1.0"] in [line.split() for line in out.splitlines()]
    doc = json.loads(run_assetflow("check", "--format", "json", cwd=afternoon).stdout)
    assert doc["counts"]["checks"] == 3
    [warned] = [f for f in doc["findings"] if f["kind"] == "check"]
    assert warned["sample"] == [
        {"order_id": 4, "customer_id": None, "status": "lost", "amount": 1.0}
    ]


def test_check_on_a_passing_project_still_counts_its_checks(make_project) -> None:
    root = make_project("template")
    assert run_assetflow("materialize", cwd=root).returncode == 0

    result = run_assetflow("check", cwd=root)

    assert result.returncode == 0, result.stdout
    assert "checks evaluated)" in result.stdout and "(0 checks" not in result.stdout


def _broken_csv(root: Path) -> None:
    # Past DuckDB's sniffer sample, a row with two columns too many: a ~25-line CSV error.
    rows = [f"{i},10,paid,1.5" for i in range(1, 30_001)]
    text = "order_id,customer_id,status,amount\n" + "\n".join(rows) + "\n30001,10,paid,1.5,x,y\n"
    (root / "data" / "orders.csv").write_text(text)


def test_a_long_duckdb_error_is_printed_once_and_is_one_line_in_status(afternoon: Path) -> None:
    run_assetflow("materialize", cwd=afternoon)
    _broken_csv(afternoon)

    result = run_assetflow("materialize", cwd=afternoon)

    assert result.returncode == 1
    assert result.stderr.count("Expected Number of Columns: 4 Found: 5") == 1, result.stderr
    assert "File " not in result.stderr  # no DuckDB-internal frames for a SQL asset
    status = run_assetflow("status", cwd=afternoon)
    lines = status.stdout.splitlines()
    assert len(lines) == 4, status.stdout  # the header and three assets, nothing wrapped
    [orders] = [line for line in lines if line.startswith("orders ")]
    assert "failed" in orders and "CSV Error on Line: 30002 …" in orders
    history = run_assetflow("history", "orders", cwd=afternoon).stdout.splitlines()
    assert history[1].split()[1] == "failed" and history[1].endswith("…")
    doc = json.loads(run_assetflow("history", "orders", "--format", "json", cwd=afternoon).stdout)
    assert "Expected Number of Columns: 4 Found: 5" in doc["materializations"][0]["error"]
    why = run_assetflow("status", "--why", "orders", cwd=afternoon).stdout
    assert "\n    Expected Number of Columns: 4 Found: 5" in why  # indented under its cause
    shown = run_assetflow("runs", "show", "2", cwd=afternoon).stdout
    assert "\n      Expected Number of Columns: 4 Found: 5" in shown


_TYPED_SOURCE = """\
from assetflow import source

raw_semi = source(
    "data/semi.csv",
    delim=";",
    header=True,
    decimal_separator=",",
    columns={"order_id": "INTEGER", "status": "VARCHAR", "amount": "DECIMAL(10, 2)"},
)
"""


def _typed(root: Path) -> None:
    (root / "data" / "semi.csv").write_text("order_id;status;amount\n1;paid;12,50\n2;open;3,00\n")
    (root / "assets" / "typed.py").write_text(_TYPED_SOURCE)
    (root / "assets" / "semi_orders.sql").write_text("SELECT * FROM raw_semi\n")


def test_a_csv_source_with_reader_options_is_typed(afternoon: Path) -> None:
    _typed(afternoon)

    result = run_assetflow("materialize", "semi_orders", cwd=afternoon)

    assert result.returncode == 0, result.stderr
    described = run_assetflow(
        "sql",
        "SELECT column_name, column_type FROM (DESCRIBE semi_orders)",
        "--format",
        "json",
        cwd=afternoon,
    )
    doc = json.loads(described.stdout)
    types = dict(doc["rows"])
    assert types == {"order_id": "INTEGER", "status": "VARCHAR", "amount": "DECIMAL(10,2)"}
    # The options are part of the source's version: changing them makes readers stale.
    typed = afternoon / "assets" / "typed.py"
    typed.write_text(_TYPED_SOURCE.replace('"DECIMAL(10, 2)"', '"DOUBLE"'))
    status = run_assetflow("status", "semi_orders", cwd=afternoon)
    assert "source raw_semi changed" in status.stdout


def test_an_unknown_reader_option_names_the_file_and_line(afternoon: Path) -> None:
    _typed(afternoon)
    typed = afternoon / "assets" / "typed.py"
    typed.write_text(_TYPED_SOURCE.replace("delim=", "delimter="))

    result = run_assetflow("list", cwd=afternoon)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: assets/typed.py:3: source('data/semi.csv'): 'delimter' is not an option of "
        "DuckDB's read_csv_auto or of source(); did you mean 'delimiter'?"
    )


def test_init_names_the_project_after_its_folder_and_materializes(tmp_path: Path) -> None:
    result = run_assetflow("init", "orders_pipeline", cwd=tmp_path)

    root = tmp_path / "orders_pipeline"
    assert result.returncode == 0, result.stderr
    assert 'name = "orders_pipeline"' in (root / "pyproject.toml").read_text()
    assert "shop" not in (root / "README.md").read_text().splitlines()[0].split(" — ")[0]
    # Run as `python -m assetflow`: the hint names how to run it again in this shell.
    [hint] = [line for line in result.stderr.splitlines() if line.startswith("Next: ")]
    command = hint.removeprefix("Next: cd orders_pipeline && ")
    assert command.endswith(" materialize")
    runner = command.removesuffix(" materialize")
    if runner != "assetflow":
        assert runner == f"{sys.executable} -m assetflow"
    assert run_assetflow("materialize", cwd=root).returncode == 0


def test_init_empty_makes_a_minimal_project_that_materializes(tmp_path: Path) -> None:
    result = run_assetflow("init", "--empty", "Fresh Start", cwd=tmp_path)

    root = tmp_path / "Fresh Start"
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in root.iterdir()) == [
        ".gitignore",
        "README.md",
        "assets",
        "data",
        "pyproject.toml",
    ]
    assert not any((root / "assets").iterdir()) and not any((root / "data").iterdir())
    assert 'name = "fresh-start"' in (root / "pyproject.toml").read_text()
    assert run_assetflow("materialize", cwd=root).returncode == 0
    (root / "assets" / "one.sql").write_text("SELECT 1 AS one\n")
    assert run_assetflow("materialize", cwd=root).returncode == 0
    assert "one" in run_assetflow("status", cwd=root).stdout


def test_init_hint_names_the_assetflow_that_ran_when_path_has_none(tmp_path: Path) -> None:
    from assetflow.scaffold import command_used

    script = tmp_path / "venv" / "bin" / "assetflow"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)

    assert command_used(str(script), path=str(tmp_path / "elsewhere")) == str(script)
    assert command_used(str(script), path=str(script.parent)) == "assetflow"


def test_runs_shows_the_duration_materialize_printed(afternoon: Path) -> None:
    printed = []
    for _ in range(2):  # a run that builds, then one with nothing to do
        result = run_assetflow("materialize", "orders", cwd=afternoon)
        assert result.returncode == 0, result.stderr
        [end] = [line for line in result.stderr.splitlines() if line.startswith("run ")][-1:]
        printed.append(end.rsplit(" in ", 1)[1])

    runs = run_assetflow("runs", cwd=afternoon).stdout.splitlines()

    start, end = runs[0].index("took"), runs[0].index("outcome")
    shown = [line[start:end].strip() for line in runs[1:]]
    assert shown == printed[::-1], (runs, printed)  # newest first


def test_show_all_columns_draws_every_column(afternoon: Path) -> None:
    names = [f"column_number_{i}_with_a_long_name" for i in range(9)]
    select = ", ".join(f"{i} AS {n}" for i, n in enumerate(names))
    (afternoon / "assets" / "wide.sql").write_text(f"SELECT {select}\n")
    assert run_assetflow("materialize", "wide", cwd=afternoon).returncode == 0

    narrow = run_assetflow("show", "wide", cwd=afternoon).stdout
    wide = run_assetflow("show", "wide", "--all-columns", cwd=afternoon).stdout

    assert not all(n in narrow for n in names)
    assert "(assetflow show --all-columns draws every column)" in narrow
    assert all(n in wide for n in names) and "shown)" not in wide


def test_watch_shows_the_rows_under_a_failing_check(afternoon: Path) -> None:
    from test_watch import start

    w, report = start(afternoon)
    with w:
        at = next(i for i, line in enumerate(report) if "✗ 1 row violates not_null" in line)
        assert report[at].strip().startswith("checks: ✓ unique(order_id)")
        assert report[at + 1].split() == ["order_id", "customer_id"]
        assert report[at + 3].split() == ["4", "NULL"]


def _check_events() -> list[Event]:
    sample = json.dumps([{"id": 4, "status": None}])
    return [
        RunStarted(run_id=1, time=0.0, selection="", assets=("a", "b"), workers=1, executor="x"),
        AssetStarted(run_id=1, time=0.0, asset="a", attempt=1),
        CheckEvaluated(
            run_id=1,
            time=0.1,
            asset="a",
            check="unique(id)",
            severity="error",
            passed=True,
            violations=0,
            message="unique(id) passed",
        ),
        AssetMaterialized(run_id=1, time=0.1, asset="a", rows=3, duration_s=0.1, attempts=1),
        AssetStarted(run_id=1, time=0.1, asset="b", attempt=1),
        CheckEvaluated(
            run_id=1,
            time=0.2,
            asset="b",
            check="not_null(status)",
            severity="error",
            passed=False,
            violations=1,
            message="1 row violates not_null(status)",
            sample=sample,
        ),
        AssetFailed(
            run_id=1,
            time=0.2,
            asset="b",
            error="check not_null(status): 1 row violates",
            traceback=None,
            attempts=1,
        ),
        RunFinished(run_id=1, time=0.3, outcome="failed", counts={"failed": 1}, duration_s=0.3),
    ]


@pytest.mark.parametrize(
    ("mode", "verbosity", "passing_shown"),
    [("plain", 0, True), ("plain", -1, False), ("rich", 0, True), ("rich", -1, False)],
    ids=["plain", "plain-quiet", "rich", "rich-quiet"],
)
def test_progress_prints_check_lines_and_rows(
    mode: str, verbosity: int, passing_shown: bool
) -> None:
    err = io.StringIO()
    err.isatty = lambda: True  # type: ignore[method-assign]
    reporter = make_reporter(mode=mode, verbosity=verbosity, stderr=err, environ={"COLUMNS": "120"})
    for event in _check_events():
        reporter(event)
    reporter.close()
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err.getvalue())

    assert ("check a: ✓ unique(id)" in out) is passing_shown
    assert "check b: ✗ 1 row violates not_null(status)" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["id", "status"] in lines and ["4", "NULL"] in lines


def test_a_check_that_could_not_run_is_named_once(afternoon: Path) -> None:
    (afternoon / "assets" / "orders.sql").write_text(
        "-- checks: relationships(customer_id, customers.id)\n"
        "SELECT order_id, customer_id FROM raw_orders\n"
    )
    (afternoon / "assets" / "customers.sql").write_text("SELECT 10 AS id\n")

    result = run_assetflow("materialize", "orders", cwd=afternoon)

    assert result.returncode == 1
    [fail] = [line for line in result.stderr.splitlines() if line.startswith("FAIL ")]
    assert fail.count("relationships(customer_id, customers.id)") == 1, fail
    assert "could not run: customers has no data" in fail


def test_jsonl_check_events_carry_the_violating_rows(afternoon: Path) -> None:
    result = run_assetflow("materialize", "--format", "jsonl", cwd=afternoon)

    events = [json.loads(line) for line in result.stdout.splitlines()]
    [failed] = [e for e in events if e["event"] == "check_evaluated" and not e["passed"]][-1:]
    assert failed["check"] == "not_null(customer_id)"
    assert failed["sample"] == [{"order_id": 4, "customer_id": None}]


@pytest.mark.parametrize("module", ["checks", "progress", "reader", "scaffold"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"assetflow.{module}"))

    assert result.attempted > 0 and result.failed == 0
