// agent-shim usage dashboard. Reads the JSON API under /ui/api/ (docs/ui-api.md) and shows its
// figures as they come: costs are the API's exact USD strings (only rounded for display),
// tokens, ratios and percentiles are the store's. Builds the DOM with textContent only (no HTML
// from data). uPlot (vendored, MIT) draws the charts; it is loaded before this module.

const state = {
  range: readRange(),
  by: "model",
  filters: { model: "", provider: "", profile: "", errors: false },
  selected: null,
  charts: [],
};

const $ = (sel) => document.querySelector(sel);

function readRange() {
  const r = new URLSearchParams(location.hash.slice(1)).get("range");
  return ["1h", "24h", "7d", "30d", "all"].includes(r) ? r : "24h";
}

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

/** An API error carrying the HTTP status and the error's type. */
class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (r.status === 401) {
    // The session ended (expired, or the master key changed): the page shows the login form.
    location.reload();
    throw new ApiError(401, "authentication_error", "signed out");
  }
  let body = null;
  try {
    body = await r.json();
  } catch {
    throw new ApiError(r.status, "bad_answer", `${path} answered ${r.status} without JSON`);
  }
  if (!r.ok) {
    const e = body && body.error ? body.error : {};
    throw new ApiError(r.status, e.type || "error", e.message || `${path} answered ${r.status}`);
  }
  return body;
}

function query(extra = {}) {
  const q = new URLSearchParams({ range: state.range });
  for (const [k, v] of Object.entries(extra)) if (v !== "" && v !== false && v != null) q.set(k, v);
  return q.toString();
}

// ---- formatting (display only) ----

const intFmt = new Intl.NumberFormat("en-US");
const fmtInt = (n) => (n == null ? "–" : intFmt.format(n));
const fmtPct = (r) => (r == null ? "–" : `${(r * 100).toFixed(r < 0.1 && r > 0 ? 2 : 1)}%`);

function fmtMs(ms) {
  if (ms == null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** An exact USD string as money: up to 4 decimals, at least 2; tiny amounts as "<$0.0001". */
function fmtUsd(s) {
  if (s == null) return "unknown";
  const n = Number(s);
  if (n === 0) return "$0.00";
  if (Math.abs(n) < 0.0001) return n > 0 ? "<$0.0001" : "-<$0.0001";
  let t = Math.abs(n).toFixed(4).replace(/0{1,2}$/, "");
  const [whole, frac] = t.split(".");
  t = `${intFmt.format(Number(whole))}.${frac}`;
  return `${n < 0 ? "-" : ""}$${t}`;
}

const fmtTime = (ms) => new Date(ms).toLocaleString("en-GB", { hour12: false });

function setText(testid, text, title) {
  const e = document.querySelector(`[data-testid="${testid}"]`);
  e.textContent = text;
  if (title !== undefined) e.title = title;
}

// ---- banner ----

function banner(message, isError) {
  const b = $("#banner");
  b.hidden = !message;
  b.textContent = message || "";
  b.classList.toggle("error", !!isError);
}

// ---- cards ----

function renderCards(s) {
  // No request at all spent nothing; requests none of which had a price spent an unknown amount.
  const spend = s.requests === 0 ? "$0.00" : fmtUsd(s.cost_usd);
  setText("card-spend", spend, s.cost_usd == null ? "no request was priced" : `$${s.cost_usd} exactly`);
  setText("card-unpriced", s.unpriced ? `${fmtInt(s.unpriced)} request(s) without a price` : "all requests priced");
  setText("card-requests", fmtInt(s.requests));
  setText("card-tokens", `${fmtInt(s.tokens.input)} in · ${fmtInt(s.tokens.output)} out`);
  setText("card-errors", fmtInt(s.errors));
  const o = s.outcomes;
  setText("card-errors-detail", `429: ${fmtInt(o.rate_limited)} · 529: ${fmtInt(o.overloaded)} · ${fmtPct(s.error_rate)}`);
  setText("card-fallback-rate", fmtPct(o.fallback_rate));
  setText("card-fallbacks", `${fmtInt(o.fallbacks)} of ${fmtInt(o.counted)} requests${o.complete ? "" : " (newest only)"}`);
  setText("card-cache-hit", fmtPct(s.cache_hit_ratio));
  setText("card-cache-tokens", `${fmtInt(s.tokens.cache_read)} read · ${fmtInt(s.tokens.cache_write)} written`);
  setText("card-latency", `${fmtMs(s.latency_ms.p50)} / ${fmtMs(s.latency_ms.p95)}`);
  setText("card-ttfb", `${fmtMs(s.ttfb_ms.p50)} / ${fmtMs(s.ttfb_ms.p95)}`);
}

function clearCards() {
  for (const id of ["card-spend", "card-requests", "card-errors", "card-fallback-rate", "card-cache-hit", "card-latency", "card-ttfb"])
    setText(id, "–");
  for (const id of ["card-unpriced", "card-tokens", "card-errors-detail", "card-fallbacks", "card-cache-tokens"]) setText(id, "");
}

// ---- charts ----

const KINDS = [
  ["uncached_input", "input (uncached)", "#2f6fed"],
  ["cache_read", "cache read", "#1f8a4c"],
  ["cache_write", "cache write", "#b7791f"],
  ["output", "output", "#8e44ad"],
];

function renderCharts(series) {
  for (const c of state.charts) c.destroy();
  state.charts = [];
  const xs = series.points.map((p) => p.time_ms / 1000);
  const width = (id) => Math.max(300, document.getElementById(id).clientWidth);
  const common = { height: 240, cursor: { drag: { x: false, y: false } }, legend: { live: true } };
  const spend = series.points.map((p) => (p.cost_usd == null ? null : Number(p.cost_usd)));
  state.charts.push(
    new uPlot(
      {
        ...common,
        title: "Spend (USD)",
        width: width("chart-spend"),
        series: [
          {},
          {
            label: "spend",
            stroke: "#c8372d",
            fill: "rgba(200,55,45,.35)",
            paths: uPlot.paths.bars({ size: [0.8, 40] }),
            points: { show: false },
            value: (u, v) => (v == null ? "–" : fmtUsd(String(v))),
          },
        ],
        axes: [{}, { values: (u, vals) => vals.map((v) => `$${v}`), size: 70 }],
      },
      [xs, spend],
      document.getElementById("chart-spend"),
    ),
  );
  const data = [xs, ...KINDS.map(([k]) => series.points.map((p) => p.tokens[k]))];
  state.charts.push(
    new uPlot(
      {
        ...common,
        title: "Tokens by kind",
        width: width("chart-tokens"),
        series: [{}, ...KINDS.map(([, label, stroke]) => ({ label, stroke, width: 1.5, value: (u, v) => fmtInt(v) }))],
        axes: [{}, { size: 70, values: (u, vals) => vals.map((v) => fmtInt(v)) }],
      },
      data,
      document.getElementById("chart-tokens"),
    ),
  );
}

window.addEventListener("resize", () => {
  for (const c of state.charts) c.setSize({ width: Math.max(300, c.root.parentElement.clientWidth), height: 240 });
});

// ---- breakdown ----

function renderBreakdown(b) {
  $("#breakdown-key").textContent = b.by;
  for (const btn of document.querySelectorAll(".tabs button")) btn.classList.toggle("active", btn.dataset.by === b.by);
  const body = $("#breakdown-body");
  body.replaceChildren();
  if (!b.rows.length) body.append(el("tr", { class: "empty" }, el("td", { colspan: 11 }, "no requests in this range")));
  for (const r of b.rows) {
    body.append(
      el(
        "tr",
        { "data-testid": "breakdown-row", "data-key": r.key },
        el("td", { class: "text" }, r.key),
        el("td", {}, fmtInt(r.requests)),
        el("td", {}, fmtInt(r.errors)),
        el("td", {}, fmtInt(r.tokens.input)),
        el("td", {}, fmtInt(r.tokens.cache_read)),
        el("td", {}, fmtInt(r.tokens.cache_write)),
        el("td", {}, fmtInt(r.tokens.output)),
        el("td", {}, fmtPct(r.cache_hit_ratio)),
        el("td", { "data-testid": "breakdown-cost", title: r.cost_usd == null ? "unpriced" : `$${r.cost_usd}` }, fmtUsd(r.cost_usd)),
        el("td", {}, `${fmtMs(r.latency_ms.p50)} / ${fmtMs(r.latency_ms.p95)}`),
        el("td", {}, fmtMs(r.ttfb_ms.p50)),
      ),
    );
  }
}

/** Fills a filter's options with the keys the store reports, keeping the current choice. */
function fillOptions(name, rows) {
  const select = document.querySelector(`select[name="${name}"]`);
  const current = state.filters[name];
  const keys = rows.map((r) => r.key).filter((k) => k && k !== "-");
  if (current && !keys.includes(current)) keys.unshift(current);
  select.replaceChildren(el("option", { value: "" }, "all"), ...keys.map((k) => el("option", { value: k }, k)));
  select.value = current;
}

// ---- requests ----

async function loadRequests() {
  const f = state.filters;
  const body = $("#request-body");
  try {
    const r = await api(`/ui/api/requests?${query({ model: f.model, provider: f.provider, profile: f.profile, status: f.errors ? "errors" : "", limit: 200 })}`);
    body.replaceChildren();
    if (!r.rows.length) body.append(el("tr", { class: "empty" }, el("td", { colspan: 10 }, "no matching requests")));
    for (const x of r.rows) {
      const tr = el(
        "tr",
        { "data-testid": "request-row", "data-id": x.request_id, class: x.request_id === state.selected ? "selected" : "" },
        el("td", { class: "text", title: x.request_id }, fmtTime(x.time_ms)),
        el("td", { class: "text", "data-testid": "request-model" }, x.model_group ?? x.requested_model),
        el("td", { class: "text" }, x.provider ?? "–"),
        el("td", { class: "text" }, x.profile ?? "–"),
        el("td", { class: "text" }, x.agent ?? "–"),
        el("td", { class: x.status >= 400 ? "status-bad" : "status-ok", title: x.error_class ?? "" }, x.status),
        el("td", {}, fmtInt(x.tokens.input)),
        el("td", {}, fmtInt(x.tokens.output)),
        el("td", { "data-testid": "request-cost" }, fmtUsd(x.cost_usd)),
        el("td", {}, fmtMs(x.latency_ms)),
      );
      tr.tabIndex = 0;
      tr.addEventListener("click", () => openDetail(x.request_id));
      tr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          openDetail(x.request_id);
        }
      });
      body.append(tr);
    }
  } catch (e) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 10 }, e.message)));
  }
}

const DETAIL = [
  ["request_id", "request id"],
  ["time_ms", "time", fmtTime],
  ["status", "status"],
  ["error_class", "error"],
  ["requested_model", "requested model"],
  ["model_group", "model group"],
  ["route", "chosen by"],
  ["deployment", "deployment"],
  ["provider", "provider"],
  ["served_model", "served model"],
  ["client_protocol", "client protocol"],
  ["profile", "profile"],
  ["directory", "directory"],
  ["agent", "agent"],
  ["session_id", "session"],
  ["stream", "stream"],
  ["attempts", "attempts"],
  ["attempt_path", "attempt path"],
  ["cost_usd", "cost", (v) => (v == null ? "unknown (no price)" : `$${v}`)],
  ["price_version", "price table"],
  ["latency_ms", "latency", fmtMs],
  ["ttfb_ms", "time to first byte", fmtMs],
  ["response_bytes", "response bytes", fmtInt],
  ["dropped", "dropped by translation"],
];

async function openDetail(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll("#request-body tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  const pane = $("#detail");
  const dl = $("#detail-body");
  pane.hidden = false;
  dl.replaceChildren(el("dt", {}, "loading"), el("dd", {}, id));
  try {
    const r = await api(`/ui/api/requests/${encodeURIComponent(id)}`);
    const rows = [];
    for (const [k, label, f] of DETAIL) {
      const v = r[k];
      rows.push(el("dt", {}, label), el("dd", { "data-testid": `detail-${k}` }, v == null ? "–" : f ? f(v) : String(v)));
    }
    for (const [k, label] of [["input", "input tokens"], ["uncached_input", "uncached input"], ["cache_read", "cache read"], ["cache_write", "cache write"], ["output", "output tokens"], ["reasoning", "reasoning"]])
      rows.push(el("dt", {}, label), el("dd", { "data-testid": `detail-tokens-${k}` }, fmtInt(r.tokens_by_kind[k])));
    for (const [k, label] of [["request_body", "request body"], ["response_body", "response body"]]) {
      const v = r[k];
      // Text nodes only: a captured body is shown, never interpreted.
      const shown = v == null
        ? "not captured (general_settings.store_prompts_in_spend_logs)"
        : el("details", {}, el("summary", {}, `${fmtInt(v.length)} characters`), el("pre", { class: "body", "data-testid": `detail-${k}-text` }, v));
      rows.push(el("dt", {}, label), el("dd", { "data-testid": `detail-${k}` }, shown));
    }
    dl.replaceChildren(...rows);
  } catch (e) {
    dl.replaceChildren(el("dt", {}, "error"), el("dd", {}, e.message));
  }
}

// ---- now ----

/** Usage records lost so far: the queue's drops and the writer's. */
const lost = (l) => (l.queue_dropped || 0) + (l.store_dropped || 0);

async function loadNow() {
  try {
    const n = await api("/ui/api/now");
    $("#now-summary").textContent =
      `${n.in_flight} in flight · ${n.registered.length} registered · ${n.cooldowns.length} cooling down` +
      (n.ledger ? ` · ledger: ${n.ledger.engine}${lost(n.ledger) ? `, ${lost(n.ledger)} records dropped` : ""}` : " · ledger off");
    const body = $("#now-body");
    body.replaceChildren();
    for (const m of n.models) {
      for (const d of m.deployments) {
        const l = d.limits;
        const limits = [l.rpm && `${l.rpm} rpm`, l.tpm && `${l.tpm} tpm`, l.max_parallel_requests && `${l.max_parallel_requests} parallel`].filter(Boolean).join(", ");
        body.append(
          el(
            "tr",
            { "data-testid": "now-row", "data-model": m.model_name },
            el("td", { class: "text" }, m.model_name),
            el("td", { class: "text" }, m.registered ? "yes" : "no"),
            el("td", { class: "text", title: d.api_base }, d.id),
            el("td", { class: "text" }, d.provider),
            el("td", { class: "text" }, d.model),
            el("td", {}, d.in_flight),
            el("td", {}, fmtInt(d.tokens_this_minute)),
            el("td", { class: "text" }, limits || "–"),
            el("td", { class: d.cooldown_remaining_s ? "status-bad" : "" }, d.cooldown_remaining_s ? `${Math.ceil(d.cooldown_remaining_s)} s` : "–"),
          ),
        );
      }
    }
    if (!n.models.length) body.append(el("tr", { class: "empty" }, el("td", { colspan: 9 }, "no models defined")));
  } catch (e) {
    $("#now-summary").textContent = e.message;
  }
}

// ---- loading ----

async function loadBreakdown() {
  try {
    renderBreakdown(await api(`/ui/api/breakdown?${query({ by: state.by })}`));
  } catch (e) {
    $("#breakdown-body").replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 11 }, e.message)));
  }
}

async function loadFilterOptions() {
  for (const name of ["model", "provider", "profile"]) {
    try {
      fillOptions(name, (await api(`/ui/api/breakdown?${query({ by: name })}`)).rows);
    } catch {
      fillOptions(name, []);
    }
  }
}

async function loadAll() {
  for (const btn of document.querySelectorAll(".ranges button")) btn.classList.toggle("active", btn.dataset.range === state.range);
  loadNow();
  try {
    const [summary, series] = await Promise.all([api(`/ui/api/summary?${query()}`), api(`/ui/api/series?${query()}`)]);
    banner("");
    renderCards(summary);
    renderCharts(series);
  } catch (e) {
    clearCards();
    banner(e.message, e.type !== "ledger_off");
    if (e.type === "ledger_off") return;
  }
  await Promise.all([loadBreakdown(), loadFilterOptions(), loadRequests()]);
  document.body.dataset.loaded = state.range;
}

function wire() {
  for (const btn of document.querySelectorAll(".ranges button"))
    btn.addEventListener("click", () => {
      state.range = btn.dataset.range;
      history.replaceState(null, "", `#range=${state.range}`);
      delete document.body.dataset.loaded;
      loadAll();
    });
  for (const btn of document.querySelectorAll(".tabs button"))
    btn.addEventListener("click", () => {
      state.by = btn.dataset.by;
      loadBreakdown();
    });
  $("#filters").addEventListener("change", (ev) => {
    const t = ev.target;
    state.filters[t.name] = t.type === "checkbox" ? t.checked : t.value;
    loadRequests();
  });
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#detail-close").addEventListener("click", () => {
    state.selected = null;
    $("#detail").hidden = true;
    for (const tr of document.querySelectorAll("#request-body tr.selected")) tr.classList.remove("selected");
  });
  setInterval(loadNow, 10_000);
}

wire();
loadAll();
