"""Readers and the data they see: ``assetflow sql`` only reads, ``sql``/``show``/the
catalog agree with the state, and old versions are deleted only when nothing reads them.

Commands run in-process through click's ``CliRunner`` on real projects and state
files; the reader lock is taken from this process, which ``flock`` treats like
another one (each ``open`` is its own lock holder).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from assetflow.cli import main
from assetflow.state import StateStore
from assetflow.storage import reading


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)])


def _json(root: Path, *args: str) -> dict:
    result = _run(root, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _statuses(root: Path) -> dict[str, str]:
    return {a["name"]: a["status"] for a in _json(root, "status")["assets"]}


def _files(root: Path) -> set[str]:
    data = root / ".assetflow" / "data"
    return {str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()}


@pytest.fixture
def built(make_project) -> Path:
    root = make_project("template")
    result = _run(root, "materialize")
    assert result.exit_code == 0, result.output
    return root


WRITES = [
    pytest.param(
        "DETACH state; ATTACH '.assetflow/state.duckdb' AS w; "
        "DELETE FROM w.materializations; SELECT 1",
        "exactly one statement",
        id="detach-attach-delete",
    ),
    pytest.param("SELECT 1; SELECT 2", "exactly one statement", id="two-selects"),
    pytest.param("COPY (SELECT 1) TO 'out.csv'", "COPY statement", id="copy-to"),
    pytest.param("COPY stg_orders TO 'out.parquet'", "COPY statement", id="copy-table"),
    pytest.param("ATTACH '.assetflow/state.duckdb' AS w", "ATTACH statement", id="attach"),
    pytest.param("DETACH state", "DETACH statement", id="detach"),
    pytest.param("INSTALL httpfs", "statement", id="install"),
    pytest.param("LOAD httpfs", "statement", id="load"),
    pytest.param("SET threads = 1", "SET statement", id="set"),
    pytest.param("CREATE TABLE t AS SELECT 1", "CREATE statement", id="create"),
    pytest.param("PRAGMA enable_profiling", "PRAGMA statement", id="pragma"),
    pytest.param("CALL pragma_version()", "CALL statement", id="call"),
    pytest.param("EXPORT DATABASE 'dump'", "EXPORT statement", id="export"),
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", "reads files only under", id="outside"),
]


@pytest.mark.parametrize(("query", "expected"), WRITES)
def test_sql_refuses_anything_but_one_read(built: Path, query: str, expected: str) -> None:
    before = _files(built)
    state = (built / ".assetflow" / "state.duckdb").read_bytes()
    result = _run(built, "sql", query)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    # Nothing was written: no file, no state change, every asset still fresh.
    assert not (built / "out.csv").exists() and not (built / "out.parquet").exists()
    assert not (built / "dump").exists()
    assert _files(built) == before
    assert (built / ".assetflow" / "state.duckdb").read_bytes() == state
    assert set(_statuses(built).values()) == {"fresh"}


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) AS n FROM daily_revenue",
        "FROM stg_orders SELECT count(*) AS n",
        "WITH o AS (SELECT * FROM stg_orders) SELECT count(*) AS n FROM o",
        "EXPLAIN SELECT * FROM stg_orders",
        "DESCRIBE stg_orders",
        "SUMMARIZE stg_orders",
        "SELECT count(*) AS n FROM raw_orders",
        "SELECT count(*) AS n FROM read_csv('data/orders.csv')",
        "SELECT count(*) AS n FROM state.runs r "
        "JOIN state.materializations m ON m.run_id = r.run_id",
        "SHOW TABLES",
    ],
)
def test_sql_runs_every_kind_of_read(built: Path, query: str) -> None:
    result = _json(built, "sql", query)
    assert result["rows"], query


def test_sql_sees_every_asset_by_name_and_the_state(built: Path) -> None:
    tables = {r[0] for r in _json(built, "sql", "SHOW TABLES")["rows"]}
    assert {"daily_revenue", "stg_orders", "raw_orders"} <= tables
    [[n]] = _json(built, "sql", "SELECT count(*) FROM state.runs")["rows"]
    assert n == 1


def test_sql_and_show_read_what_the_state_calls_current(built: Path) -> None:
    """Even when the catalog file is stale (a run killed before publishing it)."""
    catalog = built / ".assetflow" / "catalog.duckdb"
    stale = catalog.read_bytes()
    manifest = (built / ".assetflow" / "catalog.json").read_text()
    orders = built / "data" / "orders.csv"
    lines = orders.read_text().splitlines()
    orders.write_text("\n".join(lines[:51]) + "\n")  # 50 orders instead of 200
    assert _run(built, "materialize").exit_code == 0
    catalog.write_bytes(stale)
    (built / ".assetflow" / "catalog.json").write_text(manifest)

    [[n]] = _json(built, "sql", "SELECT count(*) FROM stg_orders")["rows"]
    assert n == 50
    assert _json(built, "show", "stg_orders")["rows"] == 50
    # The next run brings the catalog up to the state.
    assert _run(built, "materialize").exit_code == 0
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        assert con.sql("SELECT count(*) FROM stg_orders").fetchall() == [(50,)]
    finally:
        con.close()


def _keep_one(root: Path) -> None:
    config = root / "pyproject.toml"
    text = config.read_text()
    assert "[tool.assetflow]\n" in text
    config.write_text(text.replace("[tool.assetflow]\n", "[tool.assetflow]\nkeep_versions = 1\n"))


def test_a_reader_defers_deletion_and_never_blocks_the_run(built: Path) -> None:
    _keep_one(built)
    state_dir = built / ".assetflow"
    first = _files(built)
    catalog = duckdb.connect(str(state_dir / "catalog.duckdb"), read_only=True)
    try:
        with reading(state_dir):
            result = _run(built, "materialize", "--force")
            assert result.exit_code == 0, result.output
            assert "not updated" not in result.output
            # The old versions are still there for the reader, and marked for later.
            assert first <= _files(built)
            assert (state_dir / "gc.pending").exists()
            [[n]] = catalog.sql("SELECT count(*) FROM stg_orders").fetchall()
            assert n == 200
    finally:
        catalog.close()
    # The catalog was republished despite the open reader.
    con = duckdb.connect(str(state_dir / "catalog.duckdb"), read_only=True)
    try:
        paths = con.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'stg_orders'")
        [[sql]] = paths.fetchall()
    finally:
        con.close()
    current = StateStore(state_dir).snapshot().current["stg_orders"]
    assert current.location is not None and current.location in sql
    # With no reader left, the next run deletes them.
    assert _run(built, "materialize").exit_code == 0
    assert not (state_dir / "gc.pending").exists()
    assert not first & _files(built)
    kept = StateStore(state_dir).kept_locations()
    assert {f"data/{f}" for f in _files(built)} == {loc for locs in kept.values() for loc in locs}


def test_old_versions_are_deleted_when_no_one_reads(built: Path) -> None:
    _keep_one(built)
    first = _files(built)
    assert _run(built, "materialize", "--force").exit_code == 0
    assert not first & _files(built)
    assert not (built / ".assetflow" / "gc.pending").exists()


def test_a_refused_run_touches_no_file(built: Path) -> None:
    """A state folder from a newer assetflow: refused before the crash sweep."""
    state_dir = built / ".assetflow"
    con = duckdb.connect(str(state_dir / "state.duckdb"))
    con.execute("UPDATE assetflow_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    (state_dir / "run.dirty").touch()
    unknown = state_dir / "data" / "stg_orders" / "from-a-newer-assetflow.parquet"
    unknown.write_bytes(b"a file this version does not know")
    files = _files(built)
    result = _run(built, "materialize")
    assert result.exit_code == 3
    assert "upgrade assetflow" in result.stderr
    assert unknown.exists() and _files(built) == files


@pytest.mark.parametrize("damage", ["deleted", "truncated", "corrupted"])
def test_show_of_damaged_stored_data_says_how_to_rebuild(built: Path, damage: str) -> None:
    current = StateStore(built / ".assetflow").snapshot().current["stg_orders"]
    assert current.location is not None
    path = built / ".assetflow" / current.location
    if damage == "deleted":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        data = bytearray(path.read_bytes())
        data[-12:-8] = b"\xff\xff\xff\x7f"  # the footer length
        path.write_bytes(bytes(data))
    result = _run(built, "show", "stg_orders")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and "bug in assetflow" not in result.output
    assert "'stg_orders'" in result.stderr and "assetflow materialize" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
