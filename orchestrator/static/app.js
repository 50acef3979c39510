// Orchestrator dashboard: plain JS, no build step, nothing loaded from elsewhere.
// The list polls GET /workflows; the open workflow follows GET /workflows/{id}/events (EventSource).
// With an API key (stored in localStorage) fetches send "Authorization: Bearer", EventSource ?api_key=.
// The graph is one SVG whose view box is zoomed and panned (wheel, drag, Fit); far out, nodes are drawn
// compact (boxes only), so workflows of thousands of nodes stay usable.
"use strict";

const COLORS = { pending: "#9aa5b1", running: "#2f80ed", stopping: "#f2994a", complete: "#27ae60",
                 failed: "#eb5757", cancelled: "#9b51e0", paused: "#f2c94c", "not started": "#cbd2d9" };
const FINAL = new Set(["complete", "failed", "cancelled"]);
const ACTIVE = new Set(["running", "stopping", "paused"]);
const BOX_W = 190, BOX_H = 58, GAP_X = 90, GAP_Y = 22, SUB_GAP = 24, PAD = 20;
const COMPACT_BELOW = 0.45;  // screen pixels per graph unit under which nodes are drawn as plain boxes
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const state = { key: localStorage.getItem("orchestrator.api_key") || "", wid: null, es: null, graph: null,
                nodes: [], workflow: null, selected: null, listTimer: null, pos: {}, size: { w: 1, h: 1 },
                view: { x: 0, y: 0, w: 1, h: 1 }, groups: new Map(), edgesFrom: new Map(),
                matches: [], matchAt: -1, jumpAt: { running: -1, failed: -1 } };

// ---- HTTP -------------------------------------------------------------------------------------
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401) banner("The API needs a key: enter it at the top right.");
  if (!r.ok) {
    const d = body && body.detail;
    throw new Error((d && (d.error || (typeof d === "string" ? d : JSON.stringify(d)))) || ("HTTP " + r.status));
  }
  return body;
}

function banner(text) {
  const b = $("banner");
  b.textContent = text || "";
  b.hidden = !text;
}

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtTime(iso) { return iso ? new Date(iso).toLocaleTimeString() : "—"; }
function duration(a, b) {
  if (!a) return "";
  const s = ((b ? new Date(b) : new Date()) - new Date(a)) / 1000;
  return s < 60 ? s.toFixed(1) + " s" : s < 3600 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(2) + " h";
}
function pct(x) { return Math.round(Number(x) || 0); }

// A node cancelled before it ever started (a cancelled or failed workflow's waiting nodes) is "not started".
function shownStatus(n) {
  if (!n) return "pending";
  if (n.status === "cancelled" && !n.started_at) return "not started";
  return n.status || "pending";
}

// One definition of progress for the header, the list and the graph: complete nodes plus the running
// nodes' own progress, over all nodes. Failed, cancelled and never-started nodes add nothing, so a
// failed or cancelled workflow is never 100%.
function counts(nodes) {
  const c = { total: nodes.length, complete: 0, failed: 0, cancelled: 0, running: 0, pending: 0, notStarted: 0, partial: 0 };
  for (const n of nodes) {
    const s = shownStatus(n);
    if (s === "complete") c.complete++;
    else if (s === "failed") c.failed++;
    else if (s === "cancelled") c.cancelled++;
    else if (s === "not started") c.notStarted++;
    else if (ACTIVE.has(s)) { c.running++; c.partial += (Number(n.progress) || 0) / 100; }
    else c.pending++;
  }
  c.progress = c.total ? 100 * (c.complete + c.partial) / c.total : 0;
  return c;
}

// ---- workflow list ------------------------------------------------------------------------------
async function refreshList() {
  const status = $("status-filter").value;
  let body;
  try {
    body = await api("/workflows?limit=200" + (status ? "&status=" + status : ""));
  } catch (e) { $("conn").textContent = "list: " + e.message; return; }
  if (!state.es) $("conn").textContent = "connected";
  banner("");
  const ul = $("workflows");
  ul.textContent = "";
  $("list-empty").hidden = body.workflows.length > 0;
  for (const w of body.workflows) {
    const li = document.createElement("li");
    li.className = "wf" + (w.workflow_id === state.wid ? " selected" : "");
    li.dataset.id = w.workflow_id;
    li.dataset.status = w.status;
    li.innerHTML = `<div class="row"><span class="id"></span><span class="badge"></span></div>
      <div class="sub"></div><div class="bar"><div></div></div>`;
    li.querySelector(".id").textContent = w.workflow_id;
    const badge = li.querySelector(".badge");
    badge.textContent = w.status; badge.classList.add(w.status);
    const bar = li.querySelector(".bar > div");
    bar.style.width = (Number(w.progress) || 0) + "%"; bar.style.background = COLORS[w.status] || COLORS.running;
    const who = w.user ? ` · ${w.user}` : "";
    li.querySelector(".sub").textContent =
      `${w.name || ""} · ${w.nodes_done}/${w.nodes_total} complete · ${fmtTime(w.created_at)}${who}`;
    li.onclick = () => { location.hash = "#/wf/" + encodeURIComponent(w.workflow_id); };
    ul.appendChild(li);
  }
}

// ---- one workflow -------------------------------------------------------------------------------
function openWorkflow(wid) {
  if (state.es) { state.es.close(); state.es = null; }
  state.wid = wid; state.graph = null; state.selected = null;
  $("placeholder").hidden = !!wid;
  $("workflow").hidden = !wid;
  $("details").hidden = true;
  for (const li of document.querySelectorAll("li.wf")) li.classList.toggle("selected", li.dataset.id === wid);
  if (!wid) return;
  $("wf-id").textContent = wid;
  follow(wid);
}

function follow(wid) {
  if (state.es) state.es.close();
  const url = `/workflows/${encodeURIComponent(wid)}/events` + (state.key ? "?api_key=" + encodeURIComponent(state.key) : "");
  const es = new EventSource(url);
  state.es = es;
  $("conn").textContent = "live: connecting…";
  es.addEventListener("snapshot", (m) => {
    const d = JSON.parse(m.data);
    const sameGraph = state.graph && state.graph.vertices.length === d.graph.vertices.length;
    state.graph = d.graph; state.nodes = d.nodes; state.workflow = d.workflow;
    $("conn").textContent = "live";
    if (sameGraph) state.nodes.forEach((_, i) => updateNode(i)); else renderGraph();
    renderHeader();
    if (state.selected !== null) showDetails(state.selected);
  });
  const onNode = (m) => {
    const d = JSON.parse(m.data);
    const n = state.nodes[d.index];
    if (!n) return;
    Object.assign(n, d);
    updateNode(d.index);
    scheduleHeader();
    if (state.selected === d.index && m.type === "node") showDetails(d.index);
  };
  es.addEventListener("node", onNode);
  es.addEventListener("progress", onNode);
  es.addEventListener("workflow", (m) => { Object.assign(state.workflow, JSON.parse(m.data)); renderHeader(); refreshList(); });
  es.addEventListener("end", (m) => {
    Object.assign(state.workflow, JSON.parse(m.data));
    renderHeader();
    es.close();
    if (state.es === es) state.es = null;
    $("conn").textContent = "ended";
    refreshList();
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      $("conn").textContent = "events: connection refused";
      api(`/workflows/${encodeURIComponent(wid)}?nodes=false`).catch((e) => banner(e.message));
    } else {
      $("conn").textContent = "live: reconnecting…";
    }
  };
}

let headerQueued = false;
function scheduleHeader() {  // many node events in a burst: one header render per frame
  if (headerQueued) return;
  headerQueued = true;
  requestAnimationFrame(() => { headerQueued = false; renderHeader(); });
}

function renderHeader() {
  const w = state.workflow;
  if (!w) return;
  const c = counts(state.nodes);
  $("wf-name").textContent = (state.graph && state.graph.name) || w.name || "";
  const st = $("wf-status");
  st.textContent = w.status; st.className = "badge " + w.status;
  $("wf-header").dataset.status = w.status;
  const parts = [`${c.complete}/${c.total} complete`];
  if (c.running) parts.push(`${c.running} running`);
  if (c.pending) parts.push(`${c.pending} waiting`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  if (c.notStarted) parts.push(`${c.notStarted} not started`);
  $("wf-progress-text").textContent = `${Math.floor(c.progress)}% · ` + parts.join(" · ");
  $("wf-progress-text").dataset.progress = c.progress.toFixed(2);
  const bar = $("wf-progress-bar");
  bar.style.width = c.progress + "%"; bar.style.background = COLORS[w.status] || COLORS.running;
  $("wf-times").textContent = `created ${fmtTime(w.created_at)}` + (w.started_at ? ` · ran ${duration(w.started_at, w.finished_at)}` : "")
    + (w.user ? ` · by ${w.user}` : "");
  const err = $("wf-error");
  err.hidden = !w.error || w.status === "complete";
  err.textContent = w.error || "";
  const warn = $("wf-warnings");
  const warnings = (w.warnings || []).map((x) => (typeof x === "string" ? x : x.message || JSON.stringify(x)));
  warn.hidden = !warnings.length;
  warn.textContent = warnings.join(" · ");
  $("cancel-btn").disabled = !(w.status === "pending" || w.status === "running");
  $("retry-btn").disabled = !(w.status === "failed" || w.status === "cancelled");
  $("jump-running").disabled = !c.running;
  $("jump-failed").disabled = !c.failed;
}

// ---- layout ---------------------------------------------------------------------------------------
// Layers side by side: a node's layer is the length of the longest path from a root (Kahn's order, so
// no recursion depth limit). Rows follow the parents' mean row (two sweeps) so edges cross little. A
// layer taller than the graph is wide is folded into sub-columns, which keeps a 1 -> 5,000 -> 1 fan or a
// 1,000-node workflow fit-able on one screen.
function layout(vertices) {
  const n = vertices.length;
  const layer = new Array(n).fill(0);
  const indeg = vertices.map((v) => v.parents.length);
  const queue = vertices.filter((v) => !v.parents.length).map((v) => v.index);
  for (let h = 0; h < queue.length; h++) {
    const i = queue[h];
    for (const c of vertices[i].children || []) {
      layer[c] = Math.max(layer[c], layer[i] + 1);
      if (--indeg[c] === 0) queue.push(c);
    }
  }
  const columns = [];
  for (const v of vertices) (columns[layer[v.index]] = columns[layer[v.index]] || []).push(v.index);
  for (let k = 0; k < columns.length; k++) columns[k] = columns[k] || [];
  const row = new Float64Array(n);
  columns.forEach((col) => col.forEach((i, k) => { row[i] = k; }));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const col of columns.slice(1)) {
      const bary = new Map(col.map((i) => {
        const ps = vertices[i].parents;
        return [i, ps.length ? ps.reduce((s, p) => s + row[p], 0) / ps.length : row[i]];
      }));
      col.sort((a, b) => bary.get(a) - bary.get(b) || a - b);
      col.forEach((i, k) => { row[i] = k; });
    }
  }
  const maxRows = Math.max(8, Math.ceil(Math.sqrt(n * 1.5)));
  const pos = {};
  let x = PAD, tallest = 0;
  for (const col of columns) tallest = Math.max(tallest, Math.min(col.length, maxRows));
  columns.forEach((col) => {
    const subs = Math.max(1, Math.ceil(col.length / maxRows));
    const perSub = Math.ceil(col.length / subs);
    for (let s = 0; s < subs; s++) {
      const part = col.slice(s * perSub, (s + 1) * perSub);
      const offset = (tallest - part.length) * (BOX_H + GAP_Y) / 2;
      part.forEach((i, k) => { pos[i] = { x: x + s * (BOX_W + SUB_GAP), y: PAD + offset + k * (BOX_H + GAP_Y), layer: layer[i] }; });
    }
    x += subs * BOX_W + (subs - 1) * SUB_GAP + GAP_X;
  });
  return { pos, layers: columns.length, width: x - GAP_X + PAD,
           height: 2 * PAD + tallest * BOX_H + Math.max(0, tallest - 1) * GAP_Y };
}

// ---- zoom and pan -------------------------------------------------------------------------------
function applyView() {
  const v = state.view, svg = $("graph");
  svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  const scale = svg.clientWidth / v.w;
  svg.classList.toggle("compact", scale < COMPACT_BELOW);
  svg.dataset.scale = scale.toFixed(3);
  $("zoom-level").textContent = Math.round(scale * 100) + "%";
}

function fit() {
  const svg = $("graph");
  const cw = svg.clientWidth || 800, ch = svg.clientHeight || 500;
  const { w, h } = state.size;
  const scale = Math.min(cw / w, ch / h, 1.5);
  const vw = cw / scale, vh = ch / scale;
  state.view = { x: (w - vw) / 2, y: (h - vh) / 2, w: vw, h: vh };
  applyView();
}

function zoomAt(factor, cx, cy) {  // cx, cy: the graph point that stays put
  const v = state.view;
  const w = Math.min(Math.max(v.w / factor, 50), Math.max(state.size.w, state.size.h) * 20);
  const f = w / v.w;
  state.view = { x: cx - (cx - v.x) * f, y: cy - (cy - v.y) * f, w, h: v.h * f };
  applyView();
}

function centerOn(i, scale = 1) {
  const p = state.pos[i];
  if (!p) return;
  const svg = $("graph");
  const vw = svg.clientWidth / scale, vh = svg.clientHeight / scale;
  state.view = { x: p.x + BOX_W / 2 - vw / 2, y: p.y + BOX_H / 2 - vh / 2, w: vw, h: vh };
  applyView();
}

function graphPoint(evt) {
  const svg = $("graph"), r = svg.getBoundingClientRect(), v = state.view;
  return { x: v.x + (evt.clientX - r.left) * v.w / r.width, y: v.y + (evt.clientY - r.top) * v.h / r.height };
}

function wireZoom() {
  const svg = $("graph");
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = graphPoint(e);
    zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, view: Object.assign({}, state.view), moved: false };
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    const k = state.view.w / svg.clientWidth;
    state.view = Object.assign({}, drag.view, { x: drag.view.x - dx * k, y: drag.view.y - dy * k });
    applyView();
  });
  window.addEventListener("pointerup", () => { if (drag && drag.moved) svg.dataset.dragged = "1"; drag = null; });
  $("fit-btn").addEventListener("click", fit);
  $("zoom-in").addEventListener("click", () => { const v = state.view; zoomAt(1.4, v.x + v.w / 2, v.y + v.h / 2); });
  $("zoom-out").addEventListener("click", () => { const v = state.view; zoomAt(1 / 1.4, v.x + v.w / 2, v.y + v.h / 2); });
  window.addEventListener("resize", () => { if (state.graph) applyView(); });
}

// ---- search and jumps -----------------------------------------------------------------------------
function search(text) {
  const q = text.trim().toLowerCase();
  for (const g of document.querySelectorAll("#graph g.node.match")) g.classList.remove("match");
  state.matches = [];
  state.matchAt = -1;
  if (q && state.graph) {
    state.matches = state.graph.vertices.filter((v) => v.node.toLowerCase().includes(q) || String(v.index) === q
      || (state.nodes[v.index] && String(state.nodes[v.index].task_id || "").toLowerCase() === q)).map((v) => v.index);
    for (const i of state.matches) { const g = state.groups.get(i); if (g) g.classList.add("match"); }
  }
  $("search-count").textContent = q ? `${state.matches.length} found` : "";
  return state.matches.length;
}

function nextMatch() {
  if (!state.matches.length) return;
  state.matchAt = (state.matchAt + 1) % state.matches.length;
  const i = state.matches[state.matchAt];
  $("search-count").textContent = `${state.matchAt + 1}/${state.matches.length}`;
  centerOn(i);
  showDetails(i);
}

function jump(kind) {
  const want = kind === "failed" ? (s) => s === "failed" : (s) => ACTIVE.has(s);
  const list = state.nodes.map((n, i) => [i, shownStatus(n)]).filter(([, s]) => want(s)).map(([i]) => i);
  if (!list.length) return;
  state.jumpAt[kind] = (state.jumpAt[kind] + 1) % list.length;
  const i = list[state.jumpAt[kind]];
  centerOn(i);
  showDetails(i);
}

// ---- the graph ----------------------------------------------------------------------------------------
function renderGraph() {
  const svg = $("graph");
  svg.textContent = "";
  state.groups = new Map();
  state.edgesFrom = new Map();
  const vs = state.graph.vertices;
  const { pos, width, height, layers } = layout(vs);
  state.pos = pos;
  state.size = { w: width, h: height };
  svg.dataset.layers = layers;
  svg.dataset.nodes = vs.length;
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa5b1" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const edges = el("g", { class: "edges" });
  for (const v of vs) {
    for (const p of v.parents) {
      const a = pos[p], b = pos[v.index];
      const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x - 2, y2 = b.y + BOX_H / 2, mx = (x1 + x2) / 2;
      const path = el("path", { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, class: "edge",
                                "data-from": p, "data-to": v.index, "marker-end": "url(#arrow)" });
      edges.appendChild(path);
      if (!state.edgesFrom.has(p)) state.edgesFrom.set(p, []);
      state.edgesFrom.get(p).push(path);
    }
  }
  svg.appendChild(edges);
  const nodes = el("g", { class: "nodes" });
  for (const v of vs) {
    const { x, y, layer } = pos[v.index];
    const g = el("g", { class: "node", transform: `translate(${x},${y})`, "data-index": v.index, "data-node": v.node,
                        "data-layer": layer });
    g.appendChild(el("rect", { class: "box", width: BOX_W, height: BOX_H, rx: 8 }));
    g.appendChild(el("text", { x: 10, y: 18, "font-weight": 600, class: "label" }, v.container));
    g.appendChild(el("text", { x: 10, y: 32, class: "op label" }, v.operation));
    g.appendChild(el("text", { x: BOX_W - 10, y: 18, class: "st label", "text-anchor": "end" }, ""));
    g.appendChild(el("text", { x: BOX_W - 10, y: 32, class: "op pct label", "text-anchor": "end" }, ""));
    g.appendChild(el("rect", { class: "track", x: 10, y: BOX_H - 15, width: BOX_W - 20, height: 6, rx: 3 }));
    g.appendChild(el("rect", { class: "fill", x: 10, y: BOX_H - 15, width: 0, height: 6, rx: 3 }));
    g.appendChild(el("title", {}, v.node));
    g.addEventListener("click", () => {
      if (svg.dataset.dragged) { delete svg.dataset.dragged; return; }
      showDetails(v.index);
    });
    nodes.appendChild(g);
    state.groups.set(v.index, g);
  }
  svg.appendChild(nodes);
  vs.forEach((v) => updateNode(v.index));
  const legend = $("legend");
  legend.textContent = "";
  for (const [s, c] of Object.entries(COLORS)) {
    const span = document.createElement("span");
    const i = document.createElement("i");
    i.style.background = c;
    span.append(i, s);
    legend.appendChild(span);
  }
  if ($("search").value) search($("search").value);
  fit();
}

function updateNode(i) {
  const n = state.nodes[i];
  const g = state.groups.get(i);
  if (!g || !n) return;
  const status = shownStatus(n);
  const color = COLORS[status] || COLORS.pending;
  const progress = status === "complete" ? 100 : pct(n.progress);
  g.dataset.status = n.status;
  g.dataset.shown = status;
  g.dataset.progress = progress;
  const box = g.querySelector("rect.box");
  box.setAttribute("stroke", color);
  box.setAttribute("fill", status === "pending" || status === "not started" ? "#fff" : color + "24");
  box.style.setProperty("--status", color);
  const st = g.querySelector("text.st");
  st.textContent = status; st.setAttribute("fill", color);
  g.querySelector("text.pct").textContent = progress + "%" + (n.attempt > 1 ? ` · try ${n.attempt}` : "");
  const fill = g.querySelector("rect.fill");
  fill.setAttribute("width", (BOX_W - 20) * progress / 100); fill.setAttribute("fill", color);
  g.classList.toggle("selected", state.selected === i);
  for (const e of state.edgesFrom.get(i) || []) e.classList.toggle("done", n.status === "complete");
}

// ---- node details -------------------------------------------------------------------------------------
async function showDetails(i) {
  const prev = state.selected;
  state.selected = i;
  if (prev !== null && prev !== i) updateNode(prev);
  updateNode(i);
  const wid = state.wid;
  let t;
  try {
    t = await api(`/workflows/${encodeURIComponent(wid)}/tasks/${i}`);
  } catch (e) { banner(e.message); return; }
  if (state.wid !== wid || state.selected !== i) return;
  const box = $("details");
  box.hidden = false;
  box.dataset.node = t.node;
  box.dataset.status = t.status;
  const rows = [
    ["node", t.node], ["status", shownStatus(t)], ["task id", t.task_id || "—"], ["service", t.service || "—"],
    ["progress", pct(t.status === "complete" ? 100 : t.progress) + "%"],
    ["attempt", `${t.attempt}` + (t.retries ? ` (${t.retries} transient retries)` : "")],
    ["upstream", (t.upstream || []).join(", ") || "—"],
    ["started", fmtTime(t.started_at)], ["finished", fmtTime(t.finished_at)],
    ["duration", duration(t.started_at, t.finished_at) || "—"],
  ];
  if (t.error) rows.push(["error", t.error]);
  if (t.last_error && t.last_error !== t.error) rows.push(["last fault", t.last_error]);
  box.textContent = "";
  const h3 = document.createElement("h3");
  h3.textContent = "Node " + t.node;
  const table = document.createElement("table");
  const tbody = document.createElement("tbody");
  table.appendChild(tbody);
  box.append(h3, table);
  const add = (k, content) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = k;
    const td = document.createElement("td"); td.dataset.field = k;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.append(th, td); tbody.appendChild(tr);
  };
  rows.forEach(([k, v]) => add(k, v));
  if (t.details && Object.keys(t.details).length) add("details", pre(t.details));
  if (t.inputs && t.inputs.length) add("inputs", refs(t.inputs));
  add("output", t.output === null || t.output === undefined ? "—" : refs([t.output]));
}

function pre(value) {
  const p = document.createElement("pre");
  p.className = "json";
  p.textContent = JSON.stringify(value, null, 2);
  return p;
}

function inlineValue(ref) {
  if ("data" in ref) return ref.data;
  try { return JSON.parse(atob(String(ref.uri || "").replace(/^data:[^,]*,/, ""))); } catch (e) { return ref.uri; }
}

// References as links, inline data pretty-printed, numeric series drawn as a small plot.
function refs(list) {
  const wrap = document.createElement("div");
  for (const ref of list) {
    const item = document.createElement("div");
    item.className = "ref";
    if (!ref || typeof ref !== "object" || !("protocol" in ref)) {
      item.appendChild(pre(ref));
    } else if (ref.protocol === "inline") {
      const value = inlineValue(ref);
      const plot = seriesPlot(value);
      if (plot) item.appendChild(plot);
      item.appendChild(pre(value));
    } else {
      const head = document.createElement("div");
      const tag = document.createElement("span");
      tag.className = "proto";
      tag.textContent = `${ref.protocol} · ${ref.format || "?"}`;
      head.appendChild(tag);
      const uri = String(ref.uri || "");
      if (/^https?:\/\//i.test(uri)) {
        const a = document.createElement("a");
        a.href = uri; a.textContent = uri; a.target = "_blank"; a.rel = "noopener noreferrer";
        head.appendChild(a);
      } else {
        const code = document.createElement("code");
        code.textContent = uri;
        head.appendChild(code);
      }
      item.appendChild(head);
      if (ref.data !== undefined && ref.data !== null) {
        const plot = seriesPlot(ref.data);
        if (plot) item.appendChild(plot);
        item.appendChild(pre(ref.data));
      }
    }
    wrap.appendChild(item);
  }
  return wrap;
}

// The first numeric series found in a value: {x-ish: [...], y: [...]} of equal length, or one numeric array.
function findSeries(value, depth = 0) {
  if (!value || typeof value !== "object" || depth > 3) return null;
  const numeric = (a) => Array.isArray(a) && a.length >= 3 && a.every((x) => typeof x === "number" && isFinite(x));
  if (numeric(value)) return { x: null, y: value, xName: "index", yName: "value" };
  const keys = Object.keys(value).filter((k) => numeric(value[k]));
  if (keys.length) {
    const xKey = keys.find((k) => /^(x|t|time|times|position|positions|pos)$/i.test(k));
    const yKey = keys.find((k) => k !== xKey && (!xKey || value[k].length === value[xKey].length));
    if (yKey) return { x: xKey ? value[xKey] : null, y: value[yKey], xName: xKey || "index", yName: yKey };
    if (xKey) return { x: null, y: value[xKey], xName: "index", yName: xKey };
  }
  for (const k of Object.keys(value)) {
    const s = findSeries(value[k], depth + 1);
    if (s) return s;
  }
  return null;
}

function seriesPlot(value) {
  const s = findSeries(value);
  if (!s) return null;
  const W = 320, H = 130, L = 44, B = 22, T = 8, R = 8;
  const ys = s.y, xs = s.x || ys.map((_, k) => k);
  const step = Math.max(1, Math.floor(ys.length / 1000));
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => L + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0))) * (H - T - B);
  const svg = el("svg", { class: "plot", width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  svg.appendChild(el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" }));
  const pts = [];
  for (let k = 0; k < ys.length; k += step) pts.push(`${sx(xs[k]).toFixed(1)},${sy(ys[k]).toFixed(1)}`);
  svg.appendChild(el("polyline", { points: pts.join(" "), class: "line" }));
  const fmt = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : +v.toPrecision(4));
  svg.appendChild(el("text", { x: L - 4, y: T + 9, "text-anchor": "end" }, String(fmt(y1))));
  svg.appendChild(el("text", { x: L - 4, y: H - B, "text-anchor": "end" }, String(fmt(y0))));
  svg.appendChild(el("text", { x: L, y: H - 6 }, String(fmt(x0))));
  svg.appendChild(el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, String(fmt(x1))));
  svg.appendChild(el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "axis" },
                     `${s.yName} vs ${s.xName} (${ys.length} points)`));
  return svg;
}

async function act(what) {
  const wid = state.wid;
  if (!wid) return;
  if (what === "cancel" && !confirm(`Cancel workflow ${wid}?`)) return;
  try {
    const r = await api(`/workflows/${encodeURIComponent(wid)}/${what}`, { method: "POST" });
    banner("");
    $("conn").textContent = `${what}: ${r.status}`;
    if (what === "retry") follow(wid); // the previous stream ended with the workflow
  } catch (e) { banner(`${what} failed: ${e.message}`); }
  refreshList();
}

// ---- wiring -----------------------------------------------------------------------------------------
function route() {
  const m = location.hash.match(/^#\/wf\/(.+)$/);
  openWorkflow(m ? decodeURIComponent(m[1]) : null);
}

$("api-key").value = state.key;
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.key = $("api-key").value.trim();
  localStorage.setItem("orchestrator.api_key", state.key);
  refreshList();
  if (state.wid) follow(state.wid);
});
$("status-filter").addEventListener("change", refreshList);
$("cancel-btn").addEventListener("click", () => act("cancel"));
$("retry-btn").addEventListener("click", () => act("retry"));
$("search").addEventListener("input", (e) => search(e.target.value));
$("search-form").addEventListener("submit", (e) => { e.preventDefault(); search($("search").value); nextMatch(); });
$("jump-running").addEventListener("click", () => jump("running"));
$("jump-failed").addEventListener("click", () => jump("failed"));
wireZoom();
window.addEventListener("hashchange", route);
refreshList();
state.listTimer = setInterval(refreshList, 2000);
route();
