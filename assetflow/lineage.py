"""Lineage exports: the lineage document (JSON), Mermaid and Graphviz DOT.

:func:`build_document` gathers everything an export shows about the selected
assets — table edges, status and causes, the last materialization, schemas,
and with ``columns`` the column edges of SQL assets — into one JSON-ready
dict. The JSON, OpenLineage and HTML exports are functions of that document;
Mermaid and DOT are functions of the graph, with optional status colours.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assetflow.definition import Asset
from assetflow.graph import AssetGraph, edge_kinds

if TYPE_CHECKING:
    from assetflow.api import LoadedProject
    from assetflow.state import Materialization

SCHEMA_VERSION = 2
FORMATS = ("json", "mermaid", "dot", "openlineage", "html")
#: How many attempts of each asset the HTML page lists.
HISTORY_LIMIT = 5


#: Edge kinds: ``data`` (the downstream reads the upstream's data), and the ordering-only
#: ``deps`` (a ``deps`` entry) and ``check`` (only the downstream's checks read it).
EDGE_KINDS = ("data", "deps", "check")


def edges(graph: AssetGraph) -> list[tuple[str, str, str]]:
    """Every (upstream, downstream, kind) triple, downstreams in topological order.

    ``kind`` is one of :data:`EDGE_KINDS`.
    """
    found = []
    for a in graph:
        kinds = edge_kinds(a)
        found += [(up, a.name, kinds[up]) for up in a.upstream]
    return found


def node_record(a: Asset) -> dict[str, object]:
    """The JSON description of one asset or source; ``checks`` only when it has some."""
    record: dict[str, object] = {
        "name": a.name,
        "kind": a.kind,
        "group": a.group,
        "upstream": sorted(a.upstream),
        "file": a.file,
        "line": a.line,
        "tags": sorted(a.tags),
        "description": a.description,
    }
    if a.options.checks or a.custom_checks or a.sql_checks:
        record["checks"] = check_records(a)
    return record


def check_records(a: Asset) -> list[dict[str, object]]:
    """The checks attached to an asset: built-in ones, ``@check`` functions, SQL check files."""
    from assetflow.checks import as_checks

    found: list[dict[str, object]] = [
        {"name": c.label, "kind": "builtin", "severity": c.severity, "file": a.file, "line": a.line}
        for c in as_checks(a.options.checks, a.where)
    ]
    found += [
        {
            "name": f"{c.name}()",
            "kind": "python",
            "severity": c.severity,
            "file": c.file,
            "line": c.line,
        }
        for c in a.custom_checks
    ]
    found += [
        {"name": q.label, "kind": "sql", "severity": q.severity, "file": q.file, "line": q.line}
        for q in a.sql_checks
    ]
    return found


def build_document(
    loaded: LoadedProject,
    names: Sequence[str],
    *,
    columns: bool = False,
    details: bool = False,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The lineage document of the assets ``names`` (documented in ``docs/lineage.md``).

    Args:
        loaded: the project.
        names: the selected assets and sources, in dependency order.
        columns: add column edges of SQL assets, unresolved columns, and the schemas of
            file sources (read by DuckDB from the files).
        details: add each node's code and its latest attempts (for the HTML page).
        now: the time statuses are judged at (naive UTC; default: the clock).
    """
    from assetflow.run import statuses
    from assetflow.state import StateStore, utcnow

    now = now or utcnow()
    graph = loaded.graph.subgraph(names)
    store = StateStore(loaded.config.state_dir)
    snapshot = store.snapshot()
    found = statuses(
        loaded.graph, loaded.config, loaded.project.package, now=now, snapshot=snapshot
    )
    schemas: dict[str, list[tuple[str, str]] | None] = {
        name: (m.schema if m.schema else None) for name, m in snapshot.current.items()
    }
    history = store.latest_attempts(HISTORY_LIMIT) if details else {}
    lineage: dict[str, Any] = {}
    if columns:
        from assetflow.column_lineage import project_column_lineage

        for a in loaded.graph:
            if a.kind == "source" and a.name not in schemas:
                schemas[a.name] = _source_schema(loaded, a)
        lineage = project_column_lineage(loaded.graph, schemas, names=graph.names)
    nodes = []
    for a in graph:
        node = node_record(a)
        status = found[a.name]
        current = snapshot.current.get(a.name)
        # Both are StrEnums: str subclasses, written as their values.
        node["status"] = status.status
        node["causes"] = [{"kind": c.kind, "detail": c.detail} for c in status.causes]
        node["last_materialization"] = _materialization(current) if current else None
        schema = schemas.get(a.name)
        node["schema"] = [{"name": n, "type": t} for n, t in schema] if schema else None
        if columns:
            node["unresolved"] = (
                [{"column": u.column, "reason": u.reason} for u in lineage[a.name].unresolved]
                if a.name in lineage
                else []
            )
        if details:
            node["code"] = asset_code(a)
            node["history"] = [
                {**_materialization(m), "outcome": m.outcome, "error": m.error}
                for m in history.get(a.name, ())
            ]
        nodes.append(node)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "project": loaded.config.root.name,
        "generated_at": _iso(now),
        "nodes": nodes,
        "edges": [{"from": u, "to": d, "kind": k} for u, d, k in edges(graph)],
    }
    if columns:
        doc["column_edges"] = [
            {
                "from": e.source,
                "from_column": e.source_column,
                "to": name,
                "to_column": e.target_column,
                "kind": e.kind,
                "transformation": e.transformation,
            }
            for name, cl in lineage.items()
            for e in cl.edges
            if e.source in graph
        ]
    return doc


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat() if value else None


def _materialization(m: Materialization) -> dict[str, Any]:
    return {
        "run_id": m.run_id,
        "finished_at": _iso(m.finished_at),
        "rows": m.rows,
        "bytes": m.bytes,
        "data_version": m.data_version,
        "code_version": m.code_version,
        "format": m.format,
    }


def asset_code(a: Asset) -> str | None:
    """The SQL of a SQL asset or the source of a Python asset's function (None for sources)."""
    if a.sql is not None:
        return str(a.sql.query).strip() + "\n"
    if a.fn is not None:
        try:
            return inspect.getsource(a.fn)
        except (OSError, TypeError):
            return None
    return None


def _source_schema(loaded: LoadedProject, source: Asset) -> list[tuple[str, str]] | None:
    """The columns DuckDB reads from a file source, or None when it isn't a readable table."""
    import duckdb

    from assetflow.compute import source_query

    try:
        query = source_query(loaded.config.root, source)
        with duckdb.connect() as con:
            return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {query}").fetchall()]
    except Exception:  # a schema is an extra: lineage must not fail over a file DuckDB can't read
        return None


def to_json(doc: Mapping[str, Any]) -> str:
    """The lineage document as JSON with one node or edge per line.

    Readable and diffable, and written by the C encoder line by line: ``indent=``
    goes through the pure-Python encoder, five times slower on a big graph.
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per item
    lines = ["{"]
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < len(doc) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {encode(key)}: [")
            lines.append(",\n".join("    " + encode(v) for v in value))
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {encode(key)}: {encode(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _by_group(graph: AssetGraph) -> dict[str, list[Asset]]:
    groups: dict[str, list[Asset]] = defaultdict(list)
    for a in graph:
        groups[a.group].append(a)
    return dict(sorted(groups.items()))


_NOT_ID = re.compile(r"[^A-Za-z0-9_]")


def _mermaid_id(prefix: str, name: str) -> str:
    # Prefixed so names that are Mermaid keywords (end, graph, subgraph) stay nodes.
    return prefix + (_NOT_ID.sub("_", name) if not name.isidentifier() else name)


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


#: Fill and stroke colours of each status, shared by Mermaid, DOT and the HTML page.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "fresh": ("#d1f2d9", "#2e8b57"),
    "stale": ("#ffe8b3", "#d08c00"),
    "overdue": ("#fff3b0", "#b59b00"),
    "missing": ("#e6e6e6", "#7a7a7a"),
    "failed": ("#f8c9c9", "#c0392b"),
}


#: Data edges are solid; ordering-only edges are dashed and say why.
_MERMAID_ARROWS = {"data": "-->", "deps": "-. deps .->", "check": "-. check .->"}
_DOT_EDGES = {
    "data": "",
    "deps": ' [style=dashed, label="deps"]',
    "check": ' [style=dashed, label="check"]',
}


def to_mermaid(graph: AssetGraph, statuses: Mapping[str, str] | None = None) -> str:
    """A Mermaid ``flowchart LR`` with one subgraph per group; sources are stadium-shaped.

    Data edges are solid arrows; ordering-only edges (``deps``, and what only a
    check reads) are dashed and labelled ``deps`` or ``check``.

    Args:
        statuses: asset name → status; when given, nodes are coloured by status.
    """
    lines = ["flowchart LR"]
    for i, (group, members) in enumerate(_by_group(graph).items()):
        lines.append(f"  subgraph {_mermaid_id(f'g{i}_', group)}[{_mermaid_label(group)}]")
        for a in members:
            node = _mermaid_id("a_", a.name)
            label = _mermaid_label(a.name)
            shape = f"([{label}])" if a.kind == "source" else f"[{label}]"
            lines.append(f"    {node}{shape}")
        lines.append("  end")
    lines.extend(
        f"  {_mermaid_id('a_', u)} {_MERMAID_ARROWS[k]} {_mermaid_id('a_', d)}"
        for u, d, k in edges(graph)
    )
    if statuses is not None:
        by_status: dict[str, list[str]] = defaultdict(list)
        for a in graph:
            if a.name in statuses:
                by_status[statuses[a.name]].append(_mermaid_id("a_", a.name))
        for status, ids in sorted(by_status.items()):
            fill, stroke = STATUS_COLOURS[status]
            lines.append(f"  classDef {status} fill:{fill},stroke:{stroke},color:#222")
            lines.append(f"  class {','.join(ids)} {status}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: AssetGraph, statuses: Mapping[str, str] | None = None) -> str:
    """A Graphviz digraph laid out left to right, one ``cluster`` subgraph per group.

    Ordering-only edges are dashed and labelled ``deps`` or ``check``.

    Args:
        statuses: asset name → status; when given, nodes are filled by status.
    """
    lines = ["digraph assetflow {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    for group, members in _by_group(graph).items():
        lines.append(f"  subgraph {_dot_quote('cluster_' + group)} {{")
        lines.append(f"    label={_dot_quote(group)};")
        for a in members:
            attrs = ["shape=ellipse" if a.kind == "source" else "shape=box"]
            status = statuses.get(a.name) if statuses is not None else None
            if status is not None:
                fill, stroke = STATUS_COLOURS[status]
                attrs += ["style=filled", f'fillcolor="{fill}"', f'color="{stroke}"']
                attrs.append(f"tooltip={_dot_quote(status)}")
            lines.append(f"    {_dot_quote(a.name)} [{', '.join(attrs)}];")
        lines.append("  }")
    lines.extend(
        f"  {_dot_quote(u)} -> {_dot_quote(d)}{_DOT_EDGES[k]};" for u, d, k in edges(graph)
    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def list_records(assets: Iterable[Asset]) -> list[dict[str, object]]:
    """The ``assetflow list --format json`` entries."""
    keys = ("name", "kind", "group", "upstream", "file", "line", "tags")
    return [{k: v for k, v in node_record(a).items() if k in keys} for a in assets]
