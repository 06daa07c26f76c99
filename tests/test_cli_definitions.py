"""End to end, in a subprocess as a user would: init, list, lineage, and broken projects."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import mermaid_parse


@pytest.fixture
def shop(tmp_path, cli):
    result = cli("init", "shop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "shop"


def test_init_copies_the_template(shop):
    assert (shop / "pyproject.toml").is_file()
    assert (shop / "data" / "orders.csv").is_file()
    assert (shop / "assets" / "staging" / "stg_orders.sql").is_file()
    assert not (shop / ".assetflow").exists()


def test_init_refuses_a_non_empty_directory(tmp_path, cli):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    result = cli("init", "full", cwd=tmp_path)
    assert result.returncode == 2
    assert "not empty" in result.stderr and "Traceback" not in result.stderr


def test_list_json_on_the_template(shop, cli):
    result = cli("list", "--format", "json", cwd=shop)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    by_name = {a["name"]: a for a in doc["assets"]}
    assert by_name["stg_orders"] == {
        "name": "stg_orders",
        "kind": "sql",
        "group": "staging",
        "upstream": ["raw_orders", "stg_customers"],
        "file": "assets/staging/stg_orders.sql",
        "line": by_name["stg_orders"]["line"],
        "tags": sorted(by_name["stg_orders"]["tags"]),
    }
    assert by_name["raw_orders"]["kind"] == "source"
    assert by_name["customer_segments"]["kind"] == "python"
    assert by_name["payment_mix"]["group"] == "marts/finance"
    names = [a["name"] for a in doc["assets"]]
    for a in doc["assets"]:  # topological order
        assert all(names.index(u) < names.index(a["name"]) for u in a["upstream"])


def test_list_selection_and_exclude(shop, cli):
    result = cli("list", "+daily_revenue", "--exclude", "tag:staging", "--format", "json", cwd=shop)
    names = {a["name"] for a in json.loads(result.stdout)["assets"]}
    assert "daily_revenue" in names and "raw_orders" in names
    assert "customer_segments" not in names


def test_list_unknown_selection_is_a_usage_error(shop, cli):
    result = cli("list", "daily_revenu", cwd=shop)
    assert result.returncode == 2
    assert "did you mean 'daily_revenue'" in result.stderr
    assert "Traceback" not in result.stderr


def test_lineage_json_on_the_template(shop, cli):
    result = cli("lineage", "--format", "json", cwd=shop)
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 2
    assert {"from": "stg_orders", "to": "daily_revenue", "kind": "data"} in doc["edges"]
    assert {n["name"] for n in doc["nodes"]} >= {"kpis", "raw_payments"}
    edge_ends = {e["from"] for e in doc["edges"]} | {e["to"] for e in doc["edges"]}
    assert edge_ends <= {n["name"] for n in doc["nodes"]}


def test_lineage_selection_limits_nodes_and_edges(shop, cli):
    doc = json.loads(cli("lineage", "+kpis", "--format", "json", cwd=shop).stdout)
    names = {n["name"] for n in doc["nodes"]}
    assert "customer_segments" not in names and "kpis" in names
    assert all(e["from"] in names and e["to"] in names for e in doc["edges"])


def test_lineage_dot_is_valid_for_graphviz(shop, cli, tmp_path):
    out = tmp_path / "lineage.dot"
    result = cli("lineage", "--format", "dot", "-o", str(out), cwd=shop)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert 'subgraph "cluster_marts/finance"' in text
    dot = shutil.which("dot")
    assert dot, "Graphviz 'dot' is needed for this test (.ci/run installs it)"
    rendered = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    assert "<svg" in rendered.stdout and "daily_revenue" in rendered.stdout


def test_lineage_mermaid_parses_with_mermaid(shop, cli):
    text = cli("lineage", "--format", "mermaid", cwd=shop).stdout
    assert text.startswith("flowchart LR")
    assert "subgraph" in text and "a_stg_orders --> a_daily_revenue" in text
    parsed = mermaid_parse(text)
    assert parsed.returncode == 0, parsed.stderr
    broken = mermaid_parse(text.replace("  end\n", "", 1) + "  a_x --> \n")
    assert broken.returncode != 0  # the checker does reject bad input


def test_lineage_mermaid_keyword_names_stay_nodes(tmp_path, cli):
    root = tmp_path / "kw"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets" / "a.py").write_text(
        "from assetflow import asset\n\n\n@asset\ndef end():\n    return 1\n\n\n"
        "@asset\ndef graph(end):\n    return end\n"
    )
    text = cli("lineage", "--format", "mermaid", cwd=root).stdout
    parsed = mermaid_parse(text)
    assert parsed.returncode == 0, parsed.stderr + text


@pytest.mark.parametrize(
    ("project", "words"),
    [
        ("unknown_upstream", ["assets/a.py:", "'ordrs'", "did you mean 'orders'"]),
        ("duplicate_name", ["'Orders'", "'orders'", "assets/a.py", "assets/staging/Orders.sql"]),
        ("cycle", ["cycle", "a -> b -> c -> a"]),
        ("bad_name", ["assets/daily-revenue.sql", "'daily-revenue' is not a valid asset name"]),
        ("keyword_name", ["assets/k.py:", "'class' is a Python keyword"]),
        ("py_syntax", ["assets/broken.py:5", "syntax error"]),
        ("sql_syntax", ["assets/broken.sql:3", "syntax error"]),
        ("sql_ddl", ["assets/drop.sql:3", "DROP"]),
        ("import_error", ["assets/a.py:3", "ZeroDivisionError"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_broken_project_exits_2_with_one_sentence(make_project, cli, project, words):
    root = make_project(project)
    result = cli("list", cwd=root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0]
    debug = cli("--debug", "list", cwd=root)
    assert "Traceback" in debug.stderr


def test_no_project_exits_2(tmp_path, cli):
    result = cli("list", cwd=tmp_path)
    assert result.returncode == 2
    assert "assetflow init" in result.stderr


def test_project_flag_and_env(shop, tmp_path, cli):
    assert cli("list", "--project", str(shop), cwd=tmp_path).returncode == 0
    env_run = cli("list", cwd=tmp_path, env={"ASSETFLOW_PROJECT": str(shop)})
    assert env_run.returncode == 0 and "daily_revenue" in env_run.stdout


def test_python_m_assetflow_and_help(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "assetflow", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0
    for command in ("init", "list", "lineage", "materialize", "status", "history", "show", "sql"):
        assert command in result.stdout


def test_closed_pipe_stops_quietly(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
    try:
        from bench_materialize import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "big", 3000)  # more output than a pipe buffers
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "list"],
        cwd=tmp_path / "big",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith("name")
    proc.stdout.close()  # what `| head -1` does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert stderr == ""
