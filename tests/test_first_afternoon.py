"""Issue 14, a data engineer's first afternoon: checks and failures shown where people look,
errors people can read, and output they can trust. Driven through the real CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_assetflow


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
    assert "Expected Number of Columns: 4 Found: 5" in why
