// The Weir dashboard: a client of the weir.v1 API in its Connect JSON form.
// Every string from the server goes into the page as text (textContent), never
// as HTML.
"use strict";

const PAGE_SIZE = 50; // rows per page of long tables

// call invokes one unary RPC and returns its JSON answer, or throws an Error
// with the server's message.
async function call(service, method, body) {
  const res = await fetch(`/weir.v1.${service}/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  if (res.status === 401) {
    window.location = "/ui/login";
    throw new Error("not signed in");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(data.message || `${method}: HTTP ${res.status}`);
  }
  return data;
}

// el makes an element with attributes and children (strings become text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svgEl(tag, attrs, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function table(id, headers, rows) {
  return el("table", { id },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

const stateName = (s) => (s || "JOB_STATE_UNSPECIFIED").replace("JOB_STATE_", "").toLowerCase();
const time = (ms) => (ms && Number(ms) > 0 ? new Date(Number(ms)).toISOString().replace(".000", "") : "-");
const percent = (r) => `${Math.round((r || 0) * 100)} %`;
const bytes = (n) => {
  n = Number(n || 0);
  if (!n) return "-";
  for (const [unit, k] of [["GiB", 1 << 30], ["MiB", 1 << 20], ["KiB", 1 << 10]]) if (n >= k) return `${(n / k).toFixed(1)} ${unit}`;
  return `${n} B`;
};
const shortDigest = (d) => (d ? d.slice(0, 19) : "");

function duration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const parts = [];
  for (const [unit, n] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= n) { parts.push(Math.floor(s / n) + unit); s %= n; }
  }
  parts.push(s + "s");
  return parts.slice(0, 2).join(" ");
}

function setStatus(msg, isError) {
  const s = document.getElementById("status");
  s.textContent = msg;
  s.className = "status" + (isError ? " error" : "");
}

// pager renders page links for n rows of PAGE_SIZE; page is 0-based. more,
// when not undefined, says whether the server has a next page (a listing the
// server pages); else the rows are all in the page.
function pager(n, page, more, go, prefix = "") {
  const pages = Math.max(1, Math.ceil(n / PAGE_SIZE));
  if (pages <= 1 && page === 0) return null;
  const next = more === undefined ? page < pages - 1 : Boolean(more);
  return el("div", { class: "pager", id: `${prefix}pager` },
    el("button", { id: `${prefix}prev`, onclick: () => go(page - 1), ...(page === 0 ? { disabled: "" } : {}) }, "‹ prev"),
    ` page ${page + 1} of ${pages} `,
    el("button", { id: `${prefix}next`, onclick: () => go(page + 1), ...(next ? {} : { disabled: "" }) }, "next ›"));
}

// Views. Each returns the content of <main>; the router re-renders the current
// view every second.
const views = {
  // jobs is the job list: a page at a time, filtered by the server.
  async jobs(_, state) {
    state.tokens = state.tokens || [""]; // page tokens: [first page, second, ...]
    const pageNo = state.pageNo || 0;
    const filter = { text: state.filter || "", states: state.states ? [state.states] : [] };
    const res = await call("JobService", "List", { filter, pageSize: PAGE_SIZE, pageToken: state.tokens[pageNo] });
    if (res.nextPageToken) state.tokens[pageNo + 1] = res.nextPageToken;
    const jobs = res.jobs || [];
    const matching = Number(res.matching || 0);
    const now = Date.now();
    const rows = jobs.map((j) =>
      el("tr", { "data-job": j.id },
        el("td", {}, el("a", { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id)),
        el("td", {}, j.name),
        el("td", { class: `state state-${stateName(j.state)}` }, stateName(j.state)),
        el("td", {}, j.state === "JOB_STATE_RUNNING" ? duration(now - Number(j.submittedUnixMs)) : "-"),
        el("td", { class: "num" }, Math.max(0, ...(j.nodes || []).map((n) => n.parallelism || 0))),
        el("td", { class: "num" }, j.lastCheckpoint || 0),
        el("td", { class: "num" }, j.restarts || 0)));
    // A new filter starts again at the first page.
    const refilter = () => { state.pageNo = 0; state.tokens = [""]; render(); };
    const input = el("input", { id: "filter", placeholder: "filter by id or name", value: state.filter || "" });
    input.addEventListener("input", () => { state.filter = input.value; refilter(); });
    const select = el("select", { id: "state-filter" },
      ["", "RUNNING", "RESTARTING", "RESCALING", "FINISHED", "CANCELLED", "FAILED"].map((s) =>
        el("option", { value: s ? `JOB_STATE_${s}` : "", ...(state.states === `JOB_STATE_${s}` || (!s && !state.states) ? { selected: "" } : {}) }, s ? s.toLowerCase() : "any state")));
    select.addEventListener("change", () => { state.states = select.value; refilter(); });
    return [
      el("h2", {}, `Jobs (${matching})`), input, " ", select,
      table("jobs", ["Id", "Name", "State", "Uptime", "Parallelism", "Checkpoint", "Restarts"], rows),
      pager(matching, pageNo, res.nextPageToken, (p) => { state.pageNo = p; render(); }),
    ];
  },

  async job(id, state) {
    const [j, cps, dlq] = await Promise.all([
      call("JobService", "Get", { id }),
      call("JobService", "ListCheckpoints", { id }),
      call("DLQService", "List", { job: id, pageSize: 1, omitValues: true }),
    ]);
    const nodes = j.nodes || [];
    const rows = nodes.map((n) =>
      el("tr", { "data-node": n.name },
        el("td", {}, n.name), el("td", {}, n.kind),
        el("td", { class: "num" }, n.parallelism),
        el("td", { class: "num records" }, n.records || 0),
        el("td", { class: "num rate" }, Math.round(n.recordsPerSecond || 0)),
        el("td", { class: "num backpressure" }, percent(n.backpressureRatio)),
        el("td", { class: "num failures" }, n.failures || 0),
        el("td", {}, el("code", { title: n.module || "" }, shortDigest(n.module)))));
    const hist = (j.moduleHistory || []).map((h) =>
      el("tr", {}, el("td", {}, h.operator), el("td", { class: "num" }, h.fromCheckpoint || 0), el("td", {}, time(h.timeUnixMs)), el("td", {}, el("code", {}, h.module))));
    const checkpoints = cps.checkpoints || []; // newest first
    const failures = cps.failures || []; // newest first
    const page = state.page || 0;
    const cpRows = checkpoints.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((c) =>
      el("tr", { "data-checkpoint": c.id },
        el("td", { class: "num" }, c.id), el("td", {}, time(c.timeUnixMs)),
        el("td", { class: "num duration" }, c.durationMs !== undefined ? `${c.durationMs} ms` : "-"),
        el("td", { class: "num state-bytes" }, bytes(c.stateBytes)),
        el("td", { class: "num incremental" }, c.incrementalBytes === undefined ? "-" : Number(c.incrementalBytes) ? bytes(c.incrementalBytes) : "0 B"),
        el("td", { class: "num alignment" }, c.durationMs !== undefined ? `${c.alignmentMs || 0} ms` : "-"),
        el("td", {}, c.finished ? "yes" : ""),
        el("td", {}, Object.entries(c.modules || {}).map(([op, m]) => `${op}=${shortDigest(m)}`).join(" "))));
    const button = el("button", { id: "savepoint", onclick: async () => {
      button.disabled = true;
      state.savepoint = "taking a savepoint…";
      render();
      try {
        const sp = await call("JobService", "TriggerSavepoint", { id });
        state.savepoint = `savepoint ${sp.id} of checkpoint ${sp.checkpoint}`;
        state.savepointCheckpoint = sp.checkpoint;
      } catch (e) {
        state.savepoint = `savepoint failed: ${e.message}`;
      }
      render();
    } }, "Trigger savepoint");
    if (j.state !== "JOB_STATE_RUNNING") button.disabled = true;
    return [
      el("h2", {}, `Job ${j.id} `, el("span", { id: "job-state", class: `state-${stateName(j.state)}` }, stateName(j.state))),
      el("p", {}, `name ${j.name} · submitted ${time(j.submittedUnixMs)} · newest checkpoint ${j.lastCheckpoint || 0} · restarts ${j.restarts || 0} · `,
        el("a", { id: "dlq-link", href: `#/dlq/${encodeURIComponent(j.id)}` }, `dead letters: ${dlq.matching || 0}`)),
      j.error ? el("p", { class: "error", id: "job-error" }, j.error) : null,
      graph(nodes),
      table("nodes", ["Node", "Kind", "Parallelism", "Records", "Records/s", "Backpressure", "Failed batches", "Module"], rows),
      el("h2", {}, "Module history"),
      table("history", ["Operator", "From checkpoint", "Time", "Module"], hist),
      el("h2", {}, "Checkpoints"),
      el("p", {}, button, " ", el("span", { id: "savepoint-result" }, state.savepoint || "")),
      table("checkpoints", ["Checkpoint", "Time", "Duration", "State", "Incremental", "Alignment", "Finished", "Modules"], cpRows),
      pager(checkpoints.length, page, undefined, (p) => { state.page = p; render(); }),
      el("h2", {}, `Failed checkpoints (${failures.length})`),
      table("checkpoint-failures", ["Checkpoint", "Time", "After", "Error"], failures.map((f) =>
        el("tr", { "data-checkpoint": f.id },
          el("td", { class: "num" }, f.id), el("td", {}, time(f.timeUnixMs)),
          el("td", { class: "num" }, `${f.durationMs || 0} ms`), el("td", { class: "error" }, f.error || "")))),
    ];
  },

  // dlq is a job's dead-letter queue: a filtered, paged list; the selected
  // entry with its context; edit, resubmit and drop (docs/dlq.md).
  async dlq(id, state) {
    state.tokens = state.tokens || [""]; // page tokens: [first page, second, ...]
    const pageNo = state.pageNo || 0;
    const filter = state.filter ? { text: state.filter } : undefined;
    const res = await call("DLQService", "List", { job: id, filter, pageSize: PAGE_SIZE, pageToken: state.tokens[pageNo], omitValues: true });
    const entries = res.entries || [];
    if (res.nextPageToken) state.tokens[pageNo + 1] = res.nextPageToken;
    const rows = entries.map((d) =>
      el("tr", { "data-dlq": d.id, class: state.selected === d.id ? "selected" : "" },
        el("td", { class: "num" }, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); state.selected = d.id; state.edit = undefined; state.msg = ""; render(); } }, d.id)),
        el("td", {}, d.operator), el("td", { class: "num" }, d.subtask || 0),
        el("td", { class: "num" }, d.attempt || 0), el("td", { class: "num" }, d.tries || 0),
        el("td", {}, d.resubmitting ? "resubmitting" : d.edited ? "edited" : "dead"),
        el("td", {}, d.position || ""), el("td", {}, (d.error || "").split("\n")[0].slice(0, 80)),
        el("td", {}, time(d.timeUnixMs))));
    const input = el("input", { id: "dlq-filter", placeholder: "filter: text in the error, key or value", value: state.filter || "" });
    input.addEventListener("input", () => { state.filter = input.value; state.pageNo = 0; state.tokens = [""]; render(); });
    // act runs one change and shows its outcome; changes wait for a checkpoint.
    const act = async (what, method, body) => {
      state.msg = `${what}: waiting for the checkpoint…`;
      render();
      try {
        const r = await call("DLQService", method, { job: id, ...body });
        state.msg = `${what}: done (checkpoint ${r.checkpoint || 0}, ${(r.ids || []).length} entries)`;
      } catch (e) {
        state.msg = `${what} failed: ${e.message}`;
      }
      render();
    };
    let detail = null;
    if (state.selected) {
      let d = null;
      try {
        d = await call("DLQService", "Get", { job: id, id: state.selected });
      } catch (e) {
        detail = el("p", { id: "dlq-detail" }, `entry ${state.selected}: ${e.message}`);
      }
      if (d) {
        const value = atob(d.value || "");
        if (state.edit === undefined) state.edit = value;
        const area = el("textarea", { id: "dlq-value", rows: 4, cols: 80, "data-keep": "1" });
        area.value = state.edit;
        area.addEventListener("input", () => { state.edit = area.value; });
        const utf8 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
        const ctx = [["operator", `${d.operator} (subtask ${d.subtask || 0})`], ["module", d.module || ""],
          ["attempt", `${d.attempt || 0} (tried ${d.tries || 0} times)`], ["position", d.position || ""],
          ["tracking id", d.trackingId || ""], ["key", atob(d.key || "")], ["timestamp", d.timestamp || ""],
          ["dead-lettered", `${time(d.timeUnixMs)} (checkpoint ${d.checkpoint || 0})`]];
        detail = el("div", { id: "dlq-detail" },
          el("h2", {}, `Entry ${d.id}`),
          table("dlq-context", ["", ""], ctx.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v))))),
          el("pre", { id: "dlq-error" }, d.error || ""),
          el("p", {}, "Value:"), area,
          el("p", {},
            el("button", { id: "dlq-save", onclick: () => act(`edit of ${d.id}`, "Edit", { id: d.id, value: utf8(state.edit) }) }, "Save value"), " ",
            el("button", { id: "dlq-resubmit", onclick: () => act(`resubmit of ${d.id}`, "Resubmit", { ids: [d.id] }) }, "Resubmit"), " ",
            el("button", { id: "dlq-drop", onclick: () => act(`drop of ${d.id}`, "Drop", { ids: [d.id] }) }, "Drop")));
      }
    }
    const go = (n) => { state.pageNo = n; render(); };
    return [
      el("h2", {}, "Dead letters of ", el("a", { href: `#/jobs/${encodeURIComponent(id)}` }, id), ` (${res.matching || 0} matching, as of checkpoint ${res.checkpoint || 0})`),
      input, " ",
      el("button", { id: "dlq-resubmit-matching", onclick: () => {
        if (window.confirm(`Resubmit all ${res.matching || 0} matching entries?`)) act("resubmit of the matching entries", "Resubmit", filter ? { filter } : { all: true });
      } }, "Resubmit all matching"),
      el("p", { id: "dlq-msg" }, state.msg || ""),
      table("dlq", ["Id", "Operator", "Subtask", "Attempt", "Tries", "State", "Position", "Error", "Time"], rows),
      pager(Number(res.matching || 0), pageNo, res.nextPageToken, go, "dlq-"),
      detail,
    ];
  },

  async modules() {
    const res = await call("ModuleService", "List");
    const rows = (res.modules || []).map((m) =>
      el("tr", { "data-module": m.digest },
        el("td", {}, (m.names || []).join(", ")), el("td", {}, el("code", {}, m.digest)),
        el("td", { class: "num size" }, m.sizeBytes), el("td", { class: "num abi" }, `v${m.abiVersion}`),
        el("td", {}, time(m.createdUnixMs)),
        el("td", { class: "used-by" }, (m.usedBy || []).map((id) => el("a", { href: `#/jobs/${encodeURIComponent(id)}` }, id, " ")))));
    return [el("h2", {}, `Modules (${rows.length})`), table("modules", ["Names", "Digest", "Bytes", "ABI", "Uploaded", "Used by"], rows)];
  },
};

// graph draws the job's nodes in columns by depth, with an arrow per input.
function graph(nodes) {
  const depth = {};
  const byName = Object.fromEntries(nodes.map((n) => [n.name, n]));
  const depthOf = (n, seen = new Set()) => {
    if (depth[n.name] !== undefined) return depth[n.name];
    if (seen.has(n.name)) return 0;
    seen.add(n.name);
    const ins = (n.inputs || []).filter((i) => byName[i]);
    depth[n.name] = ins.length ? 1 + Math.max(...ins.map((i) => depthOf(byName[i], seen))) : 0;
    return depth[n.name];
  };
  nodes.forEach((n) => depthOf(n));
  const cols = {};
  const pos = {};
  const W = 210, H = 54, GX = 60, GY = 20;
  for (const n of nodes) {
    const d = depth[n.name];
    cols[d] = (cols[d] || 0) + 1;
    pos[n.name] = { x: 10 + d * (W + GX), y: 10 + (cols[d] - 1) * (H + GY) };
  }
  const width = 20 + (Math.max(0, ...Object.values(depth)) + 1) * (W + GX);
  const height = 20 + Math.max(1, ...Object.values(cols)) * (H + GY);
  const svg = svgEl("svg", { id: "graph", width, height, viewBox: `0 0 ${width} ${height}` },
    svgEl("defs", {}, svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" },
      svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#7d8a99" }))));
  for (const n of nodes) {
    for (const i of n.inputs || []) {
      if (!pos[i]) continue;
      const a = pos[i], b = pos[n.name];
      svg.append(svgEl("path", { class: "edge", d: `M ${a.x + W} ${a.y + H / 2} C ${a.x + W + GX / 2} ${a.y + H / 2}, ${b.x - GX / 2} ${b.y + H / 2}, ${b.x} ${b.y + H / 2}` }));
    }
  }
  for (const n of nodes) {
    const p = pos[n.name];
    svg.append(svgEl("g", { class: "node", "data-node": n.name, transform: `translate(${p.x},${p.y})` },
      svgEl("rect", { width: W, height: H }),
      svgEl("text", { x: 8, y: 18 }, `${n.name} (${n.kind} ×${n.parallelism})`),
      svgEl("text", { x: 8, y: 36 }, `${n.records || 0} records`),
      svgEl("text", { x: 8, y: 50 }, `${Math.round(n.recordsPerSecond || 0)}/s · backpressure ${percent(n.backpressureRatio)}`)));
  }
  return svg;
}

// The router: #/jobs, #/jobs/<id>, #/dlq/<job id>, #/modules.
const viewState = {};
let rendering = false;
let renderAgain = false; // a render was asked for while one ran

async function render() {
  if (rendering) {
    renderAgain = true;
    return;
  }
  rendering = true;
  const [, view, arg] = (window.location.hash || "#/jobs").split("/");
  const name = view === "jobs" && arg ? "job" : views[view] ? view : "jobs";
  const key = `${name}/${arg || ""}`;
  const state = (viewState[key] = viewState[key] || {});
  try {
    const content = await views[name](arg ? decodeURIComponent(arg) : undefined, state);
    const main = document.getElementById("main");
    // The element with the focus (a filter being typed into) keeps it, and
    // its caret, in the new content.
    const active = document.activeElement;
    const focused = active && active.id;
    const caret = active && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
    main.replaceChildren(...[content].flat().filter(Boolean));
    const again = focused && document.getElementById(focused);
    if (again) {
      again.focus();
      if (caret && typeof again.setSelectionRange === "function") again.setSelectionRange(...caret);
    }
    setStatus(`updated ${new Date().toLocaleTimeString()}`, false);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    rendering = false;
    if (renderAgain) {
      renderAgain = false;
      render();
    }
  }
}

window.addEventListener("hashchange", render);
render();
// NB: no refresh while the user types into an element marked data-keep (the
// DLQ value editor): a re-render would move the caret.
setInterval(() => { if (!(document.activeElement && document.activeElement.dataset.keep)) render(); }, 1000);
