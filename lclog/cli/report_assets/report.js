// lclog report: builds the page from the data embedded in it. Every string from the log reaches
// the page as text (textContent, text nodes, attribute values set one by one), never as markup.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("lclog-data").textContent);
  const S = D.strings;
  const R = D.requests;
  const C = D.calls;
  const N = R.trace.length;
  let LIST = 10; // rows per list; "show more" shows 50

  // ---------- helpers ----------
  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "style") node.style.cssText = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, String(value));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  const $ = (id) => document.getElementById(id);
  function fmtMs(v) {
    if (v === null || v === undefined) return "-";
    return v >= 10000 ? (v / 1000).toFixed(1) + " s" : v.toFixed(1) + " ms";
  }
  function fmtInt(v) {
    return v === null || v === undefined ? "-" : Math.round(v).toLocaleString("en-US");
  }
  function fmtCost(v) {
    return v === null || v === undefined ? "-" : "$" + v.toFixed(v >= 1 ? 2 : 6);
  }
  function fmtTime(ms) {
    const d = new Date(typeof ms === "number" ? ms : NaN);
    return Number.isNaN(d.getTime()) ? "-" : d.toISOString().replace("T", " ").slice(0, 23);
  }
  // Nearest-rank percentile, as `lclog stats` reads it.
  function quantile(sorted, q) {
    if (!sorted.length) return null;
    return sorted[Math.max(Math.ceil(q * sorted.length) - 1, 0)];
  }
  function sortedOf(values) {
    const out = Float64Array.from(values.filter((v) => v !== null && v !== undefined));
    out.sort();
    return out;
  }
  const failed = (i) => S[R.outcome[i]] !== "ok" || R.errors[i] > 0;

  // Each request's model calls, and the models they used.
  const callsOf = Array.from({ length: N }, () => []);
  for (let j = 0; j < C.req.length; j++) callsOf[C.req[j]].push(j);

  // ---------- filters ----------
  const filters = { service: "", model: "", name: "", thread: "", outcome: "", from: null, to: null };
  function options(select, values) {
    select.append(el("option", { value: "", text: "all" }));
    for (const v of values) select.append(el("option", { value: v, text: v === "" ? "(none)" : v }));
  }
  function distinct(column) {
    return Array.from(new Set(column.map((i) => S[i]))).sort();
  }
  function setupFilters() {
    options($("f-service"), distinct(R.service));
    options($("f-model"), distinct(C.model));
    options($("f-name"), distinct(R.name));
    const threads = distinct(R.thread).filter((t) => t !== "");
    const list = $("f-threads");
    for (const t of threads.slice(0, 1000)) list.append(el("option", { value: t }));
    const outcome = $("f-outcome");
    outcome.append(el("option", { value: "", text: "all" }));
    outcome.append(el("option", { value: "failed", text: "failed (any error)" }));
    for (const v of distinct(R.outcome)) outcome.append(el("option", { value: "=" + v, text: v }));
    for (const key of ["service", "model", "name", "outcome"]) {
      $("f-" + key).addEventListener("change", (ev) => {
        filters[key] = ev.target.value;
        render();
      });
    }
    $("f-thread").addEventListener("change", (ev) => {
      filters.thread = ev.target.value.trim();
      render();
    });
    for (const key of ["from", "to"]) {
      $("f-" + key).addEventListener("change", (ev) => {
        const ms = Date.parse(ev.target.value.trim().replace(" ", "T") + (/[zZ]|[+-]\d\d:?\d\d$/.test(ev.target.value) ? "" : "Z"));
        filters[key] = Number.isNaN(ms) ? null : ms;
        render();
      });
    }
    $("f-clear").addEventListener("click", () => {
      for (const key of Object.keys(filters)) filters[key] = key === "from" || key === "to" ? null : "";
      for (const id of ["f-service", "f-model", "f-name", "f-outcome", "f-thread", "f-from", "f-to"]) $(id).value = "";
      render();
    });
  }
  function setTime(from, to) {
    filters.from = from;
    filters.to = to;
    $("f-from").value = from === null ? "" : fmtTime(from);
    $("f-to").value = to === null ? "" : fmtTime(to);
    render();
  }
  function index(value) {
    const at = S.indexOf(value);
    return at < 0 ? -2 : at;
  }
  function selection() {
    const service = filters.service === "" ? -1 : index(filters.service);
    const name = filters.name === "" ? -1 : index(filters.name);
    const thread = filters.thread === "" ? -1 : index(filters.thread);
    const model = filters.model === "" ? -1 : index(filters.model);
    const outcome = filters.outcome.startsWith("=") ? index(filters.outcome.slice(1)) : -1;
    const sel = [];
    for (let i = 0; i < N; i++) {
      if (service !== -1 && R.service[i] !== service) continue;
      if (name !== -1 && R.name[i] !== name) continue;
      if (thread !== -1 && R.thread[i] !== thread) continue;
      if (outcome !== -1 && R.outcome[i] !== outcome) continue;
      if (filters.outcome === "failed" && !failed(i)) continue;
      if (filters.from !== null && !(R.start[i] >= filters.from)) continue;
      if (filters.to !== null && !(R.start[i] <= filters.to)) continue;
      if (model !== -1 && !callsOf[i].some((j) => C.model[j] === model)) continue;
      sel.push(i);
    }
    return { sel, model };
  }

  // ---------- figures ----------
  function totalsOf(sel) {
    let failedCount = 0, tin = 0, tout = 0, cost = 0, priced = 0;
    for (const i of sel) {
      if (failed(i)) failedCount++;
      tin += R.in[i];
      tout += R.out[i];
      if (R.cost[i] !== null) { cost += R.cost[i]; priced++; }
    }
    const d = sortedOf(sel.map((i) => R.dur[i]));
    return {
      requests: sel.length, failed: failedCount, input_tokens: tin, output_tokens: tout,
      cost_usd: priced ? cost : null,
      p50_ms: quantile(d, 0.5), p95_ms: quantile(d, 0.95), p99_ms: quantile(d, 0.99),
    };
  }
  function byModel(sel, model) {
    const groups = new Map();
    for (const i of sel) {
      for (const j of callsOf[i]) {
        if (model !== -1 && C.model[j] !== model) continue;
        const key = S[C.model[j]];
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { calls: 0, errors: 0, dur: [], ttft: [], in: 0, out: 0, usage: 0, cost: 0, priced: 0 }));
        g.calls++;
        g.errors += C.err[j];
        g.dur.push(C.dur[j]);
        g.ttft.push(C.ttft[j]);
        if (C.in[j] !== null) { g.usage++; g.in += C.in[j]; g.out += C.out[j]; }
        if (C.cost[j] !== null) { g.priced++; g.cost += C.cost[j]; }
      }
    }
    const rows = [];
    for (const [key, g] of groups) {
      const d = sortedOf(g.dur), t = sortedOf(g.ttft);
      rows.push({
        model: key, calls: g.calls, errors: g.errors,
        p50_ms: quantile(d, 0.5), p95_ms: quantile(d, 0.95), p99_ms: quantile(d, 0.99), ttft_p50_ms: quantile(t, 0.5),
        input_tokens: g.usage ? g.in : null, output_tokens: g.usage ? g.out : null,
        cost_usd: g.priced ? g.cost : null, cost_per_call_usd: g.priced ? g.cost / g.priced : null,
      });
    }
    rows.sort((a, b) => (b.cost_usd || 0) - (a.cost_usd || 0) || b.calls - a.calls || (a.model < b.model ? -1 : 1));
    return rows;
  }
  const STEPS = [0.01, 0.1, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800].map((s) => s * 1000);
  function series(sel) {
    const times = sel.map((i) => R.start[i]).filter((t) => t !== null);
    if (!times.length) return null;
    let first = times[0], last = times[0];
    for (const t of times) { if (t < first) first = t; if (t > last) last = t; }
    const step = STEPS.find((s) => (last - first) / s <= 120) || Math.ceil((last - first) / 120);
    const base = Math.floor(first / step) * step;
    const n = Math.floor((last - base) / step) + 1;
    const b = Array.from({ length: n }, () => ({ requests: 0, failed: 0, dur: [], in: 0, out: 0, cost: 0, priced: 0 }));
    for (const i of sel) {
      if (R.start[i] === null) continue;
      const k = b[Math.floor((R.start[i] - base) / step)];
      k.requests++;
      if (failed(i)) k.failed++;
      k.dur.push(R.dur[i]);
      k.in += R.in[i];
      k.out += R.out[i];
      if (R.cost[i] !== null) { k.cost += R.cost[i]; k.priced++; }
    }
    const x = b.map((_, k) => (base + k * step) / 1000);
    const q = (k, p) => quantile(sortedOf(k.dur), p);
    return {
      step_ms: step, x,
      requests: b.map((k) => k.requests), failed: b.map((k) => k.failed),
      p50: b.map((k) => q(k, 0.5)), p95: b.map((k) => q(k, 0.95)),
      input: b.map((k) => k.in), output: b.map((k) => k.out),
      cost: b.map((k) => (k.priced ? k.cost : null)),
    };
  }

  // ---------- rendering ----------
  function renderTotals(t) {
    const cards = [
      ["requests", fmtInt(t.requests)], ["failed", fmtInt(t.failed)],
      ["p50", fmtMs(t.p50_ms)], ["p95", fmtMs(t.p95_ms)], ["p99", fmtMs(t.p99_ms)],
      ["input tokens", fmtInt(t.input_tokens)], ["output tokens", fmtInt(t.output_tokens)], ["cost", fmtCost(t.cost_usd)],
    ];
    const box = clear($("totals"));
    for (const [label, value] of cards) {
      box.append(el("div", { class: "card", "data-total": label }, el("div", { class: "value", text: value }), el("div", { class: "label", text: label })));
    }
  }
  const charts = [];
  function chart(target, title, data, labels, colors, fmt, stepS) {
    const box = el("div", { class: "chart" }, el("h3", { text: title }));
    target.append(box);
    const width = Math.max(280, Math.floor((target.clientWidth || 900) / 2) - 24);
    const opts = {
      width, height: 180,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"), // the page's times are UTC
      scales: { x: { time: true, range: () => [data[0][0], data[0][data[0].length - 1] + stepS] } },
      series: [{}].concat(labels.map((label, k) => ({ label, stroke: colors[k], width: 1.5, value: (u, v) => fmt(v), points: { show: data[0].length < 40 } }))),
      axes: [{}, { size: 72, values: (u, vals) => vals.map(fmt) }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 2) return;
          const from = u.posToVal(u.select.left, "x") * 1000, to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
          u.setSelect({ left: 0, width: 0 }, false);
          setTime(Math.floor(from), Math.ceil(to));
        }],
      },
    };
    charts.push(new uPlot(opts, data, box));
  }
  function renderCharts(s) {
    while (charts.length) charts.pop().destroy();
    const box = clear($("charts"));
    if (!s) { box.append(el("p", { class: "note", text: "No request in this selection has a timestamp." })); return; }
    const step = s.step_ms >= 3600000 ? s.step_ms / 3600000 + " h" : s.step_ms >= 60000 ? s.step_ms / 60000 + " min" : s.step_ms >= 1000 ? s.step_ms / 1000 + " s" : s.step_ms + " ms";
    $("charts-note").textContent = "Per " + step + ", by when each request started. Drag across a chart to zoom the whole page to that time.";
    const n = (v) => (v === null || v === undefined ? "-" : String(Math.round(v * 100) / 100));
    chart(box, "Requests and failed requests", [s.x, s.requests, s.failed], ["requests", "failed"], ["#2563eb", "#dc2626"], n, s.step_ms / 1000);
    chart(box, "Latency (ms)", [s.x, s.p50, s.p95], ["p50", "p95"], ["#059669", "#d97706"], n, s.step_ms / 1000);
    chart(box, "Tokens", [s.x, s.input, s.output], ["input", "output"], ["#7c3aed", "#0891b2"], n, s.step_ms / 1000);
    chart(box, "Cost (USD)", [s.x, s.cost], ["cost"], ["#be123c"], (v) => (v === null || v === undefined ? "-" : "$" + v.toFixed(4)), s.step_ms / 1000);
  }
  function bar(value, max, color) {
    const pct = max > 0 && value ? Math.max(1, (100 * value) / max) : 0;
    return el("div", { class: "bar" }, el("div", { class: "fill", style: "width:" + pct.toFixed(1) + "%;background:" + color }));
  }
  function renderModels(rows) {
    const body = clear($("models-body"));
    const max = (key) => Math.max(0, ...rows.map((r) => r[key] || 0));
    const maxP95 = max("p95_ms"), maxTok = Math.max(0, ...rows.map((r) => (r.input_tokens || 0) + (r.output_tokens || 0))), maxCost = max("cost_usd");
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 12, class: "note", text: "No model call in this selection." })));
    for (const r of rows) {
      const tokens = r.input_tokens === null ? null : r.input_tokens + r.output_tokens;
      body.append(el("tr", { "data-model": r.model },
        el("td", { class: "name", text: r.model }),
        el("td", { "data-col": "calls", text: fmtInt(r.calls) }),
        el("td", { "data-col": "errors", text: fmtInt(r.errors) }),
        el("td", { "data-col": "p50_ms", text: fmtMs(r.p50_ms) }),
        el("td", { "data-col": "p95_ms", text: fmtMs(r.p95_ms) }, bar(r.p95_ms, maxP95, "#d97706")),
        el("td", { "data-col": "p99_ms", text: fmtMs(r.p99_ms) }),
        el("td", { "data-col": "ttft_p50_ms", text: fmtMs(r.ttft_p50_ms) }),
        el("td", { "data-col": "input_tokens", text: fmtInt(r.input_tokens) }),
        el("td", { "data-col": "output_tokens", text: fmtInt(r.output_tokens) }, bar(tokens, maxTok, "#7c3aed")),
        el("td", { "data-col": "cost_usd", text: fmtCost(r.cost_usd) }, bar(r.cost_usd, maxCost, "#be123c")),
        el("td", { "data-col": "cost_per_call_usd", text: fmtCost(r.cost_per_call_usd) })));
    }
  }
  function outcomeText(i) {
    const o = S[R.outcome[i]];
    return R.errors[i] > 0 && o === "ok" ? "ok, " + R.errors[i] + " error" + (R.errors[i] > 1 ? "s" : "") : o;
  }
  function renderList(id, rows) {
    const body = clear($(id));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "note", text: "None in this selection." })));
    for (const i of rows) {
      const trace = R.trace[i];
      body.append(el("tr", { class: "clickable" + (failed(i) ? " failed" : ""), "data-trace": trace, onclick: () => showRequest(i) },
        el("td", { text: fmtTime(R.start[i]) }),
        el("td", { class: "name", text: S[R.name[i]] }),
        el("td", { text: outcomeText(i) }),
        el("td", { "data-col": "dur", "data-value": R.dur[i], text: fmtMs(R.dur[i]) }),
        el("td", { text: fmtInt(R.in[i] + R.out[i]) }),
        el("td", { "data-col": "cost", text: fmtCost(R.cost[i]) }),
        el("td", { class: "name", text: S[R.thread[i]] || "-" })));
    }
  }
  function top(sel, key) {
    return sel.filter((i) => key(i) !== null).sort((a, b) => key(b) - key(a) || a - b).slice(0, LIST);
  }

  // ---------- one request ----------
  function kv(label, value) {
    return el("span", { class: "kv" }, el("b", { text: label + " " }), String(value));
  }
  function showRequest(i) {
    const trace = R.trace[i];
    const box = clear($("request"));
    $("request-section").hidden = false;
    box.append(el("h3", {}, "Request ", el("code", { text: trace })));
    box.append(el("p", {}, kv("name", S[R.name[i]]), kv("started", fmtTime(R.start[i])), kv("duration", fmtMs(R.dur[i])),
      kv("outcome", outcomeText(i)), kv("tokens", fmtInt(R.in[i]) + " in, " + fmtInt(R.out[i]) + " out"), kv("cost", fmtCost(R.cost[i])),
      kv("service", S[R.service[i]]), S[R.user[i]] ? kv("user", S[R.user[i]]) : null, S[R.tenant[i]] ? kv("tenant", S[R.tenant[i]]) : null));
    const thread = S[R.thread[i]];
    if (thread) {
      const known = Object.prototype.hasOwnProperty.call(D.threads, thread);
      box.append(el("p", {}, kv("thread", thread), known ? el("button", { type: "button", onclick: () => showThread(thread) }, "show the conversation") : null));
    }
    const detail = Object.prototype.hasOwnProperty.call(D.details, trace) ? D.details[trace] : null;
    if (!detail) {
      box.append(el("p", { class: "note", text: "Its runs are not in this page: it keeps in full the " + D.meta.limits.top +
        " slowest, the " + D.meta.limits.top + " most expensive and the " + D.meta.limits.top + " latest failed requests of the whole log. `lclog pretty` shows any request's runs." }));
      box.scrollIntoView({ block: "start" });
      return;
    }
    if (!detail.runs.length) {
      box.append(el("p", { class: "note", text: "Only its trace.end is in the log: whole-trace sampling left its runs out." }));
    } else {
      waterfall(box, detail);
    }
    box.scrollIntoView({ block: "start" });
  }
  function waterfall(box, detail) {
    const runs = detail.runs;
    let span = 0;
    for (const r of runs) span = Math.max(span, (r.offset || 0) + (r.dur || 0));
    const table = el("table", { class: "waterfall", id: "waterfall" });
    table.append(el("thead", {}, el("tr", {}, ...["run", "node / step", "timeline", "duration", "ttft", "tokens", "cost", "outcome"].map((h) => el("th", { text: h })))));
    const body = el("tbody");
    const content = el("div", { id: "run-content" });
    for (const r of runs) {
      const left = span > 0 ? (100 * (r.offset || 0)) / span : 0;
      const width = span > 0 && r.dur ? Math.max(0.3, (100 * r.dur) / span) : 0.3;
      const tokens = r.in === undefined ? "-" : fmtInt(r.in) + " / " + fmtInt(r.out);
      const err = r.error ? (r.error.type || "error") + ": " + (r.error.message || "") : "";
      body.append(el("tr", { class: "clickable" + (r.outcome && r.outcome !== "ok" ? " failed" : ""), "data-run": r.run_id, onclick: () => showRun(content, r, detail) },
        el("td", { class: "name", style: "padding-left:" + (6 + 14 * (r.depth || 0)) + "px" }, el("span", { class: "type", text: r.type }), " ", String(r.name === null || r.name === undefined ? "?" : r.name), r.model ? el("span", { class: "model", text: " " + r.model }) : null),
        el("td", { text: (r.node === undefined ? "" : String(r.node)) + (r.step === undefined ? "" : " · " + String(r.step)) }),
        el("td", { class: "timeline" }, el("div", { class: "span" + (r.outcome && r.outcome !== "ok" ? " failed" : ""), style: "left:" + left.toFixed(2) + "%;width:" + width.toFixed(2) + "%" })),
        el("td", { "data-col": "dur", "data-value": r.dur, text: fmtMs(r.dur) }),
        el("td", { text: fmtMs(r.ttft) }),
        el("td", { text: tokens }),
        el("td", { text: fmtCost(r.cost === undefined ? null : r.cost) }),
        el("td", { class: "outcome", text: (r.outcome || "running") + (err ? " — " + err : "") })));
    }
    table.append(body);
    box.append(table);
    if (detail.cut) box.append(el("p", { class: "note", text: detail.cut + " more events of this request are in the log, past the page's limits (" + D.meta.limits.request_bytes + " bytes for one request, " + D.meta.limits.detail_bytes + " in all)." }));
    box.append(content);
    if (runs.length) showRun(content, runs[0], detail); // the request's own input and output
  }
  function showRun(content, run, detail) {
    clear(content);
    content.append(el("h4", { text: "Events of " + run.type + " " + run.name + ", as logged" }));
    for (const k of run.events) content.append(el("pre", { class: "event", text: JSON.stringify(detail.events[k], null, 2) }));
  }

  // ---------- conversations ----------
  function messageText(m) {
    if (typeof m.content === "string") return m.content;
    return JSON.stringify(m.content === undefined ? m : m.content, null, 2);
  }
  function showThread(thread) {
    const c = D.threads[thread];
    const box = clear($("conversation"));
    box.append(el("h3", {}, "Conversation ", el("code", { text: thread })));
    box.append(el("p", { class: "note", text: c.messages.length + " messages as the conversation holds them now, from " + c.events + " events" +
      (c.unresolved ? "; " + c.unresolved + " referenced but not in the logs read" : "") + (c.cut ? "; " + c.cut + " events past the page's limit left out" : "") + "." }));
    for (const m of c.messages) {
      const msg = m.message || {};
      const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls.map((t) => (t && t.name ? t.name : "?") + "(" + JSON.stringify(t && t.args !== undefined ? t.args : {}) + ")").join(", ") : "";
      box.append(el("div", { class: "message role-" + String(msg.role || "?").replace(/[^a-z_]/g, "") },
        el("div", { class: "who", text: String(msg.role || "?") + (msg.name ? " · " + msg.name : "") + " · " + fmtTime(Date.parse(m.timestamp)) }),
        el("div", { class: "text", text: messageText(msg) }),
        calls ? el("div", { class: "calls", text: "calls " + calls }) : null));
    }
    if (c.removed.length) {
      box.append(el("h4", { text: "Removed or replaced" }));
      for (const m of c.removed) box.append(el("div", { class: "message removed" }, el("div", { class: "who", text: String((m.message || {}).role || "?") }), el("div", { class: "text", text: messageText(m.message || {}) })));
    }
    $("conversation-section").hidden = false;
    box.scrollIntoView({ block: "start" });
  }
  function renderThreads() {
    const list = clear($("threads"));
    const names = Object.keys(D.threads);
    if (!names.length) list.append(el("li", { class: "note", text: "No conversation among the requests kept in full." }));
    for (const t of names) list.append(el("li", {}, el("button", { type: "button", "data-thread": t, onclick: () => showThread(t) }, t)));
  }

  // ---------- the page ----------
  const view = {};
  function render() {
    const { sel, model } = selection();
    view.totals = totalsOf(sel);
    view.byModel = byModel(sel, model);
    view.series = series(sel);
    view.selected = sel.length;
    renderTotals(view.totals);
    renderCharts(view.series);
    renderModels(view.byModel);
    renderList("slowest-body", top(sel, (i) => R.dur[i]));
    renderList("costliest-body", top(sel, (i) => R.cost[i]));
    renderList("failed-body", sel.filter(failed).reverse().slice(0, LIST));
    $("more").textContent = LIST === 10 ? "show 50 of each" : "show 10 of each";
    const shown = sel.length === N ? "every request in the page" : sel.length + " of " + N + " requests in the page";
    $("selection").textContent = "Showing " + shown + ".";
  }
  function renderMeta() {
    const m = D.meta, t = D.totals;
    const span = t.first_ms === null ? "" : " from " + fmtTime(t.first_ms) + " to " + fmtTime(t.last_ms) + " UTC";
    $("meta").textContent = m.events.toLocaleString("en-US") + " events, " + m.requests.toLocaleString("en-US") + " requests" + span + ".";
    if (m.sampled) {
      $("sampled").hidden = false;
      $("sampled").textContent = "The log holds " + m.requests + " requests, more than the page's " + m.limits.max_requests +
        ": charts, lists and filters use a uniform sample of " + m.rows + ". Over every request: " + t.requests + " requests, " + t.failed +
        " failed, p50 " + fmtMs(t.p50_ms) + ", p95 " + fmtMs(t.p95_ms) + ", p99 " + fmtMs(t.p99_ms) + ", " + fmtInt(t.input_tokens) + " input and " +
        fmtInt(t.output_tokens) + " output tokens, cost " + fmtCost(t.cost_usd) + ".";
    }
    $("limits").textContent = "This page keeps in full the " + m.limits.top + " slowest, the " + m.limits.top + " most expensive and the " + m.limits.top +
      " latest failed requests (up to " + m.limits.request_bytes + " log bytes each) and up to " + m.limits.threads + " of their conversations (up to " +
      m.limits.thread_bytes + " bytes each), " + m.limits.detail_bytes + " log bytes in all; at most " + m.limits.max_requests + " requests in its charts and filters." +
      (m.skipped_lines ? " " + m.skipped_lines + " lines that are not lclog events were skipped." : "");
  }
  setupFilters();
  $("more").addEventListener("click", () => {
    LIST = LIST === 10 ? 50 : 10;
    render();
  });
  renderMeta();
  renderThreads();
  render();
  window.addEventListener("resize", () => renderCharts(view.series));
  window.lclogReport = { view, filters, render, showRequest: (trace) => { const i = R.trace.indexOf(trace); if (i >= 0) showRequest(i); return i >= 0; }, showThread };
})();
