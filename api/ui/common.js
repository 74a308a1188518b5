// prescale's pages: what the fleet and target pages share. The pages read
// the public REST API (/v1/...) with the browser's credentials, or with a
// bearer token the user pastes when the server admits no anonymous reads
// (kept in this tab's sessionStorage only). They never write.
"use strict";

const prescale = (window.prescale = window.prescale || {});

// api fetches a REST path and returns its JSON, or throws an Error whose
// message is the API's own (its "message" field) with the HTTP status.
prescale.api = async function (path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("prescale-token");
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { headers, credentials: "same-origin" });
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const err = new Error((body && body.message) || text || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return body;
};

// esc makes text safe inside HTML.
prescale.esc = function (s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
};

// ago says how long before now a time was ("3m 5s ago", "never").
prescale.ago = function (t, now) {
  if (!t) return "never";
  const s = Math.round(((now || Date.now()) - Date.parse(t)) / 1000);
  if (s < 0) return "in " + prescale.dur(-s);
  return prescale.dur(s) + " ago";
};

// dur writes seconds as "1h 2m", "3m 5s" or "42s".
prescale.dur = function (s) {
  if (s >= 86400) return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  if (s >= 3600) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  if (s >= 60) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return s + "s";
};

prescale.pct = (f) => (100 * f).toFixed(1) + "%";

// num writes a load with 4 significant digits at most.
prescale.num = function (v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  return v.toFixed(2);
};

// seconds parses the API's durations ("3m", "1h30m", "0.25s", "2d").
prescale.seconds = function (d) {
  if (!d) return 0;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const m of String(d).matchAll(/([0-9.]+)(ms|s|m|h|d|w)/g)) total += parseFloat(m[1]) * unit[m[2]];
  return total;
};

// status is a target's state in one word, and the CSS class that shows it.
prescale.status = function (t) {
  const rec = t.recommendation;
  if ((t.data && t.data.fetchError) || (t.model && t.model.fitError)) return ["error", "bad"];
  if (rec && rec.stale) return ["stale", "bad"];
  if (!t.model || !t.model.kind) return ["fitting", "warn"];
  return ["ok", "good"];
};

// problem shows an error above the page's content, or, for a 401, a form
// to give a bearer token; onToken is called once one is given.
prescale.problem = function (err, onToken) {
  const box = document.getElementById("problem");
  if (!err) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  if (err.status === 401) {
    box.innerHTML =
      '<p>This server admits no anonymous reads: ' + prescale.esc(err.message) + "</p>" +
      '<form id="token-form"><label>Bearer token <input id="token" type="password" autocomplete="off" size="40"></label> ' +
      '<button type="submit">Read with it</button> <small>kept in this tab only</small></form>';
    document.getElementById("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem("prescale-token", document.getElementById("token").value.trim());
      onToken();
    });
    return;
  }
  box.textContent = (err.status ? "HTTP " + err.status + ": " : "") + err.message;
};

// sparkline returns an SVG polyline of values (nulls are gaps) scaled to
// w×h, with the part from split on drawn as the forecast.
prescale.sparkline = function (values, split, w, h) {
  const finite = values.filter((v) => v !== null && isFinite(v));
  if (finite.length < 2) return '<svg class="spark" width="' + w + '" height="' + h + '" role="img" aria-label="no data yet"></svg>';
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) hi = lo + 1;
  const x = (i) => ((i / (values.length - 1)) * (w - 2) + 1).toFixed(1);
  const y = (v) => (h - 1 - ((v - lo) / (hi - lo)) * (h - 2)).toFixed(1);
  const path = (from, to) => {
    let d = "";
    let pen = "M";
    for (let i = from; i < to; i++) {
      const v = values[i];
      if (v === null || !isFinite(v)) {
        pen = "M";
        continue;
      }
      d += pen + x(i) + " " + y(v) + " ";
      pen = "L";
    }
    return d;
  };
  return (
    '<svg class="spark" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '" role="img" aria-label="load and forecast">' +
    '<path class="spark-load" d="' + path(0, split) + '"/>' +
    '<path class="spark-forecast" d="' + path(Math.max(split - 1, 0), values.length) + '"/>' +
    '<line class="spark-now" x1="' + x(split - 1) + '" x2="' + x(split - 1) + '" y1="0" y2="' + h + '"/></svg>'
  );
};
