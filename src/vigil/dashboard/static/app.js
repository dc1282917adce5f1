// Vigil analyst console: hash-routed views over the dashboard's JSON API (/ui/api/...).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const view = () => $("#view");
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const money = (minor, cur) => `${(minor / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${esc(cur)}`;
const when = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "");
const pct = (x, d = 1) => (x == null ? "–" : `${(100 * x).toFixed(d)}%`);
const chip = (cls, text) => `<span class="chip ${esc(cls)}">${esc(text ?? cls)}</span>`;
let me = null;
let routeToken = 0;
let sink = null; // the live view's handler of streamed decisions, while it is shown
let source = null;
// One stream per page, opened on first use: views come and go, the connection stays.
function openStream() {
  if (source) return source;
  source = new EventSource("/ui/api/stream");
  source.onopen = () => { stream.opened += 1; if (sink) document.body.dataset.stream = "open"; };
  source.onerror = () => { stream.errors += 1; };
  source.addEventListener("decisions", (ev) => {
    const rows = JSON.parse(ev.data);
    stream.events += 1; stream.rows += rows.length;
    if (sink) sink(rows);
  });
  return source;
}
const stream = (window.vigilStream = { opened: 0, errors: 0, events: 0, rows: 0 }); // for tests
let cleanup = [];

async function api(path, opts = {}) {
  const init = { headers: {}, credentials: "same-origin", ...opts };
  if (opts.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.json);
  }
  const res = await fetch(path, init);
  if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { const e = new Error(problem(body) || res.statusText); e.body = body; e.status = res.status; throw e; }
  return body;
}
function problem(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  if (Array.isArray(body.errors)) return body.errors.map((e) => e.message).join("; ");
  return "";
}

// ---- live decisions ------------------------------------------------------------------
function decisionRow(d) {
  return `<tr data-txn="${esc(d.txn_id)}"><td>${when(d.ts)}</td><td><a href="#/decision/${encodeURIComponent(d.txn_id)}">${esc(d.txn_id)}</a></td>
    <td>${esc(d.payer_id)} → ${esc(d.payee_id)}</td><td class="num">${money(d.amount, d.currency)}</td><td>${esc(d.jurisdiction)}</td>
    <td>${chip(d.action)}</td><td class="num">${d.score == null ? "–" : d.score.toFixed(4)}</td><td class="wrap">${esc(d.reasons.slice(0, 3).join(", "))}</td>
    <td class="num">${d.latency_us} µs</td><td class="muted">${esc(d.source)}</td></tr>`;
}

async function liveView(token) {
  const filters = { action: "", jurisdiction: "", min_score: "", typology: "" };
  view().innerHTML = `<h1><span class="live-dot"></span>Live decisions</h1>
  <div class="toolbar">
    <label>Action<select id="f-action"><option value="">any</option><option>approve</option><option>review</option><option>decline</option></select></label>
    <label>Jurisdiction<input id="f-jur" size="4" placeholder="SG"></label>
    <label>Score ≥<input id="f-score" size="6" placeholder="0.5"></label>
    <label>Typology / reason<input id="f-typ" size="16" placeholder="BASE-LARGE-VALUE"></label>
    <span style="flex:1"></span>
    <span class="muted" id="counts"></span>
    ${me.role === "admin" && me.replay ? `<button id="replay" class="ghost">Feed a replay</button>` : ""}
  </div>
  <div class="panel" id="replay-status" hidden></div>
  <div class="panel"><table><thead><tr><th>Payment time</th><th>Txn</th><th>Payer → payee</th><th class="num">Amount</th><th>Jur.</th><th>Action</th><th class="num">Score</th><th>Reasons</th><th class="num">Latency</th><th>Source</th></tr></thead>
  <tbody id="live-rows"></tbody></table></div>`;
  const tbody = $("#live-rows");
  const counts = { approve: 0, review: 0, decline: 0 };
  const matches = (d) =>
    (!filters.action || d.action === filters.action) &&
    (!filters.jurisdiction || d.jurisdiction === filters.jurisdiction.toUpperCase()) &&
    (!filters.min_score || d.score >= parseFloat(filters.min_score)) &&
    (!filters.typology || d.reasons.join(" ").toLowerCase().includes(filters.typology.toLowerCase()));
  const showCounts = () => { $("#counts").textContent = `approve ${counts.approve} · review ${counts.review} · decline ${counts.decline}`; };
  const load = async () => {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    const body = await api(`/ui/api/decisions?limit=200&${q}`);
    tbody.innerHTML = body.decisions.map(decisionRow).join("");
  };
  for (const [id, key] of [["#f-action", "action"], ["#f-jur", "jurisdiction"], ["#f-score", "min_score"], ["#f-typ", "typology"]]) {
    $(id).addEventListener("change", (e) => { filters[key] = e.target.value.trim(); load(); });
  }
  tbody.addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr && e.target.tagName !== "A") location.hash = `#/decision/${encodeURIComponent(tr.dataset.txn)}`; });
  await load();
  if (token !== routeToken) return; // the analyst moved on while the rows loaded
  showCounts();
  sink = (rows) => {
    let html = "";
    for (const d of rows) { counts[d.action] = (counts[d.action] || 0) + 1; if (matches(d)) html = decisionRow(d).replace("<tr ", '<tr class="fresh" ') + html; }
    if (html) tbody.insertAdjacentHTML("afterbegin", html);
    while (tbody.rows.length > 300) tbody.deleteRow(-1);
    showCounts();
  };
  cleanup.push(() => { sink = null; delete document.body.dataset.stream; });
  if (openStream().readyState === EventSource.OPEN) document.body.dataset.stream = "open";
  if ($("#replay")) {
    $("#replay").addEventListener("click", async () => {
      const s = await api("/ui/api/replay").catch(() => ({}));
      const from = s.last_ts && !s.running ? { from: s.last_ts } : {}; // carry on where it stopped
      try { await api("/ui/api/replay", { json: { count: 3000, rate: 150, ...from } }); } catch (e) { alert(e.message); }
    });
  }
  if (me.replay) pollReplay(token);
}
// The replay panel follows whatever replay runs, started here or elsewhere, while the view is open.
async function pollReplay(token) {
  const box = $("#replay-status");
  if (!box || token !== routeToken) return;
  const s = await api("/ui/api/replay").catch(() => null);
  if (s && (s.running || s.decided)) {
    box.hidden = false;
    box.innerHTML = `Replay by ${esc(s.actor)}: <b>${s.decided.toLocaleString()}</b> of ${s.planned.toLocaleString()} payments decided
      (${esc(when(s.first_ts))} → ${esc(when(s.last_ts))}), ${s.alerts} AML alerts filed ${s.running ? "· running" : "· done"} ${s.error ? `<span class="error">${esc(s.error)}</span>` : ""}`;
  }
  const t = setTimeout(() => pollReplay(token), s && s.running ? 1000 : 3000);
  cleanup.push(() => clearTimeout(t));
}

async function decisionView(txnId) {
  const d = await api(`/ui/api/decisions/${encodeURIComponent(txnId)}`);
  const t = d.transaction, dec = d.decision;
  const layers = ["features", "rules", "model", "policy"];
  const maxUs = Math.max(1, ...layers.map((l) => dec.latency_us[l] || 0));
  view().innerHTML = `<h1>Decision ${esc(d.txn_id)} ${chip(dec.action)}</h1>
  <div class="grid two">
    <div class="panel"><h2>Transaction</h2><div class="kv">${Object.entries(t).map(([k, v]) => `<div>${esc(k)}</div><div>${k === "amount" ? money(v, t.currency) : esc(v)}</div>`).join("")}</div></div>
    <div class="panel"><h2>Score</h2><div class="stat">${dec.score == null ? "–" : dec.score.toFixed(4)} <small>calibrated fraud probability</small></div>
      <h2 style="margin-top:14px">Why</h2>
      <ul class="reasons">${dec.reasons.length ? dec.reasons.map((r) => `<li><span class="layer">${esc(r.layer)}</span><b>${esc(r.code)}</b> — ${esc(r.detail)} <span class="muted">(weight ${r.weight})</span></li>`).join("") : "<li class='muted'>No reason to doubt it: approved.</li>"}</ul>
      ${dec.shadow_reasons && dec.shadow_reasons.length ? `<h2>Shadow rules (not enforced)</h2><ul class="reasons">${dec.shadow_reasons.map((r) => `<li><b>${esc(r.code)}</b> — ${esc(r.detail)}</li>`).join("")}</ul>` : ""}
    </div>
    <div class="panel"><h2>Latency per layer</h2>
      ${layers.map((l) => `<div class="kv"><div>${l}</div><div style="display:flex;align-items:center;gap:8px"><div class="bar" style="width:${(75 * (dec.latency_us[l] || 0)) / maxUs}%"></div><span>${dec.latency_us[l] || 0} µs</span></div></div>`).join("")}
      <p><b>total ${dec.latency_us.total} µs</b>${dec.degraded ? ` ${chip("decline", "degraded")}` : ""}</p></div>
    <div class="panel"><h2>Judged by</h2><div class="kv">
      <div>rule pack</div><div id="pack-version">${esc(dec.rule_pack_version)}</div>
      <div>model bundle</div><div>${esc(dec.model_bundle_version)}</div>
      <div>decided at</div><div>${esc(when(dec.decided_at))}</div><div>source</div><div>${esc(d.source)}</div></div></div>
  </div>`;
}

// ---- cases -----------------------------------------------------------------------------
function sla(seconds, overdue) {
  if (seconds == null) return "";
  const a = Math.abs(seconds), h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60);
  const text = h >= 48 ? `${Math.floor(h / 24)}d ${h % 24}h` : `${h}h ${String(m).padStart(2, "0")}m`;
  const cls = overdue ? "over" : seconds < 6 * 3600 ? "soon" : "";
  return `<span class="sla ${cls}">${overdue ? "overdue " : ""}${text}${overdue ? "" : " left"}</span>`;
}

async function casesView() {
  const status = new URLSearchParams(location.hash.split("?")[1] || "").get("status") || "open";
  const body = await api(`/ui/api/cases?status=${status}`);
  view().innerHTML = `<h1>Case queue <span class="muted">${body.total.toLocaleString()} ${status === "all" ? "cases" : status}</span></h1>
  <p class="muted">SLA clocks run on ${body.stream_clock ? "the latest payment or alert seen" : "the wall clock"}: ${esc(when(body.clock))} UTC.</p>
  <div class="toolbar">${["open", "escalated", "closed_true_positive", "closed_false_positive", "all"].map((s) => `<a href="#/cases?status=${s}">${s.replace(/_/g, " ")}</a>`).join(" · ")}</div>
  <div class="panel"><table><thead><tr><th>Case</th><th>Subject</th><th>Jur.</th><th>Priority</th><th>Status</th><th>SLA</th><th>Typologies</th><th class="num">Alerts</th><th class="num">Score</th><th>Assignee</th><th>Opened</th></tr></thead><tbody id="case-rows">
  ${body.cases.map((c) => `<tr data-case="${esc(c.case_id)}"><td><a href="#/case/${esc(c.case_id)}">${esc(c.case_id)}</a></td><td>${esc(c.subject)}</td><td>${esc(c.jurisdiction)}</td>
    <td>${chip(c.priority)}</td><td>${chip("status", c.status.replace(/_/g, " "))}</td><td>${sla(c.seconds_left, c.overdue)}</td><td>${esc(c.typologies.join(", "))}</td>
    <td class="num">${c.alerts}</td><td class="num">${c.score.toFixed(2)}</td><td>${esc(c.assignee || "—")}</td><td>${when(c.opened_at)}</td></tr>`).join("")}
  </tbody></table></div>`;
  $("#case-rows").addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) location.hash = `#/case/${tr.dataset.case}`; });
}

const ACTION_LABEL = { investigating: "Start investigating", escalated: "Escalate", closed_true_positive: "Close: true positive", closed_false_positive: "Close: false positive" };

async function caseView(caseId) {
  const c = await api(`/ui/api/cases/${encodeURIComponent(caseId)}`);
  view().innerHTML = `<h1>Case ${esc(c.case_id)} · ${esc(c.subject)} ${chip(c.priority)} ${chip("status", c.status.replace(/_/g, " "))} ${sla(c.seconds_left, c.overdue)}</h1>
  <div class="toolbar" id="case-actions">
    ${c.allowed.map((s) => `<button data-to="${s}" id="to-${s}" class="${s === "closed_true_positive" ? "danger" : s === "closed_false_positive" ? "ok" : ""}">${ACTION_LABEL[s] || s}</button>`).join("")}
    <span style="flex:1"></span>
    <input id="assignee" placeholder="assignee" value="${esc(c.assignee || "")}" size="12"><button class="ghost" id="assign">Assign</button>
    <button class="ghost" id="assign-me">Assign to me</button>
  </div>
  <div id="case-msg"></div>
  <div class="grid case">
    <div><div class="panel"><h2>Network around the subject</h2><div id="graph"></div>
      <div class="legend"><span><i style="background:var(--ring)"></i>ring (named by the evidence)</span><span><i style="background:#5b8def"></i>account</span><span><i style="background:#9aa4b2"></i>merchant</span>
      <span><i style="background:#f0a43a"></i>device</span><span><i style="background:#34b3a0"></i>IP</span><span><i style="background:#fff;border:3px solid var(--decline)"></i>fraud-confirmed</span><span>red edges: evidence payments</span></div></div>
      <div class="panel"><h2>Alerts and evidence</h2>${c.alerts.map((a) => `<div style="margin-bottom:12px"><b>${esc(a.typology)}</b> · score ${a.score.toFixed(2)} · ${when(a.ts)}<div>${esc(a.summary)}</div>
        <table><thead><tr><th>Txn</th><th>Time</th><th>Payer → payee</th><th class="num">Amount</th><th>Device</th><th>IP</th></tr></thead><tbody>
        ${a.evidence.map((t) => `<tr><td>${esc(t.txn_id)}</td><td>${when(t.ts)}</td><td>${esc(t.payer_id)} → ${esc(t.payee_id)}</td><td class="num">${t.amount != null ? money(t.amount, t.currency) : ""}</td><td>${esc(t.device_id)}</td><td>${esc(t.ip)}</td></tr>`).join("")}</tbody></table></div>`).join("")}</div></div>
    <div><div class="panel"><h2>Notes</h2><ul class="plain timeline">${c.notes.map((n) => `<li><b>${esc(n.author)}</b> <span class="muted">${when(n.at)}</span><br>${esc(n.text)}</li>`).join("") || "<li class='muted'>No notes yet.</li>"}</ul>
      <div class="toolbar" style="margin-top:10px"><input id="note" placeholder="Add a note…" style="flex:1"><button id="add-note">Note</button></div></div>
      <div class="panel"><h2>History</h2><ul class="plain timeline">${c.audit.map((e) => `<li><span class="muted">${when(e.at)}</span> <b>${esc(e.action)}</b> by ${esc(e.actor)} <span class="muted">${esc(Object.entries(e.detail).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ").slice(0, 120))}</span></li>`).join("")}</ul></div>
      <div class="panel"><h2>Subject's timeline</h2><div class="scroll"><table><thead><tr><th>Time</th><th></th><th>Counterparty</th><th class="num">Amount</th></tr></thead><tbody>
      ${c.timeline.map((t) => `<tr><td>${when(t.ts)}</td><td>${t.direction === "out" ? "→ paid" : "← received"}</td><td>${esc(t.counterparty)}</td><td class="num">${money(t.amount, t.currency)}</td></tr>`).join("")}</tbody></table></div></div></div>
  </div>`;
  const act = async (verb, json) => {
    try {
      const r = await api(`/ui/api/cases/${encodeURIComponent(caseId)}/${verb}`, { json });
      await caseView(caseId);
      if (r.labels) $("#case-msg").innerHTML = `<div class="msg ok" id="labels-msg">${r.labels} label(s) sent to the engine and the feedback store.</div>`;
    } catch (e) { $("#case-msg").innerHTML = `<div class="msg error">${esc(e.message)}</div>`; }
  };
  view().querySelectorAll("[data-to]").forEach((b) => b.addEventListener("click", () => act("transition", { to: b.dataset.to, reason: "from the dashboard" })));
  $("#assign").addEventListener("click", () => act("assign", { assignee: $("#assignee").value.trim() || null }));
  $("#assign-me").addEventListener("click", () => act("assign", { assignee: me.user }));
  $("#add-note").addEventListener("click", () => act("note", { text: $("#note").value }));
  drawGraph(await api(`/ui/api/cases/${encodeURIComponent(caseId)}/graph`));
}

function drawGraph(g) {
  const colour = { account: "#5b8def", merchant: "#9aa4b2", device: "#f0a43a", ip: "#34b3a0" };
  const elements = [
    ...g.nodes.map((n) => ({ data: { ...n, label: n.key, colour: n.ring ? "#7b3fe4" : colour[n.kind] || "#888" }, classes: [n.ring ? "ring" : "", n.confirmed ? "confirmed" : ""].join(" ") })),
    ...g.edges.map((e) => ({ data: { ...e }, classes: e.evidence ? "evidence" : e.relation })),
  ];
  const cy = cytoscape({
    container: $("#graph"),
    elements,
    style: [
      { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 9, color: "#334", width: 16, height: 16, "text-valign": "bottom", "text-margin-y": 3 } },
      { selector: "node[kind = 'device']", style: { shape: "round-rectangle" } },
      { selector: "node[kind = 'ip']", style: { shape: "diamond" } },
      { selector: "node.ring", style: { width: 28, height: 28, "font-size": 11, "font-weight": "bold" } },
      { selector: "node.confirmed", style: { "border-width": 4, "border-color": "#d1343b" } },
      { selector: "edge", style: { width: 1.2, "line-color": "#c8d0dc", "curve-style": "bezier", "target-arrow-shape": "none" } },
      { selector: "edge.pays", style: { "target-arrow-shape": "triangle", "target-arrow-color": "#c8d0dc", "arrow-scale": 0.7 } },
      { selector: "edge.evidence", style: { width: 3, "line-color": "#d1343b", "target-arrow-shape": "triangle", "target-arrow-color": "#d1343b" } },
    ],
    layout: { name: "cose", animate: false, nodeRepulsion: () => 9000, idealEdgeLength: () => 60, randomize: false },
    wheelSensitivity: 0.3,
  });
  cy.on("tap", "node", (ev) => { const d = ev.target.data(); ev.target.popperRef; cy.nodes().unselect(); ev.target.select(); $("#case-msg").innerHTML = `<div class="msg ok">${esc(d.kind)} <b>${esc(d.key)}</b>${d.ring ? " · in the ring" : ""}${d.confirmed ? " · fraud-confirmed" : ""}</div>`; });
  window.cy = cy; // the browser tests read the drawn graph
}

// ---- rules -----------------------------------------------------------------------------
async function rulesView(jur, token) {
  const list = await api("/ui/api/rules");
  jur = jur || "sg";
  const pack = await api(`/ui/api/rules/${jur}`);
  const admin = me.role === "admin";
  const soon = new Date(Date.now() + 60_000).toISOString().slice(0, 16);
  view().innerHTML = `<h1>Rules · ${esc(pack.jurisdiction)} <span class="muted">in force: ${esc(pack.version)}</span></h1>
  <div class="toolbar">${list.jurisdictions.map((j) => `<a href="#/rules/${j.toLowerCase()}">${esc(j)}</a>`).join(" · ")}</div>
  <div class="grid two">
    <div class="panel"><h2>Edit the pack</h2>
      <div class="editor"><pre id="gutter"></pre><textarea id="yaml" spellcheck="false">${esc(pack.yaml)}</textarea></div>
      <div id="check-msg"></div>
      <div class="toolbar" style="margin-top:10px">
        <button class="ghost" id="check">Validate</button><button class="ghost" id="backtest">Backtest on recent history</button>
        <span style="flex:1"></span>
        ${admin ? `<label>Effective from (UTC)<input type="datetime-local" id="effective" value="${soon}"></label><button id="publish">Publish</button>` : `<span class="muted">Publishing needs the admin role.</span>`}
      </div></div>
    <div><div class="panel"><h2>Backtest: candidate beside the live pack</h2><div id="backtest-out" class="muted">Edit the pack, then run a backtest (history: ${esc(pack.history)}).</div></div>
      <div class="panel"><h2>Versions</h2><table><thead><tr><th>Version</th><th>Effective from</th><th>Published</th><th>By</th><th></th></tr></thead><tbody>
      ${pack.versions.map((v) => `<tr><td>${esc(v.version)}</td><td>${esc(when(v.effective_from))}</td><td>${esc(when(v.published_at))}</td><td>${esc(v.published_by)}</td><td>${v.in_force ? chip("approve", "in force") : ""}</td></tr>`).join("")}</tbody></table></div></div>
  </div>`;
  const text = $("#yaml"), gutter = $("#gutter");
  let bad = null;
  const numbers = () => { const n = text.value.split("\n").length; gutter.innerHTML = Array.from({ length: n }, (_, i) => (i + 1 === bad ? `<span class="bad">${i + 1}</span>` : `${i + 1}`)).join("\n"); };
  text.addEventListener("input", numbers);
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  text.rows = Math.min(40, text.value.split("\n").length + 2);
  numbers();
  const show = (e) => {
    const errors = (e.body && e.body.errors) || [];
    bad = errors.length ? errors[0].line : null;
    numbers();
    $("#check-msg").innerHTML = `<div class="msg error" id="pack-error">${errors.length ? errors.map((x) => `${x.line ? `line ${x.line}: ` : ""}${esc(x.problem)}`).join("<br>") : esc(e.message)}</div>`;
  };
  const ok = (html) => { bad = null; numbers(); $("#check-msg").innerHTML = `<div class="msg ok" id="pack-ok">${html}</div>`; };
  $("#check").addEventListener("click", async () => {
    try { const r = await api(`/ui/api/rules/${jur}/check`, { json: { yaml: text.value } }); ok(`Valid: ${esc(r.version)}, ${r.rules} rules.`); } catch (e) { show(e); }
  });
  $("#backtest").addEventListener("click", async () => {
    $("#backtest-out").innerHTML = "Running…";
    try { renderBacktest(await api(`/ui/api/rules/${jur}/backtest`, { json: { yaml: text.value } })); } catch (e) { if (e.body && e.body.errors) show(e); $("#backtest-out").innerHTML = `<span class="error">${esc(e.message)}</span>`; }
  });
  if (admin) $("#publish").addEventListener("click", async () => {
    const local = $("#effective").value;
    try {
      const r = await api(`/ui/api/rules/${jur}/publish`, { json: { yaml: text.value, effective_from: local ? `${local}:00Z` : null } });
      if (token !== routeToken) return;
      await rulesView(jur, token);
      ok(`Published <b>${esc(r.version)}</b>, in force from ${esc(when(r.effective_from))} UTC.`);
    } catch (e) { show(e); }
  });
}
function renderBacktest(r) {
  const packs = [r.live, r.candidate].filter(Boolean);
  const row = (label, f) => `<tr><td>${label}</td>${packs.map((p) => `<td class="num">${f(p)}</td>`).join("")}</tr>`;
  const rules = [...new Set(packs.flatMap((p) => Object.keys(p.by_rule)))].sort();
  $("#backtest-out").innerHTML = `<p class="muted">${r.rows.toLocaleString()} payments ${esc(when(r.from))} → ${esc(when(r.until))}, ${r.frauds ?? "?"} fraud; ${r.seconds}s</p>
  <table id="backtest-table"><thead><tr><th></th>${r.live ? `<th class="num">live ${esc(r.live.version)}</th>` : ""}<th class="num">candidate ${esc(r.candidate.version)}</th></tr></thead><tbody>
  ${row("payments hit", (p) => p.hits.toLocaleString())}${row("review / decline", (p) => `${p.reviews} / ${p.declines}`)}
  ${row("precision", (p) => pct(p.precision))}${row("recall", (p) => pct(p.recall))}
  ${row("false positives (good customers stopped)", (p) => (p.false_positives ?? "–").toLocaleString())}${row("false-positive rate", (p) => pct(p.false_positive_rate, 3))}
  ${row(`fraud caught (${esc(r.amount_unit)})`, (p) => (p.fraud_amount_caught == null ? "–" : Math.round(p.fraud_amount_caught).toLocaleString()))}
  </tbody></table><h2 style="margin-top:12px">Hits per rule (on fraud)</h2><table><tbody>${rules.map((id) => `<tr><td>${esc(id)}</td>${packs.map((p) => `<td class="num">${p.by_rule[id] ? `${p.by_rule[id].hits} (${p.by_rule[id].fraud})` : "–"}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

// ---- models and health -----------------------------------------------------------------
async function healthView() {
  const h = await api("/ui/api/health");
  const lat = h.latency;
  view().innerHTML = `<h1>Models &amp; health <span class="muted">${esc(h.model.version)}</span></h1>
  <div class="grid three">
    <div class="panel"><h2>Decisions in the feed</h2><div class="stat">${h.decisions.toLocaleString()} <small>${Object.entries(h.actions).map(([a, n]) => `${a} ${n}`).join(" · ")}</small></div></div>
    <div class="panel"><h2>Precision of closed cases</h2><div class="stat" id="precision">${pct(h.cases.precision)} <small>${h.cases.true_positive} TP of ${h.cases.closed} closed; ${h.cases.open} open</small></div></div>
    <div class="panel"><h2>Score drift vs training (PSI)</h2><div class="stat" id="psi">${h.drift ? h.drift.psi.toFixed(3) : "–"} <small>${h.drift ? (h.drift.psi < 0.1 ? "stable" : h.drift.psi < 0.25 ? "moderate shift" : "shift: act") : `history ${esc(h.history)}`}</small></div></div>
  </div>
  <div class="grid two">
    <div class="panel"><h2>AML alert volume per day</h2><canvas id="c-alerts" height="150"></canvas></div>
    <div class="panel"><h2>Score distribution: training period vs live</h2><canvas id="c-drift" height="150"></canvas></div>
    <div class="panel"><h2>Latency percentiles per layer (µs, ${lat.n.toLocaleString()} decisions)</h2><canvas id="c-latency" height="150"></canvas></div>
    <div class="panel"><h2>Precision by typology (closed cases)</h2><canvas id="c-precision" height="150"></canvas></div>
  </div>
  <div class="panel"><h2>Credit score of a business</h2>${me.credit ? `<div class="toolbar"><input id="biz" placeholder="B00019000"><input id="biz-asof" type="date"><button id="credit">Score</button></div><div id="credit-out"></div>` : `<p class="muted">No credit model loaded (serve with --credit-models).</p>`}</div>`;
  const palette = ["#2f6fde", "#d1343b", "#1f9d55", "#d98a00", "#7b3fe4", "#34b3a0", "#9aa4b2", "#e0609a", "#5b6b80"];
  const charts = [];
  charts.push(new Chart($("#c-alerts"), { type: "bar", data: { labels: h.alerts.days, datasets: Object.entries(h.alerts.series).map(([t, v], i) => ({ label: t, data: v, backgroundColor: palette[i % palette.length] })) }, options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true } } } }));
  if (h.drift) {
    charts.push(new Chart($("#c-drift"), { type: "bar", data: { labels: h.drift.labels, datasets: [{ label: `training (${h.drift.reference_n.toLocaleString()})`, data: h.drift.expected, backgroundColor: "#9aa4b2" }, { label: `live (${h.drift.current_n.toLocaleString()})`, data: h.drift.actual, backgroundColor: "#2f6fde" }] }, options: { animation: false, scales: { y: { type: "logarithmic", min: 0.0001, title: { display: true, text: "share of payments (log)" } }, x: { title: { display: true, text: "score" } } } } }));
  }
  const layers = ["features", "rules", "model", "policy", "total"].filter((l) => lat[l]);
  charts.push(new Chart($("#c-latency"), { type: "bar", data: { labels: layers, datasets: ["p50", "p95", "p99"].map((q, i) => ({ label: q, data: layers.map((l) => lat[l][q]), backgroundColor: palette[i] })) }, options: { animation: false } }));
  const typ = Object.entries(h.cases.by_typology);
  charts.push(new Chart($("#c-precision"), { type: "bar", data: { labels: typ.map(([t]) => t), datasets: [{ label: "precision", data: typ.map(([, v]) => v.precision), backgroundColor: "#1f9d55" }] }, options: { animation: false, scales: { y: { min: 0, max: 1 } } } }));
  cleanup.push(() => charts.forEach((c) => c.destroy()));
  if (me.credit) $("#credit").addEventListener("click", async () => {
    try {
      const asOf = $("#biz-asof").value;
      const r = await api("/ui/api/credit", { json: { business_id: $("#biz").value, as_of: asOf ? `${asOf}T00:00:00Z` : null } });
      $("#credit-out").innerHTML = `<div class="grid three"><div><div class="stat">${r.score} <small>grade ${esc(r.grade)}</small></div></div><div><div class="stat">${pct(r.pd, 2)} <small>probability of default</small></div></div><div class="muted">as of ${esc(when(r.as_of))} · ${esc(r.model_version)}</div></div>
      <ul class="reasons">${r.reasons.map((x) => `<li><b>${esc(x.code)}</b> — ${esc(x.detail || x.text || "")}</li>`).join("")}</ul>`;
    } catch (e) { $("#credit-out").innerHTML = `<div class="msg error">${esc(e.message)}</div>`; }
  });
}

// ---- routing ---------------------------------------------------------------------------
async function route() {
  cleanup.forEach((f) => f());
  cleanup = [];
  const token = ++routeToken;
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const [page, arg] = path.split("/");
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === (page === "decision" ? "live" : page === "case" ? "cases" : page || "live")));
  try {
    if (page === "decision") await decisionView(decodeURIComponent(arg));
    else if (page === "cases") await casesView();
    else if (page === "case") await caseView(decodeURIComponent(arg));
    else if (page === "rules") await rulesView(arg, token);
    else if (page === "health") await healthView();
    else await liveView(token);
    document.body.dataset.ready = page || "live";
  } catch (e) {
    view().innerHTML = `<div class="msg error">${esc(e.message)}</div>`;
  }
}
(async () => {
  me = await api("/ui/api/me");
  $("#who").textContent = `${me.user} · ${me.role}`;
  window.addEventListener("hashchange", route);
  route();
})();
