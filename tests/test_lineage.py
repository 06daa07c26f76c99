"""The lineage document and its exports on the template, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import dot_render, mermaid_parse

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "lineage.schema.json").read_text())
NOW = {"ASSETFLOW_NOW": "2026-11-22T12:00:00+00:00"}


def _validate(doc: dict) -> None:
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The template, materialized once for the read-only tests of this module."""
    from conftest import TEMPLATE, run_assetflow

    root = tmp_path_factory.mktemp("lineage") / "shop"
    import shutil

    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__", ".assetflow"))
    result = run_assetflow("materialize", cwd=root, env=NOW)
    assert result.returncode == 0, result.stderr
    return root


def _doc(cli, root: Path, *args: str) -> dict:
    result = cli("lineage", "--format", "json", *args, cwd=root, env=NOW)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    _validate(doc)
    return doc


def test_schema_rejects_a_broken_document(shop, cli):
    doc = _doc(cli, shop)
    doc["nodes"][0]["status"] = "sparkling"
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)


def test_json_before_any_run_is_valid_and_says_missing(make_project, cli):
    root = make_project("template")
    doc = _doc(cli, root)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["daily_revenue"]["status"] == "missing"
    assert nodes["daily_revenue"]["causes"][0]["kind"] == "never_materialized"
    assert nodes["daily_revenue"]["last_materialization"] is None
    assert nodes["daily_revenue"]["schema"] is None
    assert "column_edges" not in doc
    assert not (root / ".assetflow").exists(), "reading lineage must not create the state"


def test_json_after_a_run_has_status_schema_and_last_materialization(shop, cli):
    doc = _doc(cli, shop)
    nodes = {n["name"]: n for n in doc["nodes"]}
    revenue = nodes["daily_revenue"]
    assert revenue["status"] == "fresh" and revenue["causes"] == []
    assert revenue["kind"] == "sql" and revenue["group"] == "marts"
    assert revenue["file"] == "assets/marts/daily_revenue.sql"
    assert revenue["last_materialization"]["rows"] > 0
    assert revenue["last_materialization"]["format"] == "parquet"
    assert {c["name"] for c in revenue["schema"]} >= {"revenue"}
    assert nodes["kpis"]["kind"] == "python"
    assert nodes["raw_orders"]["kind"] == "source"
    assert {"from": "stg_orders", "to": "daily_revenue", "kind": "data"} in doc["edges"]
    # Only stg_orders' relationships check reads stg_customers: an ordering edge.
    assert {"from": "stg_customers", "to": "stg_orders", "kind": "check"} in doc["edges"]
    assert doc["project"] == "shop" and doc["generated_at"].startswith("2026-11-22T12:00:00")


def test_json_with_columns_has_column_edges_of_sql_assets(shop, cli):
    doc = _doc(cli, shop, "--columns")
    edges = {
        (e["from"], e["from_column"], e["to"], e["to_column"], e["kind"], e["transformation"])
        for e in doc["column_edges"]
    }
    # stg_orders reads the CSV source, whose schema DuckDB reads from the file.
    assert ("raw_orders", "order_id", "stg_orders", "order_id", "direct", "TRANSFORMATION") in edges
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert {c["name"] for c in nodes["raw_orders"]["schema"]} >= {"order_id", "amount_cents"}
    assert all(n["unresolved"] == [] for n in doc["nodes"] if n["kind"] == "sql"), [
        (n["name"], n["unresolved"]) for n in doc["nodes"] if n["unresolved"]
    ]
    sql_assets = {n["name"] for n in doc["nodes"] if n["kind"] == "sql"}
    assert {e["to"] for e in doc["column_edges"]} == sql_assets
    kinds = {(e["kind"], e["transformation"]) for e in doc["column_edges"]}
    assert ("direct", "AGGREGATION") in kinds
    assert any(kind == "indirect" for kind, _ in kinds)


def test_columns_before_any_run_resolve_through_sql_chains(make_project, cli):
    root = make_project("template")
    doc = _doc(cli, root, "--columns")
    targets = {(e["to"], e["to_column"]) for e in doc["column_edges"]}
    # Sources are read from the files; staging's output columns follow from its SQL.
    assert ("stg_orders", "amount") in targets
    assert any(to == "daily_revenue" for to, _ in targets)


def test_selection_applies_to_every_format(shop, cli, tmp_path):
    doc = _doc(cli, shop, "+daily_revenue", "--columns")
    names = {n["name"] for n in doc["nodes"]}
    assert "daily_revenue" in names and "stg_payments" in names
    assert "kpis" not in names and "customer_segments" not in names
    assert all(e["from"] in names and e["to"] in names for e in doc["edges"])
    assert all(e["from"] in names and e["to"] in names for e in doc["column_edges"])
    for fmt in ("mermaid", "dot", "openlineage", "html"):
        out = tmp_path / f"sel.{fmt}"
        result = cli("lineage", "+daily_revenue", "--format", fmt, "-o", str(out), cwd=shop)
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert "daily_revenue" in text and "stg_orders" in text, fmt
        assert "kpis" not in text and "customer_segments" not in text, fmt


def test_mermaid_with_status_colours_and_parses(shop, cli):
    text = cli("lineage", "--format", "mermaid", "--status", cwd=shop).stdout
    assert "classDef fresh" in text and "a_daily_revenue" in text
    assert "  a_stg_orders --> a_daily_revenue\n" in text
    assert "  a_stg_customers -. check .-> a_stg_orders\n" in text
    parsed = mermaid_parse(text)
    assert parsed.returncode == 0, parsed.stderr


def test_dot_with_status_colours_and_renders(shop, cli):
    text = cli("lineage", "--format", "dot", "--status", cwd=shop).stdout
    assert '"daily_revenue" [shape=box, style=filled' in text
    assert '  "stg_customers" -> "stg_orders" [style=dashed, label="check"];\n' in text
    rendered = dot_render(text)
    assert rendered.returncode == 0, rendered.stderr
    assert "#d1f2d9" in rendered.stdout  # the fresh fill reaches the drawing
    assert "stroke-dasharray" in rendered.stdout  # so does the dashed check edge


def test_status_colours_follow_the_state(make_project, cli):
    root = make_project("template")
    assert cli("materialize", "stg_customers", cwd=root).returncode == 0
    text = cli("lineage", "--format", "mermaid", "--status", cwd=root).stdout
    classes = {
        line.split()[-1]: line.split()[1].split(",")
        for line in text.splitlines()
        if line.startswith("  class ")
    }
    assert "a_stg_customers" in classes["fresh"]
    assert "a_daily_revenue" in classes["missing"]
    assert mermaid_parse(text).returncode == 0


def test_unknown_selection_is_one_sentence(shop, cli):
    result = cli("lineage", "+daily_revenu", "--format", "json", cwd=shop)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "did you mean" in result.stderr


def test_unwritable_output_is_one_sentence(shop, cli, tmp_path):
    result = cli("lineage", "--format", "html", "-o", str(tmp_path / "no" / "x.html"), cwd=shop)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: -o {tmp_path / 'no' / 'x.html'}: cannot write it (No such file or directory); "
        "give a writable file."
    ]


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_columns_with_a_table_format_is_one_sentence(shop, cli, fmt):
    result = cli("lineage", "--format", fmt, "--columns", cwd=shop)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --columns: {fmt} draws table lineage only; use --format json, "
        "openlineage or html for column lineage."
    ]


ORDERING = {
    "assets/steps.py": (
        "from assetflow import asset\n\n\n"
        "@asset\ndef seed():\n    return 1\n\n\n"
        "@asset\ndef lookup():\n    return 2\n\n\n"
        "@asset(deps=['seed'])\ndef setup():\n    return 3\n\n\n"
        "@asset\ndef table(setup):\n    return setup\n"
    ),
    "assets/report.sql": ("-- checks: relationships(id, ids.id)\n-- deps: seed\nSELECT 1 AS id\n"),
    "assets/ids.sql": "SELECT 1 AS id\n",
}


def test_every_format_tells_ordering_edges_from_data_edges(tmp_path, cli):
    root = tmp_path / "ordering"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for rel, text in ORDERING.items():
        (root / rel).write_text(text)
    kinds = {(e["from"], e["to"]): e["kind"] for e in _doc(cli, root)["edges"]}
    assert kinds == {
        ("seed", "setup"): "deps",
        ("setup", "table"): "data",
        ("seed", "report"): "deps",
        ("ids", "report"): "check",
    }
    mermaid = cli("lineage", "--format", "mermaid", cwd=root).stdout
    for line in (
        "a_seed -. deps .-> a_setup",
        "a_setup --> a_table",
        "a_ids -. check .-> a_report",
    ):
        assert f"  {line}\n" in mermaid
    assert mermaid_parse(mermaid).returncode == 0
    dot = cli("lineage", "--format", "dot", cwd=root).stdout
    for line in (
        '"seed" -> "setup" [style=dashed, label="deps"];',
        '"setup" -> "table";',
        '"ids" -> "report" [style=dashed, label="check"];',
    ):
        assert f"  {line}\n" in dot
    rendered = dot_render(dot)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.count("stroke-dasharray") == 3
