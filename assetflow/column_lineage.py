"""Column-level lineage of SQL assets: which upstream columns feed each output column.

The kinds of edge follow OpenLineage's column lineage. A *direct* edge means
the upstream value flows into the output column: as is (``IDENTITY``: a bare
column reference, renamed or passed through CTEs and subqueries), computed
(``TRANSFORMATION``: CAST, functions, arithmetic, CASE branches) or through an
aggregate anywhere on the path (``AGGREGATION``). An *indirect* edge means the
upstream column decides the value without flowing into it: ``FILTER`` (WHERE,
HAVING, QUALIFY, an aggregate's FILTER clause, a subquery in them), ``JOIN``
(ON, USING), ``GROUP_BY`` (also DISTINCT ON, SELECT DISTINCT, and the duplicate
removal of UNION, INTERSECT and EXCEPT without ALL), ``SORT``, ``WINDOW``
(PARTITION BY and ORDER BY of the window computing the column) and
``CONDITIONAL`` (CASE WHEN and IF conditions, and the arguments of COALESCE and
NULLIF whose value decides which argument is returned).

Each branch of a UNION or INTERSECT feeds each column; the second branch of an
EXCEPT only filters. INTERSECT and EXCEPT match rows by all their values, so
every column of both branches is also a FILTER edge, ALL or not. An EXISTS
subquery decides only whether a row exists: what decides its rows gives edges
(its WHERE a FILTER, its ON a JOIN edge), what it selects (``SELECT *``
included) none.

ORDER BY counts (``SORT``) where it changes the asset: the outermost ORDER BY
(the stored row order) and an ORDER BY with LIMIT or OFFSET (it picks the
rows) affect every output column of that query; an ORDER BY inside an
aggregate (``string_agg(x ORDER BY y)``) affects that column. An ORDER BY of a
CTE or subquery without LIMIT changes nothing and gives no edge.

Approach: the query is parsed and qualified once with sqlglot against a
schema built from the upstream schemas, which expands stars (with EXCLUDE and
REPLACE), USING and NATURAL joins, and qualifies every column. Then each scope
(CTE, subquery, set operation branch) is walked once, bottom-up through
memoized calls, into the dependencies of its output columns; a column read
from a CTE or subquery takes that column's dependencies, composed. Row-level
dependencies (filters, joins, group keys) of a scope reach every column of the
scopes that read it, so ``count(*)`` over a filtered CTE has a FILTER edge.
An inner column used in an indirect position (``WHERE rnk <= 3`` on a window
computed in a CTE) lends what computes it to that position: the window's
inputs become FILTER edges, while an inner FILTER stays a FILTER.

sqlglot folds identifiers to lowercase, as DuckDB resolves them, but DuckDB
keeps case in output names: ``SELECT AMOUNT`` from a column stored as
``Amount`` is named ``Amount``, ``x AS Total`` is ``Total``, and ``Sum(x)``
unaliased is ``sum(x)``. So before qualifying, the names as written are
recorded on the nodes, and after it each output name is the alias as written,
or for a bare column the name of the column it resolves to, or for another
expression the name DuckDB's own parser gives it (an in-memory DuckDB renders
it; it reads no data).

At some 1000 lines this is longer than a module usually is here; the scope walk
is one recursion over ``_Analysis``, and splitting it would scatter it.

Nothing here raises: what cannot be resolved is reported as :class:`Unresolved`.

Example:
    >>> lineage = sql_column_lineage(
    ...     "paid",
    ...     "SELECT id, Amount * 100 AS cents FROM orders WHERE status = 'paid'",
    ...     {"orders": [("id", "INTEGER"), ("amount", "DOUBLE"), ("status", "VARCHAR")]},
    ... )
    >>> lineage.columns
    ('id', 'cents')
    >>> for edge in lineage.edges:
    ...     print(edge.source_column, "->", edge.target_column, edge.transformation)
    id -> id IDENTITY
    status -> id FILTER
    amount -> cents TRANSFORMATION
    status -> cents FILTER
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, ScopeType, build_scope
from sqlglot.schema import MappingSchema

# Shared with sql.py, so that both agree on what is a file read and what `main.x` means.
from assetflow.sql import (
    _DEFAULT_QUALIFIERS,
    _FILE_NAME,
    _is_file_function,
    _readable,
    split_top_level,
)

if TYPE_CHECKING:
    import duckdb

    from assetflow.graph import AssetGraph

DIRECT = "direct"
INDIRECT = "indirect"
IDENTITY = "IDENTITY"
TRANSFORMATION = "TRANSFORMATION"
AGGREGATION = "AGGREGATION"
FILTER = "FILTER"
JOIN = "JOIN"
GROUP_BY = "GROUP_BY"
SORT = "SORT"
WINDOW = "WINDOW"
CONDITIONAL = "CONDITIONAL"

_DIALECT = "duckdb"
_RANK = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}
_VALUE_KINDS = (WINDOW, CONDITIONAL)  # indirect kinds that describe how a value is computed
# Keys of the names recorded on nodes before qualification folds their case.
_WRITTEN = "assetflow_written"  # an identifier's text as written
_NAME = "assetflow_name"  # the output name DuckDB gives a projection
_COLUMN_LIST = "assetflow_column_list"  # the column list that renames a SELECT's outputs
_USER_COALESCE = "assetflow_user_coalesce"  # not one qualify made for a USING column
# Scopes whose columns may refer to the sources of the scope around them.
_CORRELATED = (ScopeType.SUBQUERY, ScopeType.SET_OPERATION, ScopeType.UDTF)
# Window functions sqlglot counts as aggregates that copy a value from another row.
_NAVIGATION = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """One upstream column that feeds or affects one output column.

    Attributes:
        source: The upstream asset, spelled as in the ``upstream_schemas`` keys.
        source_column: The upstream column, spelled as in the upstream's schema.
        target_column: The output column of this asset.
        kind: ``"direct"`` (the value flows in) or ``"indirect"`` (it decides the value).
        transformation: IDENTITY, TRANSFORMATION or AGGREGATION for a direct edge;
            FILTER, JOIN, GROUP_BY, SORT, WINDOW or CONDITIONAL for an indirect one.
    """

    source: str
    source_column: str
    target_column: str
    kind: str
    transformation: str


@dataclass(frozen=True, slots=True)
class Unresolved:
    """Lineage that could not be worked out, and why.

    Attributes:
        column: The output column, or ``None`` when the whole asset (or its list
            of columns) could not be analysed.
        reason: One line for a person, e.g. "upstream `orders` has no recorded
            schema (materialize it first), so `*` cannot be expanded".
    """

    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """The column lineage of one SQL asset.

    Attributes:
        asset: The asset's name.
        columns: Its output columns in order, named as DuckDB names them; ``()``
            when they cannot be known (a star over an upstream of unknown schema).
        edges: Sorted by target column order, then source, source column, kind and
            transformation; no duplicates.
        unresolved: What could not be resolved, per column or for the whole asset.
    """

    asset: str
    columns: tuple[str, ...]
    edges: tuple[ColumnEdge, ...]
    unresolved: tuple[Unresolved, ...]


def sql_column_lineage(
    asset: str, query: str, upstream_schemas: Mapping[str, Sequence[tuple[str, str]] | None]
) -> ColumnLineage:
    """The column lineage of the SQL asset ``asset`` whose query is ``query``.

    Args:
        asset: The asset's name, copied into the result.
        query: The asset's query, in DuckDB's dialect.
        upstream_schemas: Each upstream's columns as (name, DuckDB type), or ``None``
            when unknown; keys match table references case-insensitively, and
            ``main.x`` or ``memory.main.x`` means ``x``. A table missing here is unknown.

    Returns:
        The lineage. It never raises: a query sqlglot cannot analyse gives one
        ``Unresolved(None, reason)`` and no columns.

    Example:
        >>> lineage = sql_column_lineage("n", "SELECT count(*) AS n FROM t", {"t": None})
        >>> lineage.columns, lineage.edges, lineage.unresolved
        (('n',), (), ())
    """
    upstreams = _upstreams(upstream_schemas)
    try:
        root = _qualified_scope(query, upstreams)
        output = _Analysis(root, upstreams).output(root)
    except Exception as error:  # a query sqlglot cannot take must not stop the export of others
        return ColumnLineage(asset, (), (), (Unresolved(None, _describe(error)),))
    return _lineage(asset, output)


def project_column_lineage(
    graph: AssetGraph,
    schemas: Mapping[str, Sequence[tuple[str, str]] | None],
    names: Iterable[str] | None = None,
) -> dict[str, ColumnLineage]:
    """The column lineage of the SQL assets of ``graph``, in topological order.

    An upstream whose schema is unknown but which is itself a SQL asset whose
    columns could be inferred lends those names (with type ``UNKNOWN``), so a
    chain of SQL assets resolves before its first materialization.

    Args:
        graph: The project's graph.
        schemas: The recorded schema of each asset or source, keyed by name as in
            the graph; ``None`` or a missing key when unknown.
        names: Restrict the result to these assets (case-insensitive); names that
            are not SQL assets of the graph are skipped. Default: every SQL asset.

    Returns:
        Each SQL asset's name mapped to its lineage.
    """
    sql_assets = [a.name for a in graph if a.kind == "sql"]
    if names is None:
        wanted = set(sql_assets)
    else:
        found = (graph.lookup(name) for name in names)
        wanted = {name for name in found if name is not None and graph[name].kind == "sql"}
    needed = _needed(graph, schemas, wanted)
    results: dict[str, ColumnLineage] = {}
    for a in graph:
        if a.name in needed:
            upstream = {up: _known_schema(graph, schemas, results, up) for up in a.upstream}
            results[a.name] = sql_column_lineage(a.name, a.sql.query, upstream)
    return {name: results[name] for name in sql_assets if name in wanted}


def _needed(graph: AssetGraph, schemas: Mapping[str, object], wanted: set[str]) -> set[str]:
    """``wanted`` and the SQL assets whose inferred columns stand in for a missing schema."""
    needed = set(wanted)
    for a in reversed(list(graph)):
        if a.name in needed:
            needed.update(
                up for up in a.upstream if schemas.get(up) is None and graph[up].kind == "sql"
            )
    return needed


def _known_schema(
    graph: AssetGraph,
    schemas: Mapping[str, Sequence[tuple[str, str]] | None],
    results: Mapping[str, ColumnLineage],
    name: str,
) -> Sequence[tuple[str, str]] | None:
    recorded = schemas.get(name)
    if recorded is not None:
        return recorded
    inferred = results.get(name)
    if graph[name].kind == "sql" and inferred is not None and inferred.columns:
        return [(column, "UNKNOWN") for column in inferred.columns]
    return None


class _Dep(NamedTuple):
    """An edge without its target: what one column depends on."""

    source: str
    column: str
    kind: str
    transformation: str


_Use = tuple[str, str]
"""How a column is used where it appears: (kind, transformation)."""


@dataclass(frozen=True, slots=True)
class _Column:
    """One output column of a scope."""

    name: str
    deps: frozenset[_Dep]
    reasons: tuple[str, ...]  # why its lineage is incomplete


@dataclass(frozen=True, slots=True)
class _Output:
    """What a scope produces."""

    columns: tuple[_Column, ...]
    rows: frozenset[_Dep]  # indirect dependencies of which rows exist; every column has them
    unknown: tuple[str, ...] = ()  # why the column list is incomplete
    row_reasons: tuple[str, ...] = ()  # why ``rows`` is incomplete; every column has them too


@dataclass(slots=True)
class _Found:
    """Dependencies and reasons gathered while walking expressions."""

    deps: set[_Dep] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)

    def take(self, column: _Column, use: _Use) -> None:
        """Add what ``column`` depends on, seen through a use of it."""
        self.deps.update(_compose(dep, use) for dep in column.deps)
        self.reasons.extend(column.reasons)


@dataclass(frozen=True, slots=True)
class _Upstream:
    name: str  # as spelled in upstream_schemas
    columns: dict[str, str] | None  # lowercased name -> as recorded; None when unknown


def _compose(dep: _Dep, use: _Use) -> _Dep:
    """``dep`` of an inner column, seen from where that column is used.

    Row-level kinds (FILTER, JOIN, GROUP_BY, SORT) stay as they are: a filter
    anywhere on the path is a filter. What computes the value (direct edges,
    and the WINDOW and CONDITIONAL inputs of the expression) takes the kind of
    an indirect use: `WHERE rank <= 3` filters by the window's inputs.
    """
    if use[0] == INDIRECT:
        if dep.kind == DIRECT or dep.transformation in _VALUE_KINDS:
            return dep._replace(kind=INDIRECT, transformation=use[1])
        return dep
    if dep.kind == INDIRECT:
        return dep
    return dep._replace(transformation=max(dep.transformation, use[1], key=_RANK.__getitem__))


def _indirect(use: _Use, transformation: str) -> _Use:
    # Inside an indirect position (a CASE in a WHERE), the outer kind wins.
    return use if use[0] == INDIRECT else (INDIRECT, transformation)


def _transformed(use: _Use) -> _Use:
    return (DIRECT, TRANSFORMATION) if use == (DIRECT, IDENTITY) else use


def _aggregated(use: _Use) -> _Use:
    return (DIRECT, AGGREGATION) if use[0] == DIRECT else use


def _upstreams(
    schemas: Mapping[str, Sequence[tuple[str, str]] | None],
) -> dict[str, _Upstream]:
    upstreams: dict[str, _Upstream] = {}
    for key, schema in schemas.items():
        columns = None if schema is None else {name.lower(): name for name, _ in schema}
        upstreams[key.lower()] = _Upstream(key, columns)
    return upstreams


def _qualified_scope(query: str, upstreams: Mapping[str, _Upstream]) -> Scope:
    """Parse, qualify once and scope ``query``."""
    statements = [s for s in sqlglot.parse(query, dialect=_DIALECT) if s is not None]
    if len(statements) != 1:
        raise _Unanalysable(f"the asset holds {len(statements)} statements, not one query")
    tree = statements[0]
    _strip_default_qualifiers(tree)
    _record_names(tree)
    schema = MappingSchema(
        {
            key: {column: "UNKNOWN" for column in upstream.columns.values()}
            for key, upstream in upstreams.items()
            if upstream.columns is not None
        },
        dialect=_DIALECT,
    )
    qualified = qualify(
        tree,
        dialect=_DIALECT,
        schema=schema,
        validate_qualify_columns=False,
        quote_identifiers=False,
        identify=False,
    )
    root = build_scope(qualified)
    if root is None:
        raise _Unanalysable(f"a {type(tree).__name__.upper()} query is not supported")
    return root


class _Unanalysable(Exception):
    """A query shape this module does not trace; caught in sql_column_lineage."""


def _describe(error: Exception) -> str:
    if isinstance(error, ParseError) and error.errors:
        detail = _readable(str(error.errors[0].get("description") or error))
    else:
        lines = _ANSI.sub("", str(error)).strip().splitlines()
        detail = lines[0] if lines else type(error).__name__
    return f"cannot analyse the query: {detail}"


def _strip_default_qualifiers(tree: exp.Expr) -> None:
    """Make ``main.x`` and ``memory.main.x`` plain ``x``, as DuckDB resolves them."""
    for node in tree.find_all(exp.Table, exp.Column):
        # A table's qualifiers come before its name; a column's before its table too.
        parts = node.parts if isinstance(node, (exp.Table, exp.Column)) else []
        qualifiers = parts[: -2 if isinstance(node, exp.Column) else -1]
        if tuple(p.name.lower() for p in qualifiers) in _DEFAULT_QUALIFIERS:
            node.set("db", None)
            node.set("catalog", None)


def _record_names(tree: exp.Expr) -> None:
    """Record names as written before qualification lowercases them.

    Every identifier keeps its text; every projection that is not a bare column
    gets the output name DuckDB will give it: its alias, else DuckDB's
    rendering of the expression; the first SELECT of a CTE or derived table
    with a column list (``WITH c(a, b) AS ...``) keeps that list.
    """
    for identifier in tree.find_all(exp.Identifier):
        identifier.meta[_WRITTEN] = identifier.name
    for coalesce in tree.find_all(exp.Coalesce):
        coalesce.meta[_USER_COALESCE] = True
    unnamed: list[exp.Expr] = []
    for select in tree.find_all(exp.Select):
        named = _names_matter(select)
        for projection in select.expressions:
            inner = projection.unalias()
            if isinstance(projection, exp.Alias):
                inner.meta[_NAME] = projection.alias
            elif named and not isinstance(inner, (exp.Column, exp.Star, exp.Columns)):
                unnamed.append(inner)
    for inner, name in zip(unnamed, _duckdb_names(unnamed), strict=True):
        inner.meta[_NAME] = name
    for alias in tree.find_all(exp.TableAlias):
        body = alias.parent.this if isinstance(alias.parent, (exp.CTE, exp.Subquery)) else None
        while isinstance(body, (exp.SetOperation, exp.Subquery)):
            body = body.this
        if isinstance(body, exp.Select) and alias.columns:
            body.meta[_COLUMN_LIST] = [column.name for column in alias.columns]


def _names_matter(select: exp.Select) -> bool:
    """Whether the output names of ``select`` can be seen: not a subquery in an expression."""
    node: exp.Expr = select
    while isinstance(node.parent, (exp.Subquery, exp.SetOperation)):
        if isinstance(node.parent, exp.SetOperation) and node is not node.parent.this:
            return False  # a set operation takes its names from its first branch
        node = node.parent
    parent = node.parent
    return parent is None or isinstance(parent, (exp.CTE, exp.From, exp.Join))


class _Analysis:
    """The walk over one qualified query's scopes."""

    def __init__(self, root: Scope, upstreams: Mapping[str, _Upstream]) -> None:
        self._upstreams = upstreams
        self._outputs: dict[int, _Output] = {}
        # A recursive CTE's reference to itself is a scope sqlglot never traversed;
        # the traversed scope of the same expression stands in for it.
        self._scopes = {id(scope.expression): scope for scope in root.traverse()}

    def output(self, scope: Scope) -> _Output:
        """The output columns of ``scope``, computed once."""
        scope = self._scopes.get(id(scope.expression), scope)
        key = id(scope)
        if key not in self._outputs:
            self._outputs[key] = _Output((), frozenset(), ("a query refers to itself",))
            self._outputs[key] = self._compute(scope)
        return self._outputs[key]

    def _compute(self, scope: Scope) -> _Output:
        expression = scope.expression
        if isinstance(expression, exp.Select):
            return self._select(scope)
        if isinstance(expression, exp.SetOperation):
            return self._set_operation(scope)
        if isinstance(expression, exp.Values):
            return _values(expression)
        if isinstance(expression, exp.Unnest):
            return self._unnest(scope)
        if isinstance(expression, exp.Subquery):
            return self.output(scope.branch(expression.unnest(), ScopeType.DERIVED_TABLE))
        if isinstance(expression, exp.Lateral) and isinstance(expression.this, exp.Subquery):
            return self.output(scope.branch(expression.this.unnest(), ScopeType.SUBQUERY))
        kind = type(expression).__name__.upper()
        return _Output((), frozenset(), (f"columns of a {kind} cannot be traced",))

    # Scopes

    def _select(self, scope: Scope) -> _Output:
        select = scope.expression
        projections: list[tuple[str, str, _Found]] = []  # (name, sqlglot's alias, found)
        unknown: list[str] = []
        for projection in select.expressions:
            if projection.is_star:
                expanded, reasons = self._star(projection, scope)
                projections.extend((name, name.lower(), found) for name, found in expanded)
                unknown.extend(reasons)
            elif isinstance(projection.unalias(), exp.Columns):  # DuckDB's COLUMNS('regex')
                unknown.append(f"`{projection.unalias().sql(_DIALECT)}` cannot be expanded")
            else:
                found = _Found()
                self._walk(projection.unalias(), scope, (DIRECT, IDENTITY), found)
                projections.append((self._name(projection, scope), projection.alias_or_name, found))
        rows = self._rows(scope, projections)
        renamed = select.meta.get(_COLUMN_LIST, [])
        names = [*renamed, *(name for name, _, _ in projections[len(renamed) :])]
        columns = tuple(
            _Column(name, frozenset(found.deps | rows.deps), (*found.reasons, *rows.reasons))
            for name, (_, _, found) in zip(names, projections, strict=False)
        )
        return _Output(columns, frozenset(rows.deps), tuple(unknown), tuple(rows.reasons))

    def _rows(self, scope: Scope, projections: list[tuple[str, str, _Found]]) -> _Found:
        """What decides which rows ``scope`` gives: it affects each of its columns."""
        select = scope.expression
        found = _Found()
        joined = [scope.sources[name] for name in _semi_anti_joined(scope)]
        for source in (*(s for _, s in scope.selected_sources.values()), *joined):
            if isinstance(source, Scope):
                found.deps |= self.output(source).rows
                found.reasons.extend(self.output(source).row_reasons)
        for key in ("where", "having", "qualify"):
            self._walk(select.args.get(key), scope, (INDIRECT, FILTER), found)
        for join in select.args.get("joins") or []:
            self._walk(join.args.get("on"), scope, (INDIRECT, JOIN), found)
            for identifier in join.args.get("using") or []:
                self._walk(exp.column(identifier.copy()), scope, (INDIRECT, JOIN), found)
        group = select.args.get("group")
        if group is not None:
            self._walk(group, scope, (INDIRECT, GROUP_BY), found)
            if group.args.get("all"):
                for projection in select.expressions:
                    if not projection.find(exp.AggFunc, exp.Window) and not projection.is_star:
                        self._walk(projection.unalias(), scope, (INDIRECT, GROUP_BY), found)
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on") is not None:
            self._ordering(distinct.args["on"].expressions, scope, GROUP_BY, projections, found)
        elif distinct is not None:  # SELECT DISTINCT groups by every output column
            for _, _, projected in projections:
                found.deps.update(_compose(d, (INDIRECT, GROUP_BY)) for d in projected.deps)
                found.reasons.extend(projected.reasons)
        if _sorts(scope):
            order = select.args.get("order")
            keys = [o.this for o in order.expressions] if order is not None else []
            self._ordering(keys, scope, SORT, projections, found)
        return found

    def _ordering(
        self,
        keys: list[exp.Expr],
        scope: Scope,
        transformation: str,
        projections: list[tuple[str, str, _Found]],
        found: _Found,
    ) -> None:
        """Walk ORDER BY or DISTINCT ON keys, which may name output columns."""
        by_alias = {alias.lower(): projected for _, alias, projected in reversed(projections)}
        for key in keys:
            if isinstance(key, exp.Var) and key.name.upper() == "ALL":  # ORDER BY ALL
                chosen = [projected for _, _, projected in projections]
            elif _is_bare(key) and key.name.lower() in by_alias:
                chosen = [by_alias[key.name.lower()]]
            else:
                self._walk(key, scope, (INDIRECT, transformation), found)
                continue
            for projected in chosen:
                found.deps.update(_compose(d, (INDIRECT, transformation)) for d in projected.deps)
                found.reasons.extend(projected.reasons)

    def _set_operation(self, scope: Scope) -> _Output:
        left, right = (self.output(branch) for branch in scope.set_operation_scopes)
        expression = scope.expression
        positional = not expression.args.get("by_name") and not left.unknown and not right.unknown
        if positional and len(left.columns) != len(right.columns):
            raise _Unanalysable(
                f"the branches of a {expression.key.upper()} give "
                f"{len(left.columns)} and {len(right.columns)} columns"
            )
        rows = _Found(set(left.rows | right.rows), [*left.row_reasons, *right.row_reasons])
        if isinstance(expression, exp.Except):
            # The second branch gives no values: it decides which rows of the first remain.
            columns = list(left.columns)
        elif expression.args.get("by_name"):
            columns = _by_name(left.columns, right.columns)
        else:
            columns = [
                _Column(a.name, a.deps | b.deps, (*a.reasons, *b.reasons))
                for a, b in zip(left.columns, right.columns, strict=False)
            ]
        if isinstance(expression, (exp.Intersect, exp.Except)):
            # Rows are matched by every value of both branches, ALL or not.
            for column in (*left.columns, *right.columns):
                rows.take(column, (INDIRECT, FILTER))
        if expression.args.get("distinct"):
            # Without ALL, duplicates go: every output value decides which rows remain,
            # as SELECT DISTINCT and GROUP BY.
            for column in columns:
                rows.take(column, (INDIRECT, GROUP_BY))
        if _sorts(scope) and expression.args.get("order") is not None:
            self._set_operation_order(expression.args["order"], columns, rows)
        return _Output(
            tuple(
                _Column(c.name, c.deps | rows.deps, (*c.reasons, *rows.reasons)) for c in columns
            ),
            frozenset(rows.deps),
            (*left.unknown, *right.unknown),
            tuple(rows.reasons),
        )

    @staticmethod
    def _set_operation_order(order: exp.Order, columns: list[_Column], rows: _Found) -> None:
        """The ORDER BY of a set operation, which can only name its output columns."""
        by_name = {c.name.lower(): c for c in reversed(columns)}
        for ordered in order.expressions:
            key = ordered.this
            column = by_name.get(key.name.lower()) if _is_bare(key) else None
            if column is None:
                rows.reasons.append(f"ORDER BY `{key.sql(_DIALECT)}` cannot be traced")
            else:
                rows.take(column, (INDIRECT, SORT))

    def _unnest(self, scope: Scope) -> _Output:
        unnest = scope.expression
        found = _Found()
        for value in unnest.expressions:
            self._walk(value, scope, (DIRECT, TRANSFORMATION), found)
        alias = unnest.args.get("alias")
        names = [_written(c) for c in alias.columns] if alias and alias.columns else ["unnest"]
        deps = frozenset(found.deps)
        return _Output(tuple(_Column(n, deps, tuple(found.reasons)) for n in names), frozenset())

    # Stars

    def _star(
        self, projection: exp.Expr, scope: Scope
    ) -> tuple[list[tuple[str, _Found]], list[str]]:
        """The columns of a star sqlglot left unexpanded: some source's columns are unknown."""
        selected = scope.selected_sources
        if isinstance(projection, exp.Column):  # t.*
            star, names = projection.this, [projection.table]
            label = f"`{_written(projection.args['table'])}.*`"
        else:
            star, names, label = projection, list(selected), "`*`"
        excluded = {_written(c).lower() for c in star.args.get("except_") or []}
        replaced = {a.alias.lower(): a for a in star.args.get("replace") or []}
        columns: list[tuple[str, _Found]] = []
        unknown: list[str] = []
        for name in names:
            source = selected[name][1] if name in selected else scope.sources.get(name)
            for column_name, found in self._source_columns(source, label, unknown):
                replacement = replaced.get(column_name.lower())
                if replacement is not None:
                    found = _Found()
                    self._walk(replacement.this, scope, (DIRECT, IDENTITY), found)
                    column_name = replacement.args["alias"].meta.get(_WRITTEN, replacement.alias)
                if column_name.lower() not in excluded:
                    columns.append((column_name, found))
        return columns, unknown

    def _source_columns(
        self, source: exp.Table | Scope | None, star: str, unknown: list[str]
    ) -> Iterator[tuple[str, _Found]]:
        if isinstance(source, Scope):
            output = self.output(source)
            unknown.extend(output.unknown)
            for column in output.columns:
                found = _Found()
                found.take(column, (DIRECT, IDENTITY))
                yield column.name, found
            return
        upstream = self._upstream(source) if source is not None else None
        if source is None:
            unknown.append(f"{star} names no table of its FROM clause")
        elif upstream is None:
            unknown.append(
                f"{star} reads {_label(source)}, whose columns are unknown before it runs"
            )
        elif upstream.columns is None:
            unknown.append(
                f"upstream `{upstream.name}` has no recorded schema (materialize it first), "
                f"so {star} cannot be expanded"
            )
        else:
            renames = _renamed_columns(source)
            for index, recorded in enumerate(upstream.columns.values()):
                name = renames[index] if index < len(renames) else recorded
                yield name, _Found({_Dep(upstream.name, recorded, DIRECT, IDENTITY)})

    # Expressions

    def _walk(self, node: exp.Expr | None, scope: Scope, use: _Use, found: _Found) -> None:
        """Gather what ``node`` depends on, each dependency seen through ``use``."""
        if node is None:
            return
        if isinstance(node, exp.Column):
            if not node.is_star:
                self._column(node, scope, use, found)
        elif isinstance(node, exp.Exists):
            # Only whether a row exists counts, so what the subquery selects gives no edge
            # (`SELECT *` in it selects nothing), and a star that cannot be expanded is no gap.
            subquery = node.this.unnest() if isinstance(node.this, exp.Subquery) else node.this
            output = self.output(scope.branch(subquery, ScopeType.SUBQUERY))
            found.deps.update(_compose(dep, use) for dep in output.rows)
            found.reasons.extend(output.row_reasons)
        elif isinstance(node, (exp.Select, exp.SetOperation)):  # a subquery in an expression
            output = self.output(scope.branch(node, ScopeType.SUBQUERY))
            found.deps.update(_compose(dep, use) for dep in output.rows)
            for column in output.columns:
                found.take(column, use)
            found.reasons.extend(output.unknown)
        elif isinstance(node, exp.Window):
            self._walk(node.this, scope, use, found)
            for window in (node, *_named_windows(node, scope)):
                for part in window.args.get("partition_by") or []:
                    self._walk(part, scope, _indirect(use, WINDOW), found)
                self._walk(window.args.get("order"), scope, _indirect(use, WINDOW), found)
        elif isinstance(node, (exp.Case, exp.If, exp.Coalesce, exp.Nullif)):
            self._conditional(node, scope, use, found)
        elif isinstance(node, exp.Filter):  # count(*) FILTER (WHERE ...)
            self._walk(node.this, scope, use, found)
            self._walk(node.expression, scope, _indirect(use, FILTER), found)
        elif isinstance(node, exp.Order):  # inside an aggregate: string_agg(x ORDER BY y)
            self._walk(node.this, scope, use, found)
            for key in node.expressions:
                self._walk(key, scope, _indirect(use, SORT), found)
        elif isinstance(node, exp.WithinGroup):  # the ordered keys are the aggregated values
            self._walk(node.this, scope, use, found)
            self._walk(node.expression, scope, _aggregated(use), found)
        elif isinstance(node, (exp.Alias, exp.Paren, exp.Subquery, exp.Ordered, exp.Group)):
            for part in node.iter_expressions():
                self._walk(part, scope, use, found)
        else:
            aggregates = isinstance(node, exp.AggFunc) and not isinstance(node, _NAVIGATION)
            inner = _aggregated(use) if aggregates else _transformed(use)
            for child in node.iter_expressions():
                self._walk(child, scope, inner, found)

    def _conditional(self, node: exp.Expr, scope: Scope, use: _Use, found: _Found) -> None:
        """CASE, IF, COALESCE, NULLIF: values are direct, what picks among them conditional."""
        value, condition = _transformed(use), _indirect(use, CONDITIONAL)
        if isinstance(node, exp.Case):
            self._walk(node.this, scope, condition, found)
            for branch in node.args.get("ifs") or []:
                self._walk(branch.this, scope, condition, found)
                self._walk(branch.args.get("true"), scope, value, found)
            self._walk(node.args.get("default"), scope, value, found)
        elif isinstance(node, exp.If):
            self._walk(node.this, scope, condition, found)
            self._walk(node.args.get("true"), scope, value, found)
            self._walk(node.args.get("false"), scope, value, found)
        elif isinstance(node, exp.Coalesce) and not node.meta.get(_USER_COALESCE):
            # qualify writes COALESCE(a.k, b.k) for a USING column: one value, either side.
            for argument in (node.this, *node.expressions):
                self._walk(argument, scope, use, found)
        else:  # COALESCE(a, b, c): a and b decide; NULLIF(a, b): a and b decide
            arguments = [node.this, *node.expressions, node.args.get("expression")]
            present = [a for a in arguments if a is not None]
            deciding = present[:-1] if isinstance(node, exp.Coalesce) else present
            for argument in present:
                self._walk(argument, scope, value, found)
            for argument in deciding:
                self._walk(argument, scope, condition, found)

    def _column(self, column: exp.Column, scope: Scope, use: _Use, found: _Found) -> None:
        source = self._locate(column, scope)
        if isinstance(source, str):
            found.reasons.append(source)
        elif isinstance(source, Scope):
            output = self.output(source)
            match = _named(output.columns, column.name)
            if match is not None:
                found.take(match, use)
            elif output.unknown:
                found.reasons.extend(output.unknown)
            else:
                found.reasons.append(f"column `{_written(column)}` is not in its subquery")
        else:
            upstream = self._upstream(source)
            if upstream is None:
                return  # a file or a table function: no upstream asset
            if upstream.columns is None:
                found.deps.add(_Dep(upstream.name, _written(column), *use))
            elif (recorded := upstream.columns.get(column.name.lower())) is not None:
                found.deps.add(_Dep(upstream.name, recorded, *use))
            else:
                found.reasons.append(
                    f"column `{_written(column)}` is not in the recorded schema of upstream "
                    f"`{upstream.name}` (materialize it again)"
                )

    def _locate(self, column: exp.Column, scope: Scope) -> exp.Table | Scope | str:
        """The source ``column`` reads, or a reason it has none."""
        table = column.table
        candidates: list[tuple[str, exp.Table | Scope]] = []
        for visible in _visible(scope):
            selected = visible.selected_sources
            if table:
                if table in selected:
                    return selected[table][1]
                if table in _semi_anti_joined(visible):
                    return visible.sources[table]
                continue
            candidates = [
                (name, source)
                for name, (_, source) in selected.items()
                if self._may_have(source, column.name)
            ]
            if len(candidates) == 1:
                return candidates[0][1]
            if candidates:
                break
        written = _written(column)
        if table:
            qualifier = _written(column.args["table"])
            return f"column `{qualifier}.{written}` names no table its query reads"
        if not candidates:
            read = ", ".join(f"`{name}`" for name in scope.selected_sources) or "nothing"
            return (
                f"column `{written}` is in none of the tables its query reads ({read}); "
                "if an upstream changed, materialize it again"
            )
        labels = " or ".join(self._describe_source(name, s) for name, s in candidates)
        return f"column `{written}` may come from {labels}, whose columns are unknown"

    def _may_have(self, source: exp.Table | Scope, name: str) -> bool:
        if isinstance(source, Scope):
            output = self.output(source)
            return bool(output.unknown) or _named(output.columns, name) is not None
        upstream = self._upstream(source)
        return upstream is None or upstream.columns is None or name.lower() in upstream.columns

    def _describe_source(self, name: str, source: exp.Table | Scope) -> str:
        if isinstance(source, Scope):
            return f"`{name}`"
        upstream = self._upstream(source)
        if upstream is None:
            return _label(source)
        return f"upstream `{upstream.name}` (materialize it first)"

    def _upstream(self, table: exp.Table) -> _Upstream | None:
        """The upstream asset ``table`` names, or ``None`` for a file or a table function.

        Its columns are seen through ``AS u(a, b)``, which renames the first ones.
        """
        if not isinstance(table.this, exp.Identifier) or _is_file(table):
            return None
        key = ".".join(part.name.lower() for part in table.parts)
        upstream = self._upstreams.get(key) or _Upstream(key, None)
        renames = _renamed_columns(table)
        if not renames or upstream.columns is None:
            return upstream
        recorded = list(upstream.columns.values())
        columns = {name.lower(): old for name, old in zip(renames, recorded, strict=False)}
        columns.update((old.lower(), old) for old in recorded[len(renames) :])
        return _Upstream(upstream.name, columns)

    def _name(self, projection: exp.Expr, scope: Scope) -> str:
        """The name DuckDB gives a projection (not a star) of ``scope``."""
        inner = projection.unalias()
        if _NAME in inner.meta:
            return str(inner.meta[_NAME])
        if isinstance(projection, exp.Alias) and _WRITTEN in projection.args["alias"].meta:
            return str(projection.args["alias"].meta[_WRITTEN])
        if isinstance(inner, exp.Coalesce) and not inner.meta.get(_USER_COALESCE):
            inner = inner.this  # a USING column: DuckDB names it after the left side
        if isinstance(inner, exp.Column):
            source = self._locate(inner, scope)
            if isinstance(source, Scope):
                match = _named(self.output(source).columns, inner.name)
                if match is not None:
                    return match.name
            elif isinstance(source, exp.Table):
                renamed = {n.lower(): n for n in _renamed_columns(source)}
                if inner.name.lower() in renamed:
                    return renamed[inner.name.lower()]
                upstream = self._upstream(source)
                if upstream is not None and upstream.columns is not None:
                    return upstream.columns.get(inner.name.lower(), _written(inner))
            return _written(inner)
        return projection.alias_or_name


def _visible(scope: Scope) -> Iterator[Scope]:
    """``scope``, then the scopes whose sources it may correlate with."""
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent if current.scope_type in _CORRELATED else None


def _semi_anti_joined(scope: Scope) -> list[str]:
    """The SEMI and ANTI joined sources of ``scope``: not selected, but their ON sees them."""
    joins = scope.expression.args.get("joins") if isinstance(scope.expression, exp.Select) else None
    return [
        join.this.alias_or_name
        for join in joins or []
        if join.is_semi_or_anti_join and join.this.alias_or_name in scope.sources
    ]


def _renamed_columns(table: exp.Table) -> list[str]:
    """The column list of ``FROM t AS u(a, b)``, as written."""
    alias = table.args.get("alias")
    return [_written(column) for column in alias.columns] if alias is not None else []


def _named_windows(window: exp.Window, scope: Scope) -> list[exp.Window]:
    """The definitions in ``WINDOW w AS (...)`` that ``OVER w`` refers to."""
    name = window.alias.lower()
    if not name or not isinstance(scope.expression, exp.Select):
        return []
    windows = scope.expression.args.get("windows") or []
    return [w for w in windows if w.name.lower() == name]


def _sorts(scope: Scope) -> bool:
    """Whether the ORDER BY of ``scope`` changes the asset: it is outermost, or has a LIMIT."""
    expression = scope.expression
    return scope.is_root or any(expression.args.get(k) for k in ("limit", "offset", "fetch"))


def _is_bare(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and not node.table and not node.is_star


def _named(columns: Sequence[_Column], name: str) -> _Column | None:
    lowered = name.lower()
    return next((c for c in columns if c.name.lower() == lowered), None)


def _by_name(left: Sequence[_Column], right: Sequence[_Column]) -> list[_Column]:
    """UNION BY NAME: columns matched by name, left's first, then right's new ones."""
    merged = {c.name.lower(): c for c in left}
    for column in right:
        first = merged.get(column.name.lower())
        merged[column.name.lower()] = (
            column
            if first is None
            else _Column(first.name, first.deps | column.deps, (*first.reasons, *column.reasons))
        )
    return list(merged.values())


def _values(values: exp.Values) -> _Output:
    alias = values.args.get("alias")
    if alias is not None and alias.columns:
        names = [_written(c) for c in alias.columns]
    else:
        first = values.expressions[0] if values.expressions else None
        width = len(first.expressions) if isinstance(first, exp.Tuple) else 1
        names = [f"col{i}" for i in range(width)]
    return _Output(tuple(_Column(name, frozenset(), ()) for name in names), frozenset())


def _written(node: exp.Expr) -> str:
    """A column's or identifier's name as written in the query."""
    identifier = node.this if isinstance(node, exp.Column) else node
    if isinstance(identifier, exp.Identifier):
        return str(identifier.meta.get(_WRITTEN, identifier.name))
    return node.name


def _is_file(table: exp.Table) -> bool:
    if isinstance(table.this, exp.Func):
        return _is_file_function(table.this)
    return not table.db and bool(_FILE_NAME.search(_written(table.this)))


def _label(table: exp.Table) -> str:
    """How a message names a file or table function read."""
    if isinstance(table.this, exp.Identifier):
        return f"the file '{_written(table.this)}'"
    paths = [f"'{arg.name}'" for arg in table.this.find_all(exp.Literal) if arg.is_string]
    if _is_file_function(table.this) and paths:
        return f"the file {' or '.join(paths)}"
    return "a table function"


def _lineage(asset: str, output: _Output) -> ColumnLineage:
    """The public result for the root scope's output."""
    columns = () if output.unknown else tuple(c.name for c in output.columns)
    # By column order; with no known column list, by target name.
    position = {name: index for index, name in reversed(list(enumerate(columns)))}
    edges: set[ColumnEdge] = set()
    unresolved = [Unresolved(None, reason) for reason in output.unknown]
    for column in output.columns:
        edges.update(
            ColumnEdge(d.source, d.column, column.name, d.kind, d.transformation)
            for d in column.deps
        )
        unresolved.extend(Unresolved(column.name, reason) for reason in column.reasons)
    ordered = sorted(edges, key=lambda e: (position.get(e.target_column, 0), *_edge_key(e)))
    return ColumnLineage(asset, columns, tuple(ordered), tuple(dict.fromkeys(unresolved)))


def _edge_key(edge: ColumnEdge) -> tuple[str, str, str, str, str]:
    return (edge.target_column, edge.source, edge.source_column, edge.kind, edge.transformation)


# Names of unaliased expressions


def _duckdb_names(expressions: list[exp.Expr]) -> list[str]:
    """The names DuckDB gives unaliased ``expressions``: its parser's rendering of each.

    sqlglot writes each expression back as DuckDB SQL, and DuckDB's parser
    renders that as it names columns (``count(*)`` is ``count_star()``, keywords
    are quoted, operators parenthesized). A function sqlglot spells differently
    from the query (``string_agg`` as ``LISTAGG``) may come out under sqlglot's name.
    """
    if not expressions:
        return []
    texts = [e.sql(dialect=_DIALECT) for e in expressions]
    rendered = _duckdb_render(texts)
    if rendered is not None:
        return rendered
    return [(_duckdb_render([text]) or [text])[0] for text in texts]


def _duckdb_render(texts: list[str]) -> list[str] | None:
    """DuckDB's rendering of each of ``texts`` as a select item, or ``None`` if one fails."""
    import duckdb

    try:
        row = (
            _parser()
            .cursor()
            .execute(
                "SELECT json_deserialize_sql(json_serialize_sql(?))", ["SELECT " + ", ".join(texts)]
            )
            .fetchone()
        )
    except duckdb.Error:
        return None
    rendered = str(row[0]) if row else ""
    if not rendered.startswith("SELECT "):
        return None
    parts = split_top_level(rendered.removeprefix("SELECT "))
    return parts if len(parts) == len(texts) else None


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB used only to parse and render SQL; it reads no data."""
    import duckdb

    return duckdb.connect()
