"""Bind SQL assets in DuckDB against the columns they will read, before any run.

``assetflow check --definitions`` builds, in an in-memory DuckDB, what each
SQL asset reads when it next runs:

* a file source: a view over its file, as a run reads it (DuckDB reads the
  file's header, or samples its rows);
* a Python asset that is fresh: an empty table with the schema recorded at its
  last materialization;
* a SQL asset: a view of its *current* query, itself bound the same way first,
  so a column renamed upstream is caught downstream before either runs.

Each SQL asset's query is then bound (``CREATE VIEW``): a column, table or
function that does not exist, or a ``GROUP BY`` mistake, is a definition
error before any run. What cannot be known is skipped, never guessed: a
Python asset never materialized, or stale (its code or inputs changed, so its
columns may have too), an observed source, a file DuckDB cannot read, and
every query reading one of those.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.errors import AssetflowError
from assetflow.findings import Finding

if TYPE_CHECKING:
    import duckdb

    from assetflow.api import LoadedProject
    from assetflow.graph import AssetGraph

# Errors that say the query itself is wrong; any other (a file that cannot be read,
# a value that does not convert) is about data, which binding does not judge.
_DEFINITION_ERRORS = ("BinderException", "CatalogException")


@dataclass(frozen=True, slots=True)
class BindError:
    """A SQL asset whose query DuckDB cannot bind against what it reads."""

    asset: str
    file: str
    line: int | None  # where DuckDB places the error, when it does
    message: str  # one sentence, starting with ``file:line``


def bind_findings(loaded: LoadedProject, names: Sequence[str]) -> list[Finding]:
    """A ``definition`` finding for each selected SQL asset or SQL check that does not bind.

    Reads the state, if there is one, for the schemas of fresh Python assets.
    """
    from assetflow.plan import Status
    from assetflow.run import statuses
    from assetflow.state import StateStore

    graph = loaded.graph
    if not any(graph[n].kind == "sql" or graph[n].sql_checks for n in names):
        return []
    snapshot = StateStore(loaded.config.state_dir).snapshot()
    schemas: dict[str, Sequence[tuple[str, str]]] = {}
    if snapshot.current:
        found = statuses(graph, loaded.config, loaded.project.package, snapshot=snapshot)
        schemas = {
            name: m.schema
            for name, m in snapshot.current.items()
            if m.schema and name in graph and found[name].status in (Status.FRESH, Status.OVERDUE)
        }
    errors = bind_sql(graph, schemas, root=loaded.config.root, names=names)
    return [
        Finding(
            asset=e.asset,
            kind="definition",
            severity="error",
            message=e.message,
            file=e.file,
            line=e.line if e.line is not None else graph[e.asset].line,
        )
        for e in errors
    ]


def bind_sql(
    graph: AssetGraph,
    schemas: Mapping[str, Sequence[tuple[str, str]]],
    *,
    root: Path,
    names: Collection[str],
) -> list[BindError]:
    """The SQL assets and SQL checks of ``names`` that DuckDB cannot bind, in dependency order.

    Args:
        graph: The project's assets, SQL checks attached.
        schemas: The columns (name, DuckDB type) of the Python assets whose
            recorded schema still holds; a Python asset not in it is unknown.
        root: The project root, which relative file paths are read from.
        names: The assets whose queries and SQL checks to bind; their upstreams
            are bound as needed.
    """
    import duckdb

    checks = [c for n in names for c in graph[n].sql_checks]
    reads = {graph.lookup(r) or r for c in checks for r in c.reads} & set(graph.names)
    starts = set(names) | reads
    wanted = starts.union(*(graph.ancestors(n) for n in starts))
    with duckdb.connect(":memory:") as con:
        con.execute("SET errors_as_json = true")
        con.execute(f"SET file_search_path = {_sql_string(str(root))}")
        binder = _Binder(con, graph, schemas, root)
        errors = []
        for name in graph.order(wanted):
            if graph[name].kind == "sql":
                error = binder.bind(name)
                if error is not None and name in names:
                    errors.append(error)
        for i, check in enumerate(checks):
            view = f"_assetflow_check_{i}"
            error = binder.bind_query(
                view, check.asset, check.query, check.reads, check.file, check.line
            )
            if error is not None:
                errors.append(error)
        return errors


class _Binder:
    """Creates each relation once, remembering which exist (their columns are known)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        graph: AssetGraph,
        schemas: Mapping[str, Sequence[tuple[str, str]]],
        root: Path,
    ) -> None:
        self.con = con
        self.graph = graph
        self.schemas = schemas
        self.root = root
        self.known: dict[str, bool] = {}

    def bind(self, name: str) -> BindError | None:
        """Create the view of SQL asset ``name``; its error if DuckDB cannot bind it."""
        asset = self.graph[name]
        sql = asset.sql
        return self.bind_query(name, name, sql.query, sql.deps, asset.file, sql.body_line)

    def bind_query(
        self, view: str, asset: str, query: str, deps: Collection[str], file: str, line: int
    ) -> BindError | None:
        """Create ``view`` of ``query`` if what it reads is known; its error if it does not bind."""
        import duckdb

        self.known[view] = False
        if not all(self._available(dep) for dep in deps):
            return None
        prefix = f"CREATE TEMP VIEW {_quoted(view)} AS "
        runnable = _runnable(query)
        try:
            self.con.execute(prefix + runnable)
        except duckdb.Error as error:
            if type(error).__name__ not in _DEFINITION_ERRORS:
                return None
            return _bind_error(error, asset, file, runnable, line, prefix)
        self.known[view] = True
        return None

    def _available(self, dep: str) -> bool:
        """Whether upstream ``dep`` (lowercased, as the query names it) has known columns."""
        name = self.graph.lookup(dep) or dep
        if name not in self.known:
            self.known[name] = self._create(name)
        return self.known[name]

    def _create(self, name: str) -> bool:
        import duckdb

        from assetflow.compute import source_query

        if name not in self.graph:
            return False
        asset = self.graph[name]
        try:
            if asset.kind == "source":
                query = source_query(self.root, asset)
                self.con.execute(f"CREATE TEMP VIEW {_quoted(name)} AS {query}")
                return True
            columns = self.schemas.get(name)
            if asset.kind == "sql" or not columns:
                return False  # a SQL upstream is bound in order, before its readers
            listed = ", ".join(f"{_quoted(column)} {kind}" for column, kind in columns)
            self.con.execute(f"CREATE TEMP TABLE {_quoted(name)} ({listed})")
            return True
        except (AssetflowError, duckdb.Error):  # an observed source, an unreadable file
            return False


def _bind_error(
    error: Exception, asset: str, file: str, query: str, body_line: int, prefix: str
) -> BindError:
    text = str(error)
    try:
        detail = json.loads(text[text.index("{") :])
        message = str(detail["exception_message"])
        position: int | None = int(detail["position"]) - len(prefix.encode())
    except (ValueError, KeyError, TypeError):  # not the JSON errors_as_json promises
        message, position = text.split("\n")[0], None
    line = None
    if position is not None and position >= 0:
        line = body_line + query.encode()[:position].count(b"\n")
    where = f"{file}:{line}" if line is not None else file
    said = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return BindError(
        asset=asset,
        file=file,
        line=line,
        message=(
            f"{where}: DuckDB cannot bind the query to the columns it reads: {said}; "
            "fix the query or its upstream."
        ),
    )


def _runnable(query: str) -> str:
    """The query as a run sends it: without trailing semicolons."""
    text = query.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text + "\n"  # a trailing line comment must not swallow what follows


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
