"""A layered, left-to-right layout of the lineage graph, nested by group, for the HTML page.

The page is written once and opened many times, so the layout is computed here,
when the page is written, and the browser only draws: it never lays out a big
graph, so it never hangs on one. The algorithm is the classic layered one, kept
simple so that it stays near-linear and deterministic (the same document gives
the same page, byte for byte):

* each group (a folder, ``marts/finance`` inside ``marts``) is laid out on its own,
  its members being its assets and its child groups, a child group being one big
  box whose size is its own layout's;
* members get layers by longest path over the edges between them (a cycle between
  groups is broken at the edge that closes it in depth-first order);
* members are ordered in their layer by barycenters, a few sweeps down and up;
* each member is then placed at the mean height of its placed neighbours, pushed
  down just enough not to overlap the one above it.

Every asset also gets its layer in the whole graph, which the page uses to lay a
focused subset out again in a few milliseconds.

Example:
    >>> nodes = [LayoutNode("a", "", 150, 42), LayoutNode("b", "", 150, 42)]
    >>> found = layout_graph(nodes, [("a", "b")])
    >>> found.boxes["a"].x < found.boxes["b"].x
    True
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Horizontal gap between layers, vertical gap between members of a layer.
RANK_GAP = 60
NODE_GAP = 24
#: Room inside a group's box: its label above the members, a margin elsewhere.
GROUP_TOP = 26
GROUP_PAD = 12
#: Outer margin of the whole drawing.
MARGIN = 24
_SWEEPS = 4
#: A layer of more members than this and than twice the square root of its group's
#: member count is wrapped into several columns.
_MIN_WRAP = 12


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """An asset to place: its group path (``""`` for none) and its drawn size."""

    name: str
    group: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in page coordinates: ``x``, ``y`` is its top left corner."""

    x: int
    y: int
    width: int
    height: int


@dataclass(slots=True)
class Layout:
    """Where each asset and each group goes, and the size of the whole drawing."""

    boxes: dict[str, Box]
    groups: dict[str, Box]
    layers: dict[str, int]
    width: int
    height: int


@dataclass(slots=True)
class _Group:
    path: str
    assets: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    edges: set[tuple[str, str]] = field(default_factory=set)
    first: int = 0  # the document position of its first asset: the initial order
    label_width: int = 0


def layout_graph(
    nodes: Sequence[LayoutNode], edges: Iterable[tuple[str, str]], *, label_width: int = 8
) -> Layout:
    """Lay ``nodes`` out left to right along ``edges`` (upstream, downstream), nested by group.

    Args:
        nodes: the assets in document order (dependency order lays out best).
        edges: (upstream, downstream) pairs; pairs naming an unknown asset are ignored.
        label_width: pixels per character of a group's label, to keep it inside its box.
    """
    by_name = {n.name: n for n in nodes}
    position = {n.name: i for i, n in enumerate(nodes)}
    edge_list = [(u, d) for u, d in edges if u in by_name and d in by_name and u != d]
    groups = _group_tree(nodes, label_width)
    parts = {n.name: n.group.split("/") if n.group else [] for n in nodes}
    # Each edge joins two members of the deepest group holding both ends.
    for u, d in edge_list:
        pu, pd = parts[u], parts[d]
        common = 0
        while common < min(len(pu), len(pd)) and pu[common] == pd[common]:
            common += 1
        owner = "/".join(pu[:common])
        groups[owner].edges.add((_member(u, pu, common), _member(d, pd, common)))

    sizes: dict[str, tuple[int, int]] = {("a:" + n.name): (n.width, n.height) for n in nodes}
    offsets: dict[str, dict[str, tuple[int, int]]] = {}
    # Children before parents: a group's size is known before its parent places it.
    for path in sorted(groups, key=lambda p: -p.count("/") if p else 1):
        group = groups[path]
        members = [f"g:{c}" for c in group.children] + [f"a:{a}" for a in group.assets]
        members.sort(key=lambda m: groups[m[2:]].first if m[0] == "g" else position[m[2:]])
        places, width, height = _layer_and_place(members, group.edges, sizes)
        offsets[path] = places
        if path:
            width = max(width, group.label_width) + 2 * GROUP_PAD
            sizes[f"g:{path}"] = (width, height + GROUP_TOP + GROUP_PAD)

    boxes: dict[str, Box] = {}
    group_boxes: dict[str, Box] = {}

    def place(path: str, x: int, y: int) -> None:
        for member, (mx, my) in offsets[path].items():
            w, h = sizes[member]
            kind, name = member[:1], member[2:]
            if kind == "a":
                boxes[name] = Box(x + mx, y + my, w, h)
            else:
                group_boxes[name] = Box(x + mx, y + my, w, h)
                place(name, x + mx + GROUP_PAD, y + my + GROUP_TOP)

    place("", MARGIN, MARGIN)
    right = max((b.x + b.width for b in [*boxes.values(), *group_boxes.values()]), default=0)
    bottom = max((b.y + b.height for b in [*boxes.values(), *group_boxes.values()]), default=0)
    ordered = [n.name for n in nodes]
    return Layout(
        boxes={name: boxes[name] for name in ordered},
        groups=dict(sorted(group_boxes.items())),
        layers=_longest_path_layers(ordered, edge_list),
        width=right + MARGIN,
        height=bottom + MARGIN,
    )


def _member(name: str, parts: list[str], common: int) -> str:
    """The member of the group ``parts[:common]`` that holds the asset ``name``."""
    if len(parts) == common:
        return f"a:{name}"
    return "g:" + "/".join(parts[: common + 1])


def _group_tree(nodes: Sequence[LayoutNode], label_width: int) -> dict[str, _Group]:
    groups: dict[str, _Group] = {"": _Group("")}
    for i, n in enumerate(nodes):
        path = ""
        for part in n.group.split("/") if n.group else []:
            child = f"{path}/{part}" if path else part
            if child not in groups:
                groups[child] = _Group(child, first=i, label_width=len(child) * label_width + 90)
                groups[path].children.append(child)
            path = child
        groups[path].assets.append(n.name)
    return groups


def _layer_and_place(
    members: list[str], edges: set[tuple[str, str]], sizes: dict[str, tuple[int, int]]
) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Offsets of ``members`` inside their group, and the size they take."""
    if not members:
        return {}, 0, 0
    succ: dict[str, list[str]] = defaultdict(list)
    for u, d in sorted(edges):
        succ[u].append(d)
    order = _topological(members, succ)
    rank = {m: i for i, m in enumerate(order)}
    # Edges that go back in the order close a cycle (only groups can form one): ignored.
    forward = [(u, d) for u, d in sorted(edges) if rank[u] < rank[d]]
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for u, d in forward:
        preds[d].append(u)
        succs[u].append(d)
    layer: dict[str, int] = {}
    for m in order:
        layer[m] = max((layer[p] + 1 for p in preds[m]), default=0)
    layers: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for m in members:  # in their initial order
        layers[layer[m]].append(m)

    position = {m: i / max(len(col), 1) for col in layers for i, m in enumerate(col)}
    for sweep in range(_SWEEPS):
        down = sweep % 2 == 0
        for col in layers if down else reversed(layers):
            near = preds if down else succs
            keyed = []
            for i, m in enumerate(col):
                ns = near[m]
                bary = sum(position[n] for n in ns) / len(ns) if ns else position[m]
                keyed.append((bary, i, m))
            keyed.sort()
            col[:] = [m for _, _, m in keyed]
            for i, m in enumerate(col):
                position[m] = i / max(len(col), 1)

    # Columns left to right, each stacked and then moved as a whole to where its members'
    # upstreams are (the median wish): straight edges on small graphs, no drift on big ones.
    places: dict[str, tuple[int, int]] = {}
    centre: dict[str, float] = {}
    x = 0
    # A layer far taller than the group is wide (say, 60 assets that share no edge) is
    # wrapped into several columns, so a group's box stays near square and readable.
    cap = max(_MIN_WRAP, math.ceil(2 * math.sqrt(len(members))))
    columns = [col[i : i + cap] for col in layers for i in range(0, len(col), cap)]
    for col in columns:
        tops = []
        top = 0
        for m in col:
            tops.append(top)
            top += sizes[m][1] + NODE_GAP
        wishes = sorted(
            sum(centre[p] for p in preds[m]) / len(preds[m]) - sizes[m][1] / 2 - t
            for m, t in zip(col, tops, strict=True)
            if preds[m]
        )
        shift = wishes[len(wishes) // 2] if wishes else 0.0
        for m, t in zip(col, tops, strict=True):
            places[m] = (x, round(t + shift))
            centre[m] = t + shift + sizes[m][1] / 2
        x += max(sizes[m][0] for m in col) + RANK_GAP
    lowest = min(y for _, y in places.values())
    places = {m: (px, py - lowest) for m, (px, py) in places.items()}
    height = max(y + sizes[m][1] for m, (_, y) in places.items())
    return places, x - RANK_GAP, height


def _topological(members: list[str], succ: dict[str, list[str]]) -> list[str]:
    """Members in an order where every edge but those closing a cycle goes forward."""
    seen: set[str] = set()
    post: list[str] = []
    for root in reversed(members):
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(succ[root]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(succ[child])))
                    break
            else:
                stack.pop()
                post.append(node)
    return post[::-1]


def _longest_path_layers(order: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each asset's layer in the whole graph: one more than its deepest upstream's."""
    preds: dict[str, list[str]] = defaultdict(list)
    for u, d in edges:
        preds[d].append(u)
    rank = {name: i for i, name in enumerate(order)}
    layer: dict[str, int] = {}
    # Document order is dependency order; sorting keeps this right for any other order.
    for name in _topological(order, _successors(edges)) if _unordered(rank, edges) else order:
        layer[name] = max((layer.get(p, 0) + 1 for p in preds[name]), default=0)
    return {name: layer[name] for name in order}


def _successors(edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    succ: dict[str, list[str]] = defaultdict(list)
    for u, d in edges:
        succ[u].append(d)
    return succ


def _unordered(rank: dict[str, int], edges: list[tuple[str, str]]) -> bool:
    return any(rank[u] > rank[d] for u, d in edges)
