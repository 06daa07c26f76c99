"""Lineage exports: JSON, Mermaid and Graphviz DOT, at table level.

Each export is a pure function of an :class:`AssetGraph` (restricted to the
selection by the caller) returning text.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable

from assetflow.definition import Asset
from assetflow.graph import AssetGraph

SCHEMA_VERSION = 1
FORMATS = ("json", "mermaid", "dot")


def export(graph: AssetGraph, fmt: str) -> str:
    """The graph in format ``fmt`` (one of :data:`FORMATS`)."""
    return {"json": to_json, "mermaid": to_mermaid, "dot": to_dot}[fmt](graph)


def edges(graph: AssetGraph) -> list[tuple[str, str]]:
    """Every (upstream, downstream) pair, downstreams in topological order."""
    return [(up, a.name) for a in graph for up in a.upstream]


def node_record(a: Asset) -> dict[str, object]:
    """The JSON description of one asset or source."""
    return {
        "name": a.name,
        "kind": a.kind,
        "group": a.group,
        "upstream": sorted(a.upstream),
        "file": a.file,
        "line": a.line,
        "tags": sorted(a.tags),
        "description": a.description,
    }


def to_json(graph: AssetGraph) -> str:
    """``{"schema_version": 1, "nodes": [...], "edges": [{"from", "to"}]}``."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "nodes": [node_record(a) for a in graph],
        "edges": [{"from": u, "to": d} for u, d in edges(graph)],
    }
    return json.dumps(doc, indent=2) + "\n"


def _by_group(graph: AssetGraph) -> dict[str, list[Asset]]:
    groups: dict[str, list[Asset]] = defaultdict(list)
    for a in graph:
        groups[a.group].append(a)
    return dict(sorted(groups.items()))


def _mermaid_id(prefix: str, name: str) -> str:
    # Prefixed so names that are Mermaid keywords (end, graph, subgraph) stay nodes.
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def to_mermaid(graph: AssetGraph) -> str:
    """A Mermaid ``flowchart LR`` with one subgraph per group; sources are stadium-shaped."""
    lines = ["flowchart LR"]
    for i, (group, members) in enumerate(_by_group(graph).items()):
        lines.append(f"  subgraph {_mermaid_id(f'g{i}_', group)}[{_mermaid_label(group)}]")
        for a in members:
            node = _mermaid_id("a_", a.name)
            label = _mermaid_label(a.name)
            shape = f"([{label}])" if a.kind == "source" else f"[{label}]"
            lines.append(f"    {node}{shape}")
        lines.append("  end")
    lines.extend(f"  {_mermaid_id('a_', u)} --> {_mermaid_id('a_', d)}" for u, d in edges(graph))
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: AssetGraph) -> str:
    """A Graphviz digraph laid out left to right, one ``cluster`` subgraph per group."""
    lines = ["digraph assetflow {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    for group, members in _by_group(graph).items():
        lines.append(f"  subgraph {_dot_quote('cluster_' + group)} {{")
        lines.append(f"    label={_dot_quote(group)};")
        for a in members:
            shape = "ellipse" if a.kind == "source" else "box"
            lines.append(f"    {_dot_quote(a.name)} [shape={shape}];")
        lines.append("  }")
    lines.extend(f"  {_dot_quote(u)} -> {_dot_quote(d)};" for u, d in edges(graph))
    lines.append("}")
    return "\n".join(lines) + "\n"


def list_records(assets: Iterable[Asset]) -> list[dict[str, object]]:
    """The ``assetflow list --format json`` entries."""
    keys = ("name", "kind", "group", "upstream", "file", "line", "tags")
    return [{k: v for k, v in node_record(a).items() if k in keys} for a in assets]
