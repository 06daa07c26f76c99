"""`assetflow check` for CI: findings, exit codes, JSON, JUnit, GitHub, --definitions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_assetflow


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def built(make_project) -> Path:
    root = make_project("pipeline")
    assert run_assetflow("materialize", cwd=root).returncode == 0
    return root


def _kinds(result) -> set[str]:
    return {f["kind"] for f in json.loads(result.stdout)["findings"]}


def test_check_passes_on_a_fresh_project(built):
    result = run_assetflow("check", cwd=built)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check passed" in result.stdout


def test_check_missing_when_never_materialized(make_project):
    root = make_project("pipeline")
    result = run_assetflow("check", "--format", "json", cwd=root)
    assert result.returncode == 1 and _kinds(result) == {"missing"}
    assert not (root / ".assetflow").exists()  # read only, and nothing created
    ignored = run_assetflow("check", "--fail-on", "stale", cwd=root)
    assert ignored.returncode == 0  # missing is not what this build fails on


def test_check_stale_after_a_code_edit(built):
    _edit(built, "assets/core.py", '"answer": 42', '"answer": 43')
    result = run_assetflow("check", "--format", "json", cwd=built)
    assert result.returncode == 1 and _kinds(result) == {"stale"}
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["asset"] == "independent" and finding["message"].startswith(
        "stale: code changed"
    )
    assert finding["file"] == "assets/core.py" and finding["line"] > 0


def test_check_failed_asset(built):
    _edit(built, "assets/core.py", '"answer": 42', '"answer": 1 / 0')
    assert run_assetflow("materialize", cwd=built).returncode == 1
    result = run_assetflow("check", "--format", "json", "independent", cwd=built)
    assert result.returncode == 1 and _kinds(result) == {"failed"}


def test_check_overdue_with_an_injected_now(built):
    _edit(
        built,
        "assets/core.py",
        "@asset\ndef independent",
        '@asset(freshness="1h")\ndef independent',
    )
    # version is not code: the freshness policy does not make the asset stale
    env = {"ASSETFLOW_NOW": "2099-01-01T00:00:00+00:00"}
    result = run_assetflow("check", "--format", "json", cwd=built, env=env)
    assert result.returncode == 1 and _kinds(result) == {"overdue"}


def test_check_failing_data_check_on_current_data(built):
    # A check added after the data was built is run against the current data.
    _edit(
        built,
        "assets/core.py",
        "@asset\ndef counts",
        '@asset(checks=["row_count(> 10)"])\ndef counts',
    )
    result = run_assetflow("check", "--format", "json", cwd=built)
    assert result.returncode == 1 and _kinds(result) == {"check"}
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["check"] == "row_count(> 10)" and finding["severity"] == "error"


def test_check_warnings_fail_only_with_strict(built):
    _edit(
        built,
        "assets/core.py",
        "@asset\ndef counts",
        '@asset(checks=["warn: row_count(> 10)"])\ndef counts',
    )
    assert run_assetflow("check", cwd=built).returncode == 0
    assert run_assetflow("check", "--strict", cwd=built).returncode == 1


def test_check_definition_error_exits_2(make_project):
    root = make_project("cycle")
    result = run_assetflow("check", cwd=root)
    assert result.returncode == 2 and "a -> b -> c -> a" in result.stderr


def test_check_unreadable_state_exits_3(built):
    (built / ".assetflow" / "state.duckdb").write_bytes(b"this is not a database")
    result = run_assetflow("check", cwd=built)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr


def test_check_junit_report(built, tmp_path):
    _edit(
        built,
        "assets/core.py",
        "@asset\ndef counts",
        '@asset(checks=["row_count(> 10)", "not_null(kind)"])\ndef counts',
    )
    report = tmp_path / "junit.xml"
    result = run_assetflow("check", "--junit-xml", str(report), cwd=built)
    assert result.returncode == 1
    root = ET.fromstring(report.read_text())
    cases = root.iter("testcase")
    names = [c.get("name") for c in cases]
    assert "counts: row_count(> 10)" in names and "counts: not_null(kind)" in names
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["counts: row_count(> 10)"]
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    assert suite is not None and int(suite.get("failures")) == 1
    assert int(suite.get("tests")) == len(names)


def test_check_github_annotations_and_step_summary(built, tmp_path):
    _edit(built, "assets/core.py", '"answer": 42', '"answer": 43')
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_assetflow("check", cwd=built, env=env)
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1
    assert "file=assets/core.py" in annotations[0] and "independent" in annotations[0]
    text = summary.read_text()
    assert "| independent |" in text and "stale" in text


def test_check_definitions_without_state(make_project):
    sound = make_project("pipeline")
    result = run_assetflow("check", "--definitions", cwd=sound)
    assert result.returncode == 0 and "load and resolve" in result.stdout
    assert not (sound / ".assetflow").exists()
    broken = make_project("unknown_upstream")
    bad = run_assetflow("check", "--definitions", cwd=broken)
    assert bad.returncode == 2 and "did you mean 'orders'" in bad.stderr


def test_check_on_the_template_with_a_freshness_violation(tmp_path):
    assert run_assetflow("init", "shop", cwd=tmp_path).returncode == 0
    shop = tmp_path / "shop"
    assert run_assetflow("materialize", cwd=shop).returncode == 0
    assert run_assetflow("check", cwd=shop).returncode == 0
    later = run_assetflow(
        "check", "--format", "json", cwd=shop, env={"ASSETFLOW_NOW": "2099-06-01T12:00:00"}
    )
    assert later.returncode == 1
    overdue = {f["asset"] for f in json.loads(later.stdout)["findings"] if f["kind"] == "overdue"}
    assert {"stg_orders", "daily_revenue", "kpis"} <= overdue


def test_check_reruns_custom_checks_on_current_data(built):
    (built / "assets" / "later_check.py").write_text(
        "from assetflow import check\n\n\n@check('total')\ndef total_is_big(total):\n"
        "    return total > 100\n"
    )
    result = run_assetflow("check", "--format", "json", cwd=built)
    assert result.returncode == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["asset"], finding["kind"], finding["check"]) == (
        "total",
        "check",
        "total_is_big()",
    )


def test_check_reruns_sql_check_files(built):
    (built / "checks").mkdir()
    (built / "checks" / "no_clicks.sql").write_text(
        "-- asset: counts\nSELECT * FROM counts WHERE kind = 'click'\n"
    )
    result = run_assetflow("check", "--format", "json", cwd=built)
    assert result.returncode == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["asset"], finding["check"]) == ("counts", "no_clicks.sql")
