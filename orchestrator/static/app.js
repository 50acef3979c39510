// Orchestrator dashboard: plain JS, no build step.
// The list polls GET /workflows; the open workflow follows GET /workflows/{id}/events (EventSource).
// With an API key (stored in localStorage) fetches send "Authorization: Bearer", EventSource ?api_key=.
"use strict";

const COLORS = { pending: "#9aa5b1", running: "#2f80ed", stopping: "#f2994a", complete: "#27ae60",
                 failed: "#eb5757", cancelled: "#9b51e0" };
const FINAL = new Set(["complete", "failed", "cancelled"]);
const BOX_W = 190, BOX_H = 58, GAP_X = 70, GAP_Y = 22, PAD = 20;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const state = { key: localStorage.getItem("orchestrator.api_key") || "", wid: null, es: null, graph: null,
                nodes: [], workflow: null, selected: null, listTimer: null };

// ---- HTTP -------------------------------------------------------------------------------------
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401) banner("The API needs a key: enter it at the top right.");
  if (!r.ok) throw new Error((body && body.detail && (body.detail.error || body.detail)) || ("HTTP " + r.status));
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
  return s < 60 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min";
}
function pct(x) { return Math.round(Number(x) || 0); }

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
    li.innerHTML = `<div class="row"><span class="id"></span><span class="badge ${w.status}">${w.status}</span></div>
      <div class="sub"></div><div class="bar"><div style="width:${w.progress}%;background:${COLORS[w.status]}"></div></div>`;
    li.querySelector(".id").textContent = w.workflow_id;
    li.querySelector(".sub").textContent = `${w.name || ""} · ${w.nodes_done}/${w.nodes_total} nodes · ${fmtTime(w.created_at)}`;
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
    state.graph = d.graph; state.nodes = d.nodes; state.workflow = d.workflow;
    $("conn").textContent = "live";
    renderGraph(); renderHeader();
    if (state.selected !== null) showDetails(state.selected);
  });
  const onNode = (m) => {
    const d = JSON.parse(m.data);
    const n = state.nodes[d.index];
    if (!n) return;
    Object.assign(n, d);
    updateNode(d.index);
    renderHeader();
    if (state.selected === d.index) showDetails(d.index);
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
      api(`/workflows/${encodeURIComponent(wid)}`).catch((e) => banner(e.message));
    } else {
      $("conn").textContent = "live: reconnecting…";
    }
  };
}

function renderHeader() {
  const w = state.workflow;
  if (!w) return;
  const nodes = state.nodes;
  const done = nodes.filter((n) => FINAL.has(n.status)).length;
  const running = nodes.filter((n) => n.status === "running" || n.status === "stopping")
    .reduce((s, n) => s + (Number(n.progress) || 0), 0);
  const progress = nodes.length ? 100 * (done + running / 100) / nodes.length : 0;
  $("wf-name").textContent = (state.graph && state.graph.name) || w.name || "";
  const st = $("wf-status");
  st.textContent = w.status; st.className = "badge " + w.status;
  $("wf-header").dataset.status = w.status;
  $("wf-progress-text").textContent = `${progress.toFixed(0)}% · ${done}/${nodes.length} nodes`;
  const bar = $("wf-progress-bar");
  bar.style.width = progress + "%"; bar.style.background = COLORS[w.status] || COLORS.running;
  $("wf-times").textContent = `created ${fmtTime(w.created_at)}` + (w.started_at ? ` · ran ${duration(w.started_at, w.finished_at)}` : "");
  const err = $("wf-error");
  err.hidden = !w.error || w.status === "complete";
  err.textContent = w.error || "";
  $("cancel-btn").disabled = !(w.status === "pending" || w.status === "running");
  $("retry-btn").disabled = !(w.status === "failed" || w.status === "cancelled");
}

// Layered layout: a node's column is the length of the longest path from a root; rows are ordered
// by the mean row of the parents (two sweeps) so edges cross little.
function layout(vertices) {
  const layer = new Array(vertices.length).fill(-1);
  const depth = (i, seen = new Set()) => {
    if (layer[i] >= 0) return layer[i];
    if (seen.has(i)) return 0;
    seen.add(i);
    const ps = vertices[i].parents;
    layer[i] = ps.length ? 1 + Math.max(...ps.map((p) => depth(p, seen))) : 0;
    return layer[i];
  };
  vertices.forEach((v) => depth(v.index));
  const columns = [];
  vertices.forEach((v) => { (columns[layer[v.index]] = columns[layer[v.index]] || []).push(v.index); });
  const row = {};
  columns.forEach((col) => col.forEach((i, k) => { row[i] = k; }));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const col of columns.slice(1)) {
      const bary = (i) => { const ps = vertices[i].parents; return ps.length ? ps.reduce((s, p) => s + row[p], 0) / ps.length : row[i]; };
      col.sort((a, b) => bary(a) - bary(b) || a - b);
      col.forEach((i, k) => { row[i] = k; });
    }
  }
  const tallest = Math.max(...columns.map((c) => c.length));
  const pos = {};
  columns.forEach((col, c) => {
    const offset = (tallest - col.length) * (BOX_H + GAP_Y) / 2;
    col.forEach((i, k) => { pos[i] = { x: PAD + c * (BOX_W + GAP_X), y: PAD + offset + k * (BOX_H + GAP_Y) }; });
  });
  return { pos, width: 2 * PAD + columns.length * BOX_W + (columns.length - 1) * GAP_X,
           height: 2 * PAD + tallest * BOX_H + (tallest - 1) * GAP_Y };
}

function renderGraph() {
  const svg = $("graph");
  svg.textContent = "";
  const vs = state.graph.vertices;
  const { pos, width, height } = layout(vs);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa5b1" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const edges = el("g");
  for (const v of vs) {
    for (const p of v.parents) {
      const a = pos[p], b = pos[v.index];
      const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x - 2, y2 = b.y + BOX_H / 2, mx = (x1 + x2) / 2;
      edges.appendChild(el("path", { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, class: "edge",
                                     "data-from": p, "data-to": v.index, "marker-end": "url(#arrow)" }));
    }
  }
  svg.appendChild(edges);
  for (const v of vs) {
    const { x, y } = pos[v.index];
    const g = el("g", { class: "node", transform: `translate(${x},${y})`, "data-index": v.index, "data-node": v.node });
    g.appendChild(el("rect", { class: "box", width: BOX_W, height: BOX_H, rx: 8 }));
    g.appendChild(el("text", { x: 10, y: 18, "font-weight": 600 }, v.container));
    g.appendChild(el("text", { x: 10, y: 32, class: "op" }, v.operation));
    g.appendChild(el("text", { x: BOX_W - 10, y: 18, class: "st", "text-anchor": "end" }, ""));
    g.appendChild(el("text", { x: BOX_W - 10, y: 32, class: "op pct", "text-anchor": "end" }, ""));
    g.appendChild(el("rect", { class: "track", x: 10, y: BOX_H - 15, width: BOX_W - 20, height: 6, rx: 3 }));
    g.appendChild(el("rect", { class: "fill", x: 10, y: BOX_H - 15, width: 0, height: 6, rx: 3 }));
    const title = el("title", {}, v.node);
    g.appendChild(title);
    g.addEventListener("click", () => showDetails(v.index));
    svg.appendChild(g);
    updateNode(v.index);
  }
  const legend = $("legend");
  legend.textContent = "";
  for (const [s, c] of Object.entries(COLORS)) {
    const span = document.createElement("span");
    span.innerHTML = `<i style="background:${c}"></i>${s}`;
    legend.appendChild(span);
  }
}

function updateNode(i) {
  const n = state.nodes[i];
  const g = document.querySelector(`#graph g.node[data-index="${i}"]`);
  if (!g || !n) return;
  const color = COLORS[n.status] || COLORS.pending;
  const progress = n.status === "complete" ? 100 : pct(n.progress);
  g.dataset.status = n.status;
  g.dataset.progress = progress;
  g.querySelector("rect.box").setAttribute("stroke", color);
  g.querySelector("rect.box").setAttribute("fill", n.status === "pending" ? "#fff" : color + "14");
  const st = g.querySelector("text.st");
  st.textContent = n.status; st.setAttribute("fill", color);
  g.querySelector("text.pct").textContent = progress + "%" + (n.attempt > 1 ? ` · try ${n.attempt}` : "");
  const fill = g.querySelector("rect.fill");
  fill.setAttribute("width", (BOX_W - 20) * progress / 100); fill.setAttribute("fill", color);
  g.classList.toggle("selected", state.selected === i);
  for (const e of document.querySelectorAll(`#graph .edge[data-from="${i}"]`)) e.classList.toggle("done", n.status === "complete");
}

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
    ["node", t.node], ["status", t.status], ["task id", t.task_id], ["service", t.service || "—"],
    ["progress", pct(t.progress) + "%"], ["attempt", `${t.attempt}` + (t.retries ? ` (${t.retries} transient retries)` : "")],
    ["upstream", (t.upstream || []).join(", ") || "—"],
    ["started", fmtTime(t.started_at)], ["finished", fmtTime(t.finished_at)],
    ["duration", duration(t.started_at, t.finished_at) || "—"],
  ];
  if (t.error) rows.push(["error", t.error]);
  if (t.last_error && t.last_error !== t.error) rows.push(["last fault", t.last_error]);
  const json = (x) => JSON.stringify(x, null, 2);
  box.innerHTML = `<h3></h3><table><tbody></tbody></table>`;
  box.querySelector("h3").textContent = "Node " + t.node;
  const tbody = box.querySelector("tbody");
  const add = (k, v, pre) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = k;
    const td = document.createElement("td"); td.dataset.field = k;
    if (pre) { const p = document.createElement("pre"); p.textContent = v; td.appendChild(p); } else td.textContent = v;
    tr.append(th, td); tbody.appendChild(tr);
  };
  rows.forEach(([k, v]) => add(k, v));
  if (t.details && Object.keys(t.details).length) add("details", json(t.details), true);
  add("inputs", json(t.inputs), true);
  add("output", t.output === null || t.output === undefined ? "—" : json(t.output), true);
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
window.addEventListener("hashchange", route);
refreshList();
state.listTimer = setInterval(refreshList, 2000);
route();
