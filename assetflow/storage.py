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
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import os
import pickle
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import MaterializationError, StorageError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DATA_DIR = "data"
TABLE, JSON, PICKLE = "parquet", "json", "pickle"
#: Values up to this many bytes live in the state database, not in files: creating a
#: file costs more than the value (0.5 ms on some filesystems, times 1000 for a small graph).
INLINE_LIMIT = 16 * 1024


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

        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            pq.write_table(table, tmp)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        version, rows, schema = table_version(
            con, "SELECT * FROM _assetflow_value", _assetflow_value=table
        )
        return Stored(TABLE, location, version, rows, final.stat().st_size, schema)

    def write_query(
        self, con: duckdb.DuckDBPyConnection, asset: str, mat_id: int, query: str
    ) -> Stored:
        """Run ``query`` in DuckDB straight into a Parquet file; no row passes through Python."""
        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            con.execute(f"COPY ({query}) TO '{_sql_path(tmp)}' (FORMAT parquet)").fetchall()
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        version, rows, schema = table_version(
            con, f"SELECT * FROM read_parquet('{_sql_path(final)}')"
        )
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

    def load(self, fmt: str, location: str | None, inline: bytes | None = None) -> Any:
        """The stored value: a ``pa.Table`` for tables, else the Python value."""
        if location is None:
            assert inline is not None, "an inline value without its bytes"
            return json.loads(inline) if fmt == JSON else pickle.loads(inline)
        path = self.state_dir / location
        try:
            if fmt == TABLE:
                import pyarrow.parquet as pq

                return pq.read_table(path, memory_map=True)
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


def table_version(
    con: duckdb.DuckDBPyConnection, query: str, **tables: Any
) -> tuple[str, int, list[tuple[str, str]]]:
    """Data version, row count and schema of the table ``query`` returns."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        schema = [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {query}").fetchall()]
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM ({query}) AS t"
        ).fetchall()[0]
    finally:
        for name in tables:
            con.unregister(name)
    digest = _hash(b"table", json.dumps(schema).encode(), f"{rows}:{total}".encode())
    return digest, int(rows), schema


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
