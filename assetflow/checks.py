"""Data checks: audit an asset's new data before it is published.

A check is written as text on an asset (``@asset(checks=[...])`` or a SQL
header): ``not_null(col, ...)``, ``unique(col, ...)``,
``accepted_values(col, ['a', 'b'])``, ``row_count(> 0)``,
``row_count(between 1 and 100)``, ``relationships(col, other_asset.col)``,
``expression(amount >= 0)``. A ``warn:`` prefix makes it a warning:
``"warn: unique(email)"``; otherwise a failure is an error.

Every built-in compiles to one DuckDB query returning the violating rows of
the new data, so a million rows are checked inside DuckDB, never in a Python
loop. An error-severity failure keeps the new data from becoming current
(write, audit, publish); a warning is reported and the data publishes.

Example:
    >>> parse_check("warn: not_null(id)", "x").severity
    'warn'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assetflow.errors import DefinitionError

if TYPE_CHECKING:
    import duckdb

    from assetflow.definition import Asset

_CALL = re.compile(r"\s*(?:(warn|error)\s*:\s*)?([a-z_]+)\s*\((.*)\)\s*", re.S)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUILTINS = ("accepted_values", "expression", "not_null", "relationships", "row_count", "unique")
SAMPLE_ROWS = 5


@dataclass(frozen=True, slots=True)
class Check:
    """A parsed check: its text as written, its kind, severity and arguments."""

    text: str
    kind: str
    severity: str  # "error" | "warn"
    args: str  # the text between the parentheses

    @property
    def label(self) -> str:
        """The check without its severity prefix: ``not_null(id)``."""
        return f"{self.kind}({self.args.strip()})"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found in one materialization's data."""

    check: str  # its label
    severity: str
    passed: bool
    violations: int
    message: str  # "3 rows violate not_null(customer_id)"
    sample: str | None = None  # JSON of up to SAMPLE_ROWS violating rows


def parse_check(text: str, where: str) -> Check:
    """Parse one check's text.

    Raises:
        DefinitionError: not a known check, or its arguments are malformed.
    """
    m = _CALL.fullmatch(text)
    if m is None or m.group(2) not in BUILTINS:
        raise DefinitionError(
            f"{where}: check {text!r} is not one of {', '.join(BUILTINS)}; write it as "
            "name(arguments), such as not_null(order_id), optionally prefixed with 'warn:'."
        )
    check = Check(text, m.group(2), m.group(1) or "error", m.group(3))
    _compile(check, "t", where)  # refuse malformed arguments at definition time
    return check


def _columns(args: str, check: Check, where: str) -> list[str]:
    cols = [c.strip() for c in args.split(",")]
    if not cols or not all(_IDENT.fullmatch(c) for c in cols):
        raise DefinitionError(
            f"{where}: check {check.text!r} needs column names separated by commas."
        )
    return cols


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compile(check: Check, table: str, where: str) -> str:
    """The query returning the violating rows of ``table`` (a view of the new data)."""
    args = check.args.strip()
    if check.kind == "not_null":
        cols = _columns(args, check, where)
        condition = " OR ".join(f"{_quote(c)} IS NULL" for c in cols)
        return f"SELECT * FROM {table} WHERE {condition}"
    if check.kind == "unique":
        key = ", ".join(_quote(c) for c in _columns(args, check, where))
        return (
            f"SELECT * FROM {table} WHERE ({key}) IN "
            f"(SELECT ({key}) FROM {table} GROUP BY ALL HAVING count(*) > 1)"
        )
    if check.kind == "accepted_values":
        col, _, values = args.partition(",")
        if not _IDENT.fullmatch(col.strip()) or not values.strip().startswith("["):
            raise DefinitionError(
                f"{where}: check {check.text!r} is written accepted_values(column, ['a', 'b'])."
            )
        return (
            f"SELECT * FROM {table} WHERE {_quote(col.strip())} IS NOT NULL "
            f"AND NOT list_contains({values.strip()}, {_quote(col.strip())})"
        )
    if check.kind == "row_count":
        if not re.fullmatch(r"(?i)(>=|<=|>|<|=|!=|between\s+\d+\s+and)\s*\d+", args):
            raise DefinitionError(
                f"{where}: check {check.text!r} is written row_count(> n) or "
                "row_count(between a and b)."
            )
        return f"SELECT count(*) AS row_count FROM {table} HAVING NOT (count(*) {args})"
    if check.kind == "relationships":
        col, _, target = args.partition(",")
        other, _, other_col = target.strip().partition(".")
        if not all(_IDENT.fullmatch(x.strip()) for x in (col, other, other_col)):
            raise DefinitionError(
                f"{where}: check {check.text!r} is written relationships(column, "
                "other_asset.column)."
            )
        return (
            f"SELECT * FROM {table} WHERE {_quote(col.strip())} IS NOT NULL AND "
            f"{_quote(col.strip())} NOT IN (SELECT {_quote(other_col)} FROM {_quote(other)})"
        )
    if not args:
        raise DefinitionError(f"{where}: check {check.text!r} needs a SQL predicate.")
    return f"SELECT * FROM {table} WHERE NOT ({args})"


def referenced_assets(check: Check) -> tuple[str, ...]:
    """Other assets a check reads (``relationships``), which must have data."""
    if check.kind != "relationships":
        return ()
    return (check.args.partition(",")[2].strip().partition(".")[0],)


@dataclass(frozen=True, slots=True)
class CheckRead:
    """Another asset or source that one of an asset's checks reads."""

    name: str  # as written
    check: str  # "check relationships(...)", "@check has_vips()", "SQL check checks/x.sql"
    where: str  # the check's file:line
    severity: str  # the check's: "error" | "warn"
    kind: str  # "builtin" | "python" | "sql"

    @property
    def unknown(self) -> str:
        """The sentence saying that ``name`` is no asset or source (before a did-you-mean)."""
        what = {
            "builtin": f"{self.check} reads {self.name!r}, which",
            "python": f"{self.check} parameter {self.name!r}",
            "sql": f"table {self.name!r}",
        }[self.kind]
        return f"{self.where}: {what} is not an asset or source"


def check_reads(asset: Asset) -> list[CheckRead]:
    """What the checks of ``asset`` read besides its own data, in the order written.

    Built-in ``relationships`` checks read their other asset, ``@check`` functions
    the assets their further parameters name, SQL check files the tables they read.

    Example:
        >>> from assetflow.definition import Asset, AssetOptions
        >>> opts = AssetOptions(checks=("relationships(customer_id, customers.id)",))
        >>> [r.name for r in check_reads(Asset("orders", "sql", "o.sql", 1, "x", opts))]
        ['customers']
    """
    found = []
    for c in as_checks(asset.options.checks, asset.where):
        found += [
            CheckRead(o, f"check {c.label}", asset.where, c.severity, "builtin")
            for o in referenced_assets(c)
        ]
    for f in asset.custom_checks:
        where = f"{f.file}:{f.line}"
        found += [CheckRead(p, f"@check {f.name}()", where, f.severity, "python") for p in f.reads]
    for s in asset.sql_checks:
        where = f"{s.file}:{s.line}"
        found += [
            CheckRead(t, f"SQL check {s.file}", where, s.severity, "sql") for t in sorted(s.reads)
        ]
    own = asset.name.lower()
    return [r for r in found if r.name.lower() != own]


def unreadable(
    label: str, severity: str, who: str, name: str, *, table: bool = True
) -> CheckResult:
    """The result of a check that cannot run because ``name``, which it reads, has no data."""
    why = "not materialized yet, or not a table" if table else "not materialized yet"
    message = f"{who} could not run: {name} has no data to read ({why})"
    return CheckResult(label, severity, False, 0, message)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[Check],
    data_sql: str,
    others: Mapping[str, str],
    where: str,
) -> list[CheckResult]:
    """Run ``checks`` against the relation ``data_sql`` (``SELECT * FROM read_parquet(...)``).

    Args:
        others: asset name → the query of its current data, for ``relationships``.
    """
    _bind(con, {"_assetflow_checked": data_sql, **others})
    columns: list[str] | None = None
    results = []
    for check in checks:
        missing = [o for o in referenced_assets(check) if o not in others]
        if missing:
            # Not DuckDB's "table does not exist": say which data is missing.
            who = f"check {check.label}"
            results.append(unreadable(check.label, check.severity, who, missing[0]))
            continue
        if columns is None:
            columns = list(con.sql("SELECT * FROM _assetflow_checked").columns)
        gone = _missing_column(check, columns, where)
        if gone is not None:
            results.append(CheckResult(check.label, check.severity, False, 0, gone))
            continue
        query = _compile(check, "_assetflow_checked", where)
        result = _violations(con, query, check.label, check.severity, f"check {check.label}")
        if check.kind == "row_count" and result.violations:
            result = replace(result, message=f"row_count({check.args.strip()}) failed")
        results.append(result)
    return results


def _missing_column(check: Check, columns: Sequence[str], where: str) -> str | None:
    """Why ``check`` cannot run when a column it names is not in the data (else None).

    Not DuckDB's "Referenced column not found": the asset dropped or renamed a
    column its check still names, and the sentence says which and what there is.
    """
    args = check.args.strip()
    if check.kind in ("not_null", "unique"):
        named = _columns(args, check, where)
    elif check.kind in ("accepted_values", "relationships"):
        named = [args.partition(",")[0].strip()]
    else:
        return None
    have = {c.lower() for c in columns}
    for column in named:
        if column.lower() not in have:
            shown = ", ".join(columns) if len(columns) <= 10 else ", ".join(columns[:10]) + ", ..."
            return (
                f"column {column!r} is not in the new data (its columns: {shown}); "
                f"fix the check at {where} or return that column"
            )
    return None


@dataclass(frozen=True, slots=True)
class SqlCheck:
    """A ``.sql`` file in the checks folder: a query returning an asset's violating rows."""

    name: str  # the file stem
    asset: str
    severity: str
    query: str
    file: str
    line: int
    reads: frozenset[str]  # the tables the query reads (lowercased)

    @property
    def label(self) -> str:
        return f"{self.name}.sql"


def run_sql_checks(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[SqlCheck],
    asset: str,
    data_sql: str,
    others: Mapping[str, str],
) -> list[CheckResult]:
    """Run SQL checks, with ``asset`` bound to its new data and ``others`` to theirs.

    Args:
        others: each other table read (lowercased, as in ``SqlCheck.reads``) → the query of
            its current data; a check reading one that is absent reports it cannot run.
    """
    _bind(con, {**others, asset: data_sql})
    results = []
    for c in checks:
        missing = sorted(t for t in c.reads if t != asset.lower() and t not in others)
        if missing:
            results.append(unreadable(c.label, c.severity, c.file, missing[0]))
            continue
        query = c.query.strip().rstrip(";") + "\n"
        results.append(_violations(con, query, c.label, c.severity, c.file))
    return results


def _bind(con: duckdb.DuckDBPyConnection, views: Mapping[str, str]) -> None:
    """Temporary views: name → query."""
    for name, query in views.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_quote(name)} AS {query}").fetchall()


def _violations(
    con: duckdb.DuckDBPyConnection, query: str, label: str, severity: str, who: str
) -> CheckResult:
    """Count the rows ``query`` returns (violations), with a sample of them, in DuckDB."""
    import duckdb

    try:
        (count,) = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0]
        sample = None
        if count:
            rel = con.sql(f"SELECT * FROM ({query}) LIMIT {SAMPLE_ROWS}")
            rows = [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
            sample = json.dumps(rows, default=str)
    except duckdb.Error as e:
        message = f"{who} could not run: {str(e).strip().splitlines()[0]}"
        return CheckResult(label, severity, False, 0, message)
    verb = "row violates" if count == 1 else "rows violate"
    message = f"{count} {verb} {label}" if count else f"{label} passed"
    return CheckResult(label, severity, count == 0, int(count), message, sample)


_CELL_WIDTH = 30
_TABLE_COLUMNS = 8


def sample_table(sample: str | None, violations: int = 0, indent: str = "  ") -> list[str]:
    """A failing check's sample of violating rows as a small text table ([] without one).

    Args:
        sample: the JSON list of row objects a :class:`CheckResult` keeps.
        violations: how many rows violate in all, to say when the sample is a part.
        indent: put before each line.

    Example:
        >>> print("\\n".join(sample_table('[{"id": 1, "status": null}]', 1)))
          id  status
          --  ------
          1   NULL
    """
    try:
        rows = json.loads(sample) if sample else []
    except ValueError:
        return []
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return []
    columns = list(dict.fromkeys(c for r in rows for c in r))
    hidden = columns[_TABLE_COLUMNS:]
    columns = columns[:_TABLE_COLUMNS]
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return indent + "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    notes = []
    if violations > len(rows):
        notes.append(f"first {len(rows)} of {violations} rows")
    if hidden:
        notes.append(f"{len(hidden)} more columns")
    if notes:
        lines.append(f"{indent}({', '.join(notes)})")
    return lines


def _cell(value: object) -> str:
    text = "NULL" if value is None else " ".join(str(value).split())
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def verdict(results: Sequence[CheckResult]) -> str | None:
    """The error message that stops publication, or ``None`` when no error check failed."""
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if not failed:
        return None
    return "; ".join(headline(r) for r in failed)


def headline(result: CheckResult) -> str:
    """``check <label>: <message>``, naming the check once when the message already does.

    Example:
        >>> headline(CheckResult("unique(id)", "error", False, 0, "check unique(id) could not run"))
        'check unique(id) could not run'
    """
    if result.message.startswith(f"check {result.check}"):
        return result.message
    return f"check {result.check}: {result.message}"


def as_checks(texts: Sequence[str], where: str) -> tuple[Check, ...]:
    """Parse an asset's check texts."""
    return tuple(parse_check(t, where) for t in texts)


def describe(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Check results as JSON-able records."""
    return [
        {
            "check": r.check,
            "severity": r.severity,
            "passed": r.passed,
            "violations": r.violations,
            "message": r.message,
        }
        for r in results
    ]
