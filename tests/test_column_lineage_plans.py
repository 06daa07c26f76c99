"""Column lineage checked against DuckDB's own plans.

DuckDB is the oracle: for each query, the upstream columns that any of our
edges names must be, per table, the columns DuckDB's optimized plan reads. The
plan is ``EXPLAIN (FORMAT json)``; a table scan reads the columns it projects
and the columns of the filters pushed into it. The statistics-propagation
optimizer is disabled, so that empty tables do not let DuckDB prove a filter
always false (or true) and drop it.

The queries are the column-lineage fixtures that DuckDB can run (every upstream
has a known schema), the 22 TPC-H queries in ``tests/fixtures/tpch`` and seven
TPC-DS queries in ``tests/fixtures/tpcds``, each over empty tables of its
benchmark's schema.

Where the plan legitimately reads something else, the difference is listed in
``EXCEPTIONS`` with its reason (also in docs/lineage.md); a listed difference
that no longer happens fails too, so the list cannot go stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_column_lineage import CASES, read_case

from assetflow.column_lineage import sql_column_lineage
from assetflow.sql import parse_sql_asset

BENCHMARKS = [Path(__file__).parent / "fixtures" / name for name in ("tpch", "tpcds")]

Columns = dict[str, frozenset[str]]
"""Per table (lowercased), the columns read (lowercased); tables reading none left out."""


@dataclass(frozen=True)
class PlanDifference:
    """A listed difference between our edges and the plan for one query."""

    plan_only: Columns  # columns the plan reads that no edge names
    ours_only: Columns  # columns an edge names that the plan does not read
    reason: str


EXCEPTIONS: dict[str, PlanDifference] = {
    "order_by_in_cte_without_limit": PlanDifference(
        plan_only={"orders": frozenset({"ordered_at"})},
        ours_only={},
        reason=(
            "DuckDB sorts a CTE that has ORDER BY without LIMIT, but SQL does not promise "
            "that order past the CTE; only the outermost ORDER BY, or one with LIMIT, is SORT"
        ),
    ),
    "count_union_all": PlanDifference(
        plan_only={"orders": frozenset({"customer_id"}), "customers": frozenset({"customer_id"})},
        ours_only={},
        reason=(
            "DuckDB keeps at least one column of each UNION ALL branch even when no value "
            "is used; UNION ALL compares no values, so counting its rows depends on none"
        ),
    ),
}


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    schemas: Mapping[str, Sequence[tuple[str, str]]]
    setup: str  # DDL creating the tables in DuckDB


def _fixture_queries() -> Iterator[Query]:
    """The column-lineage fixtures DuckDB can plan: all upstreams known, no file read."""
    for path in CASES:
        case = read_case(path)
        if not case.describe or not case.columns:
            continue
        known = {name: schema for name, schema in case.upstreams.items() if schema is not None}
        if not parse_sql_asset(case.query, path=path.name).deps <= {n.lower() for n in known}:
            continue
        setup = ";\n".join(
            f"CREATE TABLE {_quoted(name)} ({', '.join(f'{_quoted(c)} {t}' for c, t in schema)})"
            for name, schema in known.items()
        )
        yield Query(path.stem, case.query, known, setup)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _benchmark_queries(folder: Path) -> Iterator[Query]:
    """The queries of a TPC benchmark, over empty tables of its schema."""
    setup = (folder / "schema.sql").read_text()
    con = duckdb.connect()
    con.execute(setup)
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    schemas: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in rows:
        schemas.setdefault(table, []).append((column, type_))
    for path in sorted(folder.glob("q*.sql")):
        yield Query(f"{folder.name}_{path.stem}", path.read_text(), schemas, setup)


QUERIES = [*_fixture_queries(), *(q for b in BENCHMARKS for q in _benchmark_queries(b))]


def plan_columns(con: duckdb.DuckDBPyConnection, query: str) -> Columns:
    """Per table, the columns DuckDB's optimized plan for ``query`` reads."""
    con.execute("SET disabled_optimizers = 'statistics_propagation'")
    [(_, text)] = con.execute(f"EXPLAIN (FORMAT json) {query}").fetchall()
    read: dict[str, set[str]] = {}
    for info in _scans(json.loads(text)):
        table = info["Table"].rsplit(".", 1)[-1].lower()
        columns = {
            name.lower()
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name ILIKE ?",
                [table],
            ).fetchall()
        }
        found = read.setdefault(table, set())
        found.update(c.lower() for c in _listed(info.get("Projections")))
        for condition in _listed(info.get("Filters")):
            found.update(_filter_columns(condition, columns))
    return {table: frozenset(found) for table, found in read.items() if found}


def _scans(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        info = node.get("extra_info")
        if isinstance(info, dict) and "Table" in info:
            yield info
        yield from _scans(node.get("children", []))


def _listed(value: str | list[str] | None) -> list[str]:
    """A plan field that is one string, a list of them, or absent."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    return [v for v in values if v]  # a scan that reads no column projects ""


def _filter_columns(condition: str, columns: set[str]) -> set[str]:
    """Which of ``columns`` a pushed-down filter such as ``(status = 'x')`` names.

    DuckDB writes a column's name bare, spaces and all (``(Odd Name > ...)``), so
    each column is looked for as a whole word outside string literals. A column
    named like a type or keyword in the filter would be a false match; no
    table here has one.
    """
    text = re.sub(r"'(?:[^']|'')*'", "''", condition).lower()
    return {c for c in columns if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", text)}


def lineage_columns(query: Query) -> Columns:
    """Per upstream, the columns that any edge of ``query``'s lineage names."""
    lineage = sql_column_lineage(query.name, query.sql, query.schemas)
    assert lineage.unresolved == (), lineage.unresolved
    read: dict[str, set[str]] = {}
    for edge in lineage.edges:
        read.setdefault(edge.source.lower(), set()).add(edge.source_column.lower())
    return {table: frozenset(found) for table, found in read.items()}


def _difference(ours: Columns, plan: Columns) -> tuple[Columns, Columns]:
    tables = sorted(set(ours) | set(plan))
    empty: frozenset[str] = frozenset()
    plan_only = {t: plan.get(t, empty) - ours.get(t, empty) for t in tables}
    ours_only = {t: ours.get(t, empty) - plan.get(t, empty) for t in tables}
    return {t: c for t, c in plan_only.items() if c}, {t: c for t, c in ours_only.items() if c}


@pytest.fixture(scope="module")
def connections() -> Iterator[dict[str, duckdb.DuckDBPyConnection]]:
    """One in-memory DuckDB per distinct set of tables."""
    opened: dict[str, duckdb.DuckDBPyConnection] = {}
    yield opened
    for con in opened.values():
        con.close()


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_lineage_reads_what_duckdb_plan_reads(
    query: Query, connections: dict[str, duckdb.DuckDBPyConnection]
) -> None:
    con = connections.get(query.setup)
    if con is None:
        con = connections[query.setup] = duckdb.connect()
        con.execute(query.setup)

    plan_only, ours_only = _difference(lineage_columns(query), plan_columns(con, query.sql))

    listed = EXCEPTIONS.get(query.name)
    expected = (listed.plan_only, listed.ours_only) if listed else ({}, {})
    assert (plan_only, ours_only) == expected, (
        f"listed because {listed.reason}; the difference changed"
        if listed
        else "a lineage bug, or a plan difference to list in EXCEPTIONS with its reason"
    )


def test_plan_check_covers_the_tpch_queries_and_the_fixtures() -> None:
    names = {q.name for q in QUERIES}

    assert {f"tpch_q{n:02d}" for n in range(1, 23)} <= names
    assert {"tpcds_q10", "tpcds_q38", "tpcds_q87", "tpcds_q94"} <= names
    assert {"exists_star", "count_intersect", "count_distinct_rows"} <= names
    assert set(EXCEPTIONS) <= names


def test_plan_columns_reads_projections_and_pushed_down_filters() -> None:
    con = duckdb.connect()
    con.execute('CREATE TABLE t (a INTEGER, b VARCHAR, "Odd Name" DATE, c INTEGER)')

    read = plan_columns(con, "SELECT a FROM t WHERE b = 'c' AND \"Odd Name\" > DATE '2026-01-01'")

    # The string 'c' is not the column c; filter-only columns count.
    assert read == {"t": frozenset({"a", "b", "odd name"})}
