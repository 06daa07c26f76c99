"""What Parquet holds of each column type, and how stored tables are read back exactly.

DuckDB's Parquet writer keeps most DuckDB types, changes some to another type
that casts back exactly (an ENUM to text, a fixed-size ARRAY to a list,
TIMESTAMP_S to TIMESTAMP), and loses a few: a HUGEINT becomes a DOUBLE, a time
with time zone loses its offset, a negative INTERVAL fails. Those are stored as
their exact text (:func:`stored_query`). Every column to cast back is recorded
with the materialization's schema and in the file's key-value metadata
(:data:`TYPES_KEY`), and every reader reads through :func:`table_query`.

pyarrow's writer keeps an Arrow schema record that gives most Arrow types back;
:func:`load_table` casts back the rest (a dictionary of ints, timestamp[s],
date64). A Python asset's table whose columns SQL or Python would read back
with another type is refused (:func:`check_arrow_table`) with one sentence that
names the column and the cast to write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from assetflow.errors import MaterializationError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from duckdb.sqltypes import DuckDBPyType

#: The Parquet key-value metadata entry listing the columns to cast back, as JSON
#: ``[[column, DuckDB type], ...]``.
TYPES_KEY = "assetflow.duckdb_types"

Schema = Sequence[tuple[str, str]]
_KEY = TYPES_KEY.encode()


def table_query(path: Path, schema: Schema | None = None) -> str:
    """The DuckDB query that reads a stored table back with the types it was stored with.

    Args:
        schema: the table's recorded DuckDB types, when the caller has them at hand;
            else they are read from the file's footer.

    Example:
        >>> print(table_query(Path("/s/1.parquet"), [("n", "HUGEINT"), ("s", "VARCHAR")]))
        SELECT * REPLACE (CAST("n" AS HUGEINT) AS "n") FROM read_parquet('/s/1.parquet')
    """
    source = f"read_parquet({_sql_string(str(path))})"
    casts = _stored_casts(path) if schema is None else cast_back(schema)
    replaced = [f"CAST({_ident(n)} AS {t}) AS {_ident(n)}" for n, t in casts]
    if not replaced:
        return f"SELECT * FROM {source}"
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM {source}"


def cast_back(schema: Schema) -> list[tuple[str, str]]:
    """The columns of ``schema`` that readers cast back to their type, and that type."""
    return [(n, t) for n, t in schema if _CAST_BACK.search(t)]


def stored_query(asset: str, relation: duckdb.DuckDBPyRelation, query: str) -> str:
    """``query`` with each column Parquet cannot hold cast to its exact stand-in.

    Raises:
        MaterializationError: a column has a type with no exact stand-in (a UNION).
    """
    columns = zip(relation.columns, relation.types, strict=True)
    stand_ins = [(n, _stand_in(asset, n, t)) for n, t in columns]
    replaced = [f"CAST({_ident(n)} AS {t}) AS {_ident(n)}" for n, t in stand_ins if t]
    if not replaced:
        return query
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({query}) AS _assetflow_query"


def copy_options(schema: Schema) -> str:
    """The options of DuckDB's ``COPY ... TO`` that write a table of ``schema``."""
    casts = _sql_string(json.dumps(cast_back(schema)))
    return f"FORMAT parquet, KV_METADATA {{'{TYPES_KEY}': {casts}}}"


def arrow_metadata(table: pa.Table, duckdb_types: Schema | None) -> dict[bytes, bytes]:
    """``table``'s schema metadata plus the columns to cast back, for pyarrow's writer."""
    casts = json.dumps(cast_back(duckdb_types or ())).encode()
    return {**(table.schema.metadata or {}), _KEY: casts}


# Types Parquet stores as another (a timestamp unit, an ENUM as text, an ARRAY as a list,
# a GEOMETRY with its CRS) or that assetflow stores as text (_stand_in): readers cast
# them back. A match inside a struct field's name only adds a cast to the same type.
_CAST_BACK = re.compile(
    r"\b(U?HUGEINT|BIT|BIGNUM|VARINT|TIME WITH TIME ZONE|INTERVAL|TIMESTAMP_M?S|ENUM|GEOMETRY)\b"
    r"|\[\d+\]"
)
# Exact in DuckDB's text form, and not kept by its Parquet writer: a 128-bit integer
# becomes a DOUBLE, a time with time zone loses its offset, a negative interval fails.
_AS_TEXT = frozenset(
    {"hugeint", "uhugeint", "bit", "bignum", "varint", "time with time zone", "interval"}
)


def _stand_in(asset: str, column: str, t: DuckDBPyType) -> str | None:
    """The type to store a query's column as, when Parquet cannot hold its own (else None)."""
    kind = t.id
    if kind in _AS_TEXT:
        return "VARCHAR"
    if kind == "union":
        raise MaterializationError(
            f"asset {asset!r}: column {column!r} is a {t}, which Parquet cannot store; "
            f"cast it in the query, e.g. CAST({_ident(column)} AS VARCHAR)."
        )
    if kind not in ("list", "array", "struct", "map"):
        return None
    # An array's children are its element type and its size.
    size = str(t.children[1][1]) if kind == "array" else ""
    kids = cast("list[tuple[str, DuckDBPyType]]", t.children[:1] if size else t.children)
    stored = [_stand_in(asset, column, c) for _, c in kids]
    if all(s is None for s in stored):
        return None
    parts = [s or str(c) for s, (_, c) in zip(stored, kids, strict=True)]
    if kind in ("list", "array"):
        return f"{parts[0]}[{size}]"
    if kind == "map":
        return f"MAP({parts[0]}, {parts[1]})"
    fields = ", ".join(f"{_ident(name)} {p}" for (name, _), p in zip(kids, parts, strict=True))
    return f"STRUCT({fields})"


def _stored_casts(path: Path) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    found = (pq.read_metadata(path).metadata or {}).get(_KEY)
    return [(n, t) for n, t in json.loads(found)] if found else []


def load_table(path: Path, con: duckdb.DuckDBPyConnection | None) -> pa.Table:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, memory_map=True)
    metadata = file.metadata.metadata or {}
    if b"ARROW:schema" in metadata:  # written by pyarrow from a Python asset's table
        table = _restore_arrow(file.read(), metadata[b"ARROW:schema"])
        returned = {k: v for k, v in (table.schema.metadata or {}).items() if k != _KEY}
        return table.replace_schema_metadata(returned or None)
    # Written by DuckDB from a query: give what DuckDB gives for that query.
    query = table_query(path, json.loads(metadata.get(_KEY, b"[]")))
    if con is not None:
        return con.sql(query).to_arrow_table()
    import duckdb

    with duckdb.connect() as own:
        return own.sql(query).to_arrow_table()


def _restore_arrow(table: pa.Table, serialized: bytes) -> pa.Table:
    """``table`` cast back to the Arrow schema it was written with (pyarrow's own record)."""
    import base64

    import pyarrow as pa

    written = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(serialized)))
    for i, field in enumerate(written):
        column = table.column(i)
        if column.type != field.type:
            table = table.set_column(i, field, _restore_column(column, field.type))
    return table


def _restore_column(column: pa.ChunkedArray, written: pa.DataType) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    # Parquet keeps dictionaries of strings only; re-encode the others.
    if pa.types.is_dictionary(written) and column.type == written.value_type:
        column = pc.dictionary_encode(column)
    return column.cast(written)


def arrow_duckdb_types(
    con: duckdb.DuckDBPyConnection, asset: str, table: pa.Table
) -> list[tuple[str, str]] | None:
    """How DuckDB reads ``table``, or None for a table DuckDB cannot read."""
    import duckdb

    for field in table.schema:
        if _wide_decimal(field.type):
            raise MaterializationError(
                f"asset {asset!r}: column {field.name!r} is {field.type}, wider than the "
                "38 digits DuckDB holds exactly; cast it to pa.decimal128(38, scale) or "
                "pa.string() before returning it."
            )
    try:
        con.register("_assetflow_value", table)
        return describe(con, "SELECT * FROM _assetflow_value")
    except duckdb.NotImplementedException:  # a float16 or decimal256 column
        return None
    finally:
        con.unregister("_assetflow_value")


def _wide_decimal(t: pa.DataType) -> bool:
    import pyarrow as pa

    if isinstance(t, pa.Decimal256Type):
        return bool(t.precision > 38)
    return any(_wide_decimal(t.field(i).type) for i in range(t.num_fields))


def _parquet_form(duckdb_type: str) -> str:
    """How DuckDB reads a type back from a Parquet file pyarrow wrote; exact to cast back."""
    return re.sub(r"\[\d+\]", "[]", re.sub(r"\bTIMESTAMP_M?S\b", "TIMESTAMP", duckdb_type))


def check_arrow_table(
    asset: str,
    table: pa.Table,
    duckdb_types: Schema | None,
    stored: Schema,
    read_back: pa.Schema,
) -> None:
    """Refuse a table that SQL or Python would read back from ``stored`` with other types."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if duckdb_types is not None:
            wanted, got = duckdb_types[i][1], stored[i][1]
            if wanted != got and _parquet_form(wanted) != got:
                raise MaterializationError(
                    f"asset {asset!r}: column {field.name!r} is {field.type}, which SQL reads "
                    f"as {wanted} but would read back from Parquet as {got}; cast it to "
                    f"{_arrow_cast_hint(field.type)} before returning it."
                )
        back = read_back.field(i).type
        try:
            if back != field.type:
                _restore_column(pa.chunked_array([], back), field.type)
        except (NotImplementedError, TypeError, ValueError):
            raise MaterializationError(
                f"asset {asset!r}: column {field.name!r} is {field.type}, which Parquet gives "
                f"back as {back}; cast it to {_arrow_cast_hint(field.type)} before returning it."
            ) from None


def unwritable(asset: str, table: pa.Table, error: Exception) -> MaterializationError:
    """The error for a table pyarrow cannot write, naming its first unwritable column."""
    import io

    import pyarrow.parquet as pq

    for field in table.schema:
        try:
            pq.write_table(table.select([field.name]).slice(0, 0), io.BytesIO())
        except (NotImplementedError, TypeError, ValueError):
            return MaterializationError(
                f"asset {asset!r}: column {field.name!r} is {field.type}, which Parquet "
                f"cannot store; cast it to {_arrow_cast_hint(field.type)} before returning it."
            )
    return MaterializationError(
        f"asset {asset!r}: its table cannot be stored as Parquet ({error})."
    )


_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _arrow_cast_hint(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_duration(t):
        return f"pa.int64() (a count of {_UNITS[t.unit]})"
    if pa.types.is_decimal(t):
        return f"pa.decimal128(38, {t.scale}) or pa.string()"
    if isinstance(t, pa.BaseExtensionType):
        return "pa.bool_()" if t.extension_name == "arrow.bool8" else f"{t.storage_type}"
    return "pa.string() or another plain type"


def describe(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {query}").fetchall()]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
