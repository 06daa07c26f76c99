"""Computing one asset: bind its upstreams, run its function or query, store the result.

Python assets get each upstream in the form their parameter's annotation asks
for (``pa.Table`` by default; ``pandas.DataFrame``, ``polars.DataFrame``,
``duckdb.DuckDBPyRelation``, ``pa.RecordBatchReader``; ``pathlib.Path`` for a
file source). SQL assets run inside DuckDB over views named after their
upstreams, and their result goes straight to Parquet.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import traceback
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.definition import Asset, split_outputs
from assetflow.errors import DefinitionError, MaterializationError, StorageError
from assetflow.observation import is_glob, read_function, source_files
from assetflow.parquet import table_query
from assetflow.reader import read_query
from assetflow.storage import TABLE, Storage, Stored, as_arrow

if TYPE_CHECKING:
    import duckdb

    from assetflow.checks import CheckResult
    from assetflow.state import Materialization


@dataclass(frozen=True, slots=True)
class Context:
    """What an asset's ``context`` parameter receives.

    Attributes:
        asset: the asset's name.
        run_id: the run it is materialized in.
        previous: its last successful materialization, if any.
        partition: its partition, when assets are partitioned (not yet: ``None``).
    """

    asset: str
    run_id: int
    previous: Materialization | None
    partition: str | None = None

    @property
    def log(self) -> logging.Logger:
        """A logger named ``assetflow.<asset>``; records from INFO up join the attempt's output."""
        logger = logging.getLogger(f"assetflow.{self.asset}")
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        return logger


@dataclass(slots=True)
class Available:
    """An upstream's value as the run can reach it: in memory, stored, or a source."""

    value: Any = None
    in_memory: bool = False
    stored_format: str | None = None
    stored_location: str | None = None
    inline: bytes | None = None
    source: Asset | None = None
    observed: str | None = None  # an @source's version, as observed when planning


@dataclass(slots=True)
class Engine:
    """What computing assets shares within a process: storage, root, one DuckDB database.

    Each thread gets its own cursor on one in-memory DuckDB database: a DuckDB
    connection must not be used by two threads at once.
    """

    storage: Storage
    root: Path
    _base: duckdb.DuckDBPyConnection | None = field(default=None)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cursors: list[duckdb.DuckDBPyConnection] = field(default_factory=list)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection to the run's DuckDB database."""
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            with self._lock:
                if self._base is None:
                    import duckdb

                    self._base = duckdb.connect()
                con = self._base.cursor()
                self._cursors.append(con)
            # read_csv('data/x.csv') in a SQL asset means the project's data/, wherever
            # assetflow was started from.
            root = str(self.root).replace("'", "''")
            con.execute(f"SET file_search_path = '{root}'").fetchall()
            self._local.con = con
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._cursors:
                con.close()
            self._cursors.clear()
            if self._base is not None:
                self._base.close()
                self._base = None
        self._local = threading.local()


def compute_python(
    engine: Engine,
    asset: Asset,
    mat_id: int,
    inputs: Mapping[str, Available],
    context: Context | None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[Stored, Any]:
    """Call a Python asset's function and store what it returns.

    Args:
        inputs: each parameter's upstream, by parameter name.
        settings: the values of the settings it reads, by name.

    Returns:
        The stored value and the value to hand to downstream assets in this run.

    Raises:
        MaterializationError: the function raised; the original error is ``__cause__``.
    """
    assert asset.fn is not None
    hints = _hints(asset.fn)
    kwargs = {
        i.param: _bind_python(
            engine, asset, i.param, inputs[i.param], hints.get(i.param, i.annotation)
        )
        for i in asset.inputs
    }
    if asset.takes_context:
        kwargs["context"] = context
    if asset.settings:
        assert settings is not None, f"asset {asset.name} reads settings but none were given"
        kwargs.update({name: settings[name] for name in asset.settings})
    try:
        value = asset.fn(**kwargs)
    except Exception as e:
        raise MaterializationError(f"{type(e).__name__}: {e}") from e
    except BaseException as e:
        # sys.exit() or KeyboardInterrupt from the asset's own code: its failure, not the run's.
        # (Ctrl-C never raises here: the scheduler's signal handler counts it instead.)
        raise MaterializationError(took_down(f"asset {asset.name!r}", e)) from e
    if asset.options.outputs:
        value = split_outputs(value, asset.options.outputs, asset.where, asset.name)
    table = as_arrow(value)
    kept = table if table is not None else value
    stored = engine.storage.write(asset.name, mat_id, kept, lambda: engine.con)
    return stored, kept


def compute_sql(
    engine: Engine, asset: Asset, mat_id: int, upstreams: Mapping[str, Available]
) -> Stored:
    """Run a SQL asset's query inside DuckDB, straight into storage."""
    import duckdb

    con = engine.con
    query = _strip_query(asset.sql.query)
    try:
        for name, available in upstreams.items():
            _bind_sql(engine, asset, name, available)
        return engine.storage.write_query(con, asset.name, mat_id, query)
    except duckdb.Error as e:
        # The whole text: a CSV sniffer's error says what it found and how to fix it
        # in the lines after the first. Displays that want one line take the first.
        message = str(e).strip()
        broken = _broken_upstream(engine, asset, upstreams, message.splitlines()[0])
        raise broken or MaterializationError(f"{asset.file}: DuckDB error: {message}") from e


def _broken_upstream(
    engine: Engine, asset: Asset, upstreams: Mapping[str, Available], message: str
) -> MaterializationError | None:
    """The error to give when a query failed on an upstream's stored data, not its own SQL.

    An upstream's file is to blame when the error names it, when it is gone, or when
    it does not read in full: the user's SQL is not, and must not be told so.
    """
    import duckdb

    for name, available in upstreams.items():
        if available.stored_format != TABLE or available.stored_location is None:
            continue
        path = engine.storage.path(available.stored_location)
        why = None
        if not path.is_file():
            why = "is gone"
        elif str(path) in message:
            why = f"cannot be read ({message})"
        else:
            try:  # every value decoded, in constant memory: only on the error path
                engine.con.execute(
                    f"SELECT sum(hash(t)) FROM ({table_query(path)}) AS t"
                ).fetchall()
            except (duckdb.Error, OSError, ValueError) as e:
                why = f"cannot be read ({str(e).strip().splitlines()[0]})"
        if why is not None:
            return MaterializationError(
                f"{asset.file}: reads {name!r}, whose stored data {path} {why}; run "
                f"'assetflow materialize --force {name}' to rebuild it."
            )
    return None


def _strip_query(query: str) -> str:
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    # A trailing line comment would swallow the closing parenthesis of COPY (...).
    return text + "\n"


def _bind_sql(engine: Engine, asset: Asset, name: str, available: Available) -> None:
    con = engine.con
    quoted = '"' + name.replace('"', '""') + '"'
    if available.source is not None:
        src = available.source.source
        if src is not None and src.read is not None:
            table = _read_source(engine, available.source)
            internal = f"_assetflow_read_{name}"
            con.register(internal, table)
            con.execute(
                f'CREATE OR REPLACE TEMP VIEW {quoted} AS SELECT * FROM "{internal}"'
            ).fetchall()
            return
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quoted} AS {source_query(engine.root, available.source)}"
        ).fetchall()
        return
    value = available.value
    if available.in_memory and as_arrow(value) is not None:
        internal = f"_assetflow_arrow_{name}"
        con.register(internal, value)
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW {quoted} AS SELECT * FROM "{internal}"'
        ).fetchall()
        return
    if available.stored_format == TABLE and available.stored_location is not None:
        query = table_query(engine.storage.path(available.stored_location))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quoted} AS {query}").fetchall()
        return
    raise MaterializationError(
        f"{asset.file}: reads {name!r}, which is not a table; a SQL asset can read only table "
        "assets and file sources."
    )


def data_query(
    root: Path, storage: Storage, asset: Asset, current: Materialization | None
) -> str | None:
    """The DuckDB query of an asset's current table data, or a source's file (else None)."""
    if asset.kind == "source":
        return source_query(root, asset) if asset.source and asset.source.path else None
    if current is None or current.format != TABLE or current.location is None:
        return None
    return table_query(storage.path(current.location), current.schema)


def source_query(root: Path, source: Asset) -> str:
    """The DuckDB query that reads a file source, its path resolved against ``root``."""
    assert source.source is not None
    path = source.source.path
    if path is None:
        raise MaterializationError(
            f"source {source.name!r} is observed by a function and has no data to read; "
            "read it from a Python asset instead."
        )
    fn = read_function(path)
    if not fn:
        raise MaterializationError(
            f"source {source.name!r}: cannot read {path} as a table (use .csv, .parquet or .json); "
            "take it as a pathlib.Path parameter in a Python asset instead."
        )
    full = path if Path(path).is_absolute() else str(root / path)
    return read_query(fn, full, source.source.reader)


def _bind_python(
    engine: Engine, asset: Asset, param: str, available: Available, annotation: Any
) -> Any:
    form = _form(annotation)
    if available.source is not None:
        src = available.source.source
        if src is not None and src.observe is not None:
            return available.observed  # the version planning saw: one call per run
        return _source_value(engine, asset, param, available.source, form)
    if available.in_memory:
        value = available.value
    else:
        assert available.stored_format is not None
        value = engine.storage.load(
            available.stored_format, available.stored_location, available.inline, engine.con
        )
    return _convert(value, form, engine, asset, param)


def _source_value(engine: Engine, asset: Asset, param: str, source: Asset, form: str) -> Any:
    src = source.source
    assert src is not None and src.path is not None
    if form == "path":
        files = source_files(source, engine.root)
        # A glob is always a list, so the type does not depend on how many files match.
        return files if is_glob(src.path) else files[0]
    if src.read is not None:
        return _convert(_read_source(engine, source), form, engine, asset, param)
    try:
        table = engine.con.sql(source_query(engine.root, source)).to_arrow_table()
    except MaterializationError:
        raise
    except Exception as e:
        raise StorageError(f"source {source.name!r}: cannot read {src.path}: {e}") from e
    return _convert(table, form, engine, asset, param)


def _read_source(engine: Engine, source: Asset) -> Any:
    """A file source read by its own Python reader, as an Arrow table.

    Raises:
        MaterializationError: the reader raised, or returned something that is not a table.
    """
    src = source.source
    assert src is not None and src.read is not None and src.path is not None
    files = source_files(source, engine.root)
    try:
        value = src.read(files if is_glob(src.path) else files[0])
    except Exception as e:
        raise MaterializationError(
            f"source {source.name!r}: its reader raised {type(e).__name__}: {e}"
        ) from e
    table = as_arrow(value)
    if table is None:
        raise MaterializationError(
            f"source {source.name!r}: its reader returned a {type(value).__name__}, not a table; "
            "return a DataFrame or an Arrow table."
        )
    return table


# (top-level package, class name) → form. Matched by name so that neither
# pandas nor polars is imported to check an annotation, and so that a class's
# module path (duckdb._relation, polars.dataframe.frame) may move.
_FORMS = {
    ("pyarrow", "Table"): "arrow",
    ("pyarrow", "RecordBatchReader"): "reader",
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("duckdb", "DuckDBPyRelation"): "duckdb",
    ("_duckdb", "DuckDBPyRelation"): "duckdb",
    ("pathlib", "Path"): "path",
}
_ALIASES = {"pa": "pyarrow", "pd": "pandas", "pl": "polars"}


def _form(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "any"
    if isinstance(annotation, str):
        # Postponed annotations that could not be resolved: go by their text.
        module, _, name = annotation.strip("'\"").rpartition(".")
        top = module.split(".")[0]
        return _FORMS.get((_ALIASES.get(top, top or "pathlib"), name), "any")
    if isinstance(annotation, type):
        return _FORMS.get((annotation.__module__.split(".")[0], annotation.__name__), "any")
    return "any"


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    if not fn.__annotations__:
        return {}
    try:
        return typing.get_type_hints(fn)
    except Exception:
        # Names imported only under TYPE_CHECKING: fall back to the annotation text.
        return dict(getattr(fn, "__annotations__", {}))


def _convert(value: Any, form: str, engine: Engine, asset: Asset, param: str) -> Any:
    table = as_arrow(value) if form != "any" else None
    if table is None:
        if form in ("arrow", "pandas", "polars", "duckdb", "reader") and as_arrow(value) is None:
            raise MaterializationError(
                f"{asset.where}: parameter {param!r} asks for a table, but that upstream is a "
                f"{type(value).__name__}; change the annotation."
            )
        return value
    if form in ("pandas", "polars"):
        _require(form, asset, param)
    if form == "arrow":
        return table
    if form == "reader":
        return table.to_reader()
    if form == "pandas":
        return table.to_pandas()
    if form == "polars":
        import polars

        return polars.from_arrow(table)
    if form == "duckdb":
        return engine.con.from_arrow(table)
    return table


def run_custom_checks(
    engine: Engine, asset: Asset, value: Any, others: Mapping[str, Available] | None = None
) -> list[CheckResult]:
    """Run the asset's ``@check`` functions on ``value``; a check that raises fails.

    Args:
        others: what a check's further parameters read, by parameter name; a check
            whose parameter is absent reports that it cannot run.
    """
    from assetflow.checks import CheckResult, unreadable
    from assetflow.definition import CheckOutcome

    others = others or {}
    found: list[CheckResult] = []
    for c in asset.custom_checks:
        label = f"{c.name}()"
        missing = [p for p in c.reads if p not in others]
        if missing:
            found.append(unreadable(label, c.severity, label, missing[0], table=False))
            continue
        try:
            hints = _hints(c.fn)
            more = {
                p: _bind_python(engine, asset, p, others[p], hints.get(p, inspect.Parameter.empty))
                for p in c.reads
            }
            outcome = c.fn(check_argument(engine, asset, c.fn, value), **more)
        except Exception as e:
            message = f"{label} raised {type(e).__name__}: {e}"
            found.append(CheckResult(label, c.severity, False, 0, message))
            continue
        except BaseException as e:  # sys.exit() in a check fails the check, not the run
            message = took_down(label, e)
            found.append(CheckResult(label, c.severity, False, 0, message))
            continue
        if isinstance(outcome, CheckOutcome):
            passed, details, violations = outcome.passed, outcome.details, outcome.violations
        else:
            passed, details, violations = bool(outcome), "", 0
        message = f"{label} {'passed' if passed else 'failed'}" + (
            f": {details}" if details else ""
        )
        found.append(CheckResult(label, c.severity, passed, violations, message))
    return found


def took_down(who: str, error: BaseException) -> str:
    """What ``who`` (user code) did that would have ended the run, in words.

    Example:
        >>> took_down("asset 'x'", SystemExit(0))
        "asset 'x' called sys.exit(0)"
    """
    if isinstance(error, SystemExit):
        code = "" if error.code is None else repr(error.code)
        return f"{who} called sys.exit({code})"
    detail = f": {error}" if str(error) else ""
    return f"{who} raised {type(error).__name__}{detail}"


def check_argument(engine: Engine, asset: Asset, fn: Callable[..., Any], value: Any) -> Any:
    """``value`` in the form the first parameter of check function ``fn`` asks for."""
    params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    if not params:
        raise DefinitionError(f"{asset.where}: a @check function takes the asset's value.")
    annotation = _hints(fn).get(params[0], inspect.Parameter.empty)
    return _convert(value, _form(annotation), engine, asset, params[0])


def export_argument(
    engine: Engine, asset: Asset, writer: Callable[..., Any], value: Any, path: str
) -> Any:
    """``value`` in the form an export's writer takes: its first parameter's annotation.

    A method of a pandas or polars ``DataFrame`` (``pd.DataFrame.to_csv``) takes that form.
    """
    qualname = getattr(writer, "__qualname__", "")
    module = getattr(writer, "__module__", None) or ""
    top = module.split(".")[0]
    if top in ("pandas", "polars") and qualname.split(".")[0] in ("DataFrame", "NDFrame"):
        form = top
    else:
        code = getattr(writer, "__code__", None)
        params = code.co_varnames[: code.co_argcount] if code is not None else ()
        annotation = _hints(writer).get(params[0], inspect.Parameter.empty) if params else None
        form = _form(annotation) if params else "any"
    return _convert(value, form, engine, asset, f"export {path}")


def _require(library: str, asset: Asset, param: str) -> None:
    # Checked before converting: pyarrow's own pandas shim fails in stranger ways.
    try:
        importlib.import_module(library)
    except ImportError as e:
        raise DefinitionError(
            f"{asset.where}: parameter {param!r} asks for a {library} DataFrame, but {library} "
            f"is not installed ({e}); pip install 'assetflow[{library}]'."
        ) from None


def user_traceback(error: BaseException, root: Path) -> str:
    """The frames of ``error`` that are in the user's project, not in assetflow."""
    import assetflow

    package_dir = str(Path(assetflow.__file__).parent)
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith(package_dir)
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    text = "".join(lines)
    return text.replace(str(root) + "/", "")
