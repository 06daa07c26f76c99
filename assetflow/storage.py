"""Asset values on disk: write, publish atomically, load in the form asked for.

Tables are immutable Parquet files under ``<state>/data/<asset>/<id>.parquet``.
Other values are JSON when JSON gives back exactly the same value, pickle
otherwise; small ones (up to :data:`INLINE_LIMIT` bytes) are kept *inline* in
their materialization's row in the state database, larger ones in files beside
the tables. A file is written to a hidden temporary name and renamed into
place, and any value becomes *current* only when the state records it; a
process killed at any point leaves the previous version current, and
:meth:`Storage.sweep` removes the files it left behind.

Readers (``assetflow sql``, ``show``) hold the *readers' lock* shared while they
read; files are deleted only under it exclusively, taken without waiting, so a
reader never sees a file vanish and never holds up a run: deletion waits for the
next chance instead (see :meth:`Storage.delete`).

Data versions are content hashes with the schema included. A table's is
independent of row order (a sum of DuckDB row hashes): SQL results without an
``ORDER BY`` come back in any order, and that must not defeat early cutoff.

Stored data is the data the asset produced, with its DuckDB and Arrow types:
:mod:`assetflow.parquet` stores what Parquet cannot hold as an exact stand-in,
reads every table back through :func:`table_query` (or :meth:`Storage.load`),
and refuses with one sentence what could not come back.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import math
import os
import pickle
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from assetflow import parquet
from assetflow.errors import MaterializationError, StorageError
from assetflow.parquet import Schema, table_query

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DATA_DIR = "data"
#: Held shared by readers of stored files; deleting files takes it exclusively.
READERS_LOCK = "readers.lock"
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

        duckdb_types = parquet.arrow_duckdb_types(con, asset, table)
        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            try:
                metadata = parquet.arrow_metadata(table, duckdb_types)
                pq.write_table(table.replace_schema_metadata(metadata), tmp)
            except (NotImplementedError, TypeError, ValueError) as e:  # the Arrow* errors
                raise parquet.unwritable(asset, table, e) from None
            stored = parquet.describe(con, f"SELECT * FROM read_parquet('{_sql_path(tmp)}')")
            parquet.check_arrow_table(asset, table, duckdb_types, stored, pq.read_schema(tmp))
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
        schema = [(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]
        stored = parquet.stored_query(asset, relation, query)
        tmp, final, location = self._target(asset, mat_id, TABLE)
        try:
            con.execute(
                f"COPY ({stored}) TO '{_sql_path(tmp)}' ({parquet.copy_options(schema)})"
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
                return parquet.load_table(path, con)
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

    def delete(self, locations: Iterable[str]) -> bool:
        """Delete stored files unless a reader is reading; return whether they were deleted.

        Never waits: with a reader holding the readers' lock, nothing is deleted and
        the caller keeps the files for a later chance.
        """
        locations = list(locations)
        if not locations:
            return True
        with self._deleting() as allowed:
            if allowed:
                for location in locations:
                    self.path(location).unlink(missing_ok=True)
            return allowed

    def sweep(self, keep: Mapping[str, Iterable[str]]) -> list[str] | None:
        """Delete temporary files and every data file not in ``keep`` (asset → locations).

        Called under the run lock, so no other run is writing. Returns what was
        deleted, or ``None`` when a reader was reading and nothing was.
        """
        removed: list[str] = []
        if not self.data_dir.is_dir():
            return removed
        wanted = {loc for locs in keep.values() for loc in locs}
        with self._deleting() as allowed:
            if not allowed:
                return None
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

    @contextlib.contextmanager
    def _deleting(self) -> Iterator[bool]:
        """The readers' lock held exclusively, if no reader holds it (yields whether held)."""
        with (self.state_dir / READERS_LOCK).open("a+b") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(state_dir: Path) -> Iterator[None]:
    """Hold the readers' lock of ``state_dir`` shared: no stored file is deleted meanwhile.

    Waits only for a deletion in progress (a few unlinks). A state folder that
    does not exist or cannot be written has no lock file and needs none: no run
    deletes anything there.
    """
    path = state_dir / READERS_LOCK
    f: BinaryIO
    try:
        f = path.open("a+b")
    except OSError:
        try:
            f = path.open("rb")
        except OSError:
            yield
            return
    with f:
        fcntl.flock(f, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
        return _from_pandas(value)
    elif module == "polars" and type(value).__name__ == "DataFrame":
        return value.to_arrow()
    elif module in ("duckdb", "_duckdb") and hasattr(value, "to_arrow_table"):
        return value.to_arrow_table()
    return None


def _from_pandas(frame: Any) -> pa.Table:
    """A pandas DataFrame as a table whose index is a column of its own name, or dropped.

    A plain ``RangeIndex`` (0, 1, 2, ...) is only row numbers: dropped. Any other
    index becomes ordinary columns named as ``reset_index`` names them (the index's
    name, else ``index``; ``level_0``, ... for unnamed levels of a MultiIndex), so
    SQL sees ``day``, not ``__index_level_0__``. A name that is already a column
    keeps pyarrow's own naming rather than failing.
    """
    import pyarrow as pa

    index = frame.index
    # By name: pandas is optional, and importing it only to test a type would cost.
    if type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1:
        return pa.Table.from_pandas(frame, preserve_index=False)
    try:
        flat = frame.reset_index()
    except ValueError:  # an index level named like a column
        return pa.Table.from_pandas(frame, preserve_index=True)
    return pa.Table.from_pandas(flat, preserve_index=False)


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
        types = list(schema) if schema is not None else parquet.describe(con, query)
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM ({query}) AS t"
        ).fetchall()[0]
    finally:
        for name in tables:
            con.unregister(name)
    digest = _hash(b"table", json.dumps(types).encode(), f"{rows}:{total}".encode())
    return digest, int(rows), types


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
