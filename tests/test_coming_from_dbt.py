"""The worked example of docs/coming-from-dbt.md, end to end through the CLI:
tests/projects/dbt_style materializes, its header checks and SQL check file pass,
its typed seed is typed, and a setting (dbt's var) rebuilds only what reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_assetflow

ASSETS = {"stg_stations", "stg_riders", "stg_rides", "station_daily", "rider_summary", "long_rides"}


@pytest.fixture
def built(make_project) -> Path:
    root = make_project("dbt_style")
    result = run_assetflow("materialize", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    outcomes = {a["name"]: a["outcome"] for a in json.loads(result.stdout)["assets"]}
    assert outcomes == dict.fromkeys(ASSETS, "materialized")
    return root


def test_dbt_style_project_builds_and_passes_its_checks(built: Path) -> None:
    result = run_assetflow("check", "--format", "json", cwd=built)

    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["ok"], result.stdout
    # 3 + 3 + 7 (six header checks and the SQL check file) + 2 + 2 + 2
    assert doc["counts"] == {"error": 0, "warn": 0, "assets": 9, "checks": 19}
    assert "(19 checks evaluated)" in run_assetflow("check", cwd=built).stdout


def test_dbt_style_materialize_prints_each_models_checks(make_project) -> None:
    root = make_project("dbt_style")

    result = run_assetflow("materialize", cwd=root)

    assert result.returncode == 0, result.stderr
    checks = [line for line in result.stderr.splitlines() if line.startswith("check ")]
    assert {line.split(":")[0].removeprefix("check ") for line in checks} == ASSETS
    assert "✓ rides_end_after_they_start.sql" in result.stderr and "✗" not in result.stderr


def test_dbt_style_seed_is_typed_by_its_reader_options(built: Path) -> None:
    result = run_assetflow(
        "sql",
        "SELECT column_name, column_type FROM (DESCRIBE stg_stations)",
        "--format",
        "json",
        cwd=built,
    )

    assert dict(json.loads(result.stdout)["rows"]) == {
        "station_id": "INTEGER",
        "station_name": "VARCHAR",
        "opened_on": "DATE",
        "docks": "INTEGER",
    }


def test_dbt_style_var_is_a_setting_that_rebuilds_only_its_reader(built: Path) -> None:
    again = run_assetflow("materialize", "--format", "json", cwd=built)
    assert {a["outcome"] for a in json.loads(again.stdout)["assets"]} == {"fresh"}

    result = run_assetflow(
        "materialize", "--set", "long_ride_minutes=45", "--format", "json", cwd=built
    )

    ran = {a["name"] for a in json.loads(result.stdout)["assets"] if a["outcome"] == "materialized"}
    assert ran == {"long_rides"}
    shown = json.loads(run_assetflow("show", "long_rides", "--format", "json", cwd=built).stdout)
    assert shown["rows"] == 2


def test_dbt_style_selection_lists_ancestors_like_dbt_ls(built: Path) -> None:
    result = run_assetflow("list", "+station_daily", "--format", "json", cwd=built)

    names = {a["name"] for a in json.loads(result.stdout)["assets"]}
    assert names == {
        "station_daily",
        "stg_rides",
        "stg_stations",
        "stg_riders",
        "raw_rides",
        "raw_stations",
        "raw_riders",
    }
