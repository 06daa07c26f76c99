"""The lineage document as one self-contained HTML page.

The page needs nothing at view time: the document is embedded as JSON, and
the layout library (dagre, vendored in ``assetflow/_vendor/dagre`` with its
license), the page's script and its style sheet are inlined. A Content
Security Policy allows exactly those inline scripts and that style sheet by
hash and nothing else, so the page cannot load or send anything even if a
name in the document tried to.

The page itself lives in ``assetflow/html_page/``: ``page.html`` is the
template, ``page.js`` lays the graph out with dagre and draws it in SVG,
``page.css`` styles it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from assetflow.lineage import STATUS_COLOURS

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# The browser build ends with comments pointing at files the page doesn't ship.
_DAGRE_TRAILER = re.compile(r"^(//# sourceMappingURL=.*|/\*! For license information.*\*/)$", re.M)


def to_html(doc: Mapping[str, Any]) -> str:
    """The lineage document ``doc`` (see ``build_document``) as a self-contained HTML page.

    Example:
        >>> page = to_html({"project": "shop", "nodes": [], "edges": []})
        >>> page.startswith("<!DOCTYPE html>")
        True
    """
    style = _status_style() + _read("html_page", "page.css")
    dagre = _dagre_script()
    script = _read("html_page", "page.js")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(dagre)} {_csp_hash(script)}",
            f"style-src {_csp_hash(style)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    parts = {
        "title": html.escape(f"{doc.get('project') or 'assetflow'} · assetflow lineage"),
        "csp": csp,  # ours alone: hashes and keywords, no quote or ampersand
        "style": style,
        "data": _script_json(doc),
        "dagre": dagre,
        "script": script,
    }
    # One pass over the template only: text put in is never searched for placeholders.
    return _PLACEHOLDER.sub(lambda m: parts[m[1]], _read("html_page", "page.html"))


def _read(*path: str) -> str:
    return files("assetflow").joinpath(*path).read_text(encoding="utf-8")


def _script_json(doc: Mapping[str, Any]) -> str:
    # Inside <script> only "</script" and "<!--" could end or confuse the element; with every
    # "<" written as \u003c neither can occur, and JSON.parse reads the escape back as "<".
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _dagre_script() -> str:
    code = _DAGRE_TRAILER.sub("", _read("_vendor", "dagre", "dagre.min.js")).rstrip()
    license_text = _read("_vendor", "dagre", "LICENSE").strip()
    return (
        f"/*! @dagrejs/dagre, vendored in assetflow/_vendor/dagre\n\n{license_text}\n*/\n{code}\n"
    )


def _status_style() -> str:
    rules = [
        f".status-{status} {{ --fill: {fill}; --stroke: {stroke}; }}"
        for status, (fill, stroke) in STATUS_COLOURS.items()
    ]
    return "\n".join(rules) + "\n"


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
