"""The HTML lineage page, opened in a real headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``tests/run`` installs it); Playwright only drives
it, so ``playwright install`` is never needed. Without chromium these tests fail rather
than skip, unless ``ASSETFLOW_SKIP_BROWSER=1`` asks for a skip explicitly.

Every page opened here is watched: each request is recorded and anything but the page's
own file is aborted, and console errors and uncaught exceptions are collected. A test
that ends with any of those fails.
"""

from __future__ import annotations

import doctest
import json
import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import TEMPLATE, run_assetflow

import assetflow.html
import assetflow.layout
from assetflow.html import pack_document, page_layout, to_html

NOW = {"ASSETFLOW_NOW": "2026-11-22T12:00:00+00:00"}
HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned=2">\'&amp;'


def _column_edge(src: str, to: str, kind: str = "direct", how: str = "IDENTITY") -> dict[str, str]:
    """``_column_edge("raw_orders.order_id", "stg_orders.order_id")`` as a document entry."""
    (from_asset, from_column), (to_asset, to_column) = src.split(".", 1), to.split(".", 1)
    return {
        "from": from_asset,
        "from_column": from_column,
        "to": to_asset,
        "to_column": to_column,
        "kind": kind,
        "transformation": how,
    }


def _node(name: str, kind: str, group: str, upstream: list[str], **extra: Any) -> dict[str, Any]:
    folder = "assets" if kind == "source" else f"assets/{group}"
    node: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "group": group,
        "file": f"{folder}/{name}.{ {'sql': 'sql', 'python': 'py'}[kind] }"
        if kind != "source"
        else "assets/sources.py",
        "line": 1,
        "upstream": upstream,
        "tags": [],
        "description": None,
        "status": "fresh",
        "causes": [],
        "last_materialization": None,
        "schema": None,
        "unresolved": [],
        "code": None,
        "history": [],
    }
    if "columns" in extra:
        node["schema"] = [{"name": c, "type": "VARCHAR"} for c in extra.pop("columns")]
    node.update(extra)
    return node


def _shop_document() -> dict[str, Any]:
    """A hand-made document shaped like the template's, with known column edges."""
    run = {
        "run_id": 2,
        "finished_at": "2026-11-22T09:59:58+00:00",
        "rows": 120,
        "bytes": 4096,
        "data_version": "ab12cd34ef56ab12cd34",
        "code_version": "9f8e7d6c5b4a9f8e7d6c",
        "format": "parquet",
    }
    nodes = [
        _node("raw_customers", "source", "default", [], columns=["customer_id", "name"]),
        _node("raw_orders", "source", "default", [], columns=["order_id", "status", "cents"]),
        _node("raw_payments", "source", "default", [], columns=["order_id", "method", "cents"]),
        _node(
            "stg_customers", "sql", "staging", ["raw_customers"], columns=["customer_id", "name"]
        ),
        _node(
            "stg_orders",
            "sql",
            "staging",
            ["raw_orders"],
            columns=["order_id", "status", "amount"],
            tags=["orders", "staging"],
            description="Orders with amounts in dollars.",
            status="stale",
            causes=[{"kind": "upstream_changed", "detail": "upstream raw_orders changed"}],
            code="SELECT order_id, status, amount_cents / 100 AS amount\nFROM raw_orders\n",
            last_materialization=run,
            history=[
                {**run, "outcome": "materialized", "error": None},
                {**run, "run_id": 1, "outcome": "failed", "error": "Binder Error: no column x"},
            ],
        ),
        _node(
            "stg_payments",
            "sql",
            "staging",
            ["raw_payments"],
            columns=["order_id", "method", "amount"],
        ),
        _node(
            "daily_revenue",
            "sql",
            "marts",
            ["stg_orders", "stg_payments"],
            columns=["day", "revenue"],
            status="missing",
        ),
        _node(
            "payment_mix", "sql", "marts/finance", ["stg_payments"], columns=["method", "revenue"]
        ),
        _node(
            "customer_orders",
            "sql",
            "marts",
            ["stg_customers", "stg_orders", "stg_payments"],
            columns=["customer_id", "lifetime_value"],
            status="failed",
        ),
        _node(
            "customer_segments",
            "python",
            "marts",
            ["customer_orders"],
            columns=["customer_id", "segment"],
            code="def customer_segments(customer_orders):\n    return customer_orders\n",
        ),
        _node("kpis", "python", "marts", ["daily_revenue", "stg_orders"], status="overdue"),
    ]
    column_edges = [
        _column_edge(
            "raw_customers.customer_id", "stg_customers.customer_id", how="TRANSFORMATION"
        ),
        _column_edge("raw_customers.name", "stg_customers.name", how="TRANSFORMATION"),
        _column_edge("raw_orders.order_id", "stg_orders.order_id"),
        _column_edge("raw_orders.status", "stg_orders.status", how="TRANSFORMATION"),
        _column_edge("raw_orders.cents", "stg_orders.amount", how="TRANSFORMATION"),
        _column_edge("raw_payments.order_id", "stg_payments.order_id"),
        _column_edge("raw_payments.method", "stg_payments.method"),
        _column_edge("raw_payments.cents", "stg_payments.amount", how="TRANSFORMATION"),
        _column_edge("stg_payments.amount", "daily_revenue.revenue", how="AGGREGATION"),
        _column_edge("stg_orders.status", "daily_revenue.revenue", "indirect", "FILTER"),
        _column_edge("stg_orders.order_id", "daily_revenue.revenue", "indirect", "JOIN"),
        _column_edge("stg_payments.method", "payment_mix.method"),
        _column_edge("stg_payments.amount", "payment_mix.revenue", how="AGGREGATION"),
        _column_edge("stg_customers.customer_id", "customer_orders.customer_id"),
        _column_edge("stg_payments.amount", "customer_orders.lifetime_value", how="AGGREGATION"),
    ]
    return {
        "schema_version": 2,
        "project": "shop",
        "generated_at": "2026-11-22T10:00:00+00:00",
        "nodes": nodes,
        "edges": [{"from": up, "to": n["name"]} for n in nodes for up in n["upstream"]],
        "column_edges": column_edges,
    }


def _hostile_document() -> dict[str, Any]:
    """Every string a page shows, made of markup, quotes and a closing script tag."""
    source = _node(HOSTILE, "source", HOSTILE, [], columns=[HOSTILE, 'a"b'])
    asset = _node(
        "q\"uote's<b>",
        "sql",
        "<i>group</i>",
        [HOSTILE],
        columns=["<b>c</b>"],
        description=HOSTILE,
        tags=[HOSTILE],
        status="stale",
        causes=[HOSTILE, {"kind": "code_changed", "detail": HOSTILE}],
        code=f"SELECT '{HOSTILE}' AS x -- <!-- {HOSTILE}",
    )
    return {
        "schema_version": 2,
        "project": HOSTILE,
        "generated_at": "2026-11-22T10:00:00+00:00",
        "nodes": [source, asset],
        "edges": [{"from": HOSTILE, "to": asset["name"]}],
        "column_edges": [
            {
                "from": HOSTILE,
                "from_column": HOSTILE,
                "to": asset["name"],
                "to_column": "<b>c</b>",
                "kind": "direct",
                "transformation": HOSTILE,
            }
        ],
    }


def _big_document(count: int, groups: int = 10, *, tangled: bool = False) -> dict[str, Any]:
    """``count`` assets, each reading the one and the seventh before it.

    The assets are in ``groups`` runs of neighbours, like folders of a project; ``tangled``
    deals them out to the groups in turn instead, so every edge crosses groups.
    """
    nodes = [
        _node(
            f"asset_{i:04d}",
            "sql",
            f"group_{i % groups if tangled else i * groups // count}",
            [f"asset_{j:04d}" for j in (i - 1, i - 7) if j >= 0],
        )
        for i in range(count)
    ]
    edges = [{"from": up, "to": n["name"]} for n in nodes for up in n["upstream"]]
    return {"project": "big", "nodes": nodes, "edges": edges, "column_edges": []}


# ---- the page as text -----------------------------------------------------------------------


def test_to_html_inlines_everything_and_loads_nothing():
    page = to_html(_shop_document())
    assert page.startswith("<!DOCTYPE html>")
    assert re.findall(r"<(?:link|img|iframe|object|embed)\b", page) == []
    assert re.findall(r"<script[^>]*\ssrc=", page) == []
    assert "sourceMappingURL" not in page
    assert "dagre" not in page, "the layout is computed when the page is written"
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    assert "default-src 'none'" in csp[1]
    assert "unsafe-inline" not in csp[1]


def test_to_html_embeds_the_document_as_inert_json():
    doc = _hostile_document()
    page = to_html(doc)
    # The only script elements are the page's own three; the hostile text opened none.
    assert len(re.findall(r"<script\b", page, re.I)) == 3
    assert len(re.findall(r"</script", page, re.I)) == 3
    assert "<!--" not in page
    data = re.search(
        r'<script type="application/json" id="lineage-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    assert _unpack(json.loads(data[1])) == doc


def _unpack(packed: dict[str, Any]) -> dict[str, Any]:
    """``pack_document`` undone, the way page.js's unpackDocument does it."""
    if "$values" not in packed:
        return packed
    values = packed["$values"]
    names: list[str] = []

    def table(t: Any) -> Any:
        if not isinstance(t, dict) or "$n" not in t:
            return t
        rows: list[dict[str, Any]] = [{} for _ in range(t["$n"])]
        for key, col in t["$c"].items():
            for row, cell in zip(rows, column(col, t["$n"]), strict=True):
                row[key] = cell
        return rows

    def column(col: dict[str, Any], count: int) -> list[Any]:
        if "v" in col:
            return list(col["v"])
        if "d" in col:
            return [values[i] for i in col["d"]]
        if "r" in col:
            return [names[i] for i in col["r"]]
        if "rl" in col:
            return [[names[i] for i in v] for v in col["rl"]]
        rows = iter(table(col["t"]))
        if "l" in col:
            return [[next(rows) for _ in range(n)] for n in col["l"]]
        return [None if i in col["z"] else next(rows) for i in range(count)]

    names += column(packed["nodes"]["$c"]["name"], packed["nodes"]["$n"])
    doc = {k: v for k, v in packed.items() if k != "$values"}
    for key in ("nodes", "edges", "column_edges"):
        if key in doc:
            doc[key] = table(doc[key])
    return doc


@pytest.mark.parametrize(
    "doc",
    [
        {"project": "empty", "nodes": [], "edges": []},
        {"nodes": [{"name": "a", "x": 1}, {"name": "b"}], "edges": []},  # keys differ
        {"nodes": [{"name": "a"}, {"name": "a"}], "edges": []},  # names repeat
    ],
    ids=["empty", "ragged", "duplicate-names"],
)
def test_pack_document_keeps_odd_documents_as_they_are(doc):
    assert _unpack(pack_document(doc)) == doc


def test_pack_document_stores_a_big_graph_in_less_than_half_its_json():
    doc = _big_document(2000)
    packed = json.dumps(pack_document(doc), separators=(",", ":"))
    assert _unpack(json.loads(packed)) == doc
    assert len(packed) * 2 < len(json.dumps(doc, separators=(",", ":")))


@pytest.mark.parametrize("module", [assetflow.html, assetflow.layout], ids=["html", "layout"])
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0


def test_page_layout_is_deterministic_and_keeps_groups_around_their_assets():
    doc = _big_document(600, groups=6)
    found = page_layout(doc)
    assert found == page_layout(doc)
    boxes = found["boxes"]
    groups = {g: (x, y, w, h) for g, x, y, w, h in found["groups"]}
    for i, node in enumerate(doc["nodes"]):
        x, y, w, h = boxes[4 * i : 4 * i + 4]
        gx, gy, gw, gh = groups[node["group"]]
        assert gx <= x and x + w <= gx + gw and gy <= y and y + h <= gy + gh
        for up in node["upstream"]:
            j = int(up.removeprefix("asset_"))
            assert found["layers"][j] < found["layers"][i]


def test_to_html_title_is_escaped():
    page = to_html(_hostile_document())
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None
    assert "<" not in title[1]
    assert title[1].startswith("&lt;/script&gt;")


# ---- the page in a browser ------------------------------------------------------------------


@dataclass
class Viewer:
    """A page opened from a file, with what it requested and what went wrong in it."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assets(self, selector: str = "") -> list[str]:
        return self.page.eval_on_selector_all(
            f"#canvas [data-asset]{selector}", "els => els.map(e => e.dataset.asset)"
        )

    def columns(self, selector: str) -> set[str]:
        return set(
            self.page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.column)")
        )

    def transform(self) -> str:
        return self.page.get_attribute("#viewport", "transform")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; a clear failure when either is missing."""
    if os.environ.get("ASSETFLOW_SKIP_BROWSER") == "1":
        pytest.skip("ASSETFLOW_SKIP_BROWSER=1: browser tests skipped on request")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "The HTML page tests need Debian's chromium: run tests/run as root, or "
            "apt-get install chromium (set ASSETFLOW_SKIP_BROWSER=1 to skip them instead)."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The HTML page tests need Playwright: pip install -e '.[dev]'.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Callable[..., Viewer]]:
    """``open_page(doc)`` writes the page of ``doc`` and opens it from ``file://``."""
    viewers: list[Viewer] = []

    def open_(doc: dict[str, Any] | None = None, *, html: Path | None = None) -> Viewer:
        if html is None:
            html = tmp_path / f"page{len(viewers)}.html"
            html.write_text(to_html(doc or {}), encoding="utf-8")
        context = browser.new_context(viewport={"width": 1400, "height": 860})
        page = context.new_page()
        viewer = Viewer(page, html.resolve().as_uri())
        viewers.append(viewer)
        page.on("request", lambda request: viewer.requests.append(request.url))
        page.on("pageerror", lambda error: viewer.errors.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: viewer.errors.append(f"dialog: {dialog.message}"))
        page.on(
            "console",
            lambda m: (
                viewer.errors.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )

        def only_the_page(route: Any) -> None:
            if route.request.url == viewer.url:
                route.continue_()
            else:
                route.abort()

        page.route("**/*", only_the_page)
        page.goto(viewer.url)
        page.wait_for_selector("body[data-ready=true]")
        return viewer

    yield open_
    for viewer in viewers:
        viewer.page.screenshot(path=tmp_path / f"{Path(viewer.url).stem}.png")
        viewer.page.context.close()
        assert viewer.errors == []
        assert viewer.requests == [viewer.url], "the page must load nothing but itself"


def test_page_draws_every_asset_group_and_edge(open_page):
    doc = _shop_document()
    viewer = open_page(doc)
    assert sorted(viewer.assets()) == sorted(n["name"] for n in doc["nodes"])
    groups = viewer.page.eval_on_selector_all(
        "[data-group]", "els => els.map(e => e.dataset.group)"
    )
    assert sorted(groups) == ["default", "marts", "marts/finance", "staging"]
    assert viewer.page.locator("#canvas path.edge").count() == len(doc["edges"])
    assert viewer.assets(".status-failed") == ["customer_orders"]
    assert viewer.page.text_content("#legend [data-status=stale]") == "stale 1"


def _dashed(page: Any) -> list[str]:
    """The edges drawn dashed, as ``from>to``."""
    return page.eval_on_selector_all(
        "path.edge",
        "els => els.filter(e => getComputedStyle(e).strokeDasharray !== 'none')"
        ".map(e => e.dataset.from + '>' + e.dataset.to)",
    )


def test_page_draws_ordering_edges_dashed_and_names_their_kind(open_page):
    nodes = [
        _node("raw", "source", "default", []),
        _node("seed", "python", "default", []),
        _node("ids", "sql", "default", ["raw"]),
        _node("report", "sql", "default", ["ids", "raw", "seed"]),
    ]
    edges = [
        {"from": "raw", "to": "ids", "kind": "data"},
        {"from": "raw", "to": "report", "kind": "data"},
        {"from": "ids", "to": "report", "kind": "check"},
        {"from": "seed", "to": "report", "kind": "deps"},
    ]
    viewer = open_page({"project": "kinds", "nodes": nodes, "edges": edges})
    page = viewer.page
    assert sorted(_dashed(page)) == ["ids>report", "seed>report"]
    assert page.get_attribute("path.edge[data-from=ids]", "data-kind") == "check"
    assert page.text_content("path.edge[data-from=seed] title") == "deps: ordering only"
    assert "ordering only" in page.text_content("#legend")
    page.click("[data-asset=report]")
    upstream = page.text_content("#details dl dd:nth-of-type(6)")
    assert upstream.split() == ["raw", "ids", "(check)", "seed", "(deps)"]
    page.click("#details [data-goto=raw]")
    assert page.text_content("#details dl dd:nth-of-type(7)").split() == ["ids", "report"]


def test_page_click_asset_shows_its_details(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    assert page.is_hidden("#details")
    page.click("[data-asset=stg_orders]")
    assert page.is_visible("#details")
    assert page.text_content("#details-name") == "stg_orders"
    assert page.text_content("#details-kind") == "sql"
    assert page.text_content("#details-status") == "stale"
    assert page.text_content("#details-file") == "assets/staging/stg_orders.sql:1"
    assert page.text_content("#status .causes") == "upstream raw_orders changed"
    assert "FROM raw_orders" in page.text_content("#code pre")
    assert viewer.columns("#schema tr[data-column]") == {
        "stg_orders.order_id",
        "stg_orders.status",
        "stg_orders.amount",
    }
    assert page.locator("#history tbody tr").count() == 3  # two runs and the failed one's error
    assert "Binder Error" in page.text_content("#history .error-row")
    assert viewer.assets(".selected") == ["stg_orders"]


def test_page_click_column_highlights_its_lineage(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    page.click("[data-asset=stg_payments]")
    page.click("#schema tr[data-column='stg_payments.amount'] .column-link")
    assert viewer.columns("#related-upstream > li[data-column]") == {"raw_payments.cents"}
    downstream = {"daily_revenue.revenue", "payment_mix.revenue", "customer_orders.lifetime_value"}
    assert viewer.columns("#related-downstream > li[data-column]") == downstream
    assert viewer.columns("#schema tr.col-selected") == {"stg_payments.amount"}
    related = {"raw_payments", "stg_payments", "daily_revenue", "payment_mix", "customer_orders"}
    assert set(viewer.assets(".col-related")) == related
    lit = page.eval_on_selector_all(
        "path.edge.lit", "els => els.map(e => e.dataset.from + '>' + e.dataset.to)"
    )
    assert sorted(lit) == [
        "raw_payments>stg_payments",
        "stg_payments>customer_orders",
        "stg_payments>daily_revenue",
        "stg_payments>payment_mix",
    ]


def test_page_column_lineage_is_transitive_and_tells_kinds(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    page.click("[data-asset=daily_revenue]")
    page.click("#schema tr[data-column='daily_revenue.revenue'] .column-link")
    assert viewer.columns("#related-upstream > li[data-column]") == {
        "stg_payments.amount",
        "raw_payments.cents",
        "stg_orders.status",
        "raw_orders.status",
        "stg_orders.order_id",
        "raw_orders.order_id",
    }
    assert viewer.columns("#related-downstream > li[data-column]") == set()
    via = page.text_content("#related-upstream > li[data-column='stg_orders.status'] .via")
    assert "indirect · FILTER" in via
    page.check("#direct-only")
    assert viewer.columns("#related-upstream > li[data-column]") == {
        "stg_payments.amount",
        "raw_payments.cents",
    }


def test_page_columns_in_the_graph_highlight_too(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    page.click("#toggle-columns")
    assert viewer.columns("#canvas [data-column]") >= {"stg_orders.amount", "raw_orders.cents"}
    page.click("#canvas [data-column='stg_orders.amount']")
    assert page.text_content("#details-name") == "stg_orders"
    assert viewer.columns("#canvas .col-selected") == {"stg_orders.amount"}
    assert viewer.columns("#canvas .col-upstream") == {"raw_orders.cents"}
    assert viewer.columns("#canvas .col-downstream") == set()
    assert sorted(viewer.assets(":not(.faded)")) == ["raw_orders", "stg_orders"]


def test_page_search_highlights_and_centres_on_matches(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    before = viewer.transform()
    page.fill("#search", "STG_")
    assert sorted(viewer.assets(".match")) == ["stg_customers", "stg_orders", "stg_payments"]
    assert len(viewer.assets(".faded")) == 8
    assert page.text_content("#search-count") == "3 matches"
    assert viewer.transform() != before
    page.press("#search", "Enter")
    assert page.text_content("#details-name") == "stg_customers"
    page.fill("#search", "nothing like it")
    assert page.text_content("#search-count") == "no match"
    page.fill("#search", "")
    assert viewer.assets(".faded") == []


def test_page_pans_and_zooms(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page

    def view() -> tuple[float, float, float]:
        numbers = re.findall(r"-?[\d.]+", viewer.transform())
        x, y, k = (float(n) for n in numbers)
        return x, y, k

    x, y, k = view()
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 70, steps=5)
    page.mouse.up()
    assert view() == pytest.approx((x + 100, y + 50, k), abs=0.2)
    assert page.is_hidden("#details"), "the click that ends a drag selects nothing"
    page.mouse.wheel(0, -300)
    assert view()[2] > k
    page.click("#zoom-fit")
    assert view() == pytest.approx((x, y, k), abs=0.2)
    page.click("#zoom-out")
    assert view()[2] == pytest.approx(k * 0.8, abs=1e-3)
    page.click("#zoom-in")
    assert view()[2] == pytest.approx(k, abs=1e-3)


def test_page_shows_hostile_names_literally(open_page):
    doc = _hostile_document()
    viewer = open_page(doc)
    page = viewer.page
    assert page.evaluate("window.pwned") is None
    assert page.text_content("#project") == HOSTILE
    assert sorted(viewer.assets()) == sorted(n["name"] for n in doc["nodes"])
    page.click("#canvas [data-asset]:not(.kind-source)")
    assert page.text_content("#details-name") == "q\"uote's<b>"
    assert page.text_content("#details dd:nth-of-type(4)") == HOSTILE  # the description
    assert page.text_content("#code pre") == doc["nodes"][1]["code"]
    page.click("#schema .column-link")
    upstream = viewer.columns("#related-upstream > li[data-column]")
    assert upstream == {f"{HOSTILE}.{HOSTILE}"}
    assert HOSTILE in page.text_content("#related-upstream .via")
    assert page.locator("#details b, #details i, #details img, #canvas img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_page_of_500_assets_opens_with_groups_closed_and_a_click_opens_one(open_page):
    doc = _big_document(500)
    started = time.monotonic()
    viewer = open_page(doc)
    assert time.monotonic() - started < 15
    page = viewer.page
    assert viewer.assets() == []
    closed = page.eval_on_selector_all(".group-box", "els => els.map(e => e.dataset.group)")
    assert sorted(closed) == [f"group_{i}" for i in range(10)]
    assert page.is_disabled("#toggle-columns")
    assert "Click a group to open it" in page.text_content("#notice")
    # Edges between closed groups are merged, with their count.
    merged = page.eval_on_selector_all(
        "path.edge.merged", "els => els.map(e => [e.dataset.from, e.dataset.to, e.dataset.count])"
    )
    assert ["group_0", "group_1", "8"] in merged  # 1 edge from the one before, 7 from 7 before
    # A search marks the closed group that holds a match.
    page.fill("#search", "asset_0160")
    holding = page.eval_on_selector_all(".group-box.match", "els => els.map(e => e.dataset.group)")
    assert holding == ["group_3"]
    page.fill("#search", "")
    page.click(".group-box[data-group=group_3]")
    members = [n["name"] for n in doc["nodes"] if n["group"] == "group_3"]
    assert sorted(viewer.assets()) == members
    assert page.locator(".group-box").count() == 9
    # The open group's label closes it again; at this zoom it is tiny, so by keyboard.
    page.focus("[data-collapse=group_3]")
    page.keyboard.press("Enter")
    assert viewer.assets() == []


def test_page_group_shows_the_worst_status_inside(open_page):
    doc = _big_document(400, groups=4)
    doc["nodes"][150]["status"] = "failed"
    doc["nodes"][350]["status"] = "stale"
    viewer = open_page(doc)
    statuses = viewer.page.eval_on_selector_all(
        ".group-box", "els => els.map(e => [e.dataset.group, e.dataset.status])"
    )
    assert sorted(statuses) == [
        ["group_0", "fresh"],
        ["group_1", "failed"],
        ["group_2", "fresh"],
        ["group_3", "stale"],
    ]
    assert "1 failed" in viewer.page.text_content(".group-box[data-group=group_1] title")


def test_page_groups_of_300_assets_are_boxed(open_page):
    viewer = open_page(_big_document(300))
    assert len(viewer.assets()) == 300
    assert viewer.page.locator("[data-group]").count() == 10
    assert viewer.page.is_hidden("#notice")


def test_page_lays_out_groups_where_every_edge_crosses(open_page):
    viewer = open_page(_big_document(40, tangled=True))
    assert len(viewer.assets()) == 40
    assert viewer.page.locator("[data-group]").count() == 10


def _synthetic_document(count: int, seed: int = 0) -> dict[str, Any]:
    """bench_materialize's synthetic graph: layers of width sqrt(count), 1-3 upstreams each."""
    rng = random.Random(seed)
    width = max(1, round(math.sqrt(count)))
    nodes: list[dict[str, Any]] = []
    previous: list[str] = []
    layer = 0
    while len(nodes) < count:
        names = [f"a{layer}_{i}" for i in range(min(width, count - len(nodes)))]
        for name in names:
            ups = rng.sample(previous, rng.randint(1, min(3, len(previous)))) if previous else []
            nodes.append(_node(name, "python", "default", sorted(ups), status="missing"))
        previous = names
        layer += 1
    edges = [{"from": up, "to": n["name"], "kind": "data"} for n in nodes for up in n["upstream"]]
    return {"project": "synthetic", "nodes": nodes, "edges": edges, "column_edges": []}


def _painted_pixels(page: Any) -> int:
    return int(
        page.evaluate(
            """() => {
                const c = document.getElementById("raster");
                const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i]) n += 1;
                return n;
            }"""
        )
    )


def test_page_of_10_000_assets_draws_at_once_and_a_search_focuses(open_page):
    doc = _synthetic_document(10_000)
    started = time.monotonic()
    viewer = open_page(doc)
    assert time.monotonic() - started < 20, "drawn within the deadline, not after a hang"
    page = viewer.page
    page.wait_for_selector("body[data-first-view=true]", state="attached")
    assert page.get_attribute("body", "data-renderer") == "canvas"
    assert _painted_pixels(page) > 50_000, "the graph is drawn, not a blank page"
    assert "10000 boxes are drawn on a canvas" in page.text_content("#notice")
    assert page.is_visible("#minimap")
    assert page.is_hidden("#failure")

    focused = "a50_3"
    node = next(n for n in doc["nodes"] if n["name"] == focused)
    downstream = {e["to"] for e in doc["edges"] if e["from"] == focused}
    page.fill("#search", f"1+{focused}+1")
    assert page.text_content("#search-count").startswith(
        f"{1 + len(node['upstream']) + len(downstream)} selected"
    )
    page.press("#search", "Enter")
    assert set(viewer.assets()) == {focused, *node["upstream"], *downstream}
    assert page.get_attribute("body", "data-renderer") == "svg"
    assert f"1+{focused}+1" in page.text_content("#focus-bar")
    page.click(f"[data-asset={focused}]")
    page.fill("#hops", "2")
    page.click("#focus-neighbours")
    assert len(viewer.assets()) > 1 + len(node["upstream"]) + len(downstream)
    page.click("#focus-leave")
    assert page.get_attribute("body", "data-renderer") == "canvas"
    page.keyboard.press("Escape")

    # On the canvas too: Enter on a name centres on it, and a click there opens it.
    page.fill("#search", "a70_42")
    page.press("#search", "Enter")
    assert page.text_content("#details-name") == "a70_42"
    page.keyboard.press("Escape")
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.text_content("#details-name") == "a70_42"


def test_page_search_accepts_the_selection_syntax(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    page.fill("#search", "+daily_revenue")
    assert page.text_content("#search-count") == "5 selected · Enter to focus"
    page.fill("#search", "tag:orders,kind:sql")
    assert viewer.assets(".match") == ["stg_orders"]
    page.fill("#search", "kpis++")
    assert "malformed graph operator" in page.text_content("#search-count")
    page.fill("#search", "status:old")
    assert "unknown status 'old'" in page.text_content("#search-count")
    page.fill("#search", "group:marts")
    page.press("#search", "Enter")
    marts = {"daily_revenue", "payment_mix", "customer_orders", "customer_segments", "kpis"}
    assert set(viewer.assets()) == marts
    page.fill("#search", "")
    assert len(viewer.assets()) == 11


def test_page_shows_the_path_between_two_assets_and_column_lineage_in_it(open_page):
    viewer = open_page(_shop_document())
    page = viewer.page
    page.click("[data-asset=raw_payments]")
    page.fill("#path-to", "daily_revenue")
    page.click("#show-path")
    assert sorted(viewer.assets()) == ["daily_revenue", "raw_payments", "stg_payments"]
    page.click("[data-asset=stg_payments]")
    page.click("#schema tr[data-column='stg_payments.amount'] .column-link")
    assert set(viewer.assets(".col-related")) == {"raw_payments", "stg_payments", "daily_revenue"}
    assert viewer.columns("#related-downstream > li[data-column]") >= {"daily_revenue.revenue"}
    page.fill("#search", "kpis..raw_customers")
    page.press("#search", "Enter")
    assert "no path between 'kpis' and 'raw_customers'" in page.text_content("#search-count")


def test_page_that_cannot_draw_says_what_and_why(open_page, tmp_path):
    page_text = to_html(_shop_document())
    broken = re.sub(
        r'(<script type="application/json" id="lineage-layout">).*?(</script>)',
        r'\1{"boxes": []}\2',
        page_text,
        flags=re.S,
    )
    html = tmp_path / "broken.html"
    html.write_text(broken, encoding="utf-8")
    viewer = open_page(html=html)
    failure = viewer.page.text_content("#failure")
    assert viewer.page.is_visible("#failure")
    assert failure.startswith("The graph could not be drawn: ")
    assert "--format json" in failure


def test_page_of_an_empty_selection_says_so(open_page):
    viewer = open_page({"project": "shop", "nodes": [], "edges": []})
    assert viewer.page.is_visible("#empty")


# ---- the template, end to end -----------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template materialized, then one order added so that its dependents are stale."""
    root = tmp_path_factory.mktemp("html") / "shop"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__", ".assetflow"))
    result = run_assetflow("materialize", cwd=root, env=NOW)
    assert result.returncode == 0, result.stderr
    with (root / "data" / "orders.csv").open("a", encoding="utf-8") as orders:
        orders.write("9999,1,2026-03-01,placed,1000\n")
    return root


def _template_document(root: Path) -> dict[str, Any]:
    result = run_assetflow("lineage", "--format", "json", "--columns", cwd=root, env=NOW)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _related(doc: dict[str, Any], column: str) -> tuple[set[str], set[str]]:
    """The columns upstream and downstream of ``column``, followed in Python."""
    into: dict[str, set[str]] = {}
    out: dict[str, set[str]] = {}
    for e in doc["column_edges"]:
        src, dst = f"{e['from']}.{e['from_column']}", f"{e['to']}.{e['to_column']}"
        into.setdefault(dst, set()).add(src)
        out.setdefault(src, set()).add(dst)

    def walk(index: dict[str, set[str]]) -> set[str]:
        found: set[str] = set()
        todo = [column]
        while todo:
            for nxt in index.get(todo.pop(), set()) - found - {column}:
                found.add(nxt)
                todo.append(nxt)
        return found

    return walk(into), walk(out)


def test_template_page_end_to_end(shop, open_page):
    html = shop / "lineage.html"
    result = run_assetflow("lineage", "--format", "html", "-o", str(html), cwd=shop, env=NOW)
    assert result.returncode == 0, result.stderr
    doc = _template_document(shop)
    viewer = open_page(html=html)
    page = viewer.page
    assert sorted(viewer.assets()) == sorted(n["name"] for n in doc["nodes"])
    assert "stg_orders" in viewer.assets(".status-stale")
    # The relationships checks' reads are ordering edges, drawn dashed.
    assert sorted(_dashed(page)) == ["stg_customers>stg_orders", "stg_orders>stg_payments"]

    page.click("[data-asset=stg_orders]")
    assert page.text_content("#details-kind") == "sql"
    assert page.text_content("#details-file").startswith("assets/staging/stg_orders.sql:")
    assert page.text_content("#details-status") == "stale"
    assert "raw_orders" in page.text_content("#status .causes")
    assert "CAST(amount_cents AS BIGINT) / 100.0" in page.text_content("#code pre")
    assert viewer.columns("#schema tr[data-column]") == {
        f"stg_orders.{c}" for c in ("order_id", "customer_id", "order_date", "status", "amount")
    }
    assert page.locator("#history tbody tr").count() >= 1

    page.click("#details [data-goto=daily_revenue]")  # a downstream asset, in the panel
    assert viewer.assets(".selected") == ["daily_revenue"]
    page.click("#schema tr[data-column='daily_revenue.revenue'] .column-link")
    # Through every edge, filters and joins included: as the document says, followed in Python.
    upstream, downstream = _related(doc, "daily_revenue.revenue")
    assert {"stg_orders.status", "raw_orders.status", "stg_payments.amount"} <= upstream
    assert viewer.columns("#related-upstream > li[data-column]") == upstream
    assert viewer.columns("#related-downstream > li[data-column]") == downstream
    # Through direct edges only: revenue is a sum of payments, in dollars from cents.
    page.check("#direct-only")
    assert viewer.columns("#related-upstream > li[data-column]") == {
        "stg_payments.amount",
        "raw_payments.amount_cents",
    }
    assert viewer.columns("#related-downstream > li[data-column]") == set()
    assert set(viewer.assets(".col-related")) == {"daily_revenue", "stg_payments", "raw_payments"}

    page.click("#related-upstream [data-column='stg_payments.amount'] .column-link")
    assert page.text_content("#details-name") == "stg_payments"
    assert viewer.columns("#schema tr.col-selected") == {"stg_payments.amount"}
    assert viewer.columns("#related-upstream > li[data-column]") == {"raw_payments.amount_cents"}
    assert viewer.columns("#related-downstream > li[data-column]") == {
        "daily_revenue.revenue",
        "daily_revenue.cumulative_revenue",
        "payment_mix.revenue",
        "payment_mix.revenue_share",
        "customer_orders.lifetime_value",
    }
    lit = page.eval_on_selector_all(
        "path.edge.lit", "els => els.map(e => e.dataset.from + '>' + e.dataset.to)"
    )
    assert sorted(lit) == [
        "raw_payments>stg_payments",
        "stg_payments>customer_orders",
        "stg_payments>daily_revenue",
        "stg_payments>payment_mix",
    ]


def test_template_page_before_any_run(make_project, open_page):
    root = make_project("template")
    html = root / "lineage.html"
    result = run_assetflow("lineage", "--format", "html", "-o", str(html), cwd=root, env=NOW)
    assert result.returncode == 0, result.stderr
    viewer = open_page(html=html)
    assert len(viewer.assets(".status-missing")) == 8
    viewer.page.click("[data-asset=stg_orders]")
    assert viewer.page.text_content("#history") == "Last materializationsNever materialized."
    viewer.page.click("#schema tr[data-column='stg_orders.amount'] .column-link")
    assert viewer.columns("#related-upstream > li[data-column]") == {"raw_orders.amount_cents"}
