"""Asset values on disk: write, publish atomically, load in the form asked for.

Tables are immutable Parquet files under ``<state>/data/<asset>/<id>.parquet``.
Other values are JSON when JSON gives back exactly the same value, pickle
otherwise; small ones (up to :data:`INLINE_LIMIT` bytes) are kept *inline* in
their materialization's row in the state database, larger ones in files beside
the tables. A file is written to a hidden temporary name and renamed into
place, and any value becomes *current* only when the state records it; a
process killed at any point leaves the previous version current, and
:meth:`Storage.sweep` removes the files it left behind.

Data versions are content hashes with the schema included. A table's is
independent of row order (a sum of DuckDB row hashes): SQL results without an
``ORDER BY`` come back in any order, and that must not defeat early cutoff.

Stored data is the data the asset produced, with its DuckDB types. Parquet
cannot hold a few of them: a column that holds a 128-bit integer, a bit string,
a big number or a time with its offset is stored as text and cast back, and a
column whose type Parquet only approximates (an ENUM as text, a fixed-size
ARRAY as a list, ...) is cast back too. The types to cast back to are recorded
with the materialization and in the file's key-value metadata
(:data:`TYPES_KEY`), so every reader, :func:`table_query` or
:meth:`Storage.load`, sees what the asset returned. What cannot come back
exactly is refused with one sentence naming the column and the cast to write.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import os
import pickle
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from assetflow.errors import MaterializationError, StorageError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from duckdb.sqltypes import DuckDBPyType

DATA_DIR = "data"
TABLE, JSON, PICKLE = "parquet", "json", "pickle"
#: Values up to this many bytes live in the state database, not in files: creating a
#: file costs more than the value (0.5 ms on some filesystems, times 1000 for a small graph).
INLINE_LIMIT = 16 * 1024
#: The Parquet key-value metadata entry listing the columns to cast back, as JSON
#: ``[[column, DuckDB type], ...]``.
TYPES_KEY = "assetflow.duckdb_types"

Schema = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Stored:
    """A value written to its final place, not yet current."""

    format: str
    location: str | None  # relative to the state folder; None when inline
    data_version: str
    rows: int | None
    bytes: int
    schema: list[tuple[str, str]] | None
    inline: builtins.bytes | None = None  # the field above shadows the builtin here


class Storage:
    """The asset data under a state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.data_dir = state_dir / DATA_DIR

    def path(self, location: str) -> Path:
        return self.state_dir / location

    def _target(self, asset: str, mat_id: int, fmt: str) -> tuple[Path, Path, str]:
        directory = self.data_dir / asset
        directory.mkdir(parents=True, exist_ok=True)
        location = f"{DATA_DIR}/{asset}/{mat_id}.{fmt}"
        tmp = directory / f".tmp-{uuid.uuid4().hex}.{fmt}"
        return tmp, self.state_dir / location, location

    def write(
        self,
        asset: str,
        mat_id: int,
        value: Any,
        con: Callable[[], duckdb.DuckDBPyConnection],
    ) -> Stored:
        """Store a Python value returned by an asset (``con`` is called only for tables).

        Raises:
            StorageError: the value cannot be stored in any format.
        """
        table = as_arrow(value)
        if table is not None:
            return self._write_table(con(), asset, mat_id, table)
        payload, fmt = _encode(value, asset)
        digest = _hash(fmt.encode(), payload)
        if len(payload) <= INLINE_LIMIT:
            return Stored(fmt, None, digest, None, len(payload), None, inline=payload)
        tmp, final, location = self._target(asset, mat_id, fmt)
        _write_bytes(tmp, payload)
        os.replace(tmp, final)
        return Stored(fmt, location, digest, None, len(payload), None)

    def _write_table(
        self, con: duckdb.DuckDBPyConnection, asset: str, mat_id: int, table: pa.Table
    ) -> Stored:
        import pyarrow.parquet as pq

        duckdb_types = _arrow_duckdb_types(con, asset, table)
        casts = [(n, t) for n, t in duckdb_types or () if _CAST_BACK.search(t)]
        metadata = {**(table.schema.metadata or {}), TYPES_KEY.encode(): json.dumps(casts)}
        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            try:
                pq.write_table(table.replace_schema_metadata(metadata), tmp)
            except (NotImplementedError, TypeError, ValueError) as e:  # the Arrow* errors
                raise _unwritable(asset, table, e) from None
            stored = _describe(con, f"SELECT * FROM read_parquet('{_sql_path(tmp)}')")
            _check_arrow_round_trip(asset, table, duckdb_types, stored, pq.read_schema(tmp))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        if duckdb_types is None:  # DuckDB cannot read the Arrow table: what it stored is the truth
            version, rows, schema = table_version(con, table_query(final, stored))
        else:
            version, rows, schema = table_version(
                con, "SELECT * FROM _assetflow_value", duckdb_types, _assetflow_value=table
            )
        return Stored(TABLE, location, version, rows, final.stat().st_size, schema)

    def write_query(
        self, con: duckdb.DuckDBPyConnection, asset: str, mat_id: int, query: str
    ) -> Stored:
        """Run ``query`` in DuckDB straight into a Parquet file; no row passes through Python.

        Raises:
            MaterializationError: a column's type cannot be stored exactly.
        """
        relation = con.sql(query)  # binds the query without running it
        columns = list(zip(relation.columns, relation.types, strict=True))
        schema = [(n, str(t)) for n, t in columns]
        stand_ins = [(n, _stand_in(asset, n, t)) for n, t in columns]
        replaced = [f"CAST({_ident(n)} AS {t}) AS {_ident(n)}" for n, t in stand_ins if t]
        if replaced:
            query = f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({query}) AS _assetflow_query"
        casts = [(n, t) for n, t in schema if _CAST_BACK.search(t)]
        metadata = _sql_string(json.dumps(casts))
        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            con.execute(
                f"COPY ({query}) TO '{_sql_path(tmp)}' "
                f"(FORMAT parquet, KV_METADATA {{'{TYPES_KEY}': {metadata}}})"
            ).fetchall()
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        version, rows, schema = table_version(con, table_query(final, schema), schema)
        return Stored(TABLE, location, version, rows, final.stat().st_size, schema)

    def present(self, location: str | None, size: int | None) -> bool:
        """Whether a stored value is still there with the size it was written with."""
        if location is None:
            return True  # inline in the state database
        try:
            st = os.stat(self.state_dir / location)
        except OSError:
            return False
        return size is None or st.st_size == size

    def load(
        self,
        fmt: str,
        location: str | None,
        inline: bytes | None = None,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> Any:
        """The stored value: a ``pa.Table`` for tables, else the Python value.

        A table comes back as the asset returned it: a Python asset's with its Arrow
        types, a SQL asset's as DuckDB gives the query's result to Python. ``con`` is
        the DuckDB connection to read the latter with (default: a new one).
        """
        if location is None:
            assert inline is not None, "an inline value without its bytes"
            return json.loads(inline) if fmt == JSON else pickle.loads(inline)
        path = self.state_dir / location
        try:
            if fmt == TABLE:
                return _load_table(path, con)
            if fmt == JSON:
                return json.loads(path.read_bytes())
            if fmt == PICKLE:
                return pickle.loads(path.read_bytes())
        except FileNotFoundError:
            raise StorageError(
                f"stored data {path} is gone; run 'assetflow materialize' to rebuild it."
            ) from None
        except Exception as e:
            raise StorageError(
                f"stored data {path} cannot be read ({e}); run 'assetflow materialize --force' "
                "on its asset to rebuild it."
            ) from e
        raise StorageError(f"stored data {path} has unknown format {fmt!r}.")

    def sweep(self, keep: Mapping[str, Iterable[str]]) -> list[str]:
        """Delete temporary files and every data file not in ``keep`` (asset → locations).

        Called under the run lock, so no other run is writing.
        """
        removed: list[str] = []
        if not self.data_dir.is_dir():
            return removed
        wanted = {loc for locs in keep.values() for loc in locs}
        for directory in self.data_dir.iterdir():
            if not directory.is_dir():
                continue
            for f in directory.iterdir():
                location = f"{DATA_DIR}/{directory.name}/{f.name}"
                if location not in wanted:
                    f.unlink(missing_ok=True)
                    removed.append(location)
            if not any(directory.iterdir()):
                directory.rmdir()
        return removed


def as_arrow(value: Any) -> pa.Table | None:
    """``value`` as an Arrow table if it is a table of a kind assetflow knows, else ``None``."""
    module = type(value).__module__.split(".")[0]
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(value, pa.Table):
            return value
        if isinstance(value, pa.RecordBatch):
            return pa.Table.from_batches([value])
        if isinstance(value, pa.RecordBatchReader):
            return value.read_all()
    elif module == "pandas" and type(value).__name__ == "DataFrame":
        import pyarrow as pa

        return pa.Table.from_pandas(value, preserve_index=None)
    elif module == "polars" and type(value).__name__ == "DataFrame":
        return value.to_arrow()
    elif module in ("duckdb", "_duckdb") and hasattr(value, "to_arrow_table"):
        return value.to_arrow_table()
    return None


def table_query(path: Path, schema: Schema | None = None) -> str:
    """The DuckDB query that reads a stored table back with the types it was stored with.

    Args:
        schema: the table's recorded DuckDB types, when the caller has them at hand;
            else they are read from the file's footer.

    Example:
        >>> table_query(Path("/s/1.parquet"), [("n", "HUGEINT"), ("s", "VARCHAR")])
        'SELECT * REPLACE (CAST("n" AS HUGEINT) AS "n") FROM read_parquet(\'/s/1.parquet\')'
    """
    source = f"read_parquet({_sql_string(str(path))})"
    casts = _stored_casts(path) if schema is None else schema
    replaced = [
        f"CAST({_ident(n)} AS {t}) AS {_ident(n)}" for n, t in casts if _CAST_BACK.search(t)
    ]
    if not replaced:
        return f"SELECT * FROM {source}"
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM {source}"


def table_version(
    con: duckdb.DuckDBPyConnection, query: str, schema: Schema | None = None, **tables: Any
) -> tuple[str, int, list[tuple[str, str]]]:
    """Data version, row count and schema of the table ``query`` returns.

    Args:
        schema: its DuckDB types when known; else ``query`` is described.
    """
    for name, table in tables.items():
        con.register(name, table)
    try:
        types = list(schema) if schema is not None else _describe(con, query)
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM ({query}) AS t"
        ).fetchall()[0]
    finally:
        for name in tables:
            con.unregister(name)
    digest = _hash(b"table", json.dumps(types).encode(), f"{rows}:{total}".encode())
    return digest, int(rows), types


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

    found = (pq.read_metadata(path).metadata or {}).get(TYPES_KEY.encode())
    return [(n, t) for n, t in json.loads(found)] if found else []


def _load_table(path: Path, con: duckdb.DuckDBPyConnection | None) -> pa.Table:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, memory_map=True)
    metadata = file.metadata.metadata or {}
    if b"ARROW:schema" in metadata:  # written by pyarrow from a Python asset's table
        return _restore_arrow(file.read(), metadata[b"ARROW:schema"])
    # Written by DuckDB from a query: give what DuckDB gives for that query.
    query = table_query(path, json.loads(metadata.get(TYPES_KEY.encode(), b"[]")))
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


def _arrow_duckdb_types(
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
        return _describe(con, "SELECT * FROM _assetflow_value")
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


def _check_arrow_round_trip(
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


def _unwritable(asset: str, table: pa.Table, error: Exception) -> MaterializationError:
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


def _describe(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {query}").fetchall()]


_SCALARS = (int, str, bool, type(None))


def _encode(value: Any, asset: str) -> tuple[bytes, str]:
    if type(value) in _SCALARS:  # the common case, exact in JSON by construction
        return json.dumps(value).encode(), JSON
    if type(value) is float and math.isfinite(value):
        return repr(value).encode(), JSON
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
        # Store as JSON only when it gives back exactly the same value and types.
        if _same(json.loads(text), value):
            return text.encode(), JSON
    except (TypeError, ValueError):
        pass
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), PICKLE
    except Exception as e:
        # The asset's own failure, not storage trouble: it returned something unstorable.
        raise MaterializationError(
            f"asset {asset!r} returned a {type(value).__name__}, which cannot be stored ({e}); "
            "return a pyarrow Table, a pandas or polars DataFrame, a DuckDB relation, "
            "or a value JSON or pickle can hold."
        ) from None


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _write_bytes(path: Path, payload: bytes) -> None:
    with path.open("wb") as f:
        f.write(payload)


def _hash(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()[:32]


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
