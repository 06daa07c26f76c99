"""Stored data is the data the asset produced: every DuckDB and Arrow type, through storage.

One project holds a SQL asset per DuckDB type a query can produce (extremes and a
NULL in each), a downstream SQL asset and a downstream Python asset of each, and
a Python asset per Arrow type that Parquet changes, each with a SQL and a Python
reader. After a build, the readers run again on their own, so that every reader
reads stored data: a downstream SQL asset, the published catalog view,
``assetflow show``, and a Python asset's ``pa.Table`` must all give back the
producer's own result, value and type. What cannot come back is refused with
one sentence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import stored_value

import assetflow
from assetflow.cli import main
from assetflow.state import StateStore

HUGEINT_MAX = "170141183460469231731687303715884105727"
HUGEINT_MIN = "-170141183460469231731687303715884105728"
UHUGEINT_MAX = "340282366920938463463374607431768211455"
BIG = "123456789012345678901234567890123456789012345678901234567890"


def _values(*exprs: str) -> str:
    rows = ", ".join(f"({e})" for e in (*exprs, "NULL"))
    return f"SELECT c FROM (VALUES {rows}) AS v(c)"


# id → (the DuckDB type the query returns, the query; its column is c).
SQL_TYPES: dict[str, tuple[str, str]] = {
    "boolean": ("BOOLEAN", _values("true", "false")),
    "tinyint": ("TINYINT", _values("(-128)::TINYINT", "127::TINYINT")),
    "smallint": ("SMALLINT", _values("(-32768)::SMALLINT", "32767::SMALLINT")),
    "integer": ("INTEGER", _values("(-2147483648)::INTEGER", "2147483647::INTEGER")),
    "bigint": ("BIGINT", _values("(-9223372036854775808)::BIGINT", "9223372036854775807::BIGINT")),
    "utinyint": ("UTINYINT", _values("0::UTINYINT", "255::UTINYINT")),
    "usmallint": ("USMALLINT", _values("0::USMALLINT", "65535::USMALLINT")),
    "uinteger": ("UINTEGER", _values("0::UINTEGER", "4294967295::UINTEGER")),
    "ubigint": ("UBIGINT", _values("0::UBIGINT", "18446744073709551615::UBIGINT")),
    "hugeint": (
        "HUGEINT",
        _values(f"'{HUGEINT_MIN}'::HUGEINT", f"{HUGEINT_MAX}::HUGEINT", "(2::HUGEINT << 100) + 1"),
    ),
    "hugeint-sum": (  # TPC-H q12's sum(CASE ... THEN 1 ELSE 0 END)
        "HUGEINT",
        "SELECT sum(CASE WHEN x % 3 = 0 THEN 1 ELSE 0 END) AS c FROM range(10) AS t(x)",
    ),
    "uhugeint": ("UHUGEINT", _values("0::UHUGEINT", f"{UHUGEINT_MAX}::UHUGEINT")),
    "float": (
        "FLOAT",
        _values("'3.4028235e38'::FLOAT", "'1e-45'::FLOAT", "'-inf'::FLOAT", "'nan'::FLOAT"),
    ),
    "double": (
        "DOUBLE",
        _values("1.7976931348623157e308", "5e-324", "'-inf'::DOUBLE", "'nan'::DOUBLE"),
    ),
    "decimal-4-1": ("DECIMAL(4,1)", _values("(-999.9)::DECIMAL(4,1)", "999.9::DECIMAL(4,1)")),
    "decimal-9-4": ("DECIMAL(9,4)", _values("12345.6789::DECIMAL(9,4)")),
    "decimal-18-6": ("DECIMAL(18,6)", _values("(-999999999999.999999)::DECIMAL(18,6)")),
    "decimal-38-0": (
        "DECIMAL(38,0)",
        _values(f"{'9' * 38}::DECIMAL(38,0)", f"(-{'9' * 38})::DECIMAL(38,0)"),
    ),
    "decimal-38-10": ("DECIMAL(38,10)", _values(f"{'9' * 28}.{'9' * 10}::DECIMAL(38,10)")),
    "varchar": ("VARCHAR", _values("'héllo'", "''", "'a''b' || chr(10) || 'c'")),
    "blob": ("BLOB", _values("'\\xAA\\x00\\xFF'::BLOB", "''::BLOB")),
    "bit": ("BIT", _values("'0101011'::BIT", "'1'::BIT")),
    "date": ("DATE", _values("'2024-02-29'::DATE", "'0001-01-01'::DATE", "'infinity'::DATE")),
    "time": ("TIME", _values("'00:00:00'::TIME", "'23:59:59.999999'::TIME")),
    "time-ns": ("TIME_NS", _values("'12:00:00.123456789'::TIME_NS")),
    "timetz": (
        "TIME WITH TIME ZONE",
        _values("'12:34:56+05:30'::TIMETZ", "'07:04:56+00'::TIMETZ", "'23:59:59-15:59'::TIMETZ"),
    ),
    "timestamp": (
        "TIMESTAMP",
        _values("'2024-01-01 12:00:00.123456'::TIMESTAMP", "'infinity'::TIMESTAMP"),
    ),
    "timestamp-s": ("TIMESTAMP_S", _values("'2024-01-01 12:00:01'::TIMESTAMP_S")),
    "timestamp-ms": ("TIMESTAMP_MS", _values("'2024-01-01 12:00:00.123'::TIMESTAMP_MS")),
    "timestamp-ns": ("TIMESTAMP_NS", _values("'2024-01-01 12:00:00.123456789'::TIMESTAMP_NS")),
    "timestamptz": (
        "TIMESTAMP WITH TIME ZONE",
        _values("'2024-01-01 12:00:00.5+05:30'::TIMESTAMPTZ"),
    ),
    "timestamptz-ns": (
        "TIMESTAMPTZ_NS",
        _values("'2024-01-01 12:00:00.123456789+00'::TIMESTAMPTZ_NS"),
    ),
    "interval": (
        "INTERVAL",
        _values("INTERVAL '1 year 2 months 3 days 04:05:06.789'", "INTERVAL '-40 days 1 second'"),
    ),
    "uuid": (
        "UUID",
        _values(
            "'123e4567-e89b-12d3-a456-426614174000'::UUID",
            "'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID",
        ),
    ),
    "json": ("JSON", _values("'{\"a\": [1, 2.5, null]}'::JSON", "'[]'::JSON")),
    "enum": (
        "ENUM('sad', 'o''k', 'happy')",
        _values("'o''k'::ENUM('sad', 'o''k', 'happy')", "'happy'::ENUM('sad', 'o''k', 'happy')"),
    ),
    "list": ("INTEGER[]", _values("[1, 2, NULL]", "[]::INTEGER[]")),
    "list-of-hugeint": ("HUGEINT[]", _values(f"[{HUGEINT_MAX}::HUGEINT, NULL]")),
    "array": ("INTEGER[3]", _values("[1, NULL, 3]::INTEGER[3]")),
    "array-of-uhugeint": ("UHUGEINT[2]", _values(f"[{UHUGEINT_MAX}::UHUGEINT, 1]::UHUGEINT[2]")),
    "struct": (
        'STRUCT(a INTEGER, "b c" VARCHAR)',
        _values("{'a': 1, 'b c': 'x'}", "{'a': NULL, 'b c': NULL}"),
    ),
    "struct-of-lossy": (
        "STRUCT(h HUGEINT, t TIME WITH TIME ZONE, e ENUM('x', 'y'), size INTEGER[2])",
        _values(
            f"{{'h': {HUGEINT_MAX}::HUGEINT, 't': '12:00:00+01'::TIMETZ, 'e': 'y'::ENUM('x', 'y'), "
            "'size': [1, 2]::INTEGER[2]}"
        ),
    ),
    "map": ("MAP(VARCHAR, INTEGER)", _values("MAP {'k': 1, 'l': NULL}")),
    "map-of-lossy": ("MAP(HUGEINT, BIT)", _values(f"MAP {{{HUGEINT_MAX}::HUGEINT: '01'::BIT}}")),
    "bignum": ("BIGNUM", _values(f"'{BIG}'::BIGNUM", f"'-{BIG}'::BIGNUM")),
    "varint": ("BIGNUM", _values(f"'{BIG}'::VARINT")),
    "geometry": ("GEOMETRY", _values("'POINT(1 2)'::GEOMETRY")),
    "variant": ("VARIANT", _values("1::VARIANT", "{'a': 'x'}::VARIANT")),
    "null": ('"NULL"', "SELECT NULL AS c"),
}

# id → (a pyarrow expression of the column, the Arrow type DuckDB should read it as
# when DuckDB cannot read the original); pyarrow as pa, Decimal in scope.
ARROW_TYPES: dict[str, tuple[str, str | None]] = {
    "large-string": ("pa.array(['x', '', None], pa.large_string())", None),
    "string-view": ("pa.array(['x', None], pa.string_view())", None),
    "large-binary": ("pa.array([b'x', None], pa.large_binary())", None),
    "binary-view": ("pa.array([b'x', None], pa.binary_view())", None),
    "fixed-size-binary": ("pa.array([b'xy', None], pa.binary(2))", None),
    "dictionary": ("pa.array(['b', 'a', None, 'b']).dictionary_encode()", None),
    "dictionary-of-int": (
        "pa.DictionaryArray.from_arrays(pa.array([1, 0, None, 1], pa.int8()), pa.array([10, 20]))",
        None,
    ),
    "timestamp-s": ("pa.array([1, None], pa.timestamp('s'))", None),
    "timestamp-ms": ("pa.array([1, None], pa.timestamp('ms'))", None),
    "timestamp-ns": ("pa.array([1, None], pa.timestamp('ns'))", None),
    "timestamp-tz": ("pa.array([1, None], pa.timestamp('us', tz='Europe/Paris'))", None),
    "date64": ("pa.array([86_400_000, None], pa.date64())", None),
    "time32-s": ("pa.array([5, None], pa.time32('s'))", None),
    "time64-ns": ("pa.array([5, None], pa.time64('ns'))", None),
    "int64": ("pa.array([-(2**63), 2**63 - 1, None], pa.int64())", None),
    "uint64": ("pa.array([0, 2**64 - 1, None], pa.uint64())", None),
    "float16": ("pa.array([1.5, None], pa.float16())", "pa.float32()"),
    "decimal32": ("pa.array([Decimal('-12.5'), None], pa.decimal32(5, 1))", None),
    "decimal128-38": (f"pa.array([Decimal('{'9' * 38}'), None], pa.decimal128(38, 0))", None),
    "decimal256-narrow": (
        "pa.array([Decimal('-12.5'), None], pa.decimal256(10, 1))",
        "pa.decimal128(10, 1)",
    ),
    "fixed-size-list": ("pa.array([[1, 2], None], pa.list_(pa.int64(), 2))", None),
    "large-list": ("pa.array([[1], [], None], pa.large_list(pa.int64()))", None),
    "list-view": ("pa.array([[1], [], None], pa.list_view(pa.int64()))", None),
    "list-of-timestamp-s": ("pa.array([[1], None], pa.list_(pa.timestamp('s')))", None),
    "map": ("pa.array([[('k', 1)], None], pa.map_(pa.string(), pa.int64()))", None),
    "struct": ("pa.array([{'a': 1, 'b': 'x'}, None])", None),
    "null": ("pa.array([None, None], pa.null())", None),
    "uuid": ("pa.array([b'0123456789abcdef', None], pa.uuid())", None),
    "json": ("pa.array(['{\"a\": 1}', None], pa.json_())", None),
}

# id → (a pyarrow expression of the column, the sentence the run fails with).
ARROW_REFUSED: dict[str, tuple[str, str]] = {
    "duration": (
        "pa.array([5, None], pa.duration('s'))",
        "asset 'refused_duration': column 'c' is duration[s], which SQL reads as INTERVAL but "
        "would read back from Parquet as BIGINT; cast it to pa.int64() (a count of seconds) "
        "before returning it.",
    ),
    "list-of-duration": (
        "pa.array([[5]], pa.list_(pa.duration('us')))",
        "asset 'refused_list_of_duration': column 'c' is list<item: duration[us]>, which SQL "
        "reads as INTERVAL[] but would read back from Parquet as BIGINT[]; cast it to "
        "pa.string() or another plain type before returning it.",
    ),
    "decimal256-wide": (
        f"pa.array([Decimal('{'9' * 60}')], pa.decimal256(60, 0))",
        "asset 'refused_decimal256_wide': column 'c' is decimal256(60, 0), wider than the 38 "
        "digits DuckDB holds exactly; cast it to pa.decimal128(38, scale) or pa.string() "
        "before returning it.",
    ),
    "bool8": (
        "pa.array([1, 0, None], pa.bool8())",
        "asset 'refused_bool8': column 'c' is extension<arrow.bool8>, which SQL reads as "
        "BOOLEAN but would read back from Parquet as TINYINT; cast it to pa.bool_() before "
        "returning it.",
    ),
    "month-day-nano": (
        "pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval())",
        "asset 'refused_month_day_nano': column 'c' is month_day_nano_interval, which Parquet "
        "cannot store; cast it to pa.string() or another plain type before returning it.",
    ),
    "union": (
        "pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), "
        "[pa.array([1, 2]), pa.array(['a', 'b'])])",
        "asset 'refused_union': column 'c' is sparse_union<0: int64=0, 1: string=1>, which "
        "Parquet cannot store; cast it to pa.string() or another plain type before returning it.",
    ),
    "run-end-encoded": (
        "pa.RunEndEncodedArray.from_arrays([2], ['a'])",
        "asset 'refused_run_end_encoded': column 'c' is run_end_encoded<run_ends: int64, "
        "values: string>, which Parquet cannot store; cast it to pa.string() or another plain "
        "type before returning it.",
    ),
}

UNION_QUERY = "SELECT union_value(n := 2)::UNION(n INTEGER, s VARCHAR) AS c"
UNION_REFUSAL = (
    "asset 'refused_sql_union': column 'c' is a UNION(n INTEGER, s VARCHAR), which Parquet "
    'cannot store; cast it in the query, e.g. CAST("c" AS VARCHAR).'
)


def _name(prefix: str, case: str) -> str:
    return f"{prefix}_{case.replace('-', '_')}"


def _write_project(root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "types"\nversion = "0"\n\n[tool.assetflow]\nassets = "assets"\n'
    )
    py = [
        "from decimal import Decimal\n\nimport pyarrow as pa\n\nfrom assetflow import asset\n",
        "\ndef _keep(table):\n    return {'table': table}  # pickled: the pa.Table as it came\n",
    ]
    for case, (_, query) in SQL_TYPES.items():
        q, s, p = _name("sql", case), _name("sql_reader", case), _name("py_reader", case)
        (root / "assets" / f"{q}.sql").write_text(query + "\n")
        (root / "assets" / f"{s}.sql").write_text(f"-- tags: reader\n{_READER_SQL.format(q)}\n")
        py.append(f"\n@asset(tags=['reader'])\ndef {p}({q}: pa.Table):\n    return _keep({q})\n")
    for case, (expr, _) in ARROW_TYPES.items():
        a, s, p = _name("arrow", case), _name("arrow_sql_reader", case), _name("arrow_reader", case)
        py.append(f"\n@asset\ndef {a}():\n    return pa.table({{'c': {expr}}})\n")
        (root / "assets" / f"{s}.sql").write_text(f"-- tags: reader\n{_READER_SQL.format(a)}\n")
        py.append(f"\n@asset(tags=['reader'])\ndef {p}({a}: pa.Table):\n    return _keep({a})\n")
    for case, (expr, _) in ARROW_REFUSED.items():
        py.append(
            f"\n@asset\ndef {_name('refused', case)}():\n    return pa.table({{'c': {expr}}})\n"
        )
    (root / "assets" / "refused_sql_union.sql").write_text(UNION_QUERY + "\n")
    (root / "assets" / "types.py").write_text("".join(py))


# What a reader can tell of column c: its DuckDB type, its text, its hash, per row.
_READER_SQL = "SELECT typeof(c) AS type, CAST(c AS VARCHAR) AS text, hash(c) AS h FROM {}"


def _seen(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[Any, ...]]:
    return sorted(con.sql(_READER_SQL.format(f"({relation})")).fetchall(), key=repr)


def _reprs(table: pa.Table) -> list[str]:
    return sorted(map(repr, table["c"].to_pylist()))


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(zip(*table.to_pydict().values(), strict=True), key=repr)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """The project, built, and its readers run again alone: they read stored data only."""
    root = tmp_path_factory.mktemp("types") / "types"
    _write_project(root)
    first = assetflow.materialize(project=root)
    again = assetflow.materialize("tag:reader", project=root, force=True)
    outcomes = {a.name: (a.outcome, a.error) for a in (*first.assets, *again.assets)}
    return root, outcomes


def _current(root: Path, asset: str):
    return StateStore(root / ".assetflow").snapshot().current[asset]


def _cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


@pytest.mark.parametrize("case", list(SQL_TYPES), ids=list(SQL_TYPES))
def test_sql_type_round_trips_through_storage(built, case):
    root, outcomes = built
    duckdb_type, query = SQL_TYPES[case]
    q, s, p = _name("sql", case), _name("sql_reader", case), _name("py_reader", case)
    assert outcomes[q] == ("materialized", None)
    assert outcomes[s] == outcomes[p] == ("materialized", None)
    con = duckdb.connect()
    own = _seen(con, query)
    assert {r[0] for r in own} == {duckdb_type}, "the case list is wrong"
    # What was recorded, and what a downstream SQL asset read.
    assert _current(root, q).schema == [("c", duckdb_type)]
    assert _rows(stored_value(root, s)) == own
    # The published catalog view.
    catalog = duckdb.connect(str(root / ".assetflow" / "catalog.duckdb"), read_only=True)
    try:
        assert _seen(catalog, f"SELECT * FROM {q}") == own
    finally:
        catalog.close()
    # assetflow show, against assetflow sql running the query itself.
    shown = _cli("show", q, "--limit", "100", "--project", str(root))
    direct = _cli("sql", query, "--project", str(root))
    assert sorted(shown["preview"], key=repr) == sorted(direct["rows"], key=repr)
    # A downstream Python asset's pa.Table, against DuckDB's own for the query.
    got, expected = stored_value(root, p)["table"], con.sql(query).to_arrow_table()
    assert got.schema == expected.schema
    # Else by repr, where NaN equals itself (DuckDB cannot read its own export of
    # HUGEINT's minimum, a 39-digit decimal128, so it cannot compare them).
    assert got.equals(expected) or _reprs(got) == _reprs(expected)


@pytest.mark.parametrize("case", list(ARROW_TYPES), ids=list(ARROW_TYPES))
def test_arrow_type_round_trips_through_storage(built, case):
    import decimal

    root, outcomes = built
    expr, duckdb_as = ARROW_TYPES[case]
    a, s, p = _name("arrow", case), _name("arrow_sql_reader", case), _name("arrow_reader", case)
    assert outcomes[a] == outcomes[s] == outcomes[p] == ("materialized", None)
    scope = {"pa": pa, "Decimal": decimal.Decimal}
    returned = pa.table({"c": eval(expr, scope)})  # the table the asset returned
    # What a downstream Python asset got: the same table, Arrow types and all.
    for got in (stored_value(root, a), stored_value(root, p)["table"]):
        assert got.schema == returned.schema
        assert got.schema.metadata == returned.schema.metadata
        assert got.to_pylist() == returned.to_pylist()
    # What SQL reads: the table as DuckDB reads it when handed the returned table.
    con = duckdb.connect()
    viewed = returned.cast(pa.schema({"c": eval(duckdb_as, scope)})) if duckdb_as else returned
    con.register("viewed", viewed)
    own = _seen(con, "SELECT * FROM viewed")
    assert _rows(stored_value(root, s)) == own
    catalog = duckdb.connect(str(root / ".assetflow" / "catalog.duckdb"), read_only=True)
    try:
        assert _seen(catalog, f"SELECT * FROM {a}") == own
    finally:
        catalog.close()
    shown = _cli("show", a, "--limit", "100", "--project", str(root))
    direct = _cli("sql", f"SELECT * FROM {a}", "--project", str(root))
    assert shown["preview"] == direct["rows"]


@pytest.mark.parametrize("case", list(ARROW_REFUSED), ids=list(ARROW_REFUSED))
def test_arrow_type_that_cannot_come_back_is_refused(built, case):
    root, outcomes = built
    name = _name("refused", case)
    assert outcomes[name] == ("failed", ARROW_REFUSED[case][1])
    assert name not in StateStore(root / ".assetflow").snapshot().current
    assert not (root / ".assetflow" / "data" / name).exists() or not any(
        (root / ".assetflow" / "data" / name).iterdir()
    )


def test_sql_union_is_refused_in_one_sentence(built, cli):
    root, outcomes = built
    assert outcomes["refused_sql_union"] == ("failed", UNION_REFUSAL)
    result = cli("materialize", "refused_sql_union", cwd=root)
    assert result.returncode == 1
    assert UNION_REFUSAL in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("(2::HUGEINT << 100)", "(2::HUGEINT << 100) + 1"),
        (f"{UHUGEINT_MAX}::UHUGEINT", f"{UHUGEINT_MAX}::UHUGEINT - 1"),
        ("'12:00:00+01'::TIMETZ", "'11:00:00+00'::TIMETZ"),
    ],
    ids=["hugeint", "uhugeint", "timetz-offset"],
)
def test_data_version_differs_when_values_differ(tmp_path, first, second):
    root = tmp_path / "versions"
    (root / "assets").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nassets = "assets"\n')
    (root / "assets" / "first.sql").write_text(f"SELECT {first} AS c\n")
    (root / "assets" / "second.sql").write_text(f"SELECT {second} AS c\n")
    assert assetflow.materialize(project=root).ok
    assert _current(root, "first").data_version != _current(root, "second").data_version
