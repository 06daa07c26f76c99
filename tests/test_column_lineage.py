"""Column-level lineage of SQL assets.

Lineage cases are fixture files, one per case:
``tests/fixtures/column_lineage/<case>.sql`` (the format is in the README.md
there). Each is checked against ``sql_column_lineage`` and, where DuckDB can
run it, its columns against what DuckDB names them.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from assetflow.api import load
from assetflow.column_lineage import (
    ColumnEdge,
    ColumnLineage,
    Unresolved,
    project_column_lineage,
    sql_column_lineage,
)
from assetflow.sql import parse_sql_asset, split_top_level

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "column_lineage"
CASES = sorted(FIXTURES.glob("*.sql"))

_NAME = r"`[^`]+`|[^\s`]+?"
_DIRECTIVE = re.compile(
    r"--\s*(upstream \S+|columns|edges?|unresolved (?:`[^`]+`|\S+)|describe):(.*)"
)
_EDGE = re.compile(
    rf"(?P<source>\w+)\.(?P<column>{_NAME}) -> (?P<target>{_NAME}) "
    r"(?P<kind>direct|indirect) (?P<transformation>[A-Z_]+)"
)
_SCHEMA_COLUMN = re.compile(r"(`[^`]+`|\S+)\s+(.+)")


@dataclass
class Case:
    """One fixture file, parsed."""

    query: str
    upstreams: dict[str, list[tuple[str, str]] | None] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    edges: set[ColumnEdge] = field(default_factory=set)
    unresolved: list[tuple[str | None, str]] = field(default_factory=list)
    describe: bool = True


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("`") and name.endswith("`") else name


def _names(text: str) -> tuple[str, ...]:
    return tuple(_unquote(m.strip()) for m in re.findall(r"\s*(`[^`]*`|[^,]+)", text) if m.strip())


def _schema(text: str) -> list[tuple[str, str]] | None:
    if text == "unknown":
        return None
    columns = []
    for part in split_top_level(text):
        match = _SCHEMA_COLUMN.fullmatch(part)
        assert match, f"bad schema column {part!r}"
        columns.append((_unquote(match[1]), match[2]))
    return columns


def read_case(path: Path) -> Case:
    """Parse a fixture file: header directives, then the query."""
    lines = path.read_text().splitlines()
    body = next(i for i, line in enumerate(lines) if not line.startswith("--"))
    case = Case(query="\n".join(lines[body:]))
    has_edges_line = False
    for line in lines[:body]:
        match = _DIRECTIVE.fullmatch(line)
        if match is None:
            continue  # the description
        key, value = match[1], match[2].strip()
        if key.startswith("upstream "):
            case.upstreams[key.removeprefix("upstream ")] = _schema(value)
        elif key == "columns":
            case.columns = _names(value)
        elif key in ("edge", "edges"):
            has_edges_line = True
            if value != "none":
                edge = _EDGE.fullmatch(value)
                assert edge, f"{path.name}: bad edge line {line!r}"
                case.edges.add(
                    ColumnEdge(
                        edge["source"],
                        _unquote(edge["column"]),
                        _unquote(edge["target"]),
                        edge["kind"],
                        edge["transformation"],
                    )
                )
        elif key.startswith("unresolved "):
            column = _unquote(key.removeprefix("unresolved "))
            case.unresolved.append((None if column == "*" else column, value))
        elif key == "describe":
            case.describe = not value.startswith("skip")
    assert has_edges_line, f"{path.name}: list the edges, or write '-- edges: none'"
    return case


def _lineage(path: Path) -> tuple[Case, ColumnLineage]:
    case = read_case(path)
    return case, sql_column_lineage(path.stem, case.query, case.upstreams)


def test_column_lineage_has_enough_fixture_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_sql_column_lineage(path: Path) -> None:
    case, lineage = _lineage(path)

    assert lineage.asset == path.stem
    assert lineage.columns == case.columns
    assert set(lineage.edges) == case.edges
    assert len(lineage.unresolved) == len(case.unresolved), lineage.unresolved
    for (column, text), found in zip(case.unresolved, lineage.unresolved, strict=True):
        assert found.column == column
        assert text in found.reason


def _describable(path: Path) -> bool:
    case = read_case(path)
    if not case.describe or not case.columns:
        return False
    reads = parse_sql_asset(case.query, path=path.name).deps
    known = {name.lower() for name, schema in case.upstreams.items() if schema is not None}
    return reads <= known


@pytest.mark.parametrize("path", [p for p in CASES if _describable(p)], ids=lambda p: p.stem)
def test_sql_column_lineage_columns_match_duckdb(path: Path) -> None:
    case, lineage = _lineage(path)
    con = duckdb.connect()
    for name, schema in case.upstreams.items():
        assert schema is not None
        columns = ", ".join(f'"{column}" {type_}' for column, type_ in schema)
        con.execute(f'CREATE TABLE "{name}" ({columns})')

    described = con.execute(f"DESCRIBE {case.query}").fetchall()

    assert lineage.columns == tuple(row[0] for row in described)


def test_column_lineage_fixtures_cover_every_transformation() -> None:
    seen = {(e.kind, e.transformation) for path in CASES for e in read_case(path).edges}

    assert seen == {
        ("direct", "IDENTITY"),
        ("direct", "TRANSFORMATION"),
        ("direct", "AGGREGATION"),
        ("indirect", "FILTER"),
        ("indirect", "JOIN"),
        ("indirect", "GROUP_BY"),
        ("indirect", "SORT"),
        ("indirect", "WINDOW"),
        ("indirect", "CONDITIONAL"),
    }


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_sql_column_lineage_edges_are_sorted_and_unique(path: Path) -> None:
    _, lineage = _lineage(path)
    position = {name: i for i, name in reversed(list(enumerate(lineage.columns)))}

    keys = [
        (
            position.get(e.target_column, 0),
            e.target_column,
            e.source,
            e.source_column,
            e.kind,
            e.transformation,
        )
        for e in lineage.edges
    ]

    assert keys == sorted(keys)
    assert len(set(lineage.edges)) == len(lineage.edges)
    assert all(e.target_column in lineage.columns for e in lineage.edges) or not lineage.columns


@pytest.mark.parametrize(
    "query",
    [
        "",
        ";",
        "SELECT",
        "SELECT 1; SELECT 2",
        "SELECT a FROM t UNION SELECT a, b FROM u",
        "SELECT * FROM t JOIN u ON",
        "SELECT 'unclosed",
        "CREATE TABLE x (a INT)",
        "SELECT x.y.z.w FROM t",
        "SELECT " + "(" * 300 + "1" + ")" * 300,
    ],
    ids=["empty", "semicolon", "bare-select", "two-statements", "union-width", "open-join",
         "unclosed-quote", "ddl", "deep-dots", "deep-nesting"],
)  # fmt: skip
def test_sql_column_lineage_degrades_without_raising(query: str) -> None:
    lineage = sql_column_lineage("odd", query, {"t": [("a", "INTEGER")], "u": None})

    assert isinstance(lineage, ColumnLineage)
    assert all(u.reason and "\n" not in u.reason for u in lineage.unresolved)


def test_sql_column_lineage_parse_error_is_one_readable_line() -> None:
    lineage = sql_column_lineage("bad", "SELECT FROM WHERE (", {})

    assert lineage.columns == ()
    assert lineage.edges == ()
    [unresolved] = lineage.unresolved
    assert unresolved.column is None
    assert unresolved.reason.startswith("cannot analyse the query: ")
    assert "Token" not in unresolved.reason


def test_sql_column_lineage_upstream_keys_are_case_insensitive() -> None:
    lineage = sql_column_lineage("x", "SELECT Id FROM main.ORDERS", {"Orders": [("ID", "INT")]})

    assert lineage.columns == ("ID",)
    assert lineage.edges == (ColumnEdge("Orders", "ID", "ID", "direct", "IDENTITY"),)


def test_sql_column_lineage_results_are_frozen() -> None:
    lineage = sql_column_lineage("x", "SELECT 1 AS one", {})

    with pytest.raises(dataclasses.FrozenInstanceError):
        lineage.asset = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Unresolved(None, "why").reason = "other"  # type: ignore[misc]


def test_column_lineage_is_not_imported_by_assetflow() -> None:
    code = (
        "import assetflow, assetflow.api, sys; "
        "assert 'assetflow.column_lineage' not in sys.modules, 'column_lineage imported'"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


def test_column_lineage_docstring_examples() -> None:
    import doctest

    import assetflow.column_lineage as module

    assert doctest.testmod(module).failed == 0


# project_column_lineage, on the `pipeline` project: the source `events`, the
# Python assets `counts`, `total`, ..., and report.sql (SELECT kind, n * 2 AS n2
# FROM counts ORDER BY kind). The tests add .sql assets downstream of them.

COUNTS = [("kind", "VARCHAR"), ("n", "BIGINT")]


@pytest.fixture
def pipeline(make_project: Callable[[str], Path]) -> Path:
    root = make_project("pipeline")
    assets = root / "assets"
    (assets / "stage.sql").write_text("SELECT * FROM report WHERE n2 > 0\n")
    (assets / "mart.sql").write_text(
        "SELECT s.kind, sum(s.n2) AS total, count(*) AS kinds\n"
        "FROM stage AS s JOIN counts AS c USING (kind)\n"
        "GROUP BY s.kind\n"
    )
    return root


def test_project_column_lineage_covers_sql_assets_in_order(pipeline: Path) -> None:
    graph = load(pipeline).graph

    result = project_column_lineage(graph, {"counts": COUNTS})

    assert list(result) == ["report", "stage", "mart"]
    assert result["report"].columns == ("kind", "n2")
    assert ColumnEdge("counts", "n", "n2", "direct", "TRANSFORMATION") in result["report"].edges
    assert ColumnEdge("counts", "kind", "n2", "indirect", "SORT") in result["report"].edges


def test_project_column_lineage_chains_sql_assets_before_materialization(pipeline: Path) -> None:
    graph = load(pipeline).graph

    mart = project_column_lineage(graph, {"counts": COUNTS})["mart"]

    # stage has no recorded schema, but its star resolves through report's inferred columns.
    assert mart.columns == ("kind", "total", "kinds")
    assert mart.unresolved == ()
    assert set(mart.edges) >= {
        ColumnEdge("stage", "kind", "kind", "direct", "IDENTITY"),
        ColumnEdge("stage", "n2", "total", "direct", "AGGREGATION"),
        ColumnEdge("counts", "kind", "kinds", "indirect", "JOIN"),
        ColumnEdge("stage", "kind", "kinds", "indirect", "GROUP_BY"),
    }


def test_project_column_lineage_prefers_recorded_schemas(pipeline: Path) -> None:
    graph = load(pipeline).graph
    schemas = {"counts": COUNTS, "stage": [("Kind", "VARCHAR"), ("N2", "BIGINT")]}

    stage_edges = project_column_lineage(graph, schemas)["mart"].edges

    assert ColumnEdge("stage", "Kind", "Kind", "direct", "IDENTITY") in stage_edges


def test_project_column_lineage_unknown_python_upstream_degrades(pipeline: Path) -> None:
    graph = load(pipeline).graph

    result = project_column_lineage(graph, {})

    # counts (Python) is not materialized: report resolves the columns it names...
    assert result["report"].columns == ("kind", "n2")
    # ...stage's star of report still resolves, and so does mart.
    assert result["stage"].columns == ("kind", "n2")
    assert result["mart"].unresolved == ()


def test_project_column_lineage_unknown_star_reaches_downstream(
    make_project: Callable[[str], Path],
) -> None:
    root = make_project("pipeline")
    (root / "assets" / "everything.sql").write_text("SELECT * FROM counts\n")
    (root / "assets" / "picked.sql").write_text("SELECT kind AS k FROM everything\n")
    graph = load(root).graph

    result = project_column_lineage(graph, {})

    assert result["everything"].columns == ()
    assert "materialize it first" in result["everything"].unresolved[0].reason
    # picked names its column, so it resolves against the unknown `everything`.
    assert result["picked"].edges == (ColumnEdge("everything", "kind", "k", "direct", "IDENTITY"),)


def test_project_column_lineage_restricts_to_names(pipeline: Path) -> None:
    graph = load(pipeline).graph

    result = project_column_lineage(graph, {"counts": COUNTS}, names=["MART", "counts", "nope"])

    assert list(result) == ["mart"]
    assert result["mart"].columns == ("kind", "total", "kinds")
