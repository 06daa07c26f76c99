/* assetflow lineage page.
 *
 * Reads the lineage document embedded (packed, see assetflow/html.py) in #lineage-data
 * and the layout computed when the page was written in #lineage-layout, and draws it:
 * groups as boxes, assets coloured by status, edges with arrowheads. Nothing is laid out
 * here but a focused subset, so a graph of any size opens at once. Big graphs open
 * collapsed by group (click a group to open it); few boxes are drawn in SVG, many on a
 * canvas. Pan by dragging, zoom with the wheel or the buttons, search by name or with
 * the CLI's selection syntax, click an asset for its details and a column for its lineage.
 *
 * Everything taken from the document reaches the page through textContent, setAttribute
 * or a canvas's fillText, never as markup, so names, SQL and descriptions are shown as
 * written.
 */
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const STATUSES = ["fresh", "stale", "overdue", "missing", "failed"];
  // The status a group shows: the worst of its assets'.
  const STATUS_RANK = ["failed", "stale", "overdue", "missing", "fresh"];
  const KIND_BADGES = { source: "SRC", python: "PY", sql: "SQL" };
  const KIND_NAMES = { source: "source", python: "Python asset", sql: "SQL asset" };
  // Column rows make nodes tall; big graphs show assets only (assetflow/html.py agrees).
  const MAX_NODES_WITH_COLUMNS = 300;
  // A big graph opens with its groups closed, a level at a time while this many boxes fit.
  const OPEN_BUDGET = 300;
  // Up to this many boxes are SVG elements (clickable, styled by CSS); more go on a canvas.
  const MAX_SVG_BOXES = 600;
  const MAX_SVG_EDGES = 1500;
  // Edges drawn on a canvas per frame: a frame's work stays near 50 ms on a slow machine.
  const EDGE_CHUNK = 4000;
  // Canvas names from this zoom on (then at least 6 pixels high); the line under a name
  // from META_ZOOM on.
  const LABEL_ZOOM = 0.45;
  const META_ZOOM = 0.7;
  const HEADER_HEIGHT = 42;
  const ROW_HEIGHT = 18;
  const RANK_GAP = 60;
  const NODE_GAP = 24;
  const MIN_ZOOM = 0.005;
  const MAX_ZOOM = 4;
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

  performance.mark("assetflow-script");
  const doc = unpackDocument(JSON.parse(document.getElementById("lineage-data").textContent));
  const layout = JSON.parse(document.getElementById("lineage-layout").textContent);
  performance.mark("assetflow-read");
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const indexOf = new Map(nodes.map((n, i) => [n.name, i]));
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
  const columnNames = columnNamesFromEdges();
  const columnsByAsset = new Map(nodes.map((n) => [n.name, columnsOf(n)]));
  const groups = buildGroups();

  const $ = (id) => document.getElementById(id);
  const ui = {
    graph: $("graph"),
    svg: $("canvas"),
    viewport: $("viewport"),
    raster: $("raster"),
    under: $("raster-under"),
    minimap: $("minimap"),
    details: $("details"),
    search: $("search"),
    searchCount: $("search-count"),
    toggleColumns: $("toggle-columns"),
    focusBar: $("focus-bar"),
  };
  const state = {
    view: { x: 0, y: 0, k: 1 },
    expanded: new Set(), // the open groups
    focus: null, // {names: Set, label}: the subset shown instead of the whole graph
    scene: null, // what is drawn, see buildScene()
    selected: null, // the asset whose details are shown
    trace: null, // the lineage of the clicked column, see traceColumn()
    directOnly: false,
    showColumns: false,
    query: "",
    matches: [],
    matchSet: new Set(),
    matchIndex: -1,
    selection: null, // the assets a selection expression in the search box picks
    holding: new Set(), // the closed groups with a match inside
  };
  // What the SVG renderer drew, to restyle without drawing again.
  const drawn = { nodes: new Map(), edges: [], columns: new Map() };
  const measureContext = document.createElement("canvas").getContext("2d");
  let frameRequested = false;
  let fullFrameWanted = false;
  let snapshot = null; // the last full canvas drawing and the view it was drawn at
  let settleTimer = 0;
  let lastDrawMs = 0;
  // The canvas drawing under way (edges come a chunk per frame) and who waits for its end.
  const drawing = { generation: 0, waiting: [] };

  // ---- the embedded document ------------------------------------------------------------

  /** The document as build_document wrote it, from the column-wise form html.py packs. */
  function unpackDocument(packed) {
    if (!packed || !packed.$values || !packed.nodes || packed.nodes.$n === undefined) {
      return packed || {};
    }
    const values = packed.$values;
    const out = {};
    for (const [key, value] of Object.entries(packed)) {
      if (key !== "$values") out[key] = value;
    }
    const names = unpackColumn(packed.nodes.$c.name, packed.nodes.$n, values, []);
    for (const key of ["nodes", "edges", "column_edges"]) {
      if (key in packed) out[key] = unpackTable(packed[key], values, names);
    }
    return out;
  }

  function unpackTable(table, values, names) {
    if (!table || table.$n === undefined) return table;
    const rows = Array.from({ length: table.$n }, () => ({}));
    for (const [key, column] of Object.entries(table.$c)) {
      const cells = unpackColumn(column, table.$n, values, names);
      for (let i = 0; i < rows.length; i += 1) rows[i][key] = cells[i];
    }
    return rows;
  }

  function unpackColumn(column, count, values, names) {
    if ("v" in column) return column.v;
    if ("d" in column) return column.d.map((i) => values[i]);
    if ("r" in column) return column.r.map((i) => names[i]);
    if ("rl" in column) return column.rl.map((list) => list.map((i) => names[i]));
    const rows = unpackTable(column.t, values, names);
    if ("l" in column) {
      let at = 0;
      return column.l.map((length) => {
        at += length;
        return rows.slice(at - length, at);
      });
    }
    const cells = new Array(count);
    const nulls = new Set(column.z);
    let next = 0;
    for (let i = 0; i < count; i += 1) cells[i] = nulls.has(i) ? null : rows[next++];
    return cells;
  }

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
    return [...(columnNames.get(node.name) || [])].map((name) => ({ name, type: "" }));
  }

  function metaText(node) {
    const group = state.focus && node.group ? ` · ${node.group}` : "";
    return `${KIND_NAMES[node.kind] || node.kind} · ${node.status}${group}`;
  }



  // ---- groups ---------------------------------------------------------------------------

  /** Column names per asset as its column edges give them, in the edges' order. */
  function columnNamesFromEdges() {
    const names = new Map();
    const add = (asset, column) => {
      if (!names.has(asset)) names.set(asset, new Set());
      names.get(asset).add(String(column));
    };
    for (const e of columnEdges) add(e.to, e.to_column);
    for (const e of columnEdges) add(e.from, e.from_column);
    return names;
  }

  /** The group tree: path -> {path, name, parent, depth, children, assets, total, counts}. */
  function buildGroups() {
    const found = new Map();
    const make = (path) => {
      if (found.has(path)) return found.get(path);
      const parts = path ? path.split("/") : [];
      const group = {
        path,
        name: parts.length ? parts[parts.length - 1] : "",
        parent: parts.length ? make(parts.slice(0, -1).join("/")) : null,
        depth: parts.length,
        children: [],
        assets: [],
        total: 0,
        counts: new Map(),
        box: null,
      };
      found.set(path, group);
      if (group.parent) group.parent.children.push(group);
      return group;
    };
    make("");
    for (const node of nodes) {
      let group = make(node.group ? String(node.group) : "");
      group.assets.push(node.name);
      for (; group; group = group.parent) {
        group.total += 1;
        group.counts.set(node.status, (group.counts.get(node.status) || 0) + 1);
      }
    }
    return found;
  }

  function worstStatus(counts) {
    return STATUS_RANK.find((s) => counts.get(s)) || [...counts.keys()][0] || "missing";
  }

  function countsText(group) {
    const parts = STATUS_RANK.filter((s) => group.counts.get(s)).map(
      (s) => `${group.counts.get(s)} ${s}`,
    );
    return `${group.total} asset${group.total === 1 ? "" : "s"} · ${parts.join(" · ")}`;
  }

  /** Open groups a level at a time while what shows stays small enough to read. */
  function initialExpansion() {
    const open = new Set([""]);
    let level = [groups.get("")];
    let shown = level[0].assets.length + level[0].children.length;
    for (;;) {
      const next = level.flatMap((g) => g.children);
      if (!next.length) break;
      const more = next.reduce((sum, g) => sum + g.assets.length + g.children.length - 1, 0);
      if (shown + more > OPEN_BUDGET && shown > 1) break;
      for (const g of next) open.add(g.path);
      shown += more;
      level = next;
    }
    return open;
  }

  function groupOf(name) {
    const node = byName.get(name);
    return groups.get(node && node.group ? String(node.group) : "");
  }

  /** The group an asset hides in (its outermost closed group), or null when it shows. */
  function closedAncestor(name) {
    const chain = [];
    for (let g = groupOf(name); g && g.path; g = g.parent) chain.push(g);
    for (let i = chain.length - 1; i >= 0; i -= 1) {
      if (!state.expanded.has(chain[i].path)) return chain[i];
    }
    return null;
  }

  // ---- what is drawn --------------------------------------------------------------------

  /** Boxes of the written layout: the plain one, or the one with columns in the boxes. */
  function writtenLayout() {
    return state.showColumns && layout.columns ? layout.columns : layout;
  }

  function boxAt(runs, i) {
    return { x: runs[4 * i], y: runs[4 * i + 1], width: runs[4 * i + 2], height: runs[4 * i + 3] };
  }

  /**
   * The scene: the assets, groups (open frames and closed boxes) and edges to draw, with
   * their boxes. Edges into a closed group are merged, one per pair of boxes, with a count.
   */
  function buildScene() {
    return state.focus ? focusScene(state.focus.names) : overviewScene();
  }

  function overviewScene() {
    const written = writtenLayout();
    const groupBoxes = new Map(
      written.groups.map(([path, x, y, width, height]) => [path, { x, y, width, height }]),
    );
    const frames = [];
    const closed = [];
    const visit = (group) => {
      for (const child of group.children) {
        const entry = { group: child, box: groupBoxes.get(child.path) };
        if (!entry.box) continue;
        if (state.expanded.has(child.path)) {
          frames.push(entry);
          visit(child);
        } else {
          closed.push(entry);
        }
      }
    };
    visit(groups.get(""));
    const shown = [];
    const boxes = new Map();
    const hiddenIn = new Map();
    nodes.forEach((node, i) => {
      const hidden = closedAncestor(node.name);
      if (hidden) {
        hiddenIn.set(node.name, hidden.path);
      } else {
        const box = boxAt(written.boxes, i);
        boxes.set(node.name, box);
        shown.push({ node, box });
      }
    });
    const closedBoxes = new Map(closed.map((c) => [c.group.path, c.box]));
    const links = new Map();
    const drawnEdges = [];
    for (const e of edges) {
      const from = hiddenIn.get(e.from);
      const to = hiddenIn.get(e.to);
      if (from === undefined && to === undefined) {
        drawnEdges.push({ ...e, a: boxes.get(e.from), b: boxes.get(e.to), count: 1 });
        continue;
      }
      const key = `${from ?? `n:${e.from}`}\u0000${to ?? `n:${e.to}`}`;
      if (from !== undefined && from === to) continue;
      if (!links.has(key)) {
        links.set(key, {
          from: from ?? e.from,
          to: to ?? e.to,
          kind: "merged",
          a: from !== undefined ? closedBoxes.get(from) : boxes.get(e.from),
          b: to !== undefined ? closedBoxes.get(to) : boxes.get(e.to),
          count: 0,
          merged: true,
        });
      }
      links.get(key).count += 1;
    }
    return {
      nodes: shown,
      boxes,
      frames,
      closed,
      edges: drawnEdges.concat([...links.values()]),
      width: written.width,
      height: written.height,
    };
  }

  /**
   * A focused subset laid out again: its assets in their layers of the whole graph (so
   * upstream stays left), in the order of the written layout, each layer centred.
   */
  function focusScene(names) {
    const written = layout;
    const columns = new Map();
    for (const name of names) {
      const i = indexOf.get(name);
      const layer = written.layers[i];
      if (!columns.has(layer)) columns.set(layer, []);
      columns.get(layer).push(i);
    }
    const layers = [...columns.keys()].sort((a, b) => a - b);
    const sized = layers.map((layer) => {
      const members = columns.get(layer).sort((a, b) => written.boxes[4 * a + 1] - written.boxes[4 * b + 1]);
      const sizes = members.map((i) => nodeSize(nodes[i]));
      const height = sizes.reduce((sum, s) => sum + s.height + NODE_GAP, -NODE_GAP);
      return { members, sizes, height, width: Math.max(...sizes.map((s) => s.width)) };
    });
    const tallest = Math.max(0, ...sized.map((c) => c.height));
    const shown = [];
    const boxes = new Map();
    let x = 24;
    for (const column of sized) {
      let y = 24 + (tallest - column.height) / 2;
      column.members.forEach((i, at) => {
        const { width, height } = column.sizes[at];
        const box = { x, y: Math.round(y), width, height };
        boxes.set(nodes[i].name, box);
        shown.push({ node: nodes[i], box });
        y += height + NODE_GAP;
      });
      x += column.width + RANK_GAP;
    }
    const inside = edges
      .filter((e) => names.has(e.from) && names.has(e.to))
      .map((e) => ({ ...e, a: boxes.get(e.from), b: boxes.get(e.to), count: 1 }));
    return {
      nodes: shown,
      boxes,
      frames: [],
      closed: [],
      edges: inside,
      width: x - RANK_GAP + 24,
      height: tallest + 48,
    };
  }

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

  /** An edge from the right side of box a to the left side of box b. */
  function edgeEnds(a, b) {
    return [a.x + a.width, a.y + a.height / 2, b.x, b.y + b.height / 2];
  }

  function edgePath(a, b) {
    const [x1, y1, x2, y2] = edgeEnds(a, b).map((v) => Math.round(v * 10) / 10);
    // Forward edges bend halfway; an edge going back (a cycle between groups) loops round.
    const bend = x2 > x1 ? (x2 - x1) / 2 : 60;
    return `M${x1},${y1}C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  }

  // ---- SVG: few boxes, each an element ------------------------------------------------

  function groupLabelSize(box, text) {
    // A closed group's label grows with its box, so it reads at the zoom that shows it whole.
    const byWidth = (box.width - 20) / Math.max(String(text).length * 0.62, 1);
    return Math.max(12, Math.min(box.height / 5, byWidth, 200));
  }

  function drawFrame({ group, box }) {
    const el = svg("g", {
      class: `cluster depth-${Math.min(group.depth, 4)}`,
      "data-group": group.path,
    });
    el.append(svg("rect", { x: box.x, y: box.y, width: box.width, height: box.height, rx: 8 }));
    const head = svg("g", {
      class: "cluster-head",
      "data-collapse": group.path,
      role: "button",
      tabindex: "0",
    });
    head.append(svg("title", {}, `Close ${group.path} (${countsText(group)})`));
    head.append(svg("rect", { class: "hit", x: box.x, y: box.y, width: box.width, height: 22 }));
    // Its label keeps one size on screen (CSS scales it by --inv-k), to read at any zoom.
    head.append(svg("text", { x: box.x + 8, y: box.y + 4 }, `▾ ${group.path}`));
    el.append(head);
    return el;
  }

  function drawClosedGroup({ group, box }) {
    const worst = worstStatus(group.counts);
    const el = svg("g", {
      class: `group-box status-${token(worst)}`,
      "data-group": group.path,
      "data-status": worst,
      role: "button",
      tabindex: "0",
    });
    el.append(svg("title", {}, `${group.path}\n${countsText(group)}\nClick to open`));
    el.append(svg("rect", { class: "box", x: box.x, y: box.y, width: box.width, height: box.height, rx: 8 }));
    const size = groupLabelSize(box, `▸ ${group.path}`);
    const name = svg("text", { class: "group-name", x: box.x + 10, y: box.y + 8 + size }, `▸ ${group.path}`);
    name.style.fontSize = `${size.toFixed(1)}px`;
    const counts = countsText(group);
    const metaSize = Math.max(8, Math.min(size * 0.6, (box.width - 20) / (counts.length * 0.55)));
    const meta = svg("text", { class: "group-meta", x: box.x + 10, y: box.y + 14 + size * 1.7 }, counts);
    meta.style.fontSize = `${metaSize.toFixed(1)}px`;
    el.append(name, meta);
    // A bar of the statuses inside, in proportion.
    let x = box.x + 10;
    const width = box.width - 20;
    const barHeight = Math.max(4, size * 0.35);
    const y = Math.min(box.y + 20 + size * 1.9, box.y + box.height - barHeight - 4);
    for (const status of STATUS_RANK) {
      const n = group.counts.get(status);
      if (!n) continue;
      const w = (width * n) / group.total;
      el.append(svg("rect", { class: `bar status-${token(status)}`, x, y, width: w, height: barHeight }));
      x += w;
    }
    return el;
  }

  function drawNode(node, box) {
    const kind = token(node.kind);
    const el = svg("g", {
      class: `node kind-${kind} status-${token(node.status)}`,
      "data-asset": node.name,
      transform: `translate(${box.x},${box.y})`,
      tabindex: "0",
      role: "button",
    });
    const causes = (node.causes || []).map((c) => `\n· ${causeText(c)}`).join("");
    el.append(svg("title", {}, `${node.name}\n${metaText(node)}${causes}`));
    const radius = node.kind === "source" ? Math.min(box.height, HEADER_HEIGHT) / 2 : 5;
    el.append(svg("rect", { class: "box", width: box.width, height: box.height, rx: radius }));
    el.append(svg("rect", { class: "badge", x: 10, y: 12, width: 30, height: 18, rx: 3 }));
    el.append(svg("text", { class: "badge-text", x: 25, y: 25 }, KIND_BADGES[node.kind] || "?"));
    // The box's width was guessed from the name's length when the page was written; a
    // name wider than that is narrowed to fit rather than spill out of its box.
    const room = box.width - 58;
    const name = svg("text", { class: "name", x: 48, y: 19 }, node.name);
    if (textWidth(node.name, `600 13px ${FONT}`) > room) {
      name.setAttribute("textLength", room);
      name.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
    el.append(name);
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

  function drawEdge(e) {
    if (e.merged) {
      const el = svg("g", { class: "merged-edge" });
      const path = svg("path", { class: "edge merged", d: edgePath(e.a, e.b), "marker-end": "url(#arrow)" });
      path.setAttribute("data-from", e.from);
      path.setAttribute("data-to", e.to);
      path.setAttribute("data-count", String(e.count));
      path.style.strokeWidth = `${(1.5 + Math.log2(e.count)).toFixed(1)}px`;
      path.append(svg("title", {}, `${e.count} edge${e.count === 1 ? "" : "s"}: ${e.from} → ${e.to}`));
      const [x1, y1, x2, y2] = edgeEnds(e.a, e.b);
      el.append(path);
      // A single edge needs no number; more are counted halfway along.
      if (e.count > 1) {
        el.append(svg("text", { class: "edge-count", x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4 }, String(e.count)));
      }
      return { el, path, from: e.from, to: e.to, merged: true };
    }
    const kind = token(e.kind || "data");
    const el = svg("path", { class: `edge kind-${kind}`, d: edgePath(e.a, e.b), "marker-end": "url(#arrow)" });
    el.setAttribute("data-from", e.from);
    el.setAttribute("data-to", e.to);
    el.setAttribute("data-kind", kind);
    if (ORDERING_KINDS[e.kind]) el.append(svg("title", {}, ORDERING_KINDS[e.kind]));
    return { el, path: el, from: e.from, to: e.to, merged: false };
  }

  function drawSvg(scene) {
    const frameLayer = svg("g", { class: "clusters" });
    const edgeLayer = svg("g", { class: "edges" });
    const nodeLayer = svg("g", { class: "nodes" });
    scene.frames.sort((a, b) => a.group.depth - b.group.depth);
    for (const frame of scene.frames) frameLayer.append(drawFrame(frame));
    for (const closed of scene.closed) nodeLayer.append(drawClosedGroup(closed));
    drawn.edges = scene.edges.map(drawEdge);
    for (const d of drawn.edges) edgeLayer.append(d.el);
    for (const { node, box } of scene.nodes) {
      const el = drawNode(node, box);
      drawn.nodes.set(node.name, el);
      nodeLayer.append(el);
    }
    ui.viewport.replaceChildren(frameLayer, edgeLayer, nodeLayer);
  }

  // ---- canvas: many boxes, drawn for the part in view --------------------------------

  const colours = {};

  function readColours() {
    const probe = document.createElement("span");
    document.body.append(probe);
    for (const status of new Set([...STATUSES, ...nodes.map((n) => n.status)])) {
      probe.className = `status-${token(status)}`;
      const style = getComputedStyle(probe);
      colours[status] = {
        fill: style.getPropertyValue("--fill").trim() || "#eeeeee",
        stroke: style.getPropertyValue("--stroke").trim() || "#888888",
      };
    }
    probe.remove();
  }

  function sizeCanvas(canvas, r, dpr) {
    const w = Math.max(1, Math.round(r.width * dpr));
    const hgt = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== hgt) {
      canvas.width = w;
      canvas.height = hgt;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    return ctx;
  }

  /**
   * Draw the scene's part in view: group boxes and edges on the lower canvas, assets and
   * labels on the upper one. Past EDGE_CHUNK edges in view, the edges are drawn a chunk
   * per frame (behind the assets, which show at once), so the page never stops answering.
   */
  function drawCanvas() {
    const scene = state.scene;
    const r = ui.graph.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const under = sizeCanvas(ui.under, r, dpr);
    const ctx = sizeCanvas(ui.raster, r, dpr);
    drawing.generation += 1;
    if (!scene || scene.svg) {
      drawComplete();
      return;
    }
    const started = performance.now();
    const { x, y, k } = state.view;
    under.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * x, dpr * y);
    const view = { left: -x / k, top: -y / k, right: (r.width - x) / k, bottom: (r.height - y) / k };
    const inView = (b) =>
      b.x <= view.right && b.x + b.width >= view.left && b.y <= view.bottom && b.y + b.height >= view.top;
    const px = 1 / k; // one screen pixel in graph units

    for (const { group, box } of scene.frames) {
      if (!inView(box)) continue;
      under.fillStyle = group.depth > 1 ? "#eef1f4" : "#f6f8fa";
      under.strokeStyle = "#d8dee4";
      under.lineWidth = px;
      under.fillRect(box.x, box.y, box.width, box.height);
      under.strokeRect(box.x, box.y, box.width, box.height);
    }
    for (const { group, box } of scene.closed) {
      if (!inView(box)) continue;
      const c = colours[worstStatus(group.counts)] || colours.missing;
      under.fillStyle = c.fill;
      under.strokeStyle = c.stroke;
      under.lineWidth = 2 * px;
      under.fillRect(box.x, box.y, box.width, box.height);
      under.strokeRect(box.x, box.y, box.width, box.height);
    }

    const searching = state.query !== "" || state.selection !== null;
    const lit = (e) => state.selected !== null && (e.from === state.selected || e.to === state.selected);
    // Zoomed far out, the gap between layers is a few pixels: a curve would look straight
    // anyway and costs twice as much to draw.
    const straight = RANK_GAP * k < 12;
    const shown = [];
    const litEdges = [];
    for (const e of scene.edges) {
      const [x1, y1, x2, y2] = edgeEnds(e.a, e.b);
      if (Math.max(x1, x2) < view.left || Math.min(x1, x2) > view.right) continue;
      if (Math.max(y1, y2) < view.top || Math.min(y1, y2) > view.bottom) continue;
      (lit(e) ? litEdges : shown).push(e);
    }
    const strokeEdges = (target, list, from, to) => {
      target.beginPath();
      for (let i = from; i < to; i += 1) {
        const [x1, y1, x2, y2] = edgeEnds(list[i].a, list[i].b);
        target.moveTo(x1, y1);
        if (straight) {
          target.lineTo(x2, y2);
        } else {
          const bend = x2 > x1 ? (x2 - x1) / 2 : 60;
          target.bezierCurveTo(x1 + bend, y1, x2 - bend, y2, x2, y2);
        }
      }
      target.stroke();
    };
    under.lineWidth = px;
    under.strokeStyle = "rgba(140,149,159,0.8)";
    const first = Math.min(shown.length, EDGE_CHUNK);
    strokeEdges(under, shown, 0, first);
    if (litEdges.length) {
      ctx.strokeStyle = "#0969da";
      ctx.lineWidth = 2 * px;
      strokeEdges(ctx, litEdges, 0, litEdges.length);
    }
    // Boxes one path per status, so 10 000 of them are a few fill calls.
    const byStatus = new Map();
    const faded = [];
    const visible = [];
    for (const item of scene.nodes) {
      if (!inView(item.box)) continue;
      visible.push(item);
      if (searching && !state.matchSet.has(item.node.name)) {
        faded.push(item);
        continue;
      }
      if (!byStatus.has(item.node.status)) byStatus.set(item.node.status, []);
      byStatus.get(item.node.status).push(item.box);
    }
    ctx.lineWidth = Math.min(1.5, 1.5 * px * 4);
    for (const [status, boxes] of byStatus) {
      const c = colours[status] || colours.missing;
      ctx.fillStyle = c.fill;
      ctx.strokeStyle = c.stroke;
      ctx.beginPath();
      for (const b of boxes) ctx.rect(b.x, b.y, b.width, b.height);
      ctx.fill();
      if (k > 0.08) ctx.stroke();
    }
    if (faded.length) {
      ctx.fillStyle = "rgba(220,224,228,0.6)";
      ctx.beginPath();
      for (const { box } of faded) ctx.rect(box.x, box.y, box.width, box.height);
      ctx.fill();
    }
    const holders = scene.closed.filter(({ group }) => state.holding && state.holding.has(group.path));
    if (searching && holders.length) {
      ctx.strokeStyle = "#0969da";
      ctx.lineWidth = Math.max(3, 4 * px);
      for (const { box } of holders) ctx.strokeRect(box.x, box.y, box.width, box.height);
    }
    const marked = visible.filter(
      ({ node }) => node.name === state.selected || (searching && state.matchSet.has(node.name)),
    );
    if (marked.length) {
      ctx.strokeStyle = "#0969da";
      ctx.lineWidth = Math.max(2, 3 * px);
      ctx.beginPath();
      for (const { box } of marked) ctx.rect(box.x, box.y, box.width, box.height);
      ctx.stroke();
    }
    // Labels only where they can be read, and only the ones in view.
    if (k >= LABEL_ZOOM && visible.length <= 4000) {
      ctx.fillStyle = "#1f2328";
      ctx.textBaseline = "alphabetic";
      ctx.font = `600 13px ${FONT}`;
      for (const { node, box } of visible) {
        ctx.fillText(node.name, box.x + 12, box.y + 19, box.width - 20);
      }
      if (k >= META_ZOOM) {
        ctx.fillStyle = "#656d76";
        ctx.font = `11px ${FONT}`;
        for (const { node, box } of visible) {
          ctx.fillText(metaText(node), box.x + 12, box.y + 34, box.width - 20);
        }
      }
    }
    // Group labels at screen size, so a group reads at any zoom.
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.textBaseline = "top";
    for (const { group, box } of scene.frames.concat(scene.closed)) {
      if (!inView(box) || box.width * k < 40) continue;
      const closed = !state.expanded.has(group.path);
      ctx.font = `${closed ? "600 13px" : "12px"} ${FONT}`;
      ctx.fillStyle = closed ? "#1f2328" : "#57606a";
      const sx = Math.max(box.x * k + x, 0) + 8;
      const sy = Math.max(box.y * k + y, 0) + 5;
      const room = (box.x + box.width) * k + x - sx - 8;
      ctx.fillText(`${closed ? "▸" : "▾"} ${group.path}`, sx, sy, room);
      if (closed && box.height * k > 40) {
        ctx.font = `11px ${FONT}`;
        ctx.fillStyle = "#57606a";
        ctx.fillText(countsText(group), sx, sy + 18, room);
      }
    }
    const generation = drawing.generation;
    let spent = performance.now() - started;
    let at = first;
    const more = () => {
      if (generation !== drawing.generation) return; // a newer drawing took over
      const t = performance.now();
      const next = Math.min(shown.length, at + EDGE_CHUNK);
      strokeEdges(under, shown, at, next);
      at = next;
      spent += performance.now() - t;
      if (at < shown.length) {
        requestAnimationFrame(more);
      } else {
        finish();
      }
    };
    const finish = () => {
      lastDrawMs = spent;
      keepSnapshot();
      drawComplete();
    };
    if (at < shown.length) requestAnimationFrame(more);
    else finish();
  }

  /**
   * Draw on the next frame. While the view moves over a scene that takes long to draw,
   * frames show the last full drawing moved and scaled (one image copy), and the full
   * drawing follows once the view rests: zooming stays smooth at any size.
   */
  function drawComplete() {
    const waiting = drawing.waiting;
    drawing.waiting = [];
    for (const f of waiting) f();
  }

  function requestFrame(moving = false) {
    if (!moving) fullFrameWanted = true;
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      const raster = state.scene && !state.scene.svg;
      const quick = raster && !fullFrameWanted && snapshot && lastDrawMs > 8;
      fullFrameWanted = false;
      if (quick) {
        drawSnapshot();
        clearTimeout(settleTimer);
        settleTimer = setTimeout(() => requestFrame(), 150);
      } else {
        drawCanvas();
      }
      drawMinimap();
    });
  }

  function drawSnapshot() {
    const ctx = ui.raster.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const { x, y, k } = state.view;
    const before = snapshot.view;
    const s = k / before.k;
    drawing.generation += 1; // a drawing under way is stale now
    ui.under.getContext("2d").clearRect(0, 0, ui.under.width, ui.under.height);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ui.raster.width, ui.raster.height);
    const { width, height } = snapshot.canvas;
    ctx.drawImage(snapshot.canvas, dpr * (x - before.x * s), dpr * (y - before.y * s), width * s, height * s);
  }

  /** Keep the full drawing just made, for the frames of a moving view. */
  function keepSnapshot() {
    if (!snapshot) snapshot = { canvas: document.createElement("canvas"), view: null };
    const copy = snapshot.canvas;
    if (copy.width !== ui.raster.width || copy.height !== ui.raster.height) {
      copy.width = ui.raster.width;
      copy.height = ui.raster.height;
    }
    const ctx = copy.getContext("2d");
    ctx.clearRect(0, 0, copy.width, copy.height);
    ctx.drawImage(ui.under, 0, 0);
    ctx.drawImage(ui.raster, 0, 0);
    snapshot.view = { ...state.view };
  }

  /** The scene's box at a point of the graph: an asset, a closed group or an open frame. */
  function hitTest(gx, gy) {
    const scene = state.scene;
    const inside = (b) => gx >= b.x && gx <= b.x + b.width && gy >= b.y && gy <= b.y + b.height;
    for (const { node, box } of scene.nodes) if (inside(box)) return { asset: node.name };
    for (const { group, box } of scene.closed) if (inside(box)) return { open: group.path };
    let frame = null;
    for (const { group, box } of scene.frames) {
      const head = { x: box.x, y: box.y, width: box.width, height: 22 };
      if (inside(head) && (!frame || group.depth > frame.depth)) frame = group;
    }
    return frame ? { close: frame.path } : null;
  }

  // ---- rendering ------------------------------------------------------------------------

  function render() {
    const started = performance.now();
    drawn.nodes.clear();
    drawn.columns.clear();
    drawn.edges = [];
    const scene = buildScene();
    const boxCount = scene.nodes.length + scene.closed.length;
    scene.svg = boxCount <= MAX_SVG_BOXES && scene.edges.length <= MAX_SVG_EDGES;
    state.scene = scene;
    snapshot = null;
    if (scene.svg) {
      drawSvg(scene);
    } else {
      ui.viewport.replaceChildren();
    }
    ui.graph.classList.toggle("raster", !scene.svg);
    requestFrame(); // the canvas is drawn once per frame, after the view is set
    renderMinimap();
    const why = [];
    if (!scene.svg) {
      why.push(`${boxCount} boxes are drawn on a canvas; zoom in for names, click one for details.`);
    }
    if (scene.closed.length) why.push("Click a group to open it.");
    setNotice(why.join(" "));
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    document.body.dataset.renderer = scene.svg ? "svg" : "canvas";
    applyHighlights();
  }

  function setNotice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  /** Open or close a group; an opened group is brought into view, its members readable. */
  function setExpanded(path, open) {
    if (open) {
      state.expanded.add(path);
    } else {
      for (const p of [...state.expanded]) if (p === path || p.startsWith(`${path}/`)) state.expanded.delete(p);
    }
    render();
    const frame = open && state.scene.frames.find((f) => f.group.path === path);
    if (frame) {
      const b = frame.box;
      const r = ui.svg.getBoundingClientRect();
      const k = Math.max(state.view.k, Math.min(1, (r.width - 48) / b.width, (r.height - 48) / b.height));
      showBox({ left: b.x, top: b.y, right: b.x + b.width, bottom: b.y + b.height }, k);
    }
  }

  /** Leave a focus that hides an asset and open every group around it, so that it is drawn. */
  function reveal(name) {
    let changed = false;
    if (state.focus && !state.focus.names.has(name)) {
      leaveFocus(false);
      changed = true;
    }
    if (!state.focus && closedAncestor(name)) {
      for (let g = groupOf(name); g && g.path; g = g.parent) state.expanded.add(g.path);
      changed = true;
    }
    if (changed) render();
  }

  // ---- minimap --------------------------------------------------------------------------

  let minimapImage = null;

  /** The whole scene, small, once per scene; the view's rectangle goes on it per frame. */
  function renderMinimap() {
    const scene = state.scene;
    const canvas = ui.minimap;
    const show = scene.nodes.length + scene.closed.length > 30;
    canvas.hidden = !show;
    minimapImage = null;
    if (!show) return;
    const size = 180;
    const scale = Math.min(size / scene.width, size / scene.height);
    canvas.width = Math.max(20, Math.round(scene.width * scale));
    canvas.height = Math.max(20, Math.round(scene.height * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    for (const { box } of scene.frames) {
      ctx.fillStyle = "#eef1f4";
      ctx.fillRect(box.x, box.y, box.width, box.height);
    }
    for (const { group, box } of scene.closed) {
      ctx.fillStyle = (colours[worstStatus(group.counts)] || colours.missing).stroke;
      ctx.fillRect(box.x, box.y, box.width, box.height);
    }
    for (const { node, box } of scene.nodes) {
      ctx.fillStyle = (colours[node.status] || colours.missing).stroke;
      ctx.fillRect(box.x, box.y, Math.max(box.width, 2 / scale), Math.max(box.height, 2 / scale));
    }
    // Kept as a canvas of its own: copying it back per frame is one drawImage.
    const copy = document.createElement("canvas");
    copy.width = canvas.width;
    copy.height = canvas.height;
    copy.getContext("2d").drawImage(canvas, 0, 0);
    minimapImage = { scale, bitmap: copy };
    drawMinimap();
  }

  function drawMinimap() {
    if (!minimapImage) return;
    const ctx = ui.minimap.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(minimapImage.bitmap, 0, 0);
    const r = ui.graph.getBoundingClientRect();
    const { x, y, k } = state.view;
    const s = minimapImage.scale;
    ctx.strokeStyle = "#0969da";
    ctx.lineWidth = 1.5;
    ctx.strokeRect((-x / k) * s, (-y / k) * s, (r.width / k) * s, (r.height / k) * s);
  }

  function enableMinimap() {
    let dragging = false;
    const move = (e) => {
      if (!minimapImage) return;
      const m = ui.minimap.getBoundingClientRect();
      const gx = (e.clientX - m.left) / minimapImage.scale;
      const gy = (e.clientY - m.top) / minimapImage.scale;
      const r = ui.graph.getBoundingClientRect();
      const { k } = state.view;
      setView(r.width / 2 - gx * k, r.height / 2 - gy * k, k);
    };
    ui.minimap.addEventListener("pointerdown", (e) => {
      dragging = true;
      ui.minimap.setPointerCapture(e.pointerId);
      move(e);
      e.stopPropagation();
    });
    ui.minimap.addEventListener("pointermove", (e) => dragging && move(e));
    ui.minimap.addEventListener("pointerup", () => {
      dragging = false;
    });
  }

  // ---- pan and zoom ---------------------------------------------------------------------

  function setView(x, y, k) {
    state.view = { x, y, k };
    const transform = `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${k.toFixed(4)})`;
    ui.viewport.setAttribute("transform", transform);
    ui.viewport.style.setProperty("--inv-k", String(1 / k));
    ui.graph.classList.toggle("far", k < 0.35);
    if ((state.scene && !state.scene.svg) || minimapImage) requestFrame(true);
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
    if (!state.scene || !nodes.length) return;
    const { width, height } = state.scene;
    showBox({ left: 0, top: 0, right: width, bottom: height }, 1.5);
  }

  function centreOn(names) {
    const boxes = names.map((n) => state.scene.boxes.get(n)).filter(Boolean);
    if (!boxes.length) return;
    let left = Infinity;
    let right = -Infinity;
    let top = Infinity;
    let bottom = -Infinity;
    for (const b of boxes) {
      left = Math.min(left, b.x);
      right = Math.max(right, b.x + b.width);
      top = Math.min(top, b.y);
      bottom = Math.max(bottom, b.y + b.height);
    }
    showBox({ left, right, top, bottom }, Math.max(state.view.k, 1));
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
    const close = e.target.closest("[data-collapse]");
    const group = e.target.closest(".group-box[data-group]");
    if (column && asset) {
      const name = asset.getAttribute("data-asset");
      selectColumn(name, column.getAttribute("data-column").slice(name.length + 1));
    } else if (asset) {
      selectAsset(asset.getAttribute("data-asset"));
    } else if (close) {
      setExpanded(close.getAttribute("data-collapse"), false);
    } else if (group) {
      setExpanded(group.getAttribute("data-group"), true);
    } else if (state.scene && !state.scene.svg) {
      const r = ui.svg.getBoundingClientRect();
      const { x, y, k } = state.view;
      const hit = hitTest((e.clientX - r.left - x) / k, (e.clientY - r.top - y) / k);
      if (hit && hit.asset) selectAsset(hit.asset);
      else if (hit && hit.open) setExpanded(hit.open, true);
      else if (hit && hit.close) setExpanded(hit.close, false);
      else clearSelection();
    } else {
      clearSelection();
    }
  }

  function selectAsset(name) {
    if (!byName.has(name)) return;
    reveal(name);
    if (state.trace && state.trace.origin.asset !== name) state.trace = null;
    state.selected = name;
    showDetails(byName.get(name));
    applyHighlights();
    keepInView(name);
  }

  function selectColumn(asset, column) {
    reveal(asset);
    state.trace = traceColumn(asset, column);
    state.selected = asset;
    showDetails(byName.get(asset));
    applyHighlights();
    keepInView(asset);
  }

  /** Pan (at the same zoom) to an asset that is out of sight, e.g. behind the details panel. */
  function keepInView(name) {
    const b = state.scene.boxes.get(name);
    if (!b) return;
    const view = ui.svg.getBoundingClientRect();
    const { x, y, k } = state.view;
    const left = view.left + b.x * k + x;
    const top = view.top + b.y * k + y;
    const inside =
      left >= view.left &&
      left + b.width * k <= view.right &&
      top >= view.top &&
      top + b.height * k <= view.bottom;
    if (!inside) panTo(name);
  }

  function panTo(name) {
    const view = ui.svg.getBoundingClientRect();
    const b = state.scene.boxes.get(name);
    if (!b) return;
    const k = Math.max(state.view.k, state.scene.svg ? 0 : LABEL_ZOOM);
    setView(view.width / 2 - (b.x + b.width / 2) * k, view.height / 2 - (b.y + b.height / 2) * k, k);
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


  // ---- search, the selection syntax and focus --------------------------------------------

  /** Text that is meant as a selection (`+name+`, `tag:x`, a glob, a union) or a path. */
  function isSelection(text) {
    // Spaces alone do not make one: "daily rev" is still looked for as a name.
    return /[+@:*?[,]/.test(text) || /^\w+\.\.\w+$/.test(text);
  }

  function setQuery(text) {
    const trimmed = text.trim();
    state.matchIndex = -1;
    state.selection = null;
    ui.searchCount.classList.remove("error");
    if (trimmed && isSelection(trimmed)) {
      state.query = "";
      try {
        const picked = selectNames(trimmed);
        state.selection = picked;
        state.matches = nodes.filter((n) => picked.names.has(n.name)).map((n) => n.name);
        state.matchSet = new Set(state.matches);
        const count = state.matches.length;
        ui.searchCount.textContent = `${count} selected · Enter to focus`;
      } catch (error) {
        state.matches = [];
        state.matchSet = new Set();
        ui.searchCount.textContent = String(error.message || error);
        ui.searchCount.classList.add("error");
      }
      if (state.scene && !state.scene.svg) requestFrame();
      applyHighlights();
      return;
    }
    state.query = trimmed.toLowerCase();
    state.matches = state.query
      ? nodes.filter((n) => n.name.toLowerCase().includes(state.query)).map((n) => n.name)
      : [];
    state.matchSet = new Set(state.matches);
    const count = state.matches.length;
    ui.searchCount.textContent = !state.query
      ? ""
      : count === 0
        ? "no match"
        : `${count} match${count === 1 ? "" : "es"}`;
    if (!trimmed && state.focus) leaveFocus(true);
    applyHighlights();
    if (state.scene && !state.scene.svg) requestFrame();
    if (count) centreOn(state.matches);
  }

  function onSearchEnter() {
    if (state.selection) {
      enterFocus(state.selection.names, state.selection.label);
      return;
    }
    nextMatch();
  }

  function nextMatch() {
    if (!state.matches.length) return;
    state.matchIndex = (state.matchIndex + 1) % state.matches.length;
    const name = state.matches[state.matchIndex];
    selectAsset(name);
    centreOn([name]);
  }

  /** Show only ``names``, laid out again; the search box keeps what picked them. */
  function enterFocus(names, label) {
    if (!names.size) return;
    state.focus = { names, label };
    state.query = "";
    state.selection = null;
    state.matches = [];
    state.matchSet = new Set();
    if (state.selected && !names.has(state.selected)) clearSelection();
    ui.focusBar.hidden = false;
    $("focus-label").textContent = `${label} · ${names.size} asset${names.size === 1 ? "" : "s"}`;
    ui.searchCount.textContent = "";
    updateColumnsToggle();
    render();
    fit();
  }

  function leaveFocus(redraw) {
    if (!state.focus) return;
    state.focus = null;
    ui.focusBar.hidden = true;
    updateColumnsToggle();
    if (redraw) {
      render();
      fit();
    }
  }

  function focusNeighbours(name, hops) {
    const text = `${hops}+${name}+${hops}`;
    ui.search.value = text;
    setQuery(text);
    onSearchEnter();
  }

  /** What a selection picks, as the CLI's `select` does (docs/selection.md), or a path. */
  function selectNames(text) {
    const path = /^(\w+)\.\.(\w+)$/.exec(text);
    if (path) return pathBetween(lookup(path[1]), lookup(path[2]));
    const names = new Set();
    for (const term of text.split(/\s+/).filter(Boolean)) {
      const parts = term.split(",");
      if (parts.includes("")) {
        throw new Error(`'${term}' has an empty part around a comma`);
      }
      const found = parts.map(selectAtom);
      for (const name of found[0]) if (found.every((s) => s.has(name))) names.add(name);
    }
    return { names, label: text };
  }

  function selectAtom(text) {
    const at = text.startsWith("@");
    let body = at ? text.slice(1) : text;
    let parents = null;
    let children = null;
    let m = /^(\d*)\+/.exec(body);
    if (m) {
      parents = m[1] ? Number(m[1]) : Infinity;
      body = body.slice(m[0].length);
    }
    m = /\+(\d*)$/.exec(body);
    if (m) {
      children = m[1] ? Number(m[1]) : Infinity;
      body = body.slice(0, m.index);
    }
    if (!body || body.includes("+") || body.includes("@")) {
      throw new Error(`'${text}' has a malformed graph operator; use '+name', 'name+', '2+name+1' or '@name'`);
    }
    if (at && (parents !== null || children !== null)) {
      throw new Error(`'${text}' combines '@' with '+'; use '@name' or '+name+' alone`);
    }
    const colon = body.indexOf(":");
    const method = colon < 0 ? "name" : body.slice(0, colon).toLowerCase();
    const value = colon < 0 ? body : body.slice(colon + 1);
    if (!value) throw new Error(`'${text}' has no value after '${method}:'`);
    const matched = matchMethod(method, value, text);
    const names = new Set(matched);
    for (const name of matched) {
      if (parents !== null) for (const n of reach(name, upstreamOf, parents)) names.add(n);
      if (children !== null) for (const n of reach(name, downstreamOf, children)) names.add(n);
    }
    if (at) {
      const below = new Set(names);
      for (const name of matched) for (const n of reach(name, downstreamOf, Infinity)) below.add(n);
      const all = new Set(below);
      for (const name of below) for (const n of reach(name, upstreamOf, Infinity)) all.add(n);
      return all;
    }
    return names;
  }

  function matchMethod(method, value, text) {
    const lower = value.toLowerCase();
    const all = (test) => new Set(nodes.filter(test).map((n) => n.name));
    if (method === "name") {
      if (/[*?[]/.test(value)) return all((n) => glob(lower).test(n.name.toLowerCase()));
      return new Set([lookup(value)]);
    }
    if (method === "tag") return all((n) => (n.tags || []).some((t) => glob(lower).test(String(t).toLowerCase())));
    if (method === "group") {
      const pattern = glob(lower.replace(/\/+$/, ""));
      return all((n) => inTree(String(n.group || "").toLowerCase(), pattern));
    }
    if (method === "path") {
      const cleaned = value.replace(/^\.\//, "").replace(/\/+$/, "");
      const pattern = glob(cleaned);
      return all((n) => cleaned === "." || inTree(String(n.file || ""), pattern));
    }
    if (method === "kind" || method === "status") {
      const allowed = method === "kind" ? Object.keys(KIND_NAMES) : STATUSES;
      if (!allowed.includes(lower)) {
        throw new Error(`'${text}' names unknown ${method} '${value}'; use one of ${allowed.join(", ")}`);
      }
      return all((n) => n[method] === lower);
    }
    throw new Error(`'${text}' uses unknown method '${method}'; use one of group, kind, name, path, status, tag`);
  }

  function lookup(value) {
    const lower = value.toLowerCase();
    if (byName.has(value)) return value;
    const found = nodes.find((n) => n.name.toLowerCase() === lower);
    if (!found) throw new Error(`'${value}' is not an asset or source`);
    return found.name;
  }

  /** fnmatch's glob as an anchored regular expression. */
  function glob(pattern) {
    let re = "";
    for (let i = 0; i < pattern.length; i += 1) {
      const c = pattern[i];
      if (c === "*") re += ".*";
      else if (c === "?") re += ".";
      else if (c === "[" && pattern.indexOf("]", i + 2) > 0) {
        const end = pattern.indexOf("]", i + 2);
        let set = pattern.slice(i + 1, end);
        if (set.startsWith("!")) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, "\\\\")}]`;
        i = end;
      } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
    return new RegExp(`^${re}$`, "s");
  }

  function inTree(path, pattern) {
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i += 1) {
      if (pattern.test(parts.slice(0, i).join("/"))) return true;
    }
    return false;
  }

  /** The assets up to ``depth`` edges away along ``index`` (upstreamOf or downstreamOf). */
  function reach(name, index, depth) {
    const found = new Set();
    let frontier = [name];
    for (let d = 0; d < depth && frontier.length; d += 1) {
      const next = [];
      for (const n of frontier) {
        for (const e of index.get(n) || []) {
          if (!found.has(e.name)) {
            found.add(e.name);
            next.push(e.name);
          }
        }
      }
      frontier = next;
    }
    return found;
  }

  /** Every asset on a path between two assets, whichever is upstream. */
  function pathBetween(a, b) {
    const label = `${a}..${b}`;
    for (const [up, down] of [
      [a, b],
      [b, a],
    ]) {
      const below = reach(up, downstreamOf, Infinity);
      if (!below.has(down)) continue;
      const above = reach(down, upstreamOf, Infinity);
      const names = new Set([up, down]);
      for (const n of below) if (above.has(n)) names.add(n);
      return { names, label };
    }
    throw new Error(`no path between '${a}' and '${b}': neither is upstream of the other`);
  }

  function applyHighlights() {
    const { trace, selected } = state;
    const searching = state.query !== "" || state.selection !== null;
    const matches = state.matchSet;
    for (const [name, el] of drawn.nodes) {
      el.classList.toggle("selected", name === selected);
      el.classList.toggle("match", searching && matches.has(name));
      el.classList.toggle("col-origin", Boolean(trace) && trace.origin.asset === name);
      el.classList.toggle("col-related", Boolean(trace) && trace.assets.has(name));
      const hidden = (searching && !matches.has(name)) || (trace && !trace.assets.has(name));
      el.classList.toggle("faded", Boolean(hidden));
    }
    for (const { el, path, from, to, merged } of drawn.edges) {
      const lit = trace
        ? trace.tableEdges.has(`${from}\u0000${to}`)
        : selected !== null && (from === selected || to === selected);
      const faded = trace ? !lit : searching && !(merged || (matches.has(from) && matches.has(to)));
      el.classList.toggle("lit", lit);
      el.classList.toggle("faded", faded);
      path.setAttribute("marker-end", lit ? "url(#arrow-lit)" : "url(#arrow)");
    }
    // A closed group with a match inside is marked too: Enter opens it on the way.
    const holding = new Set();
    if (searching) {
      for (const name of state.matches) {
        const closed = state.focus ? null : closedAncestor(name);
        if (closed) holding.add(closed.path);
      }
    }
    state.holding = holding;
    for (const el of ui.viewport.querySelectorAll(".group-box")) {
      el.classList.toggle("match", holding.has(el.getAttribute("data-group")));
    }
    highlightColumns(drawn.columns);
    highlightColumns(schemaRows());
    if (state.scene && !state.scene.svg) requestFrame();
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
      exploreSection(node),
      statusSection(node),
      schemaSection(node),
      columnLineageSection(),
      codeSection(node),
      historySection(node),
    ];
    ui.details.replaceChildren(...panel.filter(Boolean));
    setPanelOpen(true);
  }

  function exploreSection(node) {
    return h(
      "section",
      { id: "explore" },
      h(
        "p",
        {},
        h("button", { type: "button", id: "focus-neighbours" }, "Focus"),
        " on it and its neighbours to ",
        h("input", { type: "number", id: "hops", min: "0", max: "99", value: "1", "aria-label": "hops" }),
        " hops",
      ),
      h(
        "p",
        {},
        h("button", { type: "button", id: "show-path" }, "Path"),
        " to ",
        h("input", {
          type: "text",
          id: "path-to",
          placeholder: "another asset",
          spellcheck: "false",
          "aria-label": "the other end of the path",
        }),
      ),
      h("p", { id: "explore-error", class: "error", hidden: true }),
    );
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
    if (e.target.closest("#focus-neighbours")) {
      const hops = Math.max(0, Math.min(99, Number($("hops").value) || 0));
      focusNeighbours(state.selected, hops);
      return undefined;
    }
    if (e.target.closest("#show-path")) {
      const other = $("path-to").value.trim();
      const text = `${state.selected}..${other}`;
      try {
        const found = selectNames(text);
        ui.search.value = text;
        enterFocus(found.names, found.label);
      } catch (error) {
        $("explore-error").textContent = String(error.message || error);
        $("explore-error").hidden = false;
      }
      return undefined;
    }
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
    const groupCount = groups.size - 1;
    const grouped = groupCount > 1 ? ` · ${groupCount} groups` : "";
    $("summary").textContent = `${nodes.length} assets · ${edges.length} edges${grouped}${generated}`;
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
      ui.toggleColumns.title = `Columns are not drawn for more than ${MAX_NODES_WITH_COLUMNS} assets; focus on fewer to see them`;
    }
    $("empty").hidden = nodes.length > 0;
  }

  function columnsAllowed() {
    const shown = state.focus ? state.focus.names.size : nodes.length;
    return shown <= MAX_NODES_WITH_COLUMNS;
  }

  function bindControls() {
    ui.search.addEventListener("input", () => setQuery(ui.search.value));
    ui.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") onSearchEnter();
    });
    ui.toggleColumns.addEventListener("click", () => {
      state.showColumns = !state.showColumns;
      ui.toggleColumns.setAttribute("aria-pressed", String(state.showColumns));
      render();
      fit();
    });
    $("focus-leave").addEventListener("click", () => {
      ui.search.value = "";
      setQuery("");
      leaveFocus(true);
    });
    ui.details.addEventListener("click", onDetailsClick);
    ui.details.addEventListener("change", (e) => {
      if (e.target.id !== "direct-only" || !state.trace) return;
      state.directOnly = e.target.checked;
      const { asset, column } = state.trace.origin;
      selectColumn(asset, column);
    });
    ui.details.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      if (e.target.id === "path-to") $("show-path").click();
      if (e.target.id === "hops") $("focus-neighbours").click();
    });
    ui.svg.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" && e.key !== " ") return;
      const asset = e.target.closest && e.target.closest("[data-asset]");
      const group = e.target.closest && e.target.closest(".group-box[data-group]");
      const close = e.target.closest && e.target.closest("[data-collapse]");
      if (asset) selectAsset(asset.getAttribute("data-asset"));
      else if (group) setExpanded(group.getAttribute("data-group"), true);
      else if (close) setExpanded(close.getAttribute("data-collapse"), false);
      else return;
      e.preventDefault();
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
    window.addEventListener("resize", () => requestFrame());
  }

  function updateColumnsToggle() {
    if (nodes.length <= MAX_NODES_WITH_COLUMNS) return;
    ui.toggleColumns.disabled = !columnsAllowed();
    if (!columnsAllowed() && state.showColumns) {
      state.showColumns = false;
      ui.toggleColumns.setAttribute("aria-pressed", "false");
    }
  }

  /** If the graph cannot be drawn, say what and why instead of showing an empty page. */
  function fail(error) {
    const message = `The graph could not be drawn: ${error && error.message ? error.message : error}.`;
    const p = $("failure");
    p.textContent = `${message} The details of each asset are in the JSON export (assetflow lineage --format json).`;
    p.hidden = false;
  }

  // The first complete view: the frame after the first drawing is complete, edges and all.
  // The benchmark reads this mark (tests/benchmarks/bench_html.py).
  drawing.waiting.push(() =>
    requestAnimationFrame(() => {
      performance.mark("assetflow-first-view");
      document.body.dataset.firstView = "true";
    }),
  );
  try {
    drawHeader();
    readColours();
    bindControls();
    enablePanAndZoom();
    enableMinimap();
    state.expanded = initialExpansion();
    render();
    fit();
  } catch (error) {
    fail(error);
    drawComplete();
  }
  document.body.dataset.ready = "true";
})();
