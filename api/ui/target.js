// The page of one target (/targets/NAME): its load and forecast band, its
// recommended against its workload's replicas, and its live accuracy, as
// uPlot charts that share a cursor, zoom and update live.
"use strict";

(function () {
  const P = window.prescale;
  const name = decodeURIComponent(location.pathname.replace(/^\/targets\//, "").replace(/\/$/, ""));
  const path = "/v1/targets/" + encodeURIComponent(name);
  const REFRESH_MS = 30000;
  const HISTORY = "6h";
  const MAX_MARKERS = 40; // anomaly spans and level shifts drawn at most
  const page = (P.target = { name, charts: {}, zoomed: false });
  const colors = { load: "#1f4e8c", median: "#c2410c", quantile: "#7c3aed", band: "rgba(194,65,12,0.13)", recommended: "#0f766e", current: "#b45309", reactive: "#64748b", need: "#7c3aed", wape: "#1f4e8c", bias: "#b91c1c", coverage: "#0f766e" };

  document.getElementById("name").textContent = name;
  document.getElementById("json").href = path;
  document.title = name + " · prescale";

  // sparse merges spans closer than gap seconds and keeps the longest
  // max of them, so that a busy detector does not paint a barcode.
  function sparse(spans, gap, max) {
    const merged = [];
    for (const s of spans) {
      const last = merged[merged.length - 1];
      if (last && s.kind === last.kind && s.start - last.end <= gap) last.end = Math.max(last.end, s.end);
      else merged.push({ ...s });
    }
    if (merged.length <= max) return merged;
    return merged.sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, max).sort((a, b) => a.start - b.start);
  }

  // shade draws spans ({start, end} in seconds) on a chart, and level
  // shifts as dashed lines.
  function shade(u, spans) {
    const ctx = u.ctx;
    const top = u.bbox.top;
    const height = u.bbox.height;
    ctx.save();
    const left = u.bbox.left;
    const right = left + u.bbox.width;
    for (const s of spans) {
      const x0 = Math.max(left, u.valToPos(s.start, "x", true));
      const x1 = Math.min(right, Math.max(u.valToPos(s.end, "x", true), x0 + 2));
      if (x1 <= left || x0 >= right) continue; // outside the zoomed range
      if (s.kind === "level_shift") {
        ctx.strokeStyle = "rgba(185,28,28,0.7)";
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(x0, top);
        ctx.lineTo(x0, top + height);
        ctx.stroke();
        ctx.setLineDash([]);
        continue;
      }
      ctx.fillStyle = s.kind === "stale" ? "rgba(100,116,139,0.22)" : s.kind === "event" ? "rgba(22,163,74,0.14)" : "rgba(220,38,38,0.16)";
      ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.restore();
  }

  // steps evaluates changes (a step function) at each time of xs, null
  // before the first and after until.
  function steps(changes, xs, value, until) {
    const out = new Array(xs.length).fill(null);
    let j = -1;
    for (let i = 0; i < xs.length; i++) {
      while (j + 1 < changes.length && changes[j + 1].t <= xs[i]) j++;
      if (j >= 0 && xs[i] <= until) out[i] = value(changes[j]);
    }
    return out;
  }

  // replicaColumns are the replicas chart's columns: its times are the
  // load chart's, with each change's time and now added (a change comes
  // between two points of load, and the last one after the last point).
  function replicaColumns(xs, nh, changes, floor, ahead, now) {
    const at = new Map(xs.map((x, i) => [x, i]));
    const times = [...new Set(xs.concat(changes.map((c) => c.t).filter((t) => t >= xs[0] && t <= now), [now]))].sort((a, b) => a - b);
    const pick = (col) => times.map((x) => (at.has(x) ? col[at.get(x)] : null));
    return [
      times,
      steps(changes, times, (c) => c.replicas, now),
      steps(changes, times, (c) => (c.currentReplicas === undefined ? null : c.currentReplicas), now),
      pick(floor),
      pick(ahead),
    ];
  }

  // build turns the API's answers into the charts' columns.
  function build(target, fc, recs, anomalies, now) {
    const step = P.seconds(fc.step) || 60;
    const h0 = Date.parse(fc.historyStart) / 1000;
    const f0 = Date.parse(fc.start) / 1000;
    const xs = [];
    fc.history.forEach((_, i) => xs.push(h0 + i * step));
    fc.point.forEach((_, i) => xs.push(f0 + i * step));
    const nh = fc.history.length;
    const q = target.spec.quantile || 0.9;
    const level = (l) => fc.quantiles.find((x) => Math.abs(x.level - l) < 1e-9);
    const ahead = (vals) => xs.map((_, i) => (i < nh ? (i === nh - 1 ? fc.history[i] : null) : vals[i - nh]));
    const load = xs.map((_, i) => (i < nh ? fc.history[i] : null));
    const cap = target.spec.capacityPerReplica;
    const lo = target.spec.minReplicas ?? 1;
    const hi = target.spec.maxReplicas ?? 100;
    const need = (v) => (v === null || !isFinite(v) ? null : Math.min(hi, Math.max(lo, Math.ceil(v / cap - 1e-9))));
    const changes = recs.recommendations.map((c) => ({ ...c, t: Date.parse(c.time) / 1000 }));
    const last = xs[nh - 1] ?? now;
    const spans = anomalies.map((a) => ({ start: Date.parse(a.start) / 1000, end: Date.parse(a.end) / 1000, kind: a.kind }));
    const stale = [];
    changes.forEach((c, i) => {
      if (c.stale) stale.push({ start: c.t, end: i + 1 < changes.length ? changes[i + 1].t : now, kind: "stale" });
    });
    // Known events: each occurrence's window, its lead to its lag.
    const events = (target.events || []).map((e) => ({ start: Date.parse(e.windowStart) / 1000, end: Date.parse(e.windowEnd) / 1000, kind: "event" }));
    const range = (xs[xs.length - 1] - xs[0]) || 1;
    // What the recommendation provisions: the target's quantile spent by
    // density (a server without it: the quantile itself).
    const provision = fc.provision && fc.provision.length === fc.point.length ? fc.provision : level(q).values;
    return {
      load: [xs, load, ahead(level(0.5).values), ahead(level(0.1).values), ahead(level(0.9).values), ahead(provision)],
      replicas: replicaColumns(xs, nh, changes, load.map(need), ahead(provision).map((v, i) => (i < nh ? null : need(v))), now),
      accuracy: [
        recs.accuracy.map((w) => Date.parse(w.start) / 1000),
        recs.accuracy.map((w) => 100 * w.accuracy.wape),
        recs.accuracy.map((w) => 100 * w.accuracy.bias),
        recs.accuracy.map((w) => 100 * w.accuracy.coverage),
      ],
      marks: sparse(spans, range / 200, MAX_MARKERS),
      stale: sparse(stale, 0, MAX_MARKERS),
      events,
      quantile: q,
      last,
    };
  }

  function width(el) {
    return Math.max(320, el.clientWidth);
  }

  function opts(el, title, series, extra) {
    return Object.assign(
      {
        width: width(el),
        height: 260,
        cursor: { sync: { key: "prescale-" + name }, drag: { x: true, y: false } },
        scales: { x: { time: true } },
        legend: { live: true },
        series: [{}].concat(series),
        hooks: {
          setSelect: [() => (page.zoomed = true)],
        },
      },
      extra || {}
    );
  }

  function make(data) {
    const stepped = uPlot.paths.stepped({ align: 1 });
    const lq = "q" + data.quantile;
    const loadEl = document.getElementById("chart-load");
    page.charts.load = new uPlot(
      opts(loadEl, "load", [
        { label: "load", stroke: colors.load, width: 1.5, value: (u, v) => P.num(v) },
        { label: "median", stroke: colors.median, width: 1.5, value: (u, v) => P.num(v) },
        { label: "q0.1", stroke: colors.band, value: (u, v) => P.num(v) },
        { label: "q0.9", stroke: colors.band, value: (u, v) => P.num(v) },
        { label: "provisioned (" + lq + ")", stroke: colors.quantile, dash: [6, 4], width: 1.5, value: (u, v) => P.num(v) },
      ], {
        bands: [{ series: [4, 3], fill: colors.band }],
        hooks: {
          setSelect: [() => (page.zoomed = true)],
          drawClear: [(u) => shade(u, page.data.events.concat(page.data.stale, page.data.marks))],
        },
      }),
      data.load,
      loadEl
    );
    const repEl = document.getElementById("chart-replicas");
    page.charts.replicas = new uPlot(
      opts(repEl, "replicas", [
        { label: "recommended", stroke: colors.recommended, width: 2, paths: stepped },
        { label: "workload (HPA)", stroke: colors.current, width: 2, paths: stepped },
        { label: "reactive floor", stroke: colors.reactive, width: 1, paths: stepped, spanGaps: true },
        { label: "forecast needs", stroke: colors.need, dash: [6, 4], width: 1.5, paths: stepped, spanGaps: true },
      ], {
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] } }, // replicas from zero
        hooks: { setSelect: [() => (page.zoomed = true)], drawClear: [(u) => shade(u, page.data.events.concat(page.data.stale))] },
      }),
      data.replicas,
      repEl
    );
    const accEl = document.getElementById("chart-accuracy");
    const pct = (u, v) => (v === null || v === undefined ? "–" : v.toFixed(1) + "%");
    page.charts.accuracy = new uPlot(
      opts(accEl, "accuracy", [
        { label: "WAPE", stroke: colors.wape, width: 1.5, points: { show: true }, value: pct },
        { label: "bias", stroke: colors.bias, width: 1.5, points: { show: true }, value: pct },
        { label: "coverage", stroke: colors.coverage, width: 1.5, points: { show: true }, value: pct },
      ], { height: 200, cursor: { drag: { x: true, y: false } } }),
      data.accuracy,
      accEl
    );
    for (const [el, chart] of [[loadEl, "load"], [repEl, "replicas"], [accEl, "accuracy"]]) {
      el.addEventListener("dblclick", () => (page.zoomed = false));
      new ResizeObserver(() => page.charts[chart].setSize({ width: width(el), height: page.charts[chart].height })).observe(el);
    }
  }

  function summary(t, rec, now) {
    const m = t.model || {};
    const d = t.data || {};
    const a = t.accuracy || {};
    const s = t.spec;
    const item = (label, html) => "<div><dt>" + label + "</dt><dd>" + html + "</dd></div>";
    // A fit that failed to fetch repeats the fetch's error: shown once.
    const errs = [m.fitError && "fit: " + m.fitError, d.fetchError && !(m.fitError || "").includes(d.fetchError) && "fetch: " + d.fetchError].filter(Boolean);
    document.getElementById("summary").innerHTML =
      '<dl class="facts">' +
      item("replicas", rec ? '<b class="big">' + rec.replicas + "</b> " + P.esc(rec.won) + (rec.stale ? ' <span class="badge bad">stale for ' + P.esc(rec.staleFor) + "</span>" : "") : "–") +
      item("model", m.kind ? P.esc(m.kind) + " v" + m.generation + '<br><small class="muted">fitted ' + P.ago(m.fittedAt, now) + ", seasons " + P.esc((m.seasons || []).join(", ") || "none") + " steps</small>" : "not fitted yet") +
      item("load", d.observedAt ? P.num(d.observed) + '<br><small class="muted">observed ' + P.ago(d.observedAt, now) + "</small>" : "–") +
      item("live accuracy", a.points ? "WAPE " + P.pct(a.wape) + ", bias " + P.pct(a.bias) + ", coverage " + P.pct(a.coverage) + '<br><small class="muted">' + a.points + " forecasts scored</small>" : "none scored yet") +
      item("settings", "capacity " + P.num(s.capacityPerReplica) + "/replica, lead " + P.esc(s.leadTime) + (s.margin && s.margin !== "0s" ? " + " + P.esc(s.margin) : "") + ", q" + (s.quantile ?? 0.9) + ", " + (s.minReplicas ?? 1) + "–" + (s.maxReplicas ?? 100) + " replicas") +
      "</dl>" +
      (rec ? '<p class="reason"><b>Why:</b> ' + P.esc(rec.reason) + "</p>" : "") +
      (m.reason ? '<p class="reason"><b>Model:</b> ' + P.esc(m.reason) + "</p>" : "") +
      ((m.notes || []).length ? '<ul class="notes">' + m.notes.map((n) => "<li>" + P.esc(n) + "</li>").join("") + "</ul>" : "") +
      eventList(t.events || [], now) +
      errs.map((e) => '<p class="error">' + P.esc(e) + "</p>").join("");
  }

  // eventList lists the target's events around now with the effect each
  // gets, as the API says (page.eventList, for the tests of its wording).
  page.eventList = eventList;
  function eventList(events, now) {
    if (!events.length) return "";
    const effect = (e) =>
      e.effect === "learned"
        ? "load ×" + e.factor.toFixed(2) + " its usual at the peak, learned from " + e.learned + " past occurrences"
        : e.effect === "declared"
          ? (e.load ? "load " + P.num(e.load) + " at least" : "load ×" + e.factor + " its usual") + ", as declared" + (e.learned ? " (" + e.learned + " past occurrences seen)" : "")
          : e.others
            ? "no past occurrence of its own and nothing declared: load ×" + e.factor.toFixed(2) + " its usual at the peak, as " + e.others + " past events of this target went"
            : "no past occurrence and nothing declared: the forecast is widened ×" + e.factor;
    const when = (e) => new Date(e.start).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) + " (" + P.ago(e.start, now) + ")";
    return (
      '<h2>Known events</h2><ul id="events" class="notes">' +
      events.map((e) => "<li><b>" + P.esc(e.name) + "</b> " + P.esc(when(e)) + ", until " + new Date(e.end).toLocaleTimeString([], { timeStyle: "short" }) + ": " + P.esc(effect(e)) + "</li>").join("") +
      "</ul>"
    );
  }

  // charts shows the chart sections, or hides them while there is no model.
  function charts(shown) {
    document.querySelectorAll(".chart-box").forEach((el) => (el.hidden = !shown));
  }

  async function load() {
    const now = Date.now() / 1000;
    let t, fc, recs, anomalies, rec;
    try {
      t = await P.api(path);
      if (!t.model || !t.model.kind) {
        summary(t, t.recommendation, now * 1000);
        charts(false);
        P.problem({ message: "No model yet: " + (t.data && t.data.fetchError ? "its load cannot be read." : t.model && t.model.fitError ? "its fit failed." : "it waits for its first fit.") + " The charts appear once it has one." });
        return;
      }
      const q = t.spec.quantile || 0.9;
      const levels = [...new Set([0.1, 0.5, 0.9, q])].join(",");
      [rec, fc, recs, anomalies] = await Promise.all([
        P.api(path + "/recommendation"),
        P.api(path + "/forecast?history=" + HISTORY + "&horizon=1h&quantiles=" + levels),
        P.api(path + "/recommendations?start=" + new Date((now - 6 * 3600) * 1000).toISOString()),
        P.api(path + "/anomalies?start=" + new Date((now - 6 * 3600) * 1000).toISOString()),
      ]);
      P.problem(null);
    } catch (err) {
      if (t) summary(t, t.recommendation, now * 1000);
      P.problem(err, load);
      return;
    }
    document.getElementById("demo").hidden = t.origin !== "demo";
    charts(true);
    summary(t, rec, now * 1000);
    Object.assign(page, { status: t, recommendation: rec, forecast: fc, recommendations: recs, anomalies: anomalies.anomalies || [] });
    page.data = build(t, fc, recs, page.anomalies, now);
    document.getElementById("accuracy-empty").hidden = page.data.accuracy[0].length > 0;
    if (!page.charts.load) {
      make(page.data);
      performance.mark("prescale-target-rendered");
    } else {
      for (const k of ["load", "replicas", "accuracy"]) page.charts[k].setData(page.data[k], !page.zoomed);
    }
  }

  load();
  setInterval(load, REFRESH_MS);
})();
