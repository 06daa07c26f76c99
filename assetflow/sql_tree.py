"""DuckDB's own parse of a SQL query: the errors it finds and the form code versions hash.

sqlglot finds a query's dependencies, but DuckDB runs it, and the two do not
always agree: sqlglot drops the empty item of ``email,,`` where DuckDB refuses
the query. So DuckDB's parser judges every query when the project loads, and a
SQL asset's code version hashes DuckDB's parse tree (``json_serialize_sql``)
without its source positions: two texts share a version only when DuckDB
parses them into the same tree. Comments, whitespace and keyword case never
reach the tree; names keep the case they are written in, because DuckDB shows
it in output column names (``A + 1`` is the column ``(A + 1)``).

DuckDB is imported inside functions: ``import assetflow`` and ``--help`` must
not pay for it.

Example:
    >>> parse_tree("select a -- the key\\nFROM t", path="a.sql") == parse_tree(
    ...     "SELECT a FROM t", path="a.sql"
    ... )
    True
    >>> parse_tree("SELECT A FROM t", path="a.sql") == parse_tree("SELECT a FROM t", path="a.sql")
    False
    >>> parse_tree("SELECT\\n  a,, b", path="a.sql", first_line=4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    assetflow.errors.SqlSyntaxError: a.sql:5: DuckDB cannot parse the query: syntax error ...
"""

from __future__ import annotations

import json
import os
import re
import threading
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

from assetflow.errors import SqlSyntaxError

if TYPE_CHECKING:
    import duckdb

# Where in the text a node came from: the only part of the tree that layout changes.
_POSITIONS = frozenset({"query_location", "query_location_length"})
_NOT_SERIALIZABLE = "Only SELECT statements can be serialized"
_lock = threading.Lock()
_parser: tuple[int, duckdb.DuckDBPyConnection] | None = None


def parse_tree(query: str, *, path: str, first_line: int = 1) -> str:
    """A digest of DuckDB's parse tree of ``query``, for code versions.

    Args:
        query: One query, as DuckDB will run it.
        path: The file, for error messages.
        first_line: The file line the query starts on, for error messages.

    Raises:
        SqlSyntaxError: DuckDB cannot parse ``query``, or reads it as anything but one query.
    """
    serialized = _serialize(query)
    if serialized is None:
        return _token_form(query, path=path, first_line=first_line)
    document = json.loads(serialized)
    if document["error"]:
        if _NOT_SERIALIZABLE in document.get("error_message", ""):
            return _token_form(query, path=path, first_line=first_line)
        line = _line(query, document.get("position"), first_line)
        message = _sentence(document.get("error_message") or "the query does not parse")
        raise SqlSyntaxError(
            f"{path}:{line}: DuckDB cannot parse the query: {message}; fix the SQL."
        )
    statements = document["statements"]
    if len(statements) != 1:
        raise SqlSyntaxError(
            f"{path}:{first_line}: DuckDB reads {len(statements)} statements here, but a .sql "
            "file holds exactly one query; fix the SQL."
        )
    tree = json.dumps(_without_positions(statements[0]), sort_keys=True, separators=(",", ":"))
    return "tree:" + blake2b(tree.encode(), digest_size=16).hexdigest()


def _token_form(query: str, *, path: str, first_line: int) -> str:
    """A digest of DuckDB's tokens of ``query`` without comments, for trees it cannot serialize.

    ``PIVOT`` without an ``IN`` list becomes several statements inside DuckDB,
    which ``json_serialize_sql`` refuses. Its tokens keep every difference the
    tree would, and keyword case too: a new version where one was not needed,
    never a shared one where DuckDB sees two queries.
    """
    import duckdb

    try:
        with _lock:
            statements = duckdb.extract_statements(query, connection=_connection())
        kinds = [s.type for s in statements]
    except duckdb.ParserException as error:
        found = re.search(r"\nLINE (\d+):", str(error))
        line = first_line + int(found[1]) - 1 if found else first_line
        raise SqlSyntaxError(
            f"{path}:{line}: DuckDB cannot parse the query: {_sentence(str(error))}; fix the SQL."
        ) from None
    if kinds not in ([duckdb.StatementType.SELECT], [duckdb.StatementType.MULTI]):
        raise SqlSyntaxError(
            f"{path}:{first_line}: DuckDB does not read this as one query; write one SELECT, "
            "WITH ... SELECT, set operation, VALUES or PIVOT query."
        )
    data = query.encode()
    tokens = duckdb.tokenize(query)
    ends = [start for start, _ in tokens[1:]] + [len(data)]
    words = [
        data[start:end].strip()
        for (start, kind), end in zip(tokens, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]
    while words and words[-1] == b";":  # as the tree has no trace of a final semicolon
        words.pop()
    return "tokens:" + blake2b(b"\0".join(words), digest_size=16).hexdigest()


def _without_positions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_positions(v) for k, v in node.items() if k not in _POSITIONS}
    if isinstance(node, list):
        return [_without_positions(v) for v in node]
    return node


def _line(query: str, position: object, first_line: int) -> int:
    """The file line of DuckDB's error ``position``, a byte offset into ``query``."""
    try:
        offset = int(str(position))
    except ValueError:
        return first_line
    return first_line + query.encode()[:offset].count(b"\n")


def _sentence(message: str) -> str:
    """DuckDB's message on one line, without its "Parser Error:" prefix and quoted context."""
    message = message.removeprefix("Parser Error: ")
    lines = [line.strip() for line in message.split("\n\nLINE ")[0].splitlines()]
    return " ".join(line for line in lines if line).rstrip(".")


def _serialize(query: str) -> str | None:
    """``json_serialize_sql(query)``, or None where this DuckDB build lacks the function."""
    import duckdb

    try:
        with _lock:
            row = _connection().execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    except duckdb.CatalogException:  # no json extension: the tokens still judge and version
        return None
    assert row is not None, "json_serialize_sql returned no row"
    return str(row[0])


def _connection() -> duckdb.DuckDBPyConnection:
    # One in-memory connection per process serves as a parser, as a compiled regex
    # would: it holds no data, and a connection costs 20 ms to open. A forked child
    # (the processes executor) must not share its parent's.
    global _parser
    if _parser is None or _parser[0] != os.getpid():
        import duckdb

        _parser = (os.getpid(), duckdb.connect(":memory:"))
    return _parser[1]
