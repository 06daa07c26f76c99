"""Data checks: the built-ins in DuckDB, and write-audit-publish in a run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from conftest import stored_value

import assetflow
from assetflow.checks import parse_check, run_checks, verdict
from assetflow.errors import DefinitionError
from assetflow.state import StateStore

NOW = dt.datetime(2026, 11, 1, 12, 0, 0)

# id, status, amount, customer: row 3 repeats id 2, has a NULL and an unknown status,
# row 4 references customer 99, which does not exist.
TABLE = (
    "SELECT * FROM (VALUES (1, 'paid', 10, 1), (2, 'paid', 20, 2), (2, NULL, -5, 2), "
    "(4, 'lost', 7, 99)) AS t(id, status, amount, customer)"
)
CUSTOMERS = "SELECT * FROM (VALUES (1), (2), (3)) AS c(customer)"


@pytest.mark.parametrize(
    ("text", "passes", "violations"),
    [
        ("not_null(id)", True, 0),
        ("not_null(status)", False, 1),
        ("not_null(id, status)", False, 1),
        ("unique(amount)", True, 0),
        ("unique(id)", False, 2),
        ("unique(id, status)", True, 0),
        ("accepted_values(status, ['paid', 'lost'])", True, 0),
        ("accepted_values(status, ['paid'])", False, 1),
        ("row_count(> 0)", True, 0),
        ("row_count(> 4)", False, 1),
        ("row_count(between 1 and 4)", True, 0),
        ("row_count(between 5 and 9)", False, 1),
        ("relationships(customer, customers.customer)", False, 1),
        ("relationships(id, customers.customer)", False, 1),
        ("expression(amount > -10)", True, 0),
        ("expression(amount >= 0)", False, 1),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_builtin_checks(text, passes, violations):
    con = duckdb.connect()
    [result] = run_checks(con, [parse_check(text, "x")], TABLE, {"customers": CUSTOMERS}, "x")
    assert (result.passed, result.violations) == (passes, violations)
    if not passes and violations and "row_count" not in text:
        assert f"violate{'s' if violations == 1 else ''} {result.check}" in result.message
        assert len(json.loads(result.sample)) == violations


def test_checks_run_in_duckdb_on_a_million_rows():
    con = duckdb.connect()
    data = (
        "SELECT range AS id, range % 7 AS bucket, NULLIF(range % 1000, 0) AS maybe "
        "FROM range(1000000)"
    )
    checks = [
        parse_check(t, "x")
        for t in ("unique(id)", "not_null(maybe)", "accepted_values(bucket, [0, 1, 2, 3, 4, 5])")
    ]
    results = run_checks(con, checks, data, {}, "x")
    assert [(r.passed, r.violations) for r in results] == [
        (True, 0),
        (False, 1000),
        (False, 142857),
    ]
    assert len(json.loads(results[1].sample)) == 5  # a sample, not every row


def test_warn_severity_does_not_stop_publication():
    results = run_checks(
        duckdb.connect(), [parse_check("warn: not_null(status)", "x")], TABLE, {}, "x"
    )
    assert results[0].severity == "warn" and not results[0].passed
    assert verdict(results) is None
    errors = run_checks(duckdb.connect(), [parse_check("not_null(status)", "x")], TABLE, {}, "x")
    assert verdict(errors) == "check not_null(status): 1 row violates not_null(status)"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("nul(x)", "is not one of"),
        ("not_null(a b)", "column names separated by commas"),
        ("accepted_values(s)", "accepted_values(column, ['a', 'b'])"),
        ("row_count(lots)", "row_count(> n)"),
        ("relationships(a, b)", "other_asset.column"),
        ("expression()", "needs a SQL predicate"),
    ],
    ids=["unknown", "columns", "values", "row-count", "relationships", "expression"],
)
def test_bad_check_is_a_definition_error(make_project, text, words):
    root = make_project("pipeline")
    core = root / "assets" / "core.py"
    core.write_text(
        core.read_text().replace(
            "@asset\ndef independent", f"@asset(checks=[{text!r}])\ndef independent"
        )
    )
    with pytest.raises(
        DefinitionError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ) as info:
        assetflow.load(root)
    assert str(info.value).startswith("assets/core.py:")


def _with_checks(root: Path, checks: str) -> None:
    """Give ``counts`` exactly these checks (replacing its decorator line)."""
    import re

    core = root / "assets" / "core.py"
    text = re.sub(
        r"@asset[^\n]*\ndef counts", f"@asset(checks={checks})\ndef counts", core.read_text()
    )
    core.write_text(text)


def test_failing_error_check_keeps_previous_data_and_skips_downstream(make_project):
    root = make_project("pipeline")
    _with_checks(root, '["row_count(> 0)"]')
    assert assetflow.materialize(project=root, now=NOW).ok
    before = stored_value(root, "counts")
    # Now demand more kinds than the data has: the new version must not publish.
    _with_checks(root, '["row_count(> 0)", "row_count(> 10)"]')
    with (root / "data" / "events.csv").open("a") as f:
        f.write("5,share,1\n")
    result = assetflow.materialize(project=root, now=NOW)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes["counts"] == "failed" and outcomes["total"] == "skipped"
    assert outcomes["report"] == "skipped" and outcomes["independent"] == "fresh"
    counts = next(a for a in result.assets if a.name == "counts")
    assert counts.error == "check row_count(> 10): row_count(> 10) failed"
    assert counts.attempts == 1  # a check failure is not retried
    after = stored_value(root, "counts")
    assert after.equals(before)  # the previous version is still current and readable
    [status] = assetflow.status("counts", project=root, now=NOW)
    assert status.status == "failed"
    assert "check row_count(> 10)" in next(
        c.detail for c in status.causes if c.kind == "last_run_failed"
    )
    files = list((root / ".assetflow" / "data" / "counts").iterdir())
    assert len(files) == 1  # the audited, failed file was removed
    con = duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT check_name, passed FROM check_results WHERE asset = 'counts' "
            "ORDER BY materialization_id, check_name"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("row_count(> 0)", True), ("row_count(> 0)", True), ("row_count(> 10)", False)]


def test_warn_check_failing_publishes(make_project):
    root = make_project("pipeline")
    _with_checks(root, '["warn: row_count(> 10)"]')
    seen = []
    result = assetflow.materialize(project=root, now=NOW, on_event=seen.append)
    assert result.ok
    assert {a.name: a.outcome for a in result.assets}["counts"] == "materialized"
    [event] = [e for e in seen if e.kind == "check_evaluated"]
    assert (event.asset, event.severity, event.passed) == ("counts", "warn", False)


def test_check_on_a_value_that_is_not_a_table_fails_clearly(make_project):
    root = make_project("pipeline")
    core = root / "assets" / "core.py"
    core.write_text(
        core.read_text().replace(
            "@asset\ndef independent", '@asset(checks=["not_null(x)"])\ndef independent'
        )
    )
    result = assetflow.materialize("independent", project=root, now=NOW)
    [ind] = result.assets
    assert ind.outcome == "failed"
    assert "check not_null(x) needs a table, and independent is a json value" in (ind.error or "")
    assert StateStore(root / ".assetflow").snapshot().current == {}


CUSTOM = """
import pyarrow as pa
import pandas as pd
from assetflow import CheckOutcome, check


@check("counts")
def kinds_are_lowercase(counts: pa.Table) -> bool:
    return all(k == k.lower() for k in counts.column("kind").to_pylist())


@check("counts", severity="warn")
def few_kinds(counts: pd.DataFrame) -> CheckOutcome:
    return CheckOutcome(len(counts) < 3, details=f"{len(counts)} kinds", violations=len(counts))


@check("total")
def total_positive(total) -> bool:
    return total > 0
"""


def test_custom_python_checks(make_project):
    root = make_project("pipeline")
    (root / "assets" / "custom_checks.py").write_text(CUSTOM)
    seen = []
    result = assetflow.materialize(project=root, now=NOW, on_event=seen.append)
    assert result.ok
    checks = {
        (e.asset, e.check): (e.severity, e.passed) for e in seen if e.kind == "check_evaluated"
    }
    assert checks == {
        ("counts", "kinds_are_lowercase()"): ("error", True),
        ("counts", "few_kinds()"): ("warn", False),  # 3 kinds: warned, published
        ("total", "total_positive()"): ("error", True),
    }
    # Upper-case kinds now: the error check fails, so counts keeps its old data.
    before = stored_value(root, "counts")
    csv = root / "data" / "events.csv"
    csv.write_text(csv.read_text().replace("click", "CLICK"))
    again = assetflow.materialize(project=root, now=NOW)
    outcomes = {a.name: a.outcome for a in again.assets}
    assert outcomes["counts"] == "failed" and outcomes["total"] == "skipped"
    counts = next(a for a in again.assets if a.name == "counts")
    assert counts.error == "check kinds_are_lowercase(): kinds_are_lowercase() failed"
    assert stored_value(root, "counts").equals(before)


def test_custom_check_that_raises_fails_the_asset(make_project):
    root = make_project("pipeline")
    (root / "assets" / "custom_checks.py").write_text(
        "from assetflow import check\n\n\n@check('total')\ndef broken(total):\n"
        "    raise RuntimeError('oops')\n"
    )
    result = assetflow.materialize("+total", project=root, now=NOW)
    total = next(a for a in result.assets if a.name == "total")
    assert total.outcome == "failed"
    assert "broken() raised RuntimeError: oops" in (total.error or "")


def test_custom_check_on_an_unknown_asset_is_a_definition_error(make_project):
    root = make_project("pipeline")
    (root / "assets" / "custom_checks.py").write_text(
        "from assetflow import check\n\n\n@check('totl')\ndef positive(total):\n    return True\n"
    )
    with pytest.raises(
        DefinitionError, match="checks 'totl', which is not an asset; did you mean 'total'"
    ):
        assetflow.load(root)


def test_custom_checks_run_with_the_processes_executor(make_project):
    root = make_project("pipeline")
    (root / "assets" / "custom_checks.py").write_text(CUSTOM)
    result = assetflow.materialize(project=root, now=NOW, executor="processes", workers=2)
    assert result.ok, [a.error for a in result.assets if a.error]
    rows = StateStore(root / ".assetflow").snapshot().current
    assert "counts" in rows and "total" in rows


def _sql_check(root: Path, name: str, text: str) -> None:
    (root / "checks").mkdir(exist_ok=True)
    (root / "checks" / f"{name}.sql").write_text(text)


def test_sql_check_files(make_project):
    root = make_project("pipeline")
    _sql_check(
        root,
        "known_kinds",
        "-- asset: counts\n-- Kinds must come from the source.\n"
        "SELECT * FROM counts WHERE kind NOT IN (SELECT kind FROM events)\n",
    )
    _sql_check(
        root,
        "few_clicks",
        "-- asset: counts\n-- severity: warn\nSELECT * FROM counts WHERE n > 1\n",
    )
    seen = []
    result = assetflow.materialize(project=root, now=NOW, on_event=seen.append)
    assert result.ok, [a.error for a in result.assets if a.error]
    checks = {
        e.check: (e.severity, e.passed, e.violations) for e in seen if e.kind == "check_evaluated"
    }
    assert checks == {"known_kinds.sql": ("error", True, 0), "few_clicks.sql": ("warn", False, 1)}
    # An error-severity SQL check failing keeps the previous data current.
    before = stored_value(root, "counts")
    _sql_check(root, "no_views", "-- asset: counts\nSELECT * FROM counts WHERE kind = 'view'\n")
    csv = root / "data" / "events.csv"
    csv.write_text(csv.read_text() + "5,view,1\n")
    again = assetflow.materialize(project=root, now=NOW)
    counts = next(a for a in again.assets if a.name == "counts")
    assert counts.outcome == "failed"
    assert counts.error == "check no_views.sql: 1 row violates no_views.sql"
    assert stored_value(root, "counts").equals(before)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("SELECT 1 AS x\n", "add a line such as '-- asset: orders'"),
        ("-- asset: cuonts\nSELECT 1 AS x\n", "'cuonts' is not an asset; did you mean 'counts'"),
        (
            "-- asset: counts\nSELECT * FROM evnts\n",
            "table 'evnts' is not an asset or source; did you mean 'events'",
        ),
        ("-- asset: counts\n-- severity: fatal\nSELECT 1\n", "severity must be 'error' or 'warn'"),
        ("-- asset: counts\nSELECT FROM WHERE\n", "checks/bad.sql:2: syntax error"),
    ],
    ids=["no-asset", "unknown-asset", "unknown-table", "bad-severity", "syntax"],
)
def test_sql_check_file_errors(make_project, text, words):
    root = make_project("pipeline")
    _sql_check(root, "bad", text)
    with pytest.raises(DefinitionError) as info:
        assetflow.load(root)
    assert words in str(info.value)
    assert str(info.value).startswith("checks/bad.sql")
