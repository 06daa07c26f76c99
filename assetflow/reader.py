"""Reading a file source in DuckDB: which reader, and the options passed through to it.

``source("data/x.csv", columns={"id": "INTEGER"}, delim=";", header=True)``
passes every option besides assetflow's own (``name``, ``description``,
``freshness``, ``tags``) to DuckDB's reader for the file (``read_csv``,
``read_parquet``, ``read_json``). Option names are checked against the
reader's own parameters, as DuckDB lists them, when the source is declared;
values are rendered as DuckDB literals once, into the text that every query
reading the source uses.

Example:
    >>> read_function("data/orders.csv")
    'read_csv_auto'
    >>> literal({"id": "INTEGER", "paid": True})
    "{'id': 'INTEGER', 'paid': true}"
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from assetflow.errors import DefinitionError

_READERS = (
    ((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz"), "read_csv_auto"),
    ((".parquet", ".pq"), "read_parquet"),
    ((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"), "read_json_auto"),
)


def read_function(path: str) -> str:
    """The DuckDB table function that reads a source file, chosen by its extension ("" if none)."""
    lower = path.lower()
    for suffixes, fn in _READERS:
        if lower.endswith(suffixes):
            return fn
    return ""


@functools.cache
def reader_parameters(fn: str) -> frozenset[str]:
    """The named parameters DuckDB's ``fn`` takes (lowercase), as DuckDB lists them."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT parameters FROM duckdb_functions() WHERE function_name = ?", [fn]
        ).fetchall()
    finally:
        con.close()
    return frozenset(p.lower() for (params,) in rows for p in params if p != "path")


def reader_arguments(path: str, options: Mapping[str, Any], where: str) -> str:
    """The options as DuckDB named arguments: ``delim = ';', header = true``.

    Args:
        path: the source's path, which chooses the reader.
        options: option name → a Python value (str, bool, int, float, None, list, dict).
        where: ``file:line: source('data/x.csv')``, to start each error with.

    Raises:
        DefinitionError: the file has no reader, an option is not one of its
            reader's, or a value has no DuckDB literal.
    """
    if not options:
        return ""
    fn = read_function(path)
    if not fn:
        raise DefinitionError(
            f"{where}: reader options need a .csv, .parquet or .json file; "
            f"{path!r} is none of them, so remove {', '.join(sorted(options))}."
        )
    import difflib

    known = reader_parameters(fn)
    parts = []
    for name, value in options.items():
        if name.lower() not in known:
            close = difflib.get_close_matches(name.lower(), sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"see DuckDB's {fn} for its options."
            raise DefinitionError(
                f"{where}: {name!r} is not an option of DuckDB's {fn} or of source(); {hint}"
            )
        try:
            parts.append(f"{name} = {literal(value)}")
        except TypeError as e:
            raise DefinitionError(f"{where}: option {name!r}: {e}") from None
    return ", ".join(parts)


def literal(value: Any) -> str:
    """A Python value as a DuckDB literal.

    Raises:
        TypeError: the value has no DuckDB literal.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(
        f"a {type(value).__name__} has no DuckDB literal; give a str, bool, number, list or dict."
    )


def read_query(fn: str, full_path: str, arguments: str) -> str:
    """``SELECT * FROM fn('path', arguments)``."""
    args = f", {arguments}" if arguments else ""
    return f"SELECT * FROM {fn}({literal(full_path)}{args})"
