"""End to end through the CLI on the template, as a user would, plus the state's guarantees."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from conftest import TEMPLATE_ASSETS, run_assetflow, stored_value

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_shop(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "shop"
    assert run_assetflow("init", str(root), cwd=root.parent).returncode == 0
    first = run_assetflow("materialize", "--format", "json", cwd=root)
    assert first.returncode == 0, first.stderr
    (root / "first_run.json").write_text(first.stdout)
    return root


def test_materialize_json_document(built_shop):
    doc = json.loads((built_shop / "first_run.json").read_text())
    assert doc["schema_version"] == 1 and doc["run_id"] == 1 and doc["dry_run"] is False
    assert {a["name"] for a in doc["assets"]} == TEMPLATE_ASSETS
    for a in doc["assets"]:
        assert set(a) == {"name", "outcome", "causes", "rows", "duration_s", "error", "output"}
        assert a["outcome"] == "materialized" and a["error"] is None
        assert a["causes"][0] == {"kind": "never_materialized", "detail": "never materialized"}
    rows = {a["name"]: a["rows"] for a in doc["assets"]}
    assert rows["stg_orders"] == 200 and rows["kpis"] is None


def test_second_materialize_is_all_fresh(built_shop):
    result = run_assetflow("materialize", "--format", "json", cwd=built_shop)
    doc = json.loads(result.stdout)
    assert {a["outcome"] for a in doc["assets"]} == {"fresh"}
    assert doc["run_id"] == 2


def test_status_json_and_why(built_shop):
    doc = json.loads(run_assetflow("status", "--format", "json", cwd=built_shop).stdout)
    assert doc["schema_version"] == 1
    statuses = {a["name"]: a for a in doc["assets"]}
    assert statuses["daily_revenue"]["status"] == "fresh"
    assert statuses["daily_revenue"]["last_materialized"].endswith("+00:00")
    why = run_assetflow("status", "--why", "Daily_Revenue", cwd=built_shop)
    assert why.returncode == 0 and why.stdout.strip() == "daily_revenue is fresh."
    unknown = run_assetflow("status", "--why", "daily_revenu", cwd=built_shop)
    assert unknown.returncode == 2 and "did you mean 'daily_revenue'" in unknown.stderr


def test_history_show_and_sql(built_shop):
    history = json.loads(
        run_assetflow("history", "stg_orders", "--format", "json", cwd=built_shop).stdout
    )
    [first] = history["materializations"]
    assert first["outcome"] == "materialized" and first["rows"] == 200
    assert first["location"].endswith(".parquet")
    shown = json.loads(
        run_assetflow(
            "show", "daily_revenue", "--limit", "2", "--format", "json", cwd=built_shop
        ).stdout
    )
    assert shown["columns"][0] == "day" and len(shown["preview"]) == 2
    kpis = json.loads(run_assetflow("show", "kpis", "--format", "json", cwd=built_shop).stdout)
    assert kpis["value"]["order_count"] == 200
    query = (
        "SELECT count(*) FROM stg_orders JOIN state.materializations m ON m.asset = 'stg_orders'"
    )
    result = json.loads(run_assetflow("sql", query, "--format", "json", cwd=built_shop).stdout)
    assert result["rows"] == [[200]]
    bad = run_assetflow("sql", "SELECT * FROM nowhere", cwd=built_shop)
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_catalog_opens_with_plain_duckdb(built_shop):
    con = duckdb.connect(str(built_shop / ".assetflow" / "catalog.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT count(*) FROM customer_orders").fetchall() == [(40,)]
        assert con.sql("SELECT count(*) FROM raw_orders").fetchall() == [(200,)]
    finally:
        con.close()


def test_edit_then_status_why_and_dry_run(built_shop, tmp_path):
    shop = tmp_path / "shop"
    import shutil

    shutil.copytree(built_shop, shop)
    sql = shop / "assets" / "marts" / "daily_revenue.sql"
    sql.write_text(sql.read_text().replace("GROUP BY", "-- edited\nGROUP BY", 1) + "\n")
    assert json.loads(run_assetflow("status", "--format", "json", cwd=shop).stdout)  # still fine
    payments = shop / "data" / "payments.csv"
    payments.write_text(payments.read_text().rstrip("\n").rsplit("\n", 1)[0] + "\n")
    why = run_assetflow("status", "--why", "stg_payments", cwd=shop).stdout
    assert "stg_payments is stale:" in why and "source raw_payments changed (" in why
    plan = run_assetflow("materialize", "--dry-run", cwd=shop)
    assert plan.returncode == 0
    assert "run      stg_payments" in plan.stdout and "check    daily_revenue" in plan.stdout
    assert "Nothing was run" in plan.stdout


def test_locked_state_is_retried_then_exit_3(built_shop):
    # Another process holding the database for writing (a DuckDB CLI session, say).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(60)",
            str(built_shop / ".assetflow" / "state.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_assetflow("status", cwd=built_shop, env={"ASSETFLOW_LOCK_TIMEOUT": "1"})
    finally:
        holder.kill()
        holder.communicate()
    assert result.returncode == 3, result.stderr
    assert "is locked by another process for more than 1 s" in result.stderr
    assert "ASSETFLOW_LOCK_TIMEOUT" in result.stderr and "Traceback" not in result.stderr


def test_missing_optional_library_is_a_clear_error(make_project):
    root = make_project("pipeline")
    (root / "assets" / "frames.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from assetflow import asset\n"
        "if TYPE_CHECKING:\n    import pandas as pd\n\n\n"
        "@asset\ndef as_pandas(counts: pd.DataFrame):\n    return len(counts)\n"
    )
    # An import hook makes pandas not installed, the way a missing package fails.
    code = (
        "import sys\n"
        "class NoPandas:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pandas':\n"
        "            raise ModuleNotFoundError(\"No module named 'pandas'\", name=name)\n"
        "sys.meta_path.insert(0, NoPandas())\n"
        "import assetflow\nr = assetflow.materialize('+as_pandas', project=sys.argv[1])\n"
        "print([a.error for a in r.assets if a.error][0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    assert (
        "parameter 'counts' asks for a pandas DataFrame, but pandas is not installed" in out.stdout
    )
    assert "pip install 'assetflow[pandas]'" in out.stdout


def test_tables_pass_between_assets_without_copies(make_project):
    import assetflow

    root = make_project("pipeline")
    (root / "assets" / "same.py").write_text(
        "import pyarrow as pa\nfrom assetflow import asset\n\nSEEN = []\n\n\n"
        "@asset\ndef made() -> pa.Table:\n    t = pa.table({'x': list(range(1000))})\n"
        "    SEEN.append(t)\n    return t\n\n\n"
        "@asset\ndef received(made: pa.Table) -> bool:\n"
        "    return made is SEEN[0]\n"
    )
    result = assetflow.materialize("+received", project=root)
    assert result.ok
    assert stored_value(root, "received") is True


def test_wheel_ships_the_template(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("assetflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    template = {
        n.removeprefix("assetflow/_template/")
        for n in names
        if n.startswith("assetflow/_template/")
    }
    expected = {
        p.relative_to(REPO / "project_template").as_posix()
        for p in (REPO / "project_template").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected <= template
    assert "pyproject.toml" in template and "data/orders.csv" in template
