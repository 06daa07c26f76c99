"""Selecting assets with dbt's selector syntax, resolved against the asset graph.

A selection is a union (whitespace) of intersections (commas) of atoms; comma
binds tighter, so ``a,b c`` means (a and b) or c. Spaces around a comma are an
error, not a union: ``a, b`` is refused. An atom is ``method:value``
(``tag:daily``, ``group:marts``, ``path:assets/staging``, ``status:stale``,
``kind:sql``; a bare ``orders`` or ``stg_*`` means ``name:``) inside graph
operators: ``+x`` adds all ancestors, ``x+`` all descendants, ``2+x+1`` both
to a depth, ``@x`` adds x's descendants and every ancestor of those.

Example:
    >>> from assetflow.definition import Asset, AssetOptions
    >>> from assetflow.graph import build_graph
    >>> a = Asset("a", "python", "a.py", 1, "default", AssetOptions())
    >>> b = Asset("b", "python", "b.py", 1, "default", AssetOptions(), upstream=("a",))
    >>> select(build_graph([a, b]), "+B")
    ['a', 'b']
    >>> str(parse_selection("tag:daily,2+orders stg_*"))
    'tag:daily,2+orders stg_*'
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, cast, get_args

from assetflow.errors import SelectionError, UnknownAssetError
from assetflow.graph import AssetGraph

Method = Literal["group", "kind", "name", "path", "status", "tag"]
METHODS: tuple[str, ...] = get_args(Method)
STATUSES = ("missing", "stale", "overdue", "failed", "fresh")
KINDS = ("python", "sql", "source")

_GLOB = re.compile(r"[*?\[]")
_PARENTS = re.compile(r"(\d*)\+")
_CHILDREN = re.compile(r"\+(\d*)$")
_OPERATORS_HELP = "use '+name', 'name+', '2+name+1' or '@name'"


@dataclass(frozen=True, slots=True)
class Atom:
    """One selector: a method and its value, with the graph operators around it.

    A depth of ``None`` with ``parents``/``children`` set means "all of them";
    ``childrens_parents`` is dbt's ``@``.
    """

    method: Method
    value: str
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None
    childrens_parents: bool = False

    def __str__(self) -> str:
        up = f"{_depth(self.parents_depth)}+" if self.parents else ""
        down = f"+{_depth(self.children_depth)}" if self.children else ""
        at = "@" if self.childrens_parents else ""
        body = self.value if self.method == "name" else f"{self.method}:{self.value}"
        return f"{at}{up}{body}{down}"


@dataclass(frozen=True, slots=True)
class Intersection:
    """Atoms joined by commas: the assets every one of them selects."""

    atoms: tuple[Atom, ...]

    def __str__(self) -> str:
        return ",".join(map(str, self.atoms))


@dataclass(frozen=True, slots=True)
class Selection:
    """Intersections joined by whitespace: the assets any of them selects."""

    terms: tuple[Intersection, ...]

    def __str__(self) -> str:
        return " ".join(map(str, self.terms))


def _depth(depth: int | None) -> str:
    return "" if depth is None else str(depth)


def parse_selection(text: str) -> Selection:
    """Parse ``text`` without looking at any graph, so a caller can validate early.

    Method names and ``status:``/``kind:`` values are lower-cased; names are
    checked only by :func:`select`. Empty or blank text gives an empty selection.

    Raises:
        SelectionError: a stray comma, an unknown method, status or kind, a
            method with no value, or a malformed graph operator.
    """
    return Selection(tuple(_parse_term(term) for term in text.split()))


def _parse_term(term: str) -> Intersection:
    parts = term.split(",")
    if "" in parts:
        raise SelectionError(
            f"selection: {term!r} has an empty part around a comma; write an intersection "
            "without spaces, as 'tag:daily,group:marts'."
        )
    return Intersection(tuple(_parse_atom(part) for part in parts))


def _parse_atom(text: str) -> Atom:
    at = text.startswith("@")
    body = text[1:] if at else text
    parents = children = False
    parents_depth = children_depth = None
    if m := _PARENTS.match(body):
        parents, parents_depth, body = True, _int(m[1]), body[m.end() :]
    if m := _CHILDREN.search(body):
        children, children_depth, body = True, _int(m[1]), body[: m.start()]
    # Neither '+' nor '@' can occur in a name, so one left over is a typo.
    if not body or "+" in body or "@" in body:
        raise SelectionError(
            f"selection: {text!r} has a malformed graph operator; {_OPERATORS_HELP}."
        )
    if at and (parents or children):
        raise SelectionError(
            f"selection: {text!r} combines '@' with '+'; '@name' already includes every "
            "descendant and their ancestors, so use '@name' or '+name+' alone."
        )
    method, colon, value = body.partition(":")
    if not colon:
        method, value = "name", body
    return Atom(
        _method(method.lower(), text),
        _value(method.lower(), value, text),
        parents,
        parents_depth,
        children,
        children_depth,
        at,
    )


def _int(digits: str) -> int | None:
    return int(digits) if digits else None


def _method(method: str, text: str) -> Method:
    if method not in METHODS:
        hint = difflib.get_close_matches(method, METHODS, n=1)
        fix = f"did you mean {hint[0]!r}?" if hint else f"use one of {', '.join(METHODS)}."
        raise SelectionError(f"selection: {text!r} uses unknown method {method!r}; {fix}")
    return cast(Method, method)


def _value(method: str, value: str, text: str) -> str:
    if not value:
        raise SelectionError(
            f"selection: {text!r} has no value after '{method}:'; write it as '{method}:VALUE'."
        )
    allowed = {"status": STATUSES, "kind": KINDS}.get(method)
    if allowed is None:
        return value
    if value.lower() not in allowed:
        raise SelectionError(
            f"selection: {text!r} names unknown {method} {value!r}; "
            f"use one of {', '.join(allowed)}."
        )
    return value.lower()


def select(
    graph: AssetGraph,
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    *,
    statuses: Callable[[], Mapping[str, str]] | None = None,
) -> list[str]:
    """The names ``select`` picks from ``graph`` minus those ``exclude`` picks, in graph order.

    Several strings are a union, as if joined with spaces. No ``select`` (or
    only blank strings) picks every asset and source. ``statuses`` returns
    each name's status; it is called at most once, and only for ``status:``.

    Raises:
        SelectionError: the selection does not parse, or uses ``status:``
            without ``statuses``.
        UnknownAssetError: a plain name that is no asset or source.
    """
    chosen, dropped = _parse_all(select), _parse_all(exclude)
    if statuses is None and any(
        atom.method == "status"
        for selection in (chosen, dropped)
        for term in selection.terms
        for atom in term.atoms
    ):
        raise SelectionError(
            "status: selectors need the project state; use them with a command that reads "
            "it (such as status or materialize), or select by name, tag, group or path."
        )
    resolver = _Resolver(graph, statuses)
    names = resolver.union(chosen) if chosen.terms else set(graph.names)
    return graph.order(names - resolver.union(dropped))


def _parse_all(texts: str | Sequence[str] | None) -> Selection:
    if texts is None:
        return Selection(())
    if isinstance(texts, str):
        return parse_selection(texts)
    return Selection(tuple(term for text in texts for term in parse_selection(text).terms))


class _Resolver:
    """Evaluates parsed selections on one graph, fetching statuses at most once."""

    __slots__ = ("_fetch", "_graph", "_statuses")

    def __init__(self, graph: AssetGraph, fetch: Callable[[], Mapping[str, str]] | None) -> None:
        self._graph = graph
        self._fetch = fetch
        self._statuses: Mapping[str, str] | None = None

    def union(self, selection: Selection) -> set[str]:
        names: set[str] = set()
        for term in selection.terms:
            # Evaluate every atom, even after an empty one, so a misspelled name always raises.
            found = [self._atom(atom) for atom in term.atoms]
            names |= set.intersection(*found)
        return names

    def _atom(self, atom: Atom) -> set[str]:
        g = self._graph
        matched = self._match(atom.method, atom.value)
        names = set(matched)
        for name in matched:
            if atom.parents:
                names |= g.ancestors(name, atom.parents_depth)
            if atom.children:
                names |= g.descendants(name, atom.children_depth)
        if atom.childrens_parents:
            below = names.union(*(g.descendants(name) for name in matched))
            names = below.union(*(g.ancestors(name) for name in below))
        return names

    def _match(self, method: Method, value: str) -> set[str]:
        g = self._graph
        if method == "name":
            return self._names(value)
        if method == "tag":
            return {a.name for a in g if any(fnmatchcase(t.lower(), value.lower()) for t in a.tags)}
        if method == "group":
            group = value.lower().rstrip("/")
            return {a.name for a in g if _in_tree(a.group.lower(), group)}
        if method == "path":
            path = posixpath.normpath(value)
            return {a.name for a in g if path == "." or _in_tree(a.file, path)}
        if method == "kind":
            return {a.name for a in g if a.kind == value}
        return {name for name, status in self._status().items() if status == value}

    def _names(self, value: str) -> set[str]:
        if _GLOB.search(value):
            return {name for name in self._graph.names if fnmatchcase(name.lower(), value.lower())}
        name = self._graph.lookup(value)
        if name is not None:
            return {name}
        hint = self._graph.suggest(value)
        if hint is not None:
            fix = f"did you mean {hint!r}?"
        elif "/" in value:
            fix = f"to select by file, write 'path:{value}'."
        else:
            fix = f"fix the name, or use a pattern such as '{value}*' or 'tag:{value}'."
        raise UnknownAssetError(f"selection: {value!r} is not an asset or source; {fix}")

    def _status(self) -> dict[str, str]:
        if self._statuses is None:
            assert self._fetch is not None  # select() refuses status: without it
            self._statuses = self._fetch()
        return {name: s for name, s in self._statuses.items() if name in self._graph}


def _in_tree(path: str, pattern: str) -> bool:
    """Whether ``path`` (``a/b/c``) matches ``pattern`` or lies under a folder that does."""
    parts = path.split("/")
    return any(fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))
