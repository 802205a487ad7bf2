// llmqueue dashboard: polls the queue's JSON API and draws what it finds.
// Plain JavaScript, no build step, no other origin. The API lives one
// level up from the page (the page is /v1/queue/ui/, the API /v1/queue/).
"use strict";

(function () {
  const API = "../";
  const POLL_MS = 1500;
  const HISTORY_MS = 5 * 60 * 1000; // what the charts show
  const TOKEN_KEY = "llmqueue.token";
  const COLORS = ["#2f6fde", "#e08a00", "#8a3ffc", "#1a9e5a", "#d12f2f", "#00899e"];

  const $ = (sel) => document.querySelector(sel);
  const history = []; // {t, low, medium, long, dims: {name: pct}, completed, failed, rateLimited, cooldown}
  let polls = 0;
  let timer = null;
  let inFlight = false; // one poll at a time
  let again = false; // poll again as soon as the one in flight ends

  // ---- API ----------------------------------------------------------------

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  // ApiError carries the status and the API's error code and message.
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
    describe() {
      if (this.status === 401) {
        return "401 unauthorized: the API wants a valid token; enter it above.";
      }
      if (this.status === 403) {
        return "403 forbidden: this token may not do that.";
      }
      return (this.status ? this.status + " " : "") + (this.code ? this.code + ": " : "") + this.message;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const t = token();
    if (t) {
      headers.Authorization = "Bearer " + t;
    }
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, "network", "the server cannot be reached");
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(resp.status, err.code || "", err.message || resp.statusText || "request failed");
    }
    return data;
  }

  // ---- messages ------------------------------------------------------------

  function showBanner(text) {
    const b = $("#banner");
    b.textContent = text;
    b.hidden = !text;
  }

  function showAction(text, ok) {
    const m = $("#action-msg");
    m.textContent = text;
    m.hidden = !text;
    m.classList.toggle("ok", !!ok);
    m.classList.toggle("error", !ok);
  }

  // ---- formatting ------------------------------------------------------------

  function fmtInt(n) {
    return typeof n === "number" ? Math.round(n).toLocaleString("en-US") : "–";
  }

  function fmtTime(s) {
    if (!s || s.startsWith("0001-")) {
      return "";
    }
    const d = new Date(s);
    return isNaN(d) ? "" : d.toLocaleTimeString();
  }

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  // ---- polling ---------------------------------------------------------------

  const LISTS = [
    { state: "dead", limit: 50 },
    { state: "suspended", limit: 50 },
    { state: "active", limit: 50 },
    { state: "queued", limit: 20 },
  ];

  async function poll() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    clearTimeout(timer);
    try {
      const [m, ...lists] = await Promise.all([
        api("GET", "metrics.json"),
        ...LISTS.map((l) => api("GET", "requests?state=" + l.state + "&limit=" + l.limit)),
      ]);
      let paused = false;
      try {
        paused = !!(await api("GET", "processing")).paused;
      } catch (e) {
        paused = false; // an older server or a refused route: not worth a banner
      }
      record(m);
      renderMetrics(m, paused);
      LISTS.forEach((l, i) => renderRequests(l.state, lists[i].items || []));
      renderCharts();
      polls++;
      const u = $("#updated");
      u.textContent = "updated " + new Date().toLocaleTimeString();
      u.dataset.polls = String(polls);
      showBanner("");
    } catch (e) {
      showBanner(e instanceof ApiError ? e.describe() : "update failed: " + e.message);
    } finally {
      inFlight = false;
      timer = setTimeout(poll, again ? 0 : POLL_MS);
      again = false;
    }
  }

  function record(m) {
    const now = Date.now();
    const dims = {};
    for (const d of m.dimensions || []) {
      if (d.usable > 0) {
        dims[d.name] = { pct: (100 * d.used) / d.usable, used: d.used, usable: d.usable, window: d.window_seconds };
      }
    }
    const lm = m.last_minute || {};
    history.push({
      t: now,
      low: m.low_in_queue || 0,
      medium: m.medium_in_queue || 0,
      long: m.long_in_queue || 0,
      dims,
      completed: lm.completed || 0,
      failed: lm.failed || 0,
      rateLimited: lm.rate_limited || 0,
      cooldown: m.cooldown_seconds || 0,
    });
    while (history.length && history[0].t < now - HISTORY_MS) {
      history.shift();
    }
  }

  // ---- rendering -------------------------------------------------------------

  function renderMetrics(m, paused) {
    for (const el of document.querySelectorAll("[data-metric]")) {
      const key = el.dataset.metric;
      let v = key === "workers" ? (m.workers || []).length : get(m, key);
      if (key === "cooldown_seconds" && typeof v === "number") {
        el.textContent = v.toFixed(1);
        continue;
      }
      if (key === "cost_usd") {
        el.textContent = "$" + (typeof v === "number" ? v : 0).toFixed(v >= 100 ? 2 : 4);
        el.title = Object.entries(m.cost_by_deployment || {}).map(([d, c]) => d + ": $" + c.toFixed(4)).join(", ") ||
          "at Config.Prices, since the namespace began";
        continue;
      }
      el.textContent = fmtInt(v);
    }
    $("#paused").hidden = !paused;
    const tbody = $("#workers tbody");
    const rows = (m.workers || []).map((w) =>
      row([w.id, w.host, w.pid, w.in_flight, w.concurrency, fmtInt(w.processed), fmtTime(w.started_at)])
    );
    if (!rows.length) {
      rows.push(emptyRow(7, "no live worker"));
    }
    tbody.replaceChildren(...rows);
    renderCost(m);
  }

  // renderCost lists what each deployment and each model has cost, most
  // expensive first.
  function renderCost(m) {
    const rows = [];
    for (const [by, costs] of [["deployment", m.cost_by_deployment], ["model", m.cost_by_model]]) {
      const sorted = Object.entries(costs || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      for (const [name, usd] of sorted) {
        const tr = row([by, name, "$" + usd.toFixed(4)]);
        tr.dataset.by = by;
        tr.dataset.name = name;
        rows.push(tr);
      }
    }
    if (!rows.length) {
      rows.push(emptyRow(3, "nothing priced yet"));
    }
    $("#cost tbody").replaceChildren(...rows);
  }

  function cell(v) {
    const td = document.createElement("td");
    td.textContent = v == null ? "" : String(v);
    return td;
  }

  function row(values) {
    const tr = document.createElement("tr");
    for (const v of values) {
      tr.appendChild(cell(v));
    }
    return tr;
  }

  function emptyRow(cols, text) {
    const tr = document.createElement("tr");
    const td = cell(text);
    td.colSpan = cols;
    td.className = "muted";
    tr.appendChild(td);
    return tr;
  }

  function button(action, id, text, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small" + (cls ? " " + cls : "");
    b.dataset.action = action;
    b.dataset.id = id;
    b.textContent = text;
    return b;
  }

  function renderRequests(state, items) {
    const tbody = $("#table-" + state + " tbody");
    const rows = items.map((r) => {
      let cols;
      switch (state) {
        case "dead":
          cols = [r.id, r.priority, r.attempts, r.error || "", fmtTime(r.updated_at)];
          break;
        case "suspended":
          cols = [r.id, r.priority, r.attempts, r.suspend_reason || "", fmtTime(r.updated_at)];
          break;
        case "active":
          cols = [r.id, r.priority, r.attempts, fmtInt(r.estimated_tokens), fmtTime(r.started_at)];
          break;
        default:
          cols = [r.id, r.priority, r.attempts, fmtInt(r.estimated_tokens), fmtTime(r.created_at)];
      }
      const tr = row(cols);
      tr.dataset.id = r.id;
      tr.firstChild.className = "id";
      const actions = document.createElement("td");
      actions.className = "actions";
      if (state === "dead") {
        actions.appendChild(button("requeue", r.id, "Requeue"));
      }
      if (state === "suspended") {
        actions.appendChild(button("resume", r.id, "Resume…"));
        actions.firstChild.dataset.reason = r.suspend_reason || "";
      }
      if (state !== "dead") {
        actions.appendChild(button("cancel", r.id, r.cancel_requested ? "Stopping…" : "Cancel", "danger"));
      }
      tr.appendChild(actions);
      return tr;
    });
    if (!rows.length) {
      rows.push(emptyRow(6, "none"));
    }
    tbody.replaceChildren(...rows);
  }

  // ---- charts (canvas) -------------------------------------------------------

  // drawChart draws series of [t, value] points over the page's history
  // (HISTORY_MS at most), with a y axis from 0 to the largest value (at
  // least minMax) rounded up to four even steps.
  function drawChart(canvas, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300;
    const h = canvas.clientHeight || 180;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pad = { l: 44, r: 8, t: 8, b: 20 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const now = Date.now();
    // The x axis spans the history the page has, from 30 s to HISTORY_MS.
    const first = history.length ? history[0].t : now;
    const span = Math.min(HISTORY_MS, Math.max(30000, now - first));
    const t0 = now - span;
    let max = opts.minMax || 1;
    for (const s of series) {
      for (const [t, v] of s.points) {
        if (t >= t0) {
          max = Math.max(max, v);
        }
      }
    }
    max = 4 * niceCeil(max / 4);
    const x = (t) => pad.l + ((t - t0) / span) * pw;
    const y = (v) => pad.t + ph - (v / max) * ph;

    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#e5e7eb";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      ctx.fillText(formatAxis(v) + (opts.unit || ""), pad.l - 4, yy);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const tick = span <= 60000 ? 10000 : span <= 180000 ? 30000 : 60000;
    for (let ago = 0; ago <= span; ago += tick) {
      const label = ago === 0 ? "now" : ago % 60000 === 0 ? "-" + ago / 60000 + "m" : "-" + ago / 1000 + "s";
      ctx.fillText(label, Math.max(pad.l + 8, Math.min(x(now - ago), w - pad.r - 10)), h - pad.b + 4);
    }
    if (opts.limitLine) {
      ctx.strokeStyle = "#d12f2f";
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(pad.l, y(opts.limitLine));
      ctx.lineTo(w - pad.r, y(opts.limitLine));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const s of series) {
      const pts = s.points.filter(([t]) => t >= t0);
      if (!pts.length) {
        continue;
      }
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
      ctx.stroke();
      const [lt, lv] = pts[pts.length - 1];
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(x(lt), y(lv), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (!series.length && opts.empty) {
      ctx.fillStyle = "#6b7280";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(opts.empty, pad.l + pw / 2, pad.t + ph / 2);
    }
  }

  // niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
  function niceCeil(v) {
    if (v <= 0) {
      return 1;
    }
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }

  function formatAxis(v) {
    if (v >= 1e6) {
      return (v / 1e6).toFixed(1) + "M";
    }
    if (v >= 1e4) {
      return (v / 1e3).toFixed(0) + "k";
    }
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function legend(el, items) {
    el.replaceChildren(
      ...items.map(({ color, text }) => {
        const span = document.createElement("span");
        const sw = document.createElement("i");
        sw.style.background = color;
        span.appendChild(sw);
        span.appendChild(document.createTextNode(text));
        return span;
      })
    );
  }

  function renderCharts() {
    const last = history[history.length - 1] || { dims: {} };
    const classes = [
      ["low", COLORS[0]],
      ["medium", COLORS[1]],
      ["long", COLORS[2]],
    ];
    drawChart(
      $("#chart-queues"),
      classes.map(([k, c]) => ({ color: c, points: history.map((s) => [s.t, s[k]]) })),
      { minMax: 4 }
    );
    legend($("#legend-queues"), classes.map(([k, c]) => ({ color: c, text: k + " " + fmtInt(last[k]) })));

    const names = [];
    for (const s of history) {
      for (const n of Object.keys(s.dims)) {
        if (!names.includes(n)) {
          names.push(n);
        }
      }
    }
    const dimSeries = names.map((n, i) => ({
      color: COLORS[(i + 3) % COLORS.length],
      points: history.filter((s) => s.dims[n]).map((s) => [s.t, s.dims[n].pct]),
    }));
    drawChart($("#chart-budget"), dimSeries, {
      minMax: 100,
      unit: "%",
      limitLine: 100,
      empty: "no limited budget dimension",
    });
    legend(
      $("#legend-budget"),
      names.map((n, i) => {
        const d = last.dims[n];
        const text = d
          ? n + " " + fmtInt(d.used) + " / " + fmtInt(d.usable) + " per " + fmtInt(d.window) + " s (" + d.pct.toFixed(0) + "%)"
          : n;
        return { color: COLORS[(i + 3) % COLORS.length], text };
      })
    );

    const tp = [
      ["completed", "#1a9e5a", "completed"],
      ["failed", "#d12f2f", "dead"],
      ["rateLimited", "#e08a00", "429s"],
      ["cooldown", "#6b7280", "cool-down s"],
    ];
    drawChart(
      $("#chart-throughput"),
      tp.map(([k, c]) => ({ color: c, points: history.map((s) => [s.t, s[k]]) })),
      { minMax: 4 }
    );
    legend($("#legend-throughput"), tp.map(([k, c, label]) => ({ color: c, text: label + " " + fmtInt(last[k]) })));
  }

  // ---- actions ---------------------------------------------------------------

  async function act(btn) {
    const id = btn.dataset.id;
    const action = btn.dataset.action;
    if (action === "resume") {
      openResume(id, btn.dataset.reason);
      return;
    }
    btn.disabled = true;
    try {
      switch (action) {
        case "requeue": {
          const st = await api("POST", "requests/" + encodeURIComponent(id) + "/requeue");
          showAction("Requeued " + id + ": " + st.status, true);
          break;
        }
        case "cancel": {
          const st = await api("POST", "requests/" + encodeURIComponent(id) + "/cancel");
          showAction(
            st.status === "canceled" ? "Canceled " + id : "Asked " + id + " to stop (it is running)",
            true
          );
          break;
        }
        case "requeue-dead": {
          const r = await api("POST", "requeue-dead");
          showAction("Requeued " + r.requeued + " dead request" + (r.requeued === 1 ? "" : "s"), true);
          break;
        }
      }
    } catch (e) {
      showAction((action === "requeue-dead" ? "Requeue all" : action + " " + id) + " failed: " +
        (e instanceof ApiError ? e.describe() : e.message), false);
    } finally {
      btn.disabled = false;
      poll();
    }
  }

  function openResume(id, reason) {
    const d = $("#resume-dialog");
    d.dataset.id = id;
    $("#resume-id").textContent = id;
    $("#resume-reason").textContent = reason ? "Waiting for: " + reason : "";
    $("#resume-error").hidden = true;
    d.showModal();
  }

  async function sendResume() {
    const d = $("#resume-dialog");
    const id = d.dataset.id;
    const err = $("#resume-error");
    let input;
    try {
      input = JSON.parse($("#resume-input").value);
    } catch (e) {
      err.textContent = "The input is not valid JSON: " + e.message;
      err.hidden = false;
      return;
    }
    try {
      const st = await api("POST", "requests/" + encodeURIComponent(id) + "/resume", { input });
      d.close();
      showAction("Resumed " + id + ": " + st.status, true);
      poll();
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.describe() : e.message;
      err.hidden = false;
    }
  }

  // ---- start -----------------------------------------------------------------

  function saveToken() {
    const v = $("#token").value.trim();
    try {
      if (v) {
        sessionStorage.setItem(TOKEN_KEY, v);
      } else {
        sessionStorage.removeItem(TOKEN_KEY);
      }
    } catch (e) {
      showBanner("this browser keeps no session storage: the token cannot be saved");
    }
    $("#token").value = "";
    $("#token").placeholder = v ? "token set (hidden)" : "Bearer token (optional)";
    showAction("", true);
    poll();
  }

  function start() {
    if (token()) {
      $("#token").placeholder = "token set (hidden)";
    }
    $("#save-token").addEventListener("click", saveToken);
    $("#token").addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        saveToken();
      }
    });
    $("#clear-token").addEventListener("click", () => {
      $("#token").value = "";
      saveToken();
    });
    document.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-action]");
      if (btn && !btn.disabled) {
        act(btn);
      }
    });
    $("#resume-send").addEventListener("click", sendResume);
    $("#resume-cancel").addEventListener("click", () => $("#resume-dialog").close());
    window.addEventListener("resize", renderCharts);
    poll();
  }

  start();
})();
