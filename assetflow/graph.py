"""The lineage graph: assets and sources linked by name, validated, ordered.

:func:`build_graph` resolves every upstream name case-insensitively (as DuckDB
resolves identifiers), refuses duplicates, unknown names and cycles with one
sentence each, and returns an immutable :class:`AssetGraph` in topological
order (ties broken by name, so every order is deterministic).

Example:
    >>> from assetflow.definition import Asset, AssetOptions
    >>> a = Asset("a", "python", "a.py", 1, "default", AssetOptions())
    >>> b = Asset("b", "python", "b.py", 1, "default", AssetOptions(), upstream=("A",))
    >>> g = build_graph([b, a])
    >>> g.names, g.upstream("b")
    (('a', 'b'), ('a',))
"""

from __future__ import annotations

import dataclasses
import difflib
import graphlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any

from assetflow.definition import Asset, CheckFunction, Input
from assetflow.errors import CycleError, DuplicateAssetError, UnknownAssetError


class AssetGraph:
    """An immutable graph of assets and sources, in topological order."""

    __slots__ = ("_assets", "_by_lower", "_down", "_index", "_names")

    def __init__(self, ordered: Iterable[Asset]) -> None:
        """Use :func:`build_graph`; this takes assets already resolved and ordered."""
        assets = {a.name: a for a in ordered}
        down: dict[str, list[str]] = {name: [] for name in assets}
        for a in assets.values():
            for up in a.upstream:
                down[up].append(a.name)
        self._assets = MappingProxyType(assets)
        self._names = tuple(assets)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._by_lower = {name.lower(): name for name in assets}
        self._down = {name: tuple(sorted(v)) for name, v in down.items()}

    def __getitem__(self, name: str) -> Asset:
        return self._assets[name]

    def __contains__(self, name: object) -> bool:
        return name in self._assets

    def __iter__(self) -> Iterator[Asset]:
        """Assets in topological order."""
        return iter(self._assets.values())

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name, in topological order."""
        return self._names

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` sorted topologically."""
        return sorted(set(names), key=self._index.__getitem__)

    def lookup(self, name: str) -> str | None:
        """The canonical spelling of ``name`` (case-insensitive), or ``None``."""
        return self._by_lower.get(name.lower())

    def suggest(self, name: str) -> str | None:
        """The closest existing name, for a did-you-mean."""
        return _closest(name, self._names)

    def upstream(self, name: str) -> tuple[str, ...]:
        """Direct upstreams of ``name``, as declared (inputs first, then ordering-only deps)."""
        return self._assets[name].upstream

    def downstream(self, name: str) -> tuple[str, ...]:
        """Direct downstreams of ``name``, sorted."""
        return self._down[name]

    def ancestors(self, name: str, depth: int | None = None) -> set[str]:
        """Every asset ``name`` depends on, up to ``depth`` edges away (not ``name`` itself)."""
        return self._walk(name, depth, self.upstream)

    def descendants(self, name: str, depth: int | None = None) -> set[str]:
        """Every asset that depends on ``name``, up to ``depth`` edges away."""
        return self._walk(name, depth, self.downstream)

    def _walk(self, start: str, depth: int | None, step: _Step) -> set[str]:
        seen: set[str] = set()
        frontier = [start]
        level = 0
        while frontier and (depth is None or level < depth):
            nxt = []
            for n in frontier:
                for m in step(n):
                    if m not in seen:
                        seen.add(m)
                        nxt.append(m)
            frontier = nxt
            level += 1
        seen.discard(start)
        return seen

    def subgraph(self, names: Iterable[str]) -> AssetGraph:
        """The graph restricted to ``names``; edges to assets outside are dropped."""
        keep = set(names)
        if len(keep) == len(self._names) and keep.issuperset(self._names):
            return self
        return AssetGraph(
            dataclasses.replace(a, upstream=tuple(u for u in a.upstream if u in keep))
            for a in self
            if a.name in keep
        )


_Step = Callable[[str], Iterable[str]]


def attach_checks(
    assets: Sequence[Asset], checks: Iterable[CheckFunction], sql_checks: Iterable[Any] = ()
) -> list[Asset]:
    """Give each asset its ``@check`` functions and SQL check files, and order it after
    every other asset or source its checks read.

    Those reads become ``check_reads`` and ordering-only upstreams, like ``deps``: a
    check runs on the new data before it is published, so what it reads must be done.

    Raises:
        UnknownAssetError: a check names an asset, or reads a table or asset, that does
            not exist (with a did-you-mean).
    """
    from assetflow.checks import check_reads

    by_lower = {a.name.lower(): a for a in assets}
    checkable = [a.name for a in assets if a.kind != "source"]
    everything = [a.name for a in assets]

    def target(name: str, among: list[str], sentence: str, fallback: str) -> str:
        """The asset ``name`` resolves to, or an error: ``sentence`` + a did-you-mean."""
        found = by_lower.get(name.lower())
        if found is None or found.name not in among:
            hint = _closest(name, among)
            fix = f"did you mean {hint!r}?" if hint else fallback
            raise UnknownAssetError(f"{sentence}; {fix}")
        return found.name

    python: dict[str, list[CheckFunction]] = {}
    for c in checks:
        sentence = f"{c.file}:{c.line}: @check {c.name!r} checks {c.asset!r}, which is not an asset"
        name = target(c.asset, checkable, sentence, "name an asset of this project.")
        python.setdefault(name, []).append(c)
    sql: dict[str, list[Any]] = {}
    for sc in sql_checks:
        sentence = f"{sc.file}:1: the check's asset {sc.asset!r} is not an asset"
        name = target(sc.asset, checkable, sentence, "name an asset of this project.")
        sql.setdefault(name, []).append(sc)
    attached = []
    for a in assets:
        if a.name in python or a.name in sql:
            a = dataclasses.replace(
                a,
                custom_checks=tuple(python.get(a.name, ())),
                sql_checks=tuple(sql.get(a.name, ())),
            )
        if not (a.options.checks or a.custom_checks or a.sql_checks):
            attached.append(a)
            continue
        fix = "read assets and sources only."
        reads = list(
            dict.fromkeys(target(r.name, everything, r.unknown, fix) for r in check_reads(a))
        )
        if not reads:
            attached.append(a)
            continue
        declared = {u.lower() for u in a.upstream}
        extra = tuple(r for r in reads if r.lower() not in declared)
        attached.append(
            dataclasses.replace(a, upstream=a.upstream + extra, check_reads=tuple(reads))
        )
    return attached


def build_graph(assets: Iterable[Asset]) -> AssetGraph:
    """Validate ``assets`` and link them into an :class:`AssetGraph`.

    Raises:
        DuplicateAssetError: two names equal case-insensitively (both places named).
        UnknownAssetError: an upstream that is no asset or source (with a did-you-mean).
        CycleError: a dependency cycle (its path named).
    """
    by_lower: dict[str, Asset] = {}
    for a in assets:
        other = by_lower.get(a.name.lower())
        if other is not None:
            raise DuplicateAssetError(
                f"{a.where}: {_kind(a)} {a.name!r} has the same name as {_kind(other)} "
                f"{other.name!r} in {other.where} (names are case-insensitive); rename one."
            )
        by_lower[a.name.lower()] = a
    resolved = [_resolve(a, by_lower) for a in by_lower.values()]
    return AssetGraph(_topological(resolved))


def _resolve(a: Asset, by_lower: dict[str, Asset]) -> Asset:
    names = []
    for up in a.upstream:
        target = by_lower.get(up.lower())
        if target is None:
            raise UnknownAssetError(_unknown_message(a, up, by_lower))
        if target is a:
            raise CycleError(
                f"{a.where}: asset {a.name!r} depends on itself; remove {up!r} from its upstreams."
            )
        names.append(target.name)
    upstream = tuple(dict.fromkeys(names))
    if upstream == a.upstream and all(by_lower[i.asset.lower()].name == i.asset for i in a.inputs):
        return a  # already spelled as declared: the common case, and 10 000 copies saved
    inputs = tuple(Input(i.param, by_lower[i.asset.lower()].name, i.annotation) for i in a.inputs)
    return dataclasses.replace(a, upstream=upstream, inputs=inputs)


def _unknown_message(a: Asset, name: str, by_lower: dict[str, Asset]) -> str:
    if name.lower() in (d.lower() for d in a.options.deps):
        what = f"deps entry {name!r}"
    else:
        what = {"python": "parameter", "sql": "table"}.get(a.kind, "upstream") + f" {name!r}"
    hint = _closest(name, [x.name for x in by_lower.values()])
    fix = (
        f"did you mean {hint!r}?" if hint else "declare it as an asset or source, or fix the name."
    )
    return f"{a.where}: {_kind(a)} {a.name!r}: {what} is not an asset or source; {fix}"


def _topological(assets: list[Asset]) -> list[Asset]:
    by_name = {a.name: a for a in assets}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(by_name):
        sorter.add(name, *by_name[name].upstream)
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        # graphlib lists each node before the one that depends on it: data-flow order.
        cycle: list[str] = e.args[1][:-1]
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start] + [cycle[start]]
        _refuse_check_cycle(cycle, by_name)
        first = by_name[cycle[0]]
        raise CycleError(
            f"{first.where}: assets form a cycle: {' -> '.join(cycle)}; "
            "remove one of these dependencies."
        ) from None
    ordered: list[Asset] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_name[n] for n in ready)
        sorter.done(*ready)
    return ordered


def _refuse_check_cycle(cycle: list[str], by_name: dict[str, Asset]) -> None:
    """Raise a ``CycleError`` naming the check when a check's read closes ``cycle``."""
    from assetflow.checks import check_reads

    for up, down in itertools.pairwise(cycle):
        a = by_name[down]
        if edge_kinds(a).get(up) != "check":
            continue
        read = next(r for r in check_reads(a) if r.name.lower() == up.lower())
        raise CycleError(
            f"{read.where}: {read.check} of asset {down!r} reads {up!r}, which depends on "
            f"{down!r} ({' -> '.join(cycle)}); a check runs before its asset is published, "
            f"so it cannot wait for the asset's own downstream: move the check to {up!r} "
            "or remove it."
        )


def edge_kinds(a: Asset) -> dict[str, str]:
    """How ``a`` depends on each of its upstreams: ``data``, ``deps`` or ``check``.

    ``data``: it reads the upstream's data (a parameter, a SQL table); ``deps``: an
    ordering-only ``deps`` entry; ``check``: only its checks read the upstream. Only
    ``data`` upstreams' data versions make ``a`` stale; the others order the run.

    Example:
        >>> from assetflow.definition import Asset, AssetOptions
        >>> a = Asset("b", "python", "b.py", 1, "g", AssetOptions(deps=("a",)), upstream=("a",))
        >>> edge_kinds(a)
        {'a': 'deps'}
    """
    if not a.options.deps and not a.check_reads:
        return dict.fromkeys(a.upstream, "data")
    data = {i.asset.lower() for i in a.inputs}
    if a.sql is not None:
        data |= set(a.sql.deps)
    deps = {d.lower() for d in a.options.deps}
    checked = {c.lower() for c in a.check_reads}
    kinds = {}
    for up in a.upstream:
        low = up.lower()
        if low in data:
            kinds[up] = "data"
        elif low in deps:
            kinds[up] = "deps"
        elif low in checked:
            kinds[up] = "check"
        else:
            kinds[up] = "data"
    return kinds


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _kind(a: Asset) -> str:
    return "source" if a.kind == "source" else "asset"
