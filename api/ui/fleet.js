// The fleet page: every target with a sparkline, its status and accuracy,
// sortable and filterable. Rows are rendered at once; a row's sparkline
// is fetched when it scrolls into view, a few at a time, so that a
// thousand targets cost one list call to show.
"use strict";

(function () {
  const P = window.prescale;
  const state = { targets: [], sort: "name", desc: false, sparks: new Map(), queue: [], inflight: 0, loaded: false };
  const body = document.querySelector("#targets tbody");
  const SPARK_W = 160;
  const SPARK_H = 28;
  const MAX_INFLIGHT = 6;
  const REFRESH_MS = 30000;

  const key = {
    name: (t) => t.spec.name,
    replicas: (t) => (t.recommendation ? t.recommendation.replicas : -1),
    status: (t) => P.status(t)[0],
    won: (t) => (t.recommendation ? t.recommendation.won : ""),
    model: (t) => (t.model && t.model.kind) || "",
    observed: (t) => (t.data ? t.data.observed : 0),
    wape: (t) => (t.accuracy && t.accuracy.points ? t.accuracy.wape : Infinity),
    coverage: (t) => (t.accuracy && t.accuracy.points ? t.accuracy.coverage : -1),
  };

  // errorBox shows an error; a long one opens on a click, so that one
  // target's error does not make its row a page long.
  function errorBox(e) {
    if (e.length <= 100) return '<div class="error">' + P.esc(e) + "</div>";
    return '<details class="error"><summary>' + P.esc(e.slice(0, 60)) + "… (" + e.length + " characters)</summary>" + P.esc(e) + "</details>";
  }

  function row(t, now) {
    const name = t.spec.name;
    const rec = t.recommendation;
    const [st, cls] = P.status(t);
    const href = "/targets/" + encodeURIComponent(name);
    const ns = t.spec.namespace ? '<br><small class="muted">' + P.esc(t.spec.namespace) + "</small>" : "";
    const origin = t.origin === "demo" ? ' <span class="badge warn">demo</span>' : "";
    // A fit that failed to fetch repeats the fetch's error: shown once.
    const fitErr = t.model && t.model.fitError;
    const fetchErr = t.data && t.data.fetchError;
    const errors = [fitErr, fetchErr && !(fitErr && fitErr.includes(fetchErr)) ? fetchErr : ""].filter(Boolean);
    const acc = t.accuracy && t.accuracy.points ? t.accuracy : null;
    return (
      '<tr data-name="' + P.esc(name) + '">' +
      '<td><a href="' + href + '">' + P.esc(name) + "</a>" + origin + ns + "</td>" +
      '<td class="spark-cell">' + (state.sparks.get(name) || P.sparkline([], 0, SPARK_W, SPARK_H)) + "</td>" +
      "<td>" + (rec ? "<b>" + rec.replicas + "</b>" + (rec.stale ? ' <span class="badge bad">stale</span>' : "") : "–") + "</td>" +
      '<td><span class="badge ' + cls + '">' + st + "</span></td>" +
      '<td class="why">' + (rec ? P.esc(rec.won) + '<br><small class="muted">' + P.esc(rec.reason) + "</small>" : "–") + "</td>" +
      "<td>" + (t.model && t.model.kind ? P.esc(t.model.kind) + " v" + t.model.generation + '<br><small class="muted">fitted ' + P.ago(t.model.fittedAt, now) + "</small>" : "not fitted yet") + "</td>" +
      "<td>" + (t.data && t.data.observedAt ? P.num(t.data.observed) + '<br><small class="muted">' + P.ago(t.data.observedAt, now) + "</small>" : "–") +
      errors.map(errorBox).join("") + "</td>" +
      "<td>" + (acc ? P.pct(acc.wape) : "–") + "</td>" +
      "<td>" + (acc ? P.pct(acc.coverage) + '<br><small class="muted">' + acc.points + " scored</small>" : "–") + "</td></tr>"
    );
  }

  function visible() {
    const q = document.getElementById("filter").value.trim().toLowerCase();
    const want = document.getElementById("state").value;
    const list = state.targets.filter((t) => {
      if (want && P.status(t)[0] !== want) return false;
      if (!q) return true;
      const rec = t.recommendation || {};
      const hay = [t.spec.name, t.spec.namespace, t.origin, t.model && t.model.kind, rec.won, rec.reason, t.data && t.data.fetchError, t.model && t.model.fitError];
      return hay.some((s) => s && String(s).toLowerCase().includes(q));
    });
    const k = key[state.sort];
    list.sort((a, b) => {
      const x = k(a);
      const y = k(b);
      const c = x < y ? -1 : x > y ? 1 : a.spec.name < b.spec.name ? -1 : 1;
      return state.desc ? -c : c;
    });
    return list;
  }

  let observer = null;
  function render() {
    const now = Date.now();
    const list = visible();
    body.innerHTML = list.map((t) => row(t, now)).join("");
    document.getElementById("count").textContent = list.length + " of " + state.targets.length + " target(s)";
    document.querySelectorAll("#targets th[data-key]").forEach((th) => {
      th.setAttribute("aria-sort", th.dataset.key === state.sort ? (state.desc ? "descending" : "ascending") : "none");
    });
    if (observer) observer.disconnect();
    observer = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          observer.unobserve(e.target);
          want(e.target.dataset.name);
        }
      },
      { rootMargin: "200px" }
    );
    body.querySelectorAll("tr").forEach((tr) => observer.observe(tr));
    if (!state.loaded) {
      state.loaded = true;
      performance.mark("prescale-fleet-rendered");
    }
  }

  // want queues the sparkline of a target, once per refresh.
  function want(name) {
    const t = state.targets.find((x) => x.spec.name === name);
    if (!t || !t.model || !t.model.kind) return; // no model, no forecast yet
    if (state.queue.includes(name)) return;
    state.queue.push(name);
    pump();
  }

  function pump() {
    while (state.inflight < MAX_INFLIGHT && state.queue.length) {
      const name = state.queue.shift();
      state.inflight++;
      P.api("/v1/targets/" + encodeURIComponent(name) + "/forecast?history=6h&horizon=1h&quantiles=0.5")
        .then((f) => {
          const median = f.quantiles.length ? f.quantiles[0].values : f.point;
          const svg = P.sparkline(f.history.concat(median), f.history.length, SPARK_W, SPARK_H);
          state.sparks.set(name, svg);
          const cell = body.querySelector('tr[data-name="' + CSS.escape(name) + '"] .spark-cell');
          if (cell) cell.innerHTML = svg;
        })
        .catch(() => {}) // no model yet: the row says so
        .finally(() => {
          state.inflight--;
          pump();
        });
    }
  }

  async function load() {
    try {
      const resp = await P.api("/v1/targets");
      state.targets = resp.targets || [];
      P.problem(null);
      document.getElementById("demo").hidden = !state.targets.some((t) => t.origin === "demo");
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
      render();
    } catch (err) {
      P.problem(err, load);
    }
  }

  document.querySelectorAll("#targets th[data-key]").forEach((th) => {
    th.tabIndex = 0;
    const sort = () => {
      state.desc = state.sort === th.dataset.key ? !state.desc : false;
      state.sort = th.dataset.key;
      render();
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (e) => e.key === "Enter" && sort());
  });
  document.getElementById("filter").addEventListener("input", render);
  document.getElementById("state").addEventListener("change", render);
  load();
  setInterval(load, REFRESH_MS);
  P.fleet = state;
})();
