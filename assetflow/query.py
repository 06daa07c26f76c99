"""Looking at data: ``assetflow show`` and ``assetflow sql``.

Both read the state read-only and hold the readers' lock while they read
stored files (:func:`assetflow.storage.reading`), so they work during a run,
never see a file deleted under them, and never hold up the run.

``sql`` runs one read-only query in an in-memory DuckDB whose configuration
is locked: views for the current tables and file sources, built from the
state it reads (so it never disagrees with ``status``), a copy of the state
tables the query names as ``state.*``, and file access only under the
project, state and working folders. Only ``SELECT`` (with ``DESCRIBE``, ``SUMMARIZE``,
``SHOW``, ``FROM``-first and ``VALUES`` forms) and ``EXPLAIN`` are run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import StorageError, UsageError
from assetflow.parquet import table_query
from assetflow.project import Config
from assetflow.state import STATE_FILE, StateStore, _read_snapshot
from assetflow.storage import TABLE, Storage, reading

if TYPE_CHECKING:
    import duckdb

    from assetflow.api import LoadedProject

SCHEMA_VERSION = 1
_READS = ("SELECT", "EXPLAIN")


def _render(
    rel: duckdb.DuckDBPyRelation, limit: int, every_column: bool = False
) -> tuple[list[str], list[list[Any]], str]:
    """Columns, rows and DuckDB's text table of the first ``limit`` rows.

    DuckDB leaves out middle columns to fit its width ("9 columns (7 shown)");
    ``every_column`` draws them all, however wide that is.
    """
    columns = list(rel.columns)
    rows = [list(r) for r in rel.limit(limit).fetchall()]
    if not every_column:
        return columns, rows, str(rel.limit(limit))
    drawn = io.StringIO()
    with contextlib.redirect_stdout(drawn):  # show() prints; str() has no width to give
        rel.limit(limit).show(max_width=1 << 20, max_rows=max(limit, 1))
    return columns, rows, drawn.getvalue().rstrip("\n")


def run_query(loaded: LoadedProject, query: str, limit: int = 1000) -> tuple[dict[str, Any], str]:
    """Run one read-only query; return the JSON document and the text table.

    Raises:
        UsageError: the query is not one read-only statement, or it failed.
    """
    import duckdb

    config = loaded.config
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        statement = _one_read(con, query)
        # Relative paths are checked against the working directory, then read from the root.
        allowed = {config.root, config.state_dir, Path.cwd()}
        for a in loaded.graph:
            if a.source is not None and a.source.path:
                allowed.add((config.root / a.source.path).parent)
        folders = [os.path.join(os.path.abspath(d), "") for d in sorted(allowed)]
        con.execute("SET allowed_directories = ?", [folders]).fetchall()
        # Relative paths are the project's, as in SQL assets, wherever the command runs.
        con.execute("SET file_search_path = ?", [str(config.root)]).fetchall()
        con.execute("SET enable_external_access = false").fetchall()
        with reading(config.state_dir):
            _prepare(con, loaded, statement)
            con.execute("SET lock_configuration = true").fetchall()
            try:
                rel = con.sql(statement)
                if rel is None:
                    return {"schema_version": SCHEMA_VERSION, "columns": [], "rows": []}, "OK"
                columns, rows, text = _render(rel, limit)
            except duckdb.Error as e:
                raise _failed(e, config) from None
    finally:
        con.close()
    return {"schema_version": SCHEMA_VERSION, "columns": columns, "rows": _jsonable(rows)}, text


def _one_read(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The query's one statement, if it only reads."""
    import duckdb

    try:
        statements = con.extract_statements(query)
    except duckdb.Error as e:
        raise UsageError(f"query failed: {_first_line(e)}; fix the query.") from None
    if len(statements) != 1:
        raise UsageError(
            f"assetflow sql runs exactly one statement, and the query has {len(statements)}; "
            "run them one at a time."
        )
    (statement,) = statements
    kind = statement.type.name
    if kind not in _READS:
        raise UsageError(
            f"assetflow sql only reads, and the query is a {kind} statement; write a SELECT "
            "(or DESCRIBE, SUMMARIZE, SHOW, EXPLAIN) query."
        )
    return statement.query


def _prepare(con: duckdb.DuckDBPyConnection, loaded: LoadedProject, query: str) -> None:
    """Create the views and state tables ``query`` reads, from one read of the state."""
    import duckdb

    from assetflow.catalog import catalog_views

    config = loaded.config
    names: set[str] | None
    try:
        qualified = con.get_table_names(query, qualified=True)
        names = {n.lower() for n in con.get_table_names(query)}
    except duckdb.Error:
        # DuckDB binds some forms (USING joins) to name their tables, which fails before
        # the views exist: then every view is created, and every state table the text names.
        qualified, names = set(), None
    if names is None:
        state_tables = {m.lower() for m in re.findall(r'(?i)\bstate\s*\.\s*"?(\w+)', query)}
    elif any(_parts(q)[0].lower() == "state" for q in qualified):
        # Qualified names come as written, alias included ('state.runs AS r'): the first
        # part says whether the state is read, the unqualified names which of its tables.
        state_tables = names
    else:
        state_tables = set()
    sources = {a.name: a.source.path for a in loaded.graph if a.source and a.source.path}
    readers = {a.name: a.source.reader for a in loaded.graph if a.source and a.source.reader}
    # A query that names no asset (SHOW TABLES, duckdb_views()) sees them all.
    every = not names
    wanted = {n for n in loaded.graph.names if every or (names and n.lower() in names)}
    path = config.state_dir / STATE_FILE
    current = {}
    if path.is_file() and (wanted or state_tables):
        statement = f"ATTACH '{_quote(path)}' AS _assetflow_state (READ_ONLY)"
        StateStore(config.state_dir).retry_locked(lambda: con.execute(statement).fetchall())
        try:
            con.execute("USE _assetflow_state").fetchall()
            current = _read_snapshot(con).current
            con.execute("USE memory").fetchall()
            if state_tables:
                _copy_state(con, state_tables)
        finally:
            con.execute("USE memory").fetchall()
            con.execute("DETACH _assetflow_state").fetchall()
    views = catalog_views(
        config,
        {n: m for n, m in current.items() if n in wanted},
        {n: p for n, p in sources.items() if n in wanted},
        readers,
    )
    for name, view in views.items():
        try:
            con.execute(f"CREATE VIEW {_ident(name)} AS {view}").fetchall()
        except duckdb.Error as e:
            m = current.get(name)
            if m is not None and m.location is not None:
                raise _unreadable(name, Storage(config.state_dir).path(m.location), e) from None
            raise UsageError(
                f"source {name!r} ({sources.get(name)}) cannot be read: {_first_line(e)}; "
                "fix the file."
            ) from None


def _copy_state(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    """Copy the named state tables into an in-memory ``state`` database.

    A copy, not the file itself: a long query must not keep a run from committing.
    """
    existing = {
        r[0].lower(): r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = '_assetflow_state'"
        ).fetchall()
    }
    con.execute("ATTACH ':memory:' AS state").fetchall()
    for table in sorted(tables):
        if table in existing:
            name = _ident(existing[table])
            con.execute(
                f"CREATE TABLE state.{name} AS SELECT * FROM _assetflow_state.{name}"
            ).fetchall()


def _parts(qualified: str) -> list[str]:
    """``a.b."c d"`` → ``["a", "b", "c d"]``."""
    parts, current, quoted, i = [], "", False, 0
    while i < len(qualified):
        ch = qualified[i]
        if ch == '"':
            if quoted and qualified[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            else:
                quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current)
    return parts


def _failed(error: BaseException, config: Config) -> UsageError:
    import duckdb

    if isinstance(error, duckdb.PermissionException):
        return UsageError(
            f"query failed: {_first_line(error)}; assetflow sql reads files only under the "
            f"project ({config.root}), its state folder and the working directory."
        )
    return UsageError(f"query failed: {_first_line(error)}; fix the query.")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0]


def _hint_hidden(text: str) -> str:
    """DuckDB's table, and how to see the columns it left out, if it left any out."""
    if re.search(r"\d+ columns \(\d+ shown\)\s*$", text):
        return f"{text.rstrip()}\n(assetflow show --all-columns draws every column)"
    return text


def preview(
    loaded: LoadedProject, name: str, limit: int, every_column: bool = False
) -> tuple[dict[str, Any], str]:
    """The first rows of a table asset, or the value of another asset.

    Args:
        every_column: draw every column in the text table, not as many as fit.

    Raises:
        UsageError: the asset has never been materialized.
        StorageError: its stored data is gone or cannot be read.
    """
    if loaded.graph[name].kind == "source":
        return _preview_source(loaded, name, limit, every_column)
    with reading(loaded.config.state_dir):
        return _preview_stored(loaded.config, name, limit, every_column)


def _preview_stored(
    config: Config, name: str, limit: int, every_column: bool
) -> tuple[dict[str, Any], str]:
    import duckdb

    current = StateStore(config.state_dir).snapshot().current.get(name)
    if current is None:
        raise UsageError(
            f"{name!r} has not been materialized yet; run 'assetflow materialize +{name}' first."
        )
    storage = Storage(config.state_dir)
    if current.format != TABLE:
        try:
            value = storage.load(current.format or "", current.location, current.value)
        except StorageError:
            raise _unreadable(name, storage.path(current.location or ""), None) from None
        doc = {
            "schema_version": SCHEMA_VERSION,
            "asset": name,
            "run_id": current.run_id,
            "value": _jsonable(value),
        }
        return doc, f"{name} (run {current.run_id}):\n{value!r}"
    assert current.location is not None, "a table is always stored in a file"
    path = storage.path(current.location)
    con = duckdb.connect()
    try:
        rel = con.sql(table_query(path, current.schema))
        columns, rows, text = _render(rel, limit, every_column)
        text = _hint_hidden(text)
    except duckdb.Error as e:
        raise _unreadable(name, path, e) from None
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


def _unreadable(name: str, path: Path, error: BaseException | None) -> StorageError:
    """The sentence for stored data that is gone or damaged."""
    if not path.is_file():
        return StorageError(
            f"the stored data of {name!r} ({path}) is gone; run "
            f"'assetflow materialize {name}' to rebuild it."
        )
    why = f" ({_first_line(error)})" if error is not None else ""
    return StorageError(
        f"the stored data of {name!r} ({path}) cannot be read{why}; run "
        f"'assetflow materialize --force {name}' to rebuild it."
    )


def _quote(path: object) -> str:
    return str(path).replace("'", "''")


def _preview_source(
    loaded: LoadedProject, name: str, limit: int, every_column: bool
) -> tuple[dict[str, Any], str]:
    import duckdb

    from assetflow.observation import observe, read_function
    from assetflow.reader import read_query

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
        query = read_query(fn, path, asset.source.reader)
        columns, rows, text = _render(con.sql(query), limit, every_column)
        text = _hint_hidden(text)
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
