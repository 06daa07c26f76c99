"""SQL assets: the header options, the one query, and the tables it reads.

This is the only module that imports sqlglot, and it does so inside functions:
sqlglot takes longer to import than the CLI's whole start-up budget.

A ``.sql`` asset is a header of ``--`` comment lines, some of them
``-- key: value`` options, followed by exactly one query in DuckDB's dialect.

Example:
    >>> d = parse_sql_asset("-- tags: daily\\nSELECT * FROM Orders", path="a.sql")
    >>> sorted(d.deps), d.options, d.body_line
    (['orders'], {'tags': ['daily']}, 2)
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assetflow.errors import DefinitionError, SqlSyntaxError

if TYPE_CHECKING:
    from sqlglot import Token, exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError
    from sqlglot.optimizer.scope import Scope

_ALLOWED = (
    "a .sql asset must hold exactly one SELECT, WITH ... SELECT, set operation or VALUES query"
)
# The ':' must not start '://', so a comment that is just a URL stays a plain comment.
_OPTION_LINE = re.compile(r"\s*--\s*([A-Za-z_][A-Za-z0-9_]*)\s*:(?!//)(.*)")
# DuckDB reads a quoted table name as a file when it looks like one (a replacement scan).
_FILE_NAME = re.compile(
    r"[/\\]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|xlsx|arrow|avro)(\.(gz|zst|bz2|xz|lz4))?$",
    re.IGNORECASE,
)
_FILE_FUNCTIONS = frozenset({"parquet_scan", "delta_scan", "iceberg_scan"})
# Qualifiers that name DuckDB's default catalog and schema, so `main.x` is the asset `x`.
_DEFAULT_QUALIFIERS = (("main",), ("memory",), ("memory", "main"))


@dataclass(frozen=True, slots=True)
class SqlDefinition:
    """What a ``.sql`` asset file says.

    Attributes:
        query: The query text after the header, as written.
        deps: The tables the query reads, lowercased, without ``main.`` or ``memory.main.``.
        external_reads: File paths read by ``read_*`` functions or ``FROM 'file'``, in order.
        options: Header options, keys as written, values parsed.
        options_lines: The 1-based line of each header option.
        body_line: The 1-based line where the query starts.
        tree: A digest of DuckDB's parse tree of the query, which the code version
            hashes (see :mod:`assetflow.sql_tree`).
    """

    query: str
    deps: frozenset[str]
    external_reads: tuple[str, ...]
    options: dict[str, object]
    options_lines: dict[str, int]
    body_line: int
    tree: str


def parse_sql_asset(text: str, *, path: str) -> SqlDefinition:
    """Parse a ``.sql`` asset file into its header options, query and dependencies.

    Args:
        text: The whole file.
        path: The project-relative path, used only in error messages.

    Raises:
        DefinitionError: a header option is unknown, repeated, empty or of the wrong type.
        SqlSyntaxError: the query does not parse (with sqlglot, then with DuckDB), the file
            is not exactly one allowed query, or it holds dbt/Jinja templating.

    Example:
        >>> d = parse_sql_asset("WITH o AS (SELECT * FROM raw) SELECT * FROM o", path="a.sql")
        >>> sorted(d.deps)
        ['raw']
    """
    from assetflow.sql_tree import parse_tree

    lines = text.split("\n")
    body_line = _header_end(lines)
    options, options_lines = _parse_header(lines[: body_line - 1], path)
    body = "\n".join(lines[body_line - 1 :])
    try:
        query = _parse_query(text, path=path, body_line=body_line if body_line <= len(lines) else 1)
        tree = parse_tree(body, path=path, first_line=body_line)
    except SqlSyntaxError:
        templating = _templating_error(lines, path)
        if templating is not None:
            raise templating from None
        raise
    deps, external_reads = _find_reads(query)
    return SqlDefinition(
        query=body,
        deps=deps,
        external_reads=external_reads,
        options=options,
        options_lines=options_lines,
        body_line=body_line,
        tree=tree,
    )


def split_top_level(value: str) -> list[str]:
    """Split ``value`` on commas outside brackets and quotes; strip parts; drop empty ones.

    Example:
        >>> split_top_level("not_null(day), accepted_values(s, ['a', 'b']),")
        ['not_null(day)', "accepted_values(s, ['a', 'b'])"]
    """
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, char in enumerate(value):
        if quote:
            # A doubled quote ('it''s') closes and reopens, which leaves the state right.
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [part.strip() for part in parts if part.strip()]


def _header_end(lines: list[str]) -> int:
    """The 1-based line of the first line that is neither blank nor a ``--`` comment."""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return number
    return len(lines) + 1


# A dbt/Jinja tag, or an opener whose closer is missing.
_TEMPLATING = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{[{%#]", re.DOTALL)
_JINJA_CALL = re.compile(r"\{\{-?\s*(ref|source|config)\s*\((.*)\)\s*-?\}\}", re.DOTALL)
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _templating_error(lines: list[str], path: str) -> SqlSyntaxError | None:
    """The error for dbt/Jinja templating (``{{ ref('x') }}``) outside comment lines, if any."""
    for number, line in enumerate(lines, start=1):
        opener = re.search(r"\{[{%#]", line)
        if opener is None or line.strip().startswith("--"):
            continue
        found = _TEMPLATING.search("\n".join(lines[number - 1 :]), opener.start())
        tag = found[0] if found else line.strip()
        shown = tag if len(tag) <= 60 else tag[:57] + "..."
        return SqlSyntaxError(
            f"{path}:{number}: {shown} is dbt/Jinja templating, which assetflow does not "
            f"support; {_instead(tag)}"
        )
    return None


def _instead(tag: str) -> str:
    """What to write instead of one templating tag."""
    call = _JINJA_CALL.fullmatch(tag)
    names = [a or b for a, b in _QUOTED.findall(call[2])] if call else []
    if call and call[1] == "ref" and names:
        return f"a query reads an upstream asset by its name, so write {names[-1]} instead."
    if call and call[1] == "source" and names:
        return (
            f'declare the source in a .py file ({names[-1]} = source("path/to/file.csv")) '
            f"and write {names[-1]} instead."
        )
    if call and call[1] == "config":
        return "write its settings as header options, one '-- key: value' line each, instead."
    return "write plain DuckDB SQL instead: a .sql asset is one query, run as written."


def _parse_header(lines: list[str], path: str) -> tuple[dict[str, object], dict[str, int]]:
    options: dict[str, object] = {}
    options_lines: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        match = _OPTION_LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            continue
        key, value = match[1], match[2].strip()
        where = f"{path}:{number}"
        parser = _OPTION_PARSERS.get(key)
        if parser is None:
            # A near miss of an option is a typo; anything else ("-- Note: ...") is prose.
            if _closest_option(key):
                raise DefinitionError(
                    f"{where}: unknown header option {key!r}; {_known_options(key)}"
                )
            continue
        if key in options_lines:
            raise DefinitionError(
                f"{where}: header option {key!r} is given twice "
                f"(first on line {options_lines[key]}); keep one."
            )
        if not value:
            raise DefinitionError(
                f"{where}: header option {key!r} has no value; "
                "write one after the colon or remove the line."
            )
        try:
            options[key] = parser(value)
        except ValueError as error:
            raise DefinitionError(f"{where}: header option {key!r} {error}.") from None
        options_lines[key] = number
    return options, options_lines


def _closest_option(key: str) -> str | None:
    close = difflib.get_close_matches(key.lower(), _OPTION_PARSERS, n=1, cutoff=0.75)
    return close[0] if close else None


def _known_options(key: str) -> str:
    known = f"known options are: {', '.join(sorted(_OPTION_PARSERS))}"
    close = _closest_option(key)
    return f"{known}; did you mean {close!r}?" if close else f"{known}."


def _parse_list(value: str) -> list[str]:
    items = split_top_level(value)
    if not items:
        raise ValueError("has no items; list them separated by commas")
    return items


def _parse_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"must be a whole number, not {value!r}; write e.g. 3") from None


def _parse_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"must be a number, not {value!r}; write e.g. 2.5")
    return number


def _parse_freshness(value: str) -> object:
    if not value.startswith("{"):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"is not a valid JSON object ({error.msg} at column {error.colno}); "
            "quote keys and strings with double quotes, or give a duration such as 1h"
        ) from None


_OPTION_PARSERS: dict[str, Callable[[str], object]] = {
    "backoff": _parse_float,
    "checks": _parse_list,
    "deps": _parse_list,
    "description": str,
    "freshness": _parse_freshness,
    "group": str,
    "io": str,
    "retries": _parse_int,
    "retry_delay": _parse_float,
    "tags": _parse_list,
    "timeout": _parse_float,
    "version": str,
}


def _parse_query(text: str, *, path: str, body_line: int) -> exp.Expr:
    """The file's one statement, refused unless it is a query."""
    chunks = _statements(_tokenize(text, path=path, fallback_line=body_line))
    if not chunks:
        raise SqlSyntaxError(
            f"{path}:{body_line}: the file holds no query; write one SELECT, WITH ... SELECT, "
            "set operation or VALUES query after the header."
        )
    if len(chunks) > 1:
        raise SqlSyntaxError(
            f"{path}:{chunks[1][0].line}: a second statement starts here, but a .sql asset holds "
            "exactly one query; move it to its own .sql file."
        )
    statement = _parse_tokens(chunks[0], text, path)
    if not _is_query(statement):
        raise SqlSyntaxError(
            f"{path}:{chunks[0][0].line}: {_statement_kind(statement, chunks[0])} is not allowed "
            f"in a SQL asset; {_ALLOWED}."
        )
    return statement


def _tokenize(text: str, *, path: str, fallback_line: int) -> list[Token]:
    from sqlglot.errors import TokenError

    try:
        return _dialect().tokenize(text)
    except TokenError as error:
        line, what = _describe_token_error(error, text, fallback_line)
        raise SqlSyntaxError(f"{path}:{line}: syntax error: {what}; fix the SQL.") from None


def _describe_token_error(error: TokenError, text: str, fallback_line: int) -> tuple[int, str]:
    # sqlglot's outer message quotes 100 characters around the end of the text; its
    # cause says which quote is unclosed and the offset where it opened.
    match = re.fullmatch(r"Missing (.+) from \d+:(\d+)", str(error.__cause__ or ""))
    if match is None:
        return fallback_line, "the text cannot be split into SQL tokens (is a /* comment open?)"
    return text.count("\n", 0, int(match[2])) + 1, f"a {match[1]} is opened here but never closed"


def _statements(tokens: list[Token]) -> list[list[Token]]:
    """The tokens of each statement, split on semicolons the way sqlglot's parser does."""
    from sqlglot import TokenType

    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [chunk for chunk in chunks if chunk]


def _parse_tokens(tokens: list[Token], text: str, path: str) -> exp.Expr:
    from sqlglot.errors import ParseError

    sqlglot_logger = logging.getLogger("sqlglot")
    sqlglot_logger.addFilter(_drop_command_fallback_warning)
    try:
        statement = _dialect().parser().parse(tokens, text)[0]
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        line = detail.get("line") or tokens[0].line
        what = _readable(str(detail.get("description") or error))
        raise SqlSyntaxError(f"{path}:{line}: syntax error: {what}; fix the SQL.") from None
    finally:
        sqlglot_logger.removeFilter(_drop_command_fallback_warning)
    if statement is None:  # sqlglot returns None only for an empty statement, split off above
        raise AssertionError("sqlglot parsed a non-empty statement into nothing")
    return statement


def _drop_command_fallback_warning(record: logging.LogRecord) -> bool:
    # sqlglot warns before parsing an unknown statement as a Command, which is refused anyway.
    return "Falling back to parsing as a 'Command'" not in record.getMessage()


_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+[^>]*>")
_CLASS_REPR = re.compile(r"<class 'sqlglot\.[\w.]*\.(\w+)'>")


def _readable(message: str) -> str:
    """sqlglot's message with the Python reprs of tokens and classes it quotes made readable."""
    message = _CLASS_REPR.sub(lambda m: m[1].upper(), message)
    return _TOKEN_REPR.sub(
        lambda m: "the end of the query" if m[1] == "SENTINEL" else repr(m[2]), message
    )


def _is_query(statement: exp.Expr) -> bool:
    from sqlglot import exp

    if isinstance(statement, exp.Subquery):
        statement = statement.unnest()
    # A top-level Pivot is DuckDB's `PIVOT t ON ...` / `UNPIVOT t ON ...` query.
    return isinstance(statement, (exp.Select, exp.SetOperation, exp.Values, exp.Pivot))


def _statement_kind(statement: exp.Expr, tokens: list[Token]) -> str:
    """How the user would name the statement: "CREATE TABLE", "INSERT", "PRAGMA"."""
    from sqlglot import exp

    if isinstance(statement, (exp.Create, exp.Drop, exp.Alter)):
        return f"{type(statement).__name__.upper()} {statement.text('kind').upper()}".strip()
    if isinstance(statement, exp.DML):  # also WITH ... INSERT, which starts with WITH
        return type(statement).__name__.upper()
    if isinstance(statement, exp.Condition) and not isinstance(statement, exp.Column):
        return "a bare expression"  # `1 + 2`; a lone word such as CHECKPOINT is a Column
    return tokens[0].text.upper()


def _find_reads(query: exp.Expr) -> tuple[frozenset[str], tuple[str, ...]]:
    """The tables ``query`` depends on and the files it reads, in order of appearance."""
    from sqlglot import exp

    deps: set[str] = set()
    reads: list[tuple[int, str]] = []
    for _, table in _table_references(query):
        source = table.this
        if isinstance(source, exp.Func):
            if _is_file_function(source):
                reads.extend((arg.meta.get("start", 0), arg.name) for arg in _path_args(source))
        elif isinstance(source, exp.Identifier) and not table.db and _FILE_NAME.search(source.name):
            reads.append((source.meta.get("start", 0), source.name))
        elif name := _table_name(table):
            deps.add(name)
    ordered = (path for _, path in sorted(reads, key=lambda read: read[0]))
    return frozenset(deps), tuple(dict.fromkeys(ordered))


def _table_references(query: exp.Expr) -> Iterator[tuple[Scope | None, exp.Table]]:
    """Each table or table function ``query`` reads, with its scope; CTE references are skipped.

    A table is a CTE reference when it is unqualified and a CTE of that name is
    visible in its scope, compared case-insensitively as DuckDB does. Tables
    sqlglot's scopes do not reach (inside a top-level VALUES or PIVOT) come
    last with no scope, and are CTE references when any CTE has their name.
    """
    from sqlglot import exp
    from sqlglot.errors import OptimizeError
    from sqlglot.optimizer.scope import traverse_scope

    try:
        scopes = traverse_scope(query)
    except OptimizeError:  # a query shape sqlglot cannot scope: fall back to the whole tree
        scopes = []
    seen: set[int] = set()
    for scope in scopes:
        ctes = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            seen.add(id(table))
            if not _is_cte_reference(table, ctes):
                yield scope, table
    all_ctes = {cte.alias.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if id(table) not in seen and not _is_cte_reference(table, all_ctes):
            yield None, table


def _is_cte_reference(table: exp.Table, ctes: set[str]) -> bool:
    from sqlglot import exp

    return isinstance(table.this, exp.Identifier) and not table.db and table.name.lower() in ctes


def _table_name(table: exp.Table) -> str:
    # DuckDB folds quoted identifiers too, so "Orders" and ORDERS are both orders.
    parts = [part.name.lower() for part in table.parts]
    if tuple(parts[:-1]) in _DEFAULT_QUALIFIERS:
        parts = parts[-1:]
    return ".".join(parts)


def _is_file_function(function: exp.Func) -> bool:
    from sqlglot import exp

    name = function.name if isinstance(function, exp.Anonymous) else function.sql_name()
    return name.lower().startswith("read_") or name.lower() in _FILE_FUNCTIONS


def _path_args(function: exp.Func) -> Iterator[exp.Literal]:
    """String literals given as positional arguments, alone or in a list literal."""
    from sqlglot import exp

    for value in function.args.values():
        for arg in value if isinstance(value, list) else [value]:
            items = arg.expressions if isinstance(arg, exp.Array) else [arg]
            yield from (i for i in items if isinstance(i, exp.Literal) and i.is_string)


def _dialect() -> Dialect:
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise("duckdb")
