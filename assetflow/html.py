"""The lineage document as one self-contained HTML page.

The page needs nothing at view time: the document and its layout are embedded as
JSON, and the page's script and style sheet are inlined. A Content Security Policy
allows exactly that inline script and style sheet by hash and nothing else, so the
page cannot load or send anything even if a name in the document tried to.

The layout is computed here, when the page is written (:mod:`assetflow.layout`), so
the browser only draws, whatever the size of the graph. The document is embedded
packed (:func:`pack_document`): the same JSON, column by column, with repeated
values stored once, which makes the page of 10 000 assets less than half its plain size.

The page itself lives in ``assetflow/html_page/``: ``page.html`` is the template,
``page.js`` draws the graph (SVG when few boxes are in view, a canvas otherwise),
``page.css`` styles it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

from assetflow.layout import Layout, LayoutNode, layout_graph
from assetflow.lineage import STATUS_COLOURS

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
#: Nodes are drawn with their columns only up to this many assets (the page's toggle).
MAX_NODES_WITH_COLUMNS = 300
#: Sizes of the drawn boxes, in CSS pixels; the page draws with the same numbers.
HEADER_HEIGHT = 42
ROW_HEIGHT = 18
_KIND_NAMES = {"source": "source", "python": "Python asset", "sql": "SQL asset"}


def to_html(doc: Mapping[str, Any]) -> str:
    """The lineage document ``doc`` (see ``build_document``) as a self-contained HTML page.

    Example:
        >>> page = to_html({"project": "shop", "nodes": [], "edges": []})
        >>> page.startswith("<!DOCTYPE html>")
        True
    """
    style = _status_style() + _read("html_page", "page.css")
    script = _read("html_page", "page.js")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(script)}",
            f"style-src {_csp_hash(style)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    parts = {
        "title": html.escape(f"{doc.get('project') or 'assetflow'} · assetflow lineage"),
        "csp": csp,  # ours alone: hashes and keywords, no quote or ampersand
        "style": style,
        "data": _script_json(pack_document(doc)),
        "layout": _script_json(page_layout(doc)),
        "script": script,
    }
    # One pass over the template only: text put in is never searched for placeholders.
    return _PLACEHOLDER.sub(lambda m: parts[m[1]], _read("html_page", "page.html"))


def page_layout(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Where the page draws each asset and group: flat ``[x, y, width, height]`` runs.

    ``boxes`` follows the order of ``doc["nodes"]``; ``columns`` is the layout with
    each asset's columns drawn in its box, for graphs small enough to show them.
    """
    nodes = [n for n in doc.get("nodes") or [] if isinstance(n, Mapping)]
    pairs = [(str(e.get("from")), str(e.get("to"))) for e in doc.get("edges") or []]
    plain = layout_graph([_layout_node(n, ()) for n in nodes], pairs)
    found: dict[str, Any] = _layout_json(plain, nodes)
    columns = _columns_by_asset(doc, nodes)
    if len(nodes) <= MAX_NODES_WITH_COLUMNS and any(columns.values()):
        tall = [_layout_node(n, columns[str(n.get("name"))]) for n in nodes]
        found["columns"] = _layout_json(layout_graph(tall, pairs), nodes)
    return found


def _layout_json(found: Layout, nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    boxes = [found.boxes[str(n.get("name"))] for n in nodes]
    return {
        "width": found.width,
        "height": found.height,
        "boxes": [v for b in boxes for v in (b.x, b.y, b.width, b.height)],
        "layers": [found.layers[str(n.get("name"))] for n in nodes],
        "groups": [[g, b.x, b.y, b.width, b.height] for g, b in found.groups.items()],
    }


def _text_width(text: str, per_char: float) -> float:
    # A guess from the length: the page cannot be asked. Wide enough for most names in
    # the page's sans-serif fonts; a longer one is cut with an ellipsis where it is drawn.
    return len(text) * per_char


def _layout_node(node: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> LayoutNode:
    name = str(node.get("name"))
    meta = f"{_KIND_NAMES.get(str(node.get('kind')), str(node.get('kind')))} · {node.get('status')}"
    width = max(150.0, 48 + max(_text_width(name, 8.0), _text_width(meta, 6.2)) + 14)
    height = HEADER_HEIGHT
    for column, kind in columns:
        width = max(width, _text_width(column, 7.2) + _text_width(kind, 6.4) + 44)
    if columns:
        height += len(columns) * ROW_HEIGHT + 6
    group = node.get("group")
    return LayoutNode(name, str(group) if group else "", round(width), height)


def _columns_by_asset(
    doc: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]
) -> dict[str, list[tuple[str, str]]]:
    """Each asset's columns as the page lists them: its schema, else its column edges'."""
    named: dict[str, dict[str, None]] = {str(n.get("name")): {} for n in nodes}
    for end in ("to", "from"):
        for e in doc.get("column_edges") or []:
            if str(e.get(end)) in named:
                named[str(e.get(end))][str(e.get(f"{end}_column"))] = None
    found = {}
    for n in nodes:
        name = str(n.get("name"))
        schema = n.get("schema")
        if isinstance(schema, list):
            found[name] = [(str(c.get("name")), str(c.get("type") or "")) for c in schema]
        else:
            found[name] = [(c, "") for c in named[name]]
    return found


def pack_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with its nodes, edges and column edges stored column by column.

    A table ``[{"a": 1}, {"a": 2}]`` becomes ``{"$n": 2, "$c": {"a": column}}``; a
    column is ``{"v": values}``, ``{"d": indexes}`` into the shared ``"$values"``
    (values seen more than once anywhere), ``{"r": indexes}`` of nodes (an asset's
    name), ``{"rl": lists of indexes}``, ``{"t": table, "z": rows that are null}``
    (objects alike), or ``{"l": lengths, "t": table}`` (lists of objects alike). A
    table whose rows have different keys is stored as it is. ``page.js`` unpacks it.

    Example:
        >>> packed = pack_document({"nodes": [{"name": "a"}], "edges": []})
        >>> packed["nodes"]
        {'$n': 1, '$c': {'name': {'v': ['a']}}}
    """
    nodes = doc.get("nodes")
    if not _alike(nodes):
        return dict(doc)
    assert isinstance(nodes, list)
    names = {str(n.get("name")): i for i, n in enumerate(nodes)}
    if len(names) != len(nodes):
        return dict(doc)
    packer = _Packer(names)
    tables = {key: doc[key] for key in ("nodes", "edges", "column_edges") if key in doc}
    for rows in tables.values():
        packer.count(rows)
    packed: dict[str, Any] = {k: v for k, v in doc.items() if k not in tables}
    for key, rows in tables.items():
        packed[key] = packer.table(rows, node_table=key == "nodes")
    packed["$values"] = packer.values
    return packed


def _key(value: object) -> tuple[str, object]:
    # Scalars are their own key (tagged, so that 1, 1.0 and True stay apart); only lists
    # and objects pay for a JSON text.
    if value is None or isinstance(value, str | int | float):
        return type(value).__name__, value
    return "json", json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Packer:
    """Packs tables into columns, sharing one table of repeated values among them."""

    def __init__(self, names: Mapping[str, int]) -> None:
        self.names = names
        self.seen: Counter[tuple[str, object]] = Counter()
        self.values: list[object] = []
        self.index: dict[tuple[str, object], int] = {}

    def count(self, rows: object) -> None:
        """Count every value a column of ``rows`` would store, to find those repeated."""
        if not _alike(rows):
            return
        assert isinstance(rows, list)
        for key in rows[0] if rows else ():
            column = [r[key] for r in rows]
            if _alike([v for v in column if v is not None]) and any(v is not None for v in column):
                self.count([v for v in column if v is not None])
            elif all(isinstance(v, list) for v in column) and _alike(
                flat := [x for v in column for x in v]
            ):
                self.count(flat)
            else:
                self.seen.update(_key(v) for v in column)

    def table(self, rows: object, *, node_table: bool = False) -> object:
        if not _alike(rows) or not rows:
            return rows
        assert isinstance(rows, list)
        columns = {}
        for key in rows[0]:
            column = [r[key] for r in rows]
            columns[key] = self.column(column, names_ok=not (node_table and key == "name"))
        return {"$n": len(rows), "$c": columns}

    def column(self, column: list[Any], *, names_ok: bool) -> dict[str, Any]:
        present = [v for v in column if v is not None]
        if present and _alike(present):
            nulls = [i for i, v in enumerate(column) if v is None]
            return {"t": self.table(present), "z": nulls}
        if present and all(isinstance(v, list) for v in column):
            flat = [x for v in column for x in v]
            if flat and _alike(flat):
                return {"l": [len(v) for v in column], "t": self.table(flat)}
        if names_ok and column and all(isinstance(v, str) and v in self.names for v in column):
            return {"r": [self.names[v] for v in column]}
        if (
            names_ok
            and column
            and all(isinstance(v, list) for v in column)
            and all(isinstance(x, str) and x in self.names for v in column for x in v)
        ):
            return {"rl": [[self.names[x] for x in v] for v in column]}
        keys = [_key(v) for v in column]
        if sum(self.seen[k] > 1 for k in keys) * 2 < len(keys):
            return {"v": column}
        indexes = []
        for k, v in zip(keys, column, strict=True):
            if k not in self.index:
                self.index[k] = len(self.values)
                self.values.append(v)
            indexes.append(self.index[k])
        return {"d": indexes}


def _alike(rows: object) -> bool:
    """Whether ``rows`` is a non-empty list of objects with the same keys."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return False
    keys = list(rows[0])
    return all(list(r) == keys for r in rows)


def _read(*path: str) -> str:
    return files("assetflow").joinpath(*path).read_text(encoding="utf-8")


def _script_json(doc: Mapping[str, Any]) -> str:
    # Inside <script> only "</script" and "<!--" could end or confuse the element; with every
    # "<" written as \u003c neither can occur, and JSON.parse reads the escape back as "<".
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _status_style() -> str:
    rules = [
        f".status-{status} {{ --fill: {fill}; --stroke: {stroke}; }}"
        for status, (fill, stroke) in STATUS_COLOURS.items()
    ]
    return "\n".join(rules) + "\n"


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
