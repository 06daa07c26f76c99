/* assetflow lineage page.
 *
 * Reads the lineage document embedded in #lineage-data, lays the graph out left to right
 * with dagre (inlined before this script) and draws it in SVG: groups as clusters, assets
 * coloured by status, edges with arrowheads. Pan by dragging, zoom with the wheel or the
 * buttons, search by name, click an asset for its details and a column for its lineage.
 *
 * Everything taken from the document reaches the page through textContent or
 * setAttribute, never as markup, so names, SQL and descriptions are shown as written.
 */
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const STATUSES = ["fresh", "stale", "overdue", "missing", "failed"];
  const KIND_BADGES = { source: "SRC", python: "PY", sql: "SQL" };
  const KIND_NAMES = { source: "source", python: "Python asset", sql: "SQL asset" };
  // Column rows make nodes tall and layout slower; big graphs show assets only.
  const MAX_NODES_WITH_COLUMNS = 300;
  // dagre's cluster layout takes ~5 s for 300 assets here, and grows faster than linearly.
  const MAX_NODES_WITH_GROUPS = 300;
  const HEADER_HEIGHT = 42;
  const ROW_HEIGHT = 18;
  const GROUP_LABEL_HEIGHT = 18;
  const MIN_ZOOM = 0.01;
  const MAX_ZOOM = 4;
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

  const doc = JSON.parse(document.getElementById("lineage-data").textContent);
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const known = (e) => byName.has(e.from) && byName.has(e.to);
  const edges = (doc.edges || []).filter(known);
  const columnEdges = (doc.column_edges || []).filter(known);

  // Edges into and out of each asset. An edge's kind is "data", or one of the
  // ordering-only kinds, drawn dashed: "deps" (declared) or "check" (read by a check).
  const upstreamOf = groupBy(
    edges,
    (e) => e.to,
    (e) => ({ name: e.from, kind: e.kind }),
  );
  const downstreamOf = groupBy(
    edges,
    (e) => e.from,
    (e) => ({ name: e.to, kind: e.kind }),
  );
  const ORDERING_KINDS = { deps: "deps: ordering only", check: "read by a check: ordering only" };
  // Column edges by the column they lead into, and by the column they come from.
  const columnEdgesInto = groupBy(
    columnEdges,
    (e) => columnKey(e.to, e.to_column),
    (e) => e,
  );
  const columnEdgesFrom = groupBy(
    columnEdges,
    (e) => columnKey(e.from, e.from_column),
    (e) => e,
  );
  const columnsByAsset = new Map(nodes.map((n) => [n.name, columnsOf(n)]));

  const $ = (id) => document.getElementById(id);
  const ui = {
    svg: $("canvas"),
    viewport: $("viewport"),
    details: $("details"),
    search: $("search"),
    searchCount: $("search-count"),
    toggleColumns: $("toggle-columns"),
  };
  const state = {
    layout: null, // {width, height, boxes: Map(name -> {x, y, width, height})}
    view: { x: 0, y: 0, k: 1 },
    selected: null, // the asset whose details are shown
    trace: null, // the lineage of the clicked column, see traceColumn()
    directOnly: false,
    showColumns: false,
    query: "",
    matches: [],
    matchIndex: -1,
  };
  // What render() drew, to restyle without drawing again.
  const drawn = { nodes: new Map(), edges: [], columns: new Map() };
  const measureContext = document.createElement("canvas").getContext("2d");
  // Why the graph shows no group boxes, once a layout had to leave them out.
  let groupsLeftOut = null;

  // ---- small helpers --------------------------------------------------------------------

  function groupBy(items, keyOf, valueOf) {
    const map = new Map();
    for (const item of items) {
      const key = keyOf(item);
      if (!map.has(key)) map.set(key, []);
      map.get(key).push(valueOf(item));
    }
    return map;
  }

  function columnKey(asset, column) {
    return `${asset}.${column}`;
  }

  /** A class name token made from a document value, which may contain anything. */
  function token(value) {
    return String(value).replace(/[^A-Za-z0-9_-]/g, "_");
  }

  /** An HTML element; children are elements or strings (always added as text). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      el.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function textWidth(text, font) {
    measureContext.font = font;
    return measureContext.measureText(String(text)).width;
  }

  function formatTime(iso) {
    if (!iso) return "";
    return String(iso)
      .replace("T", " ")
      .replace(/\.\d+/, "")
      .replace(/(\+00:00|Z)$/, " UTC");
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let value = Number(n);
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  }

  function shortVersion(version) {
    return version ? String(version).slice(0, 10) : "";
  }

  function causeText(cause) {
    return typeof cause === "string" ? cause : (cause && cause.detail) || JSON.stringify(cause);
  }

  /** A node's columns: its recorded schema, else the columns its column edges name. */
  function columnsOf(node) {
    if (Array.isArray(node.schema)) {
      return node.schema.map((c) => ({ name: String(c.name), type: c.type || "" }));
    }
    // In the order the edges list them, which follows the query's select list.
    const names = new Set();
    for (const e of columnEdges) if (e.to === node.name) names.add(String(e.to_column));
    for (const e of columnEdges) if (e.from === node.name) names.add(String(e.from_column));
    return [...names].map((name) => ({ name, type: "" }));
  }

  function metaText(node) {
    const group = groupsLeftOut && node.group ? ` · ${node.group}` : "";
    return `${KIND_NAMES[node.kind] || node.kind} · ${node.status}${group}`;
  }

  /** "marts/finance" → ["marts", "marts/finance"]: a nested group sits in its parent's box. */
  function groupPaths(group) {
    if (!group) return [];
    const parts = String(group).split("/");
    return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  }

  // ---- layout and drawing ---------------------------------------------------------------

  function nodeSize(node) {
    const textLeft = 48;
    const nameWidth = textWidth(node.name, `600 13px ${FONT}`);
    const metaWidth = textWidth(metaText(node), `11px ${FONT}`);
    let width = Math.max(150, textLeft + Math.max(nameWidth, metaWidth) + 14);
    let height = HEADER_HEIGHT;
    if (state.showColumns) {
      const columns = columnsByAsset.get(node.name);
      for (const c of columns) {
        const rowWidth = textWidth(c.name, `12px ${FONT}`) + textWidth(c.type, `11px ${FONT}`);
        width = Math.max(width, rowWidth + 40);
      }
      if (columns.length) height += columns.length * ROW_HEIGHT + 6;
    }
    return { width: Math.ceil(width), height };
  }

  /**
   * Lay the graph out with dagre, groups as clusters when there are few enough assets.
   * dagre's cluster layout is slow on big graphs and throws on some tangles of groups;
   * then the assets are laid out without clusters and each names its group instead.
   */
  function computeLayout() {
    groupsLeftOut = null;
    if (nodes.length <= MAX_NODES_WITH_GROUPS) {
      try {
        return dagreLayout(true);
      } catch (error) {
        groupsLeftOut = `Groups are not boxed: the layout library could not place them (${error}).`;
      }
    } else {
      groupsLeftOut = `Groups are not boxed for more than ${MAX_NODES_WITH_GROUPS} assets.`;
    }
    return dagreLayout(false);
  }

  function dagreLayout(grouped) {
    const g = new dagre.graphlib.Graph({ compound: grouped });
    // A group's box keeps (nodesep + edgesep) / 2 above its members: room for its label.
    g.setGraph({ rankdir: "LR", nodesep: 26, edgesep: 26, ranksep: 60, marginx: 24, marginy: 24 });
    g.setDefaultEdgeLabel(() => ({}));
    const groups = grouped ? new Set(nodes.flatMap((n) => groupPaths(n.group))) : new Set();
    for (const group of groups) g.setNode(`g:${group}`, {});
    for (const group of groups) {
      const paths = groupPaths(group);
      if (paths.length > 1) g.setParent(`g:${group}`, `g:${paths[paths.length - 2]}`);
    }
    for (const node of nodes) {
      g.setNode(`n:${node.name}`, nodeSize(node));
      if (grouped && node.group) g.setParent(`n:${node.name}`, `g:${node.group}`);
    }
    for (const e of edges) g.setEdge(`n:${e.from}`, `n:${e.to}`);
    dagre.layout(g);

    const boxes = new Map(nodes.map((n) => [n.name, g.node(`n:${n.name}`)]));
    const clusters = [...groups].map((group) => ({ group, box: g.node(`g:${group}`) }));
    const paths = edges.map((e) => ({ ...e, points: g.edge(`n:${e.from}`, `n:${e.to}`).points }));
    const { width, height } = g.graph();
    return { width, height, boxes, clusters, paths, grouped };
  }

  /** A smooth path through dagre's points (the B-spline d3.curveBasis draws). */
  function curve(points) {
    const p = points.map((q) => [Math.round(q.x * 10) / 10, Math.round(q.y * 10) / 10]);
    if (p.length < 3) return `M${p.map((q) => q.join(",")).join("L")}`;
    let d = `M${p[0]}L${(5 * p[0][0] + p[1][0]) / 6},${(5 * p[0][1] + p[1][1]) / 6}`;
    for (let i = 2; i < p.length; i += 1) {
      const [a, b, c] = [p[i - 2], p[i - 1], p[i]];
      d += `C${(2 * a[0] + b[0]) / 3},${(2 * a[1] + b[1]) / 3}`;
      d += ` ${(a[0] + 2 * b[0]) / 3},${(a[1] + 2 * b[1]) / 3}`;
      d += ` ${(a[0] + 4 * b[0] + c[0]) / 6},${(a[1] + 4 * b[1] + c[1]) / 6}`;
    }
    const [a, b] = [p[p.length - 2], p[p.length - 1]];
    d += `C${(2 * a[0] + b[0]) / 3},${(2 * a[1] + b[1]) / 3}`;
    d += ` ${(a[0] + 2 * b[0]) / 3},${(a[1] + 2 * b[1]) / 3} ${b[0]},${b[1]}`;
    return d;
  }

  function drawCluster({ group, box }) {
    const depth = groupPaths(group).length;
    const el = svg("g", { class: `cluster depth-${Math.min(depth, 4)}`, "data-group": group });
    const top = box.y - box.height / 2;
    el.append(
      svg("rect", {
        x: box.x - box.width / 2,
        y: top,
        width: box.width,
        height: box.height,
        rx: 8,
      }),
      svg("text", { x: box.x - box.width / 2 + 10, y: top + GROUP_LABEL_HEIGHT - 4 }, group),
    );
    return el;
  }

  function drawNode(node, box) {
    const kind = token(node.kind);
    const el = svg("g", {
      class: `node kind-${kind} status-${token(node.status)}`,
      "data-asset": node.name,
      transform: `translate(${box.x - box.width / 2},${box.y - box.height / 2})`,
      tabindex: "0",
      role: "button",
    });
    const causes = (node.causes || []).map((c) => `\n· ${causeText(c)}`).join("");
    el.append(svg("title", {}, `${node.name}\n${metaText(node)}${causes}`));
    const radius = node.kind === "source" ? Math.min(box.height, HEADER_HEIGHT) / 2 : 5;
    el.append(svg("rect", { class: "box", width: box.width, height: box.height, rx: radius }));
    el.append(svg("rect", { class: "badge", x: 10, y: 12, width: 30, height: 18, rx: 3 }));
    el.append(svg("text", { class: "badge-text", x: 25, y: 25 }, KIND_BADGES[node.kind] || "?"));
    el.append(svg("text", { class: "name", x: 48, y: 19 }, node.name));
    el.append(svg("text", { class: "meta", x: 48, y: 34 }, metaText(node)));
    if (state.showColumns) {
      columnsByAsset.get(node.name).forEach((c, i) => {
        const key = columnKey(node.name, c.name);
        const y = HEADER_HEIGHT + 3 + i * ROW_HEIGHT;
        const row = svg("g", { class: "column", "data-column": key });
        row.append(svg("rect", { x: 1, y, width: box.width - 2, height: ROW_HEIGHT }));
        row.append(svg("text", { class: "column-name", x: 12, y: y + 13 }, c.name));
        row.append(svg("text", { class: "column-type", x: box.width - 10, y: y + 13 }, c.type));
        drawn.columns.set(key, row);
        el.append(row);
      });
    }
    return el;
  }

  function render() {
    const started = performance.now();
    state.layout = computeLayout();
    const { boxes, clusters, paths } = state.layout;
    drawn.nodes.clear();
    drawn.columns.clear();
    const clusterLayer = svg("g", { class: "clusters" });
    const edgeLayer = svg("g", { class: "edges" });
    const nodeLayer = svg("g", { class: "nodes" });
    clusters.sort((a, b) => groupPaths(a.group).length - groupPaths(b.group).length);
    for (const cluster of clusters) clusterLayer.append(drawCluster(cluster));
    drawn.edges = paths.map((e) => {
      const kind = token(e.kind || "data");
      const el = svg("path", {
        class: `edge kind-${kind}`,
        d: curve(e.points),
        "marker-end": "url(#arrow)",
      });
      el.setAttribute("data-from", e.from);
      el.setAttribute("data-to", e.to);
      el.setAttribute("data-kind", kind);
      if (ORDERING_KINDS[e.kind]) el.append(svg("title", {}, ORDERING_KINDS[e.kind]));
      edgeLayer.append(el);
      return { el, from: e.from, to: e.to };
    });
    for (const node of nodes) {
      const el = drawNode(node, boxes.get(node.name));
      drawn.nodes.set(node.name, el);
      nodeLayer.append(el);
    }
    ui.viewport.replaceChildren(clusterLayer, edgeLayer, nodeLayer);
    $("notice").textContent = groupsLeftOut || "";
    $("notice").hidden = !groupsLeftOut;
    document.body.dataset.layoutMs = String(Math.round(performance.now() - started));
    applyHighlights();
  }

  // ---- pan and zoom ---------------------------------------------------------------------

  function setView(x, y, k) {
    state.view = { x, y, k };
    const transform = `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${k.toFixed(4)})`;
    ui.viewport.setAttribute("transform", transform);
  }

  function zoomBy(factor, cx, cy) {
    const { x, y, k } = state.view;
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k * factor));
    const f = next / k;
    setView(cx - (cx - x) * f, cy - (cy - y) * f, next);
  }

  function zoomAtCentre(factor) {
    const r = ui.svg.getBoundingClientRect();
    zoomBy(factor, r.width / 2, r.height / 2);
  }

  /** Show the box {left, top, right, bottom} (graph coordinates) in the middle of the view. */
  function showBox(box, maxZoom) {
    const r = ui.svg.getBoundingClientRect();
    const pad = 24;
    const width = Math.max(box.right - box.left, 1);
    const height = Math.max(box.bottom - box.top, 1);
    let k = Math.min((r.width - 2 * pad) / width, (r.height - 2 * pad) / height, maxZoom);
    k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));
    const cx = (box.left + box.right) / 2;
    const cy = (box.top + box.bottom) / 2;
    setView(r.width / 2 - cx * k, r.height / 2 - cy * k, k);
  }

  function fit() {
    if (!state.layout || !nodes.length) return;
    const { width, height } = state.layout;
    showBox({ left: 0, top: 0, right: width, bottom: height }, 1.5);
  }

  function centreOn(names) {
    const boxes = names.map((n) => state.layout.boxes.get(n)).filter(Boolean);
    if (!boxes.length) return;
    showBox(
      {
        left: Math.min(...boxes.map((b) => b.x - b.width / 2)),
        right: Math.max(...boxes.map((b) => b.x + b.width / 2)),
        top: Math.min(...boxes.map((b) => b.y - b.height / 2)),
        bottom: Math.max(...boxes.map((b) => b.y + b.height / 2)),
      },
      Math.max(state.view.k, 1),
    );
  }

  function enablePanAndZoom() {
    let drag = null;
    let dragged = false; // the click that ends a drag selects nothing
    ui.svg.addEventListener("pointerdown", (e) => {
      dragged = false;
      if (e.button !== 0) return;
      const { x, y } = state.view;
      drag = { id: e.pointerId, sx: e.clientX, sy: e.clientY, x, y, moving: false };
    });
    ui.svg.addEventListener("pointermove", (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      const dx = e.clientX - drag.sx;
      const dy = e.clientY - drag.sy;
      if (!drag.moving && Math.hypot(dx, dy) < 4) return;
      if (!drag.moving) {
        // Captured only once it is a drag: a capture from pointerdown would steal node clicks.
        drag.moving = true;
        ui.svg.setPointerCapture(e.pointerId);
        ui.svg.classList.add("panning");
      }
      setView(drag.x + dx, drag.y + dy, state.view.k);
    });
    const end = (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      dragged = drag.moving;
      drag = null;
      ui.svg.classList.remove("panning");
    };
    ui.svg.addEventListener("pointerup", end);
    ui.svg.addEventListener("pointercancel", end);
    ui.svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const r = ui.svg.getBoundingClientRect();
        const step = e.deltaMode === 1 ? 0.05 : 0.0015; // lines or pixels
        zoomBy(Math.exp(-e.deltaY * step), e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false },
    );
    ui.svg.addEventListener("click", (e) => {
      if (dragged) {
        dragged = false;
        return;
      }
      onGraphClick(e);
    });
    $("zoom-in").addEventListener("click", () => zoomAtCentre(1.25));
    $("zoom-out").addEventListener("click", () => zoomAtCentre(0.8));
    $("zoom-fit").addEventListener("click", fit);
  }

  // ---- selection, column lineage and search ---------------------------------------------

  function onGraphClick(e) {
    const column = e.target.closest("[data-column]");
    const asset = e.target.closest("[data-asset]");
    if (column && asset) {
      const name = asset.getAttribute("data-asset");
      selectColumn(name, column.getAttribute("data-column").slice(name.length + 1));
    } else if (asset) {
      selectAsset(asset.getAttribute("data-asset"));
    } else {
      clearSelection();
    }
  }

  function selectAsset(name) {
    if (!byName.has(name)) return;
    if (state.trace && state.trace.origin.asset !== name) state.trace = null;
    state.selected = name;
    showDetails(byName.get(name));
    applyHighlights();
    keepInView(name);
  }

  function selectColumn(asset, column) {
    state.trace = traceColumn(asset, column);
    state.selected = asset;
    showDetails(byName.get(asset));
    applyHighlights();
    keepInView(asset);
  }

  /** Pan (at the same zoom) to an asset that is out of sight, e.g. behind the details panel. */
  function keepInView(name) {
    const el = drawn.nodes.get(name);
    if (!el) return;
    const view = ui.svg.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    const inside =
      box.left >= view.left &&
      box.right <= view.right &&
      box.top >= view.top &&
      box.bottom <= view.bottom;
    if (!inside) panTo(name);
  }

  function panTo(name) {
    const view = ui.svg.getBoundingClientRect();
    const b = state.layout.boxes.get(name);
    const { k } = state.view;
    setView(view.width / 2 - b.x * k, view.height / 2 - b.y * k, k);
  }

  function clearSelection() {
    state.selected = null;
    state.trace = null;
    setPanelOpen(false);
    ui.details.replaceChildren();
    applyHighlights();
  }

  /** Show or hide the details panel, keeping what was in the middle of the graph there. */
  function setPanelOpen(open) {
    if (ui.details.hidden === !open) return;
    const before = ui.svg.getBoundingClientRect().width;
    ui.details.hidden = !open;
    const after = ui.svg.getBoundingClientRect().width;
    const { x, y, k } = state.view;
    setView(x + (after - before) / 2, y, k);
  }

  /**
   * The columns upstream and downstream of asset.column, followed transitively through
   * column_edges. Each related column lists the edges that tie it to the traced set.
   */
  function traceColumn(asset, column) {
    const origin = columnKey(asset, column);
    const use = (e) => !state.directOnly || e.kind === "direct";
    const upstream = walk(origin, columnEdgesInto, (e) => [e.from, e.from_column], use);
    const downstream = walk(origin, columnEdgesFrom, (e) => [e.to, e.to_column], use);
    const assets = new Set([asset]);
    const tableEdges = new Set();
    for (const related of [upstream, downstream]) {
      for (const r of related.values()) {
        assets.add(r.asset);
        for (const e of r.edges) tableEdges.add(`${e.from}\u0000${e.to}`);
      }
    }
    return { origin: { asset, column, key: origin }, upstream, downstream, assets, tableEdges };
  }

  function walk(origin, index, next, use) {
    const found = new Map();
    const queue = [[origin, 0]];
    for (let i = 0; i < queue.length; i += 1) {
      const [key, depth] = queue[i];
      for (const e of index.get(key) || []) {
        if (!use(e)) continue;
        const [asset, column] = next(e);
        const nextKey = columnKey(asset, column);
        if (nextKey === origin) continue;
        if (!found.has(nextKey)) {
          found.set(nextKey, { key: nextKey, asset, column, depth: depth + 1, edges: [] });
          queue.push([nextKey, depth + 1]);
        }
        found.get(nextKey).edges.push(e);
      }
    }
    return found;
  }

  function setQuery(text) {
    state.query = text.trim().toLowerCase();
    state.matches = state.query
      ? nodes.filter((n) => n.name.toLowerCase().includes(state.query)).map((n) => n.name)
      : [];
    state.matchIndex = -1;
    const count = state.matches.length;
    ui.searchCount.textContent = !state.query
      ? ""
      : count === 0
        ? "no match"
        : `${count} match${count === 1 ? "" : "es"}`;
    applyHighlights();
    if (count) centreOn(state.matches);
  }

  function nextMatch() {
    if (!state.matches.length) return;
    state.matchIndex = (state.matchIndex + 1) % state.matches.length;
    const name = state.matches[state.matchIndex];
    selectAsset(name);
    centreOn([name]);
  }

  function applyHighlights() {
    const { trace, selected } = state;
    const searching = state.query !== "";
    const matches = new Set(state.matches);
    for (const [name, el] of drawn.nodes) {
      el.classList.toggle("selected", name === selected);
      el.classList.toggle("match", searching && matches.has(name));
      el.classList.toggle("col-origin", Boolean(trace) && trace.origin.asset === name);
      el.classList.toggle("col-related", Boolean(trace) && trace.assets.has(name));
      const hidden = (searching && !matches.has(name)) || (trace && !trace.assets.has(name));
      el.classList.toggle("faded", Boolean(hidden));
    }
    for (const { el, from, to } of drawn.edges) {
      const lit = trace
        ? trace.tableEdges.has(`${from}\u0000${to}`)
        : selected !== null && (from === selected || to === selected);
      const faded = trace ? !lit : searching && !(matches.has(from) && matches.has(to));
      el.classList.toggle("lit", lit);
      el.classList.toggle("faded", faded);
      el.setAttribute("marker-end", lit ? "url(#arrow-lit)" : "url(#arrow)");
    }
    highlightColumns(drawn.columns);
    highlightColumns(schemaRows());
  }

  function schemaRows() {
    const rows = ui.details.querySelectorAll("#schema tr[data-column]");
    return new Map([...rows].map((row) => [row.getAttribute("data-column"), row]));
  }

  function highlightColumns(elements) {
    const { trace } = state;
    for (const [key, el] of elements) {
      el.classList.toggle("col-selected", Boolean(trace) && trace.origin.key === key);
      el.classList.toggle("col-upstream", Boolean(trace) && trace.upstream.has(key));
      el.classList.toggle("col-downstream", Boolean(trace) && trace.downstream.has(key));
    }
  }

  // ---- the details panel ----------------------------------------------------------------

  function assetLink(name) {
    return h("button", { type: "button", class: "asset-link", "data-goto": name }, name);
  }

  function field(label, ...value) {
    return [h("dt", {}, label), h("dd", {}, ...value)];
  }

  function showDetails(node) {
    const file = node.file ? `${node.file}${node.line ? `:${node.line}` : ""}` : "—";
    const ups = upstreamOf.get(node.name) || [];
    const downs = downstreamOf.get(node.name) || [];
    const linked = (e) =>
      ORDERING_KINDS[e.kind]
        ? [assetLink(e.name), h("span", { class: "edge-note" }, ` (${e.kind})`), " "]
        : [assetLink(e.name), " "];
    const list = (found) => (found.length ? found.flatMap(linked) : "—");
    const panel = [
      h(
        "div",
        { class: "details-head" },
        h("h2", { id: "details-name" }, node.name),
        h("button", { type: "button", id: "details-close", title: "Close (Esc)" }, "×"),
      ),
      h(
        "p",
        { class: "badges" },
        h("span", { class: `kind-badge kind-${token(node.kind)}`, id: "details-kind" }, node.kind),
        h(
          "span",
          { class: `status-badge status-${token(node.status)}`, id: "details-status" },
          node.status,
        ),
      ),
      h(
        "dl",
        {},
        field("Kind", KIND_NAMES[node.kind] || String(node.kind)),
        field("Group", node.group || "—"),
        field("File", h("code", { id: "details-file" }, file)),
        field("Description", node.description || "—"),
        field("Tags", (node.tags || []).join(", ") || "—"),
        field("Upstream", list(ups)),
        field("Downstream", list(downs)),
      ),
      statusSection(node),
      schemaSection(node),
      columnLineageSection(),
      codeSection(node),
      historySection(node),
    ];
    ui.details.replaceChildren(...panel.filter(Boolean));
    setPanelOpen(true);
  }

  function statusSection(node) {
    const causes = node.causes || [];
    return h(
      "section",
      { id: "status" },
      h("h3", {}, "Status"),
      h("p", {}, h("span", { class: `status-badge status-${token(node.status)}` }, node.status)),
      causes.length
        ? h(
            "ul",
            { class: "causes" },
            causes.map((c) => h("li", {}, causeText(c))),
          )
        : null,
    );
  }

  function schemaSection(node) {
    const columns = columnsByAsset.get(node.name);
    const section = h("section", { id: "schema" }, h("h3", {}, "Schema"));
    if (!columns.length) {
      section.append(h("p", { class: "muted" }, "Unknown: not materialized yet."));
      return section;
    }
    if (!Array.isArray(node.schema)) {
      section.append(h("p", { class: "muted" }, "Columns named by column lineage; not recorded."));
    }
    const rows = columns.map((c) =>
      h(
        "tr",
        { "data-column": columnKey(node.name, c.name) },
        h("td", {}, h("button", { type: "button", class: "column-link" }, c.name)),
        h("td", { class: "column-type" }, c.type),
      ),
    );
    section.append(
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "Column"), h("th", {}, "Type"))),
        h("tbody", {}, rows),
      ),
    );
    const unresolved = node.unresolved || [];
    if (unresolved.length) {
      section.append(
        h("p", { class: "muted" }, "Column lineage not resolved:"),
        h(
          "ul",
          { class: "unresolved" },
          unresolved.map((u) => h("li", {}, u.column ? `${u.column}: ${u.reason}` : u.reason)),
        ),
      );
    }
    return section;
  }

  function columnLineageSection() {
    const { trace } = state;
    if (!trace) return null;
    const describe = (e) =>
      ` ${e.kind} · ${e.transformation}: ${columnKey(e.from, e.from_column)} → ` +
      columnKey(e.to, e.to_column);
    const items = (related, direction) => {
      const sorted = [...related.values()].sort(
        (a, b) => a.depth - b.depth || (a.key < b.key ? -1 : 1),
      );
      if (!sorted.length) return [h("li", { class: "muted" }, "none")];
      return sorted.map((r) =>
        h(
          "li",
          { "data-column": r.key, class: `col-${direction}` },
          h("button", { type: "button", class: "column-link", "data-asset-name": r.asset }, r.key),
          h(
            "ul",
            { class: "via" },
            r.edges.map((e) => h("li", { class: `edge-${token(e.kind)}` }, describe(e))),
          ),
        ),
      );
    };
    return h(
      "section",
      { id: "column-lineage" },
      h("h3", {}, "Column lineage of ", h("code", {}, trace.origin.key)),
      h(
        "label",
        {},
        h("input", { type: "checkbox", id: "direct-only", checked: state.directOnly }),
        " direct only (leave out filters, joins, grouping…)",
      ),
      h("h4", {}, `Upstream (${trace.upstream.size})`),
      h("ul", { id: "related-upstream", class: "related" }, items(trace.upstream, "upstream")),
      h("h4", {}, `Downstream (${trace.downstream.size})`),
      h(
        "ul",
        { id: "related-downstream", class: "related" },
        items(trace.downstream, "downstream"),
      ),
    );
  }

  function codeSection(node) {
    if (node.code === null || node.code === undefined) return null;
    const title = node.kind === "sql" ? "SQL" : "Code";
    return h("section", { id: "code" }, h("h3", {}, title), h("pre", {}, h("code", {}, node.code)));
  }

  function historySection(node) {
    const last = node.last_materialization;
    const history = node.history || [];
    const section = h("section", { id: "history" }, h("h3", {}, "Last materializations"));
    if (!last && !history.length) {
      section.append(h("p", { class: "muted" }, "Never materialized."));
      return section;
    }
    const runs = history.length ? history : [{ ...last, outcome: "materialized", error: null }];
    const header = ["Run", "Finished", "Outcome", "Rows", "Size", "Data", "Code"];
    const rows = runs.flatMap((m) => {
      const row = h(
        "tr",
        { class: `outcome-${token(m.outcome)}` },
        h("td", {}, String(m.run_id ?? "")),
        h("td", {}, formatTime(m.finished_at)),
        h("td", {}, String(m.outcome ?? "")),
        h("td", { class: "number" }, m.rows === null || m.rows === undefined ? "" : String(m.rows)),
        h("td", { class: "number" }, formatBytes(m.bytes)),
        h("td", { title: m.data_version || "" }, h("code", {}, shortVersion(m.data_version))),
        h("td", { title: m.code_version || "" }, h("code", {}, shortVersion(m.code_version))),
      );
      if (!m.error) return [row];
      const error = h(
        "tr",
        { class: "error-row" },
        h("td", { colspan: String(header.length) }, h("pre", {}, m.error)),
      );
      return [row, error];
    });
    section.append(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            header.map((t) => h("th", {}, t)),
          ),
        ),
        h("tbody", {}, rows),
      ),
    );
    return section;
  }

  function onDetailsClick(e) {
    if (e.target.closest("#details-close")) return clearSelection();
    const goto = e.target.closest("[data-goto]");
    if (goto) {
      const name = goto.getAttribute("data-goto");
      selectAsset(name);
      return panTo(name);
    }
    const link = e.target.closest(".column-link");
    const row = link && link.closest("[data-column]");
    if (!row) return undefined;
    // The row's asset: the shown asset in the schema, the related column's own in the list.
    const asset = link.getAttribute("data-asset-name") || state.selected;
    selectColumn(asset, row.getAttribute("data-column").slice(asset.length + 1));
    return undefined;
  }

  // ---- the page around the graph --------------------------------------------------------

  function drawHeader() {
    $("project").textContent = doc.project ? String(doc.project) : "assetflow lineage";
    const generated = doc.generated_at ? ` · generated ${formatTime(doc.generated_at)}` : "";
    $("summary").textContent = `${nodes.length} assets · ${edges.length} edges${generated}`;
    const counts = groupBy(
      nodes,
      (n) => n.status,
      () => 1,
    );
    const statuses = [...new Set([...STATUSES, ...counts.keys()])];
    const legend = statuses.map((s) =>
      h(
        "li",
        { class: `legend-status status-${token(s)}`, "data-status": s },
        h("span", { class: "swatch" }),
        `${s} ${(counts.get(s) || []).length}`,
      ),
    );
    legend.push(
      h("li", {}, h("span", { class: "shape shape-source" }), "source"),
      h("li", {}, h("span", { class: "shape shape-asset" }), "asset"),
      h("li", {}, h("span", { class: "line" }), "reads data"),
      h(
        "li",
        { title: "a deps entry, or an asset only a check reads" },
        h("span", { class: "line line-ordering" }),
        "ordering only",
      ),
    );
    $("legend").replaceChildren(...legend);
    if (nodes.length > MAX_NODES_WITH_COLUMNS) {
      ui.toggleColumns.disabled = true;
      ui.toggleColumns.title = `Columns are not drawn for more than ${MAX_NODES_WITH_COLUMNS} assets`;
    }
    $("empty").hidden = nodes.length > 0;
  }

  function bindControls() {
    ui.search.addEventListener("input", () => setQuery(ui.search.value));
    ui.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") nextMatch();
    });
    ui.toggleColumns.addEventListener("click", () => {
      state.showColumns = !state.showColumns;
      ui.toggleColumns.setAttribute("aria-pressed", String(state.showColumns));
      render();
      fit();
    });
    ui.details.addEventListener("click", onDetailsClick);
    ui.details.addEventListener("change", (e) => {
      if (e.target.id !== "direct-only" || !state.trace) return;
      state.directOnly = e.target.checked;
      const { asset, column } = state.trace.origin;
      selectColumn(asset, column);
    });
    ui.svg.addEventListener("keydown", (e) => {
      const asset = e.target.closest && e.target.closest("[data-asset]");
      if (asset && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        selectAsset(asset.getAttribute("data-asset"));
      }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") return clearSelection();
      if (e.target.closest && e.target.closest("input, textarea")) return undefined;
      if (e.key === "/") {
        e.preventDefault();
        ui.search.focus();
      } else if (e.key === "+" || e.key === "=") {
        zoomAtCentre(1.25);
      } else if (e.key === "-") {
        zoomAtCentre(0.8);
      } else if (e.key === "0") {
        fit();
      }
      return undefined;
    });
  }

  drawHeader();
  bindControls();
  enablePanAndZoom();
  render();
  fit();
  document.body.dataset.ready = "true";
})();
