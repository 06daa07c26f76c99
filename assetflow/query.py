"""Looking at data: ``assetflow show`` and ``assetflow sql``.

Both open DuckDB in memory, attach the catalog and the state read-only, and
never hold a write lock, so they work while a run is going.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from assetflow.catalog import CATALOG_FILE
from assetflow.errors import DefinitionError, UsageError
from assetflow.parquet import table_query
from assetflow.project import Config
from assetflow.state import STATE_FILE, StateStore
from assetflow.storage import TABLE, Storage

if TYPE_CHECKING:
    import duckdb

    from assetflow.api import LoadedProject

SCHEMA_VERSION = 1


def _connect(config: Config) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    store = StateStore(config.state_dir)
    for file, alias in ((CATALOG_FILE, "catalog"), (STATE_FILE, "state")):
        path = config.state_dir / file
        if path.is_file():
            statement = f"ATTACH '{_quote(path)}' AS {alias} (READ_ONLY)"

            def attach(statement: str = statement) -> object:
                return con.execute(statement).fetchall()

            # A writer holding the file is waited for, as the state store does.
            store.retry_locked(attach)
    if (config.state_dir / CATALOG_FILE).is_file():
        con.execute("USE catalog")
    return con


def _render(rel: duckdb.DuckDBPyRelation, limit: int) -> tuple[list[str], list[list[Any]], str]:
    columns = list(rel.columns)
    rows = [list(r) for r in rel.limit(limit).fetchall()]
    return columns, rows, str(rel.limit(limit))


def run_query(config: Config, query: str, limit: int = 1000) -> tuple[dict[str, Any], str]:
    """Run a read-only query; return the JSON document and the text table."""
    import duckdb

    con = _connect(config)
    try:
        rel = con.sql(query)
        if rel is None:
            return {"schema_version": SCHEMA_VERSION, "columns": [], "rows": []}, "OK"
        columns, rows, text = _render(rel, limit)
    except duckdb.Error as e:
        raise DefinitionError(
            f"query failed: {str(e).strip().splitlines()[0]}; fix the SQL."
        ) from None
    finally:
        con.close()
    return {"schema_version": SCHEMA_VERSION, "columns": columns, "rows": _jsonable(rows)}, text


def preview(loaded: LoadedProject, name: str, limit: int) -> tuple[dict[str, Any], str]:
    """The first rows of a table asset, or the value of another asset."""
    config = loaded.config
    asset = loaded.graph[name]
    if asset.kind == "source":
        return _preview_source(loaded, name, limit)
    current = StateStore(config.state_dir).snapshot().current.get(name)
    if current is None:
        raise UsageError(
            f"{name!r} has not been materialized yet; run 'assetflow materialize +{name}' first."
        )
    storage = Storage(config.state_dir)
    if current.format != TABLE:
        value = storage.load(current.format or "", current.location, current.value)
        doc = {
            "schema_version": SCHEMA_VERSION,
            "asset": name,
            "run_id": current.run_id,
            "value": _jsonable(value),
        }
        return doc, f"{name} (run {current.run_id}):\n{value!r}"
    import duckdb

    assert current.location is not None, "a table is always stored in a file"
    con = duckdb.connect()
    try:
        query = table_query(storage.path(current.location), current.schema)
        columns, rows, text = _render(con.sql(query), limit)
    finally:
        con.close()
    doc = {
        "schema_version": SCHEMA_VERSION,
        "asset": name,
        "run_id": current.run_id,
        "rows": current.rows,
        "columns": columns,
        "preview": _jsonable(rows),
    }
    return doc, f"{name} (run {current.run_id}, {current.rows} rows):\n{text}"


def _quote(path: object) -> str:
    return str(path).replace("'", "''")


def _preview_source(loaded: LoadedProject, name: str, limit: int) -> tuple[dict[str, Any], str]:
    import duckdb

    from assetflow.observation import observe, read_function

    asset = loaded.graph[name]
    assert asset.source is not None
    path = asset.source.path
    if path is None:  # an @source function: its current version is all there is
        version = observe(asset, loaded.config.root, None).version
        doc = {"schema_version": SCHEMA_VERSION, "asset": name, "value": version}
        return doc, f"{name} (observed source): {version!r}"
    fn = read_function(path)
    if not fn:
        raise UsageError(f"source {name!r} ({path}) is not a table file that can be previewed.")
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = '{_quote(loaded.config.root)}'").fetchall()
        columns, rows, text = _render(con.sql(f"SELECT * FROM {fn}('{_quote(path)}')"), limit)
    except duckdb.Error as e:
        raise UsageError(f"source {name!r}: cannot read {path}: {str(e).splitlines()[0]}") from None
    finally:
        con.close()
    doc = {
        "schema_version": SCHEMA_VERSION,
        "asset": name,
        "columns": columns,
        "preview": _jsonable(rows),
    }
    return doc, f"{name} (source {path}):\n{text}"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
