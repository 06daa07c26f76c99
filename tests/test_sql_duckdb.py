"""SQL judged by DuckDB: its parser at load, its parse tree in the code version, its binder in
``check --definitions``, and a sentence for dbt/Jinja templating."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_watch import Watch, header, ran, save

from assetflow.cli import main
from assetflow.errors import SqlSyntaxError
from assetflow.sql import parse_sql_asset
from assetflow.sql_tree import parse_tree

ROOT = Path(__file__).resolve().parent.parent
STG_CUSTOMERS = "assets/staging/stg_customers.sql"


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)])


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    assert old in path.read_text(), f"{old!r} not in {rel}"
    path.write_text(path.read_text().replace(old, new))


def _write_project(root: Path, files: dict[str, str]) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text("")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _tree(query: str) -> str:
    return parse_sql_asset(query, path="assets/x.sql").tree


@pytest.fixture
def template(make_project: Callable[[str], Path]) -> Path:
    root = make_project("template")
    result = _run(root, "materialize")
    assert result.exit_code == 0, result.output
    return root


# -- DuckDB's parser at load ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["check", "--definitions"], ["status"], ["materialize"], ["list"], ["lineage"]],
    ids=["check-definitions", "status", "materialize", "list", "lineage"],
)
def test_empty_select_item_is_a_definition_error_in_every_command(
    template: Path, command: list[str]
) -> None:
    _edit(template, STG_CUSTOMERS, "AS email,", "AS email,,")

    result = _run(template, *command)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {STG_CUSTOMERS}:7: DuckDB cannot parse the query: "
        'syntax error at or near ","; fix the SQL.\n'
    )


def test_force_never_runs_a_query_duckdb_cannot_parse(template: Path) -> None:
    _edit(template, STG_CUSTOMERS, "AS email,", "AS email,,")

    result = _run(template, "materialize", "--force")

    assert result.exit_code == 2 and f"{STG_CUSTOMERS}:7: DuckDB cannot parse" in result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("SELECT a,, b FROM t", 1),
        ("-- description: d\n-- tags: x\n\nSELECT\n    a,\n    b,,\nFROM t", 6),
        ("SELECT 'é', 'ü',\n  b,, c", 2),  # DuckDB counts bytes, not characters
        ("SELECT a FROM t\nWHERE f(a,, b)", 2),
    ],
    ids=["first-line", "after-the-header", "after-multibyte-text", "in-a-call"],
)
def test_duckdb_parse_error_names_the_file_line(text: str, line: int) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_sql_asset(text, path="assets/bad.sql")

    message = str(caught.value)
    assert message.startswith(f"assets/bad.sql:{line}: DuckDB cannot parse the query: syntax ")
    assert "\n" not in message and message.endswith("; fix the SQL.")


def test_sql_check_file_duckdb_rejects_is_a_definition_error(template: Path) -> None:
    _edit(template, "checks/no_negative_revenue.sql", "WHERE revenue < 0", "WHERE revenue < 0,")

    result = _run(template, "check", "--definitions")

    assert result.exit_code == 2
    assert "checks/no_negative_revenue.sql:6: DuckDB cannot parse the query" in result.stderr


def test_watch_keeps_the_last_good_definitions_after_a_save_duckdb_rejects(
    make_project: Callable[[str], Path],
) -> None:
    root = make_project("watch_shop")
    path = root / "assets" / "revenue.sql"
    good = path.read_text()
    assert "SELECT" in good
    with Watch(root) as w:
        w.line(lambda line: line.startswith("watching "))
        w.report()
        save(path, good.replace("SELECT", "SELECT 1 AS one,,", 1))
        broken = w.report()
        assert header(broken) == "assets/revenue.sql changed"
        assert broken[-1].startswith("✗ assets/revenue.sql:")
        assert "DuckDB cannot parse the query" in broken[-1]

        save(path, good.replace("SELECT", "SELECT 1 AS one,", 1), how="swap")
        fixed = w.report()
        assert ran(fixed) == {"revenue"}


# -- the code version: DuckDB's parse tree ----------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT x + 1 FROM t", "SELECT X + 1 FROM t"),
        ("SELECT CAST(d AS date) FROM t", "SELECT CAST(d AS DATE) FROM t"),
        ("SELECT 1 AS n FROM t", "SELECT 01 AS n FROM t"),
        ("SELECT 'open' FROM t", "SELECT 'OPEN' FROM t"),
        ("SELECT a AS Total FROM t", "SELECT a AS total FROM t"),
        ('SELECT "A" FROM t', 'SELECT "a" FROM t'),
        ("SELECT a FROM t", "SELECT a FROM u"),
        ("SELECT a FROM t WHERE b > 1", "SELECT a FROM t WHERE b >= 1"),
        ("SELECT a FROM t ORDER BY a", "SELECT a FROM t ORDER BY a DESC"),
        ("SELECT a FROM t UNION SELECT a FROM u", "SELECT a FROM t UNION ALL SELECT a FROM u"),
        ("SELECT (1 + 2) * 3", "SELECT 1 + 2 * 3"),
        ("PIVOT t ON x USING sum(y)", "PIVOT t ON x USING sum(z)"),
    ],
    ids=[
        "reference-case-names-the-output-column",
        "type-case-names-the-output-column",
        "literal-spelling",
        "string-case",
        "alias-case",
        "quoted-identifier-case",
        "table",
        "operator",
        "order-direction",
        "union-all",
        "precedence",
        "pivot-without-in-list",
    ],
)
def test_code_version_differs_where_duckdb_parses_differently(first: str, second: str) -> None:
    assert _tree(first) != _tree(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT a FROM t", "SELECT a -- the key\nFROM t /* table */"),
        ("SELECT a, b FROM t", "SELECT   a ,\n\tb\n\nFROM   t;"),
        ("SELECT sum(a) FROM t WHERE b > 1", "select SUM(a) from t where b > 1"),
        ("SELECT a FROM t LEFT JOIN u USING (a)", "select a from t left outer join u using (a)"),
        ("SELECT CAST(a AS INTEGER) FROM t", "SELECT a::int FROM t"),
        ("SELECT a AS x FROM t", "SELECT a x FROM t"),
        ("SELECT a FROM t WHERE a <> 1", "SELECT a FROM t WHERE (a != 1)"),
        ("PIVOT t ON x USING sum(y)", "PIVOT t -- wide\n  ON x USING sum(y);"),
    ],
    ids=[
        "comments",
        "whitespace-and-semicolon",
        "keyword-and-function-case",
        "optional-keywords",
        "cast-spelling",
        "optional-as",
        "operator-spelling-and-parentheses",
        "pivot-comments-and-whitespace",
    ],
)
def test_code_version_same_where_duckdb_parses_the_same(first: str, second: str) -> None:
    assert _tree(first) == _tree(second)


def test_code_version_ignores_the_header() -> None:
    assert _tree("-- tags: x\n-- a note\nSELECT 1") == _tree("SELECT 1")


def test_reference_case_edit_makes_the_reader_stale(tmp_path: Path) -> None:
    # sqlglot's normal form folded reference case, so this edit used to be skipped,
    # while DuckDB names the column `(X + 1)` instead of `(x + 1)`.
    root = _write_project(
        tmp_path / "p",
        {"assets/a.sql": "SELECT 1 AS x\n", "assets/b.sql": "SELECT x + 1 FROM a\n"},
    )
    assert _run(root, "materialize").exit_code == 0
    _edit(root, "assets/b.sql", "x + 1", "X + 1")

    result = _run(root, "status", "--format", "json")

    statuses = {a["name"]: a for a in json.loads(result.stdout)["assets"]}
    assert statuses["b"]["status"] == "stale", statuses["b"]
    assert statuses["a"]["status"] == "fresh"


def test_parse_tree_is_cached_with_the_project(template: Path) -> None:
    assert _run(template, "status").exit_code == 0  # the first load had no state folder to write
    cache = json.loads((template / ".assetflow" / "cache" / "sql.json").read_text())
    trees = {entry["tree"] for entry in cache.values()}
    assert len(trees) == 7 and all(t.startswith("tree:") for t in trees)


# -- binding in check --definitions ------------------------------------------------------


def test_check_definitions_binds_against_an_upstream_query_renamed_column(template: Path) -> None:
    _edit(template, STG_CUSTOMERS, "AS email,", "AS mail,")
    assert _run(template, "check", "--definitions").exit_code == 2
    result = _run(template, "check", "--definitions", "--format", "json")

    assert result.exit_code == 2
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["asset"] == "customer_orders" and finding["kind"] == "definition"
    assert (finding["file"], finding["line"]) == ("assets/marts/customer_orders.sql", 25)
    assert finding["message"].startswith("assets/marts/customer_orders.sql:25: DuckDB cannot bind")
    assert '"email"' in finding["message"]


def test_check_definitions_binds_file_sources_without_state(
    make_project: Callable[[str], Path],
) -> None:
    root = make_project("template")
    _edit(root, STG_CUSTOMERS, "trim(name) AS name", "trim(nmae) AS name")

    result = _run(root, "check", "--definitions")

    assert result.exit_code == 2
    assert f"stg_customers: {STG_CUSTOMERS}:6: DuckDB cannot bind" in result.output
    assert '"nmae"' in result.output
    assert not (root / ".assetflow").exists()


def test_check_definitions_binds_sql_check_files(template: Path) -> None:
    _edit(template, "checks/no_negative_revenue.sql", "WHERE revenue <", "WHERE revenu <")

    result = _run(template, "check", "--definitions")

    assert result.exit_code == 2
    assert "daily_revenue: checks/no_negative_revenue.sql:6: DuckDB cannot bind" in result.output


def test_check_definitions_passes_on_the_template(template: Path) -> None:
    result = _run(template, "check", "--definitions")

    assert result.exit_code == 0, result.output
    assert "load and resolve" in result.output


PYTHON_TABLE = """
import pyarrow as pa
from assetflow import asset


@asset
def numbers() -> pa.Table:
    return pa.table({"n": [1, 2]})
"""
NUMBERS_AND_TOTAL = {
    "assets/numbers.py": PYTHON_TABLE,
    "assets/total.sql": "SELECT sum(n) AS s FROM numbers\n",
}


def test_check_definitions_binds_against_a_fresh_python_assets_recorded_schema(
    tmp_path: Path,
) -> None:
    root = _write_project(tmp_path / "p", NUMBERS_AND_TOTAL)
    assert _run(root, "materialize").exit_code == 0
    _edit(root, "assets/total.sql", "sum(n)", "sum(m)")

    result = _run(root, "check", "--definitions")

    assert result.exit_code == 2
    assert "assets/total.sql:1: DuckDB cannot bind" in result.output and '"m"' in result.output


def test_check_definitions_does_not_judge_by_a_stale_python_schema(tmp_path: Path) -> None:
    root = _write_project(tmp_path / "p", NUMBERS_AND_TOTAL)
    assert _run(root, "materialize").exit_code == 0
    # The next run makes the new column: the recorded schema no longer tells.
    _edit(root, "assets/numbers.py", '"n": [1, 2]}', '"n": [1, 2], "m": [3, 4]}')
    _edit(root, "assets/total.sql", "sum(n)", "sum(m)")

    result = _run(root, "check", "--definitions")

    assert result.exit_code == 0, result.output


# -- templating -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "line", "words"),
    [
        (
            "SELECT *\nFROM {{ ref('orders') }}",
            2,
            "{{ ref('orders') }} is dbt/Jinja templating, which assetflow does not support; "
            "a query reads an upstream asset by its name, so write orders instead.",
        ),
        (
            "SELECT * FROM {{ source('shop', 'raw_orders') }}",
            1,
            'declare the source in a .py file (raw_orders = source("path/to/file.csv")) '
            "and write raw_orders instead.",
        ),
        (
            "{{ config(materialized='table') }}\nSELECT 1",
            1,
            "write its settings as header options, one '-- key: value' line each, instead.",
        ),
        (
            "SELECT * FROM t\n{% if is_incremental() %}WHERE d > 1{% endif %}",
            2,
            "{% if is_incremental() %} is dbt/Jinja templating",
        ),
    ],
    ids=["ref", "source", "config", "block"],
)
def test_templating_gets_a_sentence(query: str, line: int, words: str) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_sql_asset(f"-- tags: x\n{query}\n", path="assets/t.sql")

    message = str(caught.value)
    assert message.startswith(f"assets/t.sql:{line + 1}: ")
    assert words in message and "\n" not in message


def test_templating_through_the_cli(make_project: Callable[[str], Path]) -> None:
    root = make_project("template")
    _edit(root, STG_CUSTOMERS, "FROM raw_customers", "FROM {{ ref('raw_customers') }}")

    result = _run(root, "check", "--definitions")

    assert result.exit_code == 2
    assert "so write raw_customers instead." in result.stderr


def test_braces_in_a_string_are_not_templating() -> None:
    assert parse_sql_asset("SELECT '{{ ref(1) }}' AS s", path="a.sql").deps == frozenset()


# -- cost -------------------------------------------------------------------------------


def test_importing_assetflow_does_not_import_duckdb() -> None:
    code = (
        "import assetflow, assetflow.sql, assetflow.sql_tree, assetflow.sql_bind, sys; "
        "assert 'duckdb' not in sys.modules, 'duckdb imported'"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


def test_parse_tree_docstring_examples() -> None:
    import doctest

    import assetflow.sql_tree

    result = doctest.testmod(assetflow.sql_tree)

    assert result.attempted > 0 and result.failed == 0


def test_parse_tree_of_a_non_query() -> None:
    with pytest.raises(SqlSyntaxError, match=r"^x\.sql:3: DuckDB does not read this as one query"):
        parse_tree("CREATE TABLE t (a INT)", path="x.sql", first_line=3)
