/* finsentry dashboard: plain JS, no build step, one vendored library (uPlot).
 *
 * Everything shown comes from the JSON API of the same app. Text from the API (titles, sources,
 * keys, words, names) only ever reaches the page through textContent or setAttribute — never
 * innerHTML — so a crafted headline is shown as the text it is.
 * The page polls every few seconds while "live" is ticked; a refresh keeps the chosen key, the
 * chosen point and keyboard focus where they were.
 */
(function () {
  "use strict";

  var REFRESH_MS = 5000;
  var KEYS_EVERY = 6; // refresh the key list every 6th tick (30 s)
  var COLORS = { neg: "#d64545", neu: "#b8bcc4", pos: "#3f9b5a", vol: "#4a6fa5", alert: "#f2b134" };

  var state = {
    key: "all",
    since: "24h",
    every: "15min",
    keys: [],
    alerts: [],
    points: [],
    selected: null, // index into points
    selectedT: null, // bucket start (epoch s) of the chosen point: survives a refresh
    tick: 0,
    timer: null,
    busy: false,
    alertsSig: "",
    silencesSig: "",
    keysSig: "",
  };
  var charts = { share: null, volume: null, data: null, width: 0 };

  // -- small helpers ---------------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }

  /** Build an element; string children become text nodes (never parsed as HTML). */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var v = attrs[name];
        if (v === null || v === undefined || v === false) return;
        if (name === "text") el.textContent = String(v);
        else if (name === "className") el.className = v;
        else if (name.slice(0, 2) === "on") el.addEventListener(name.slice(2), v);
        else el.setAttribute(name, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /** "2026-12-04 18:45 UTC" from an ISO string or epoch seconds. */
  function fmtTime(t, withDate) {
    var d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    if (isNaN(d.getTime())) return String(t);
    var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (withDate === false) return hm;
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + hm;
  }

  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 100) + "%"; }

  function num(v, digits) {
    if (v === null || v === undefined || isNaN(Number(v))) return "–";
    return Number(v).toFixed(digits === undefined ? 2 : digits);
  }

  /** Seconds of a pandas frequency (5min, 1h, 1D). */
  function freqSeconds(every) {
    var m = /^(\d+)\s*(min|h|D)$/.exec(every);
    if (!m) return 3600;
    return Number(m[1]) * { min: 60, h: 3600, D: 86400 }[m[2]];
  }

  // -- API ----------------------------------------------------------------------------------
  function token() { return sessionStorage.getItem("finsentry.token") || ""; }

  function banner(text) {
    var b = $("banner");
    if (!text) { b.hidden = true; clear(b); return; }
    b.textContent = text;
    b.hidden = false;
  }

  function api(path, opts) {
    opts = opts || {};
    var headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: opts.method || "GET",
      headers: headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: "no-store",
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.status === 401 || res.status === 403) {
          banner("This server needs an API token: enter it at the top right and press Save.");
          $("token").focus();
        }
        if (!res.ok) {
          var msg = data && data.error ? data.error : res.status + " " + res.statusText;
          throw new Error(msg);
        }
        return data;
      });
    });
  }

  function query(params) {
    return Object.keys(params)
      .filter(function (k) { return params[k] !== null && params[k] !== undefined && params[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); })
      .join("&");
  }

  // -- health -------------------------------------------------------------------------------
  function loadHealth() {
    return fetch("health", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (hl) {
        var el = $("health");
        el.className = "badge " + (hl.status === "ok" ? "ok" : "degraded");
        var parts = [hl.status];
        if (hl.model_version) parts.push("model " + hl.model_version);
        if (hl.consumer_lag !== null && hl.consumer_lag !== undefined) parts.push("lag " + hl.consumer_lag);
        if (hl.lease_holder) parts.push("detector " + hl.lease_holder);
        el.textContent = parts.join(" · ");
      })
      .catch(function () {
        var el = $("health");
        el.className = "badge down";
        el.textContent = "server unreachable";
      });
  }

  // -- key picker ---------------------------------------------------------------------------
  function loadKeys() {
    return api("api/keys?" + query({ since: state.since })).then(function (data) {
      state.keys = (data && data.keys) || [];
      var sig = JSON.stringify(state.keys);
      if (sig !== state.keysSig) { state.keysSig = sig; renderKeys(); }
    });
  }

  function renderKeys() {
    var list = $("key-list");
    var focused = document.activeElement && document.activeElement.getAttribute("data-key");
    var filter = $("key-filter").value.trim().toLowerCase();
    var kind = $("key-kind").value;
    var total = state.keys.reduce(function (s, k) { return k.kind === "source" ? s + k.n : s; }, 0);
    var hasAll = state.keys.some(function (k) { return k.key === "all"; });
    var rows = (hasAll ? [] : [{ key: "all", kind: "all", n: total || null, n_neg: null }]).concat(state.keys);
    rows = rows.filter(function (k) {
      if (kind && k.kind !== kind) return false;
      return !filter || k.key.toLowerCase().indexOf(filter) >= 0;
    });
    clear(list);
    rows.slice(0, 300).forEach(function (k) {
      var share = k.n && k.n_neg !== null ? k.n_neg / k.n : null;
      var title = k.n === null ? k.key : k.key + ": " + k.n + " articles" +
        (share === null ? "" : ", " + pct(share) + " negative") +
        (k.stories !== undefined && k.stories !== null ? ", " + k.stories + " stories" : "");
      var btn = h("button", {
        type: "button",
        "data-key": k.key,
        "aria-pressed": String(k.key === state.key),
        title: title,
        onclick: function () { chooseKey(k.key); },
      },
        h("span", { className: "k", text: k.key }),
        h("span", { className: "n", text: k.n === null ? "" : String(k.n) }),
        share === null ? null : h("span", { className: "negbar", "aria-hidden": "true" },
          h("span", { style: "width:" + Math.round(share * 100) + "%" })));
      list.appendChild(h("li", null, btn));
    });
    if (!rows.length) list.appendChild(h("li", { className: "muted", text: "no matching key" }));
    if (focused) {
      var again = list.querySelector('button[data-key="' + cssEscape(focused) + '"]');
      if (again) again.focus();
    }
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
  }

  function chooseKey(key) {
    if (key === state.key) return;
    state.key = key;
    state.selected = null;
    state.selectedT = null;
    renderKeys();
    clear($("stories")).appendChild(h("p", { className: "muted", text: "No point chosen yet." }));
    $("point").textContent = "";
    loadSeries(true);
  }

  // -- chart --------------------------------------------------------------------------------
  function loadSeries(fresh) {
    var q = query({ key: state.key, since: state.since, every: state.every });
    return api("api/series?" + q).then(function (data) {
      state.points = (data && data.points) || [];
      state.selected = null;
      if (fresh) state.selectedT = null;
      for (var i = 0; i < state.points.length && state.selectedT !== null; i++) {
        if (Date.parse(state.points[i].t) / 1000 === state.selectedT) state.selected = i;
      }
      renderChart(fresh);
      renderSummary();
    }).catch(function (err) {
      state.points = [];
      renderChart(true);
      $("chart-summary").textContent = "error: " + err.message;
    });
  }

  function chartData() {
    var xs = [], neg = [], negneu = [], all = [], n = [], nNeg = [];
    state.points.forEach(function (p) {
      xs.push(Date.parse(p.t) / 1000);
      var has = p.n > 0;
      neg.push(has ? p.n_neg / p.n : null);
      negneu.push(has ? (p.n_neg + p.n_neu) / p.n : null);
      all.push(has ? 1 : null);
      n.push(p.n);
      nNeg.push(p.n_neg);
    });
    return { share: [xs, all, negneu, neg], volume: [xs, n, nNeg] };
  }

  function keyAlerts() {
    return state.alerts.filter(function (a) { return a.series_key === state.key; });
  }

  /** uPlot hook: shade alert periods and the chosen bucket behind the series. */
  function drawMarks(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    var xMin = u.scales.x.min, xMax = u.scales.x.max;
    var step = freqSeconds(state.every);
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, top, u.bbox.width, height);
    ctx.clip();
    keyAlerts().forEach(function (a) {
      var start = Date.parse(a.opened_at) / 1000;
      var end = a.resolved_at ? Date.parse(a.resolved_at) / 1000 : xMax;
      if (end < xMin || start > xMax) return;
      var x0 = u.valToPos(Math.max(start, xMin), "x", true);
      var x1 = u.valToPos(Math.min(end, xMax), "x", true);
      ctx.fillStyle = "rgba(242,177,52,0.45)";
      ctx.fillRect(x0, top, Math.max(x1 - x0, 3), height);
      ctx.fillStyle = "#8a5a00";
      ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
      ctx.fillText("alert #" + a.id, x0 + 3, top + 12 * devicePixelRatio);
    });
    if (state.selected !== null && state.points[state.selected]) {
      var t = Date.parse(state.points[state.selected].t) / 1000;
      var s0 = u.valToPos(t, "x", true), s1 = u.valToPos(t + step, "x", true);
      ctx.strokeStyle = "#1a73e8";
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.strokeRect(s0, top + 1, Math.max(s1 - s0, 2), height - 2);
    }
    ctx.restore();
  }

  /** x-axis labels in UTC, 24-hour: HH:MM, and the date (MM-DD) at midnight or for day steps. */
  function timeTicks(u, splits, axisIdx, space, incr) {
    return splits.map(function (t) {
      var d = new Date(t * 1000);
      var date = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
      if (incr >= 86400 || (d.getUTCHours() === 0 && d.getUTCMinutes() === 0)) return date;
      return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    });
  }

  function makeCharts(width) {
    var el = clear($("chart"));
    var data = chartData();
    var step = freqSeconds(state.every);
    var stepped = uPlot.paths.stepped({ align: 1 });
    var bars = uPlot.paths.bars({ align: 1, size: [0.92, Infinity] });
    var tz = function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); };
    var sync = uPlot.sync("finsentry");
    var xScale = { time: true, range: function (u, min, max) { return [min, max + step]; } };
    var common = {
      width: width,
      padding: [8, 24, null, null], // the same right edge on both charts: their x scales line up
      tzDate: tz,
      cursor: { sync: { key: sync.key }, drag: { x: false, y: false }, points: { show: false } },
      scales: { x: xScale },
    };
    var shareValue = function (field) {
      return function (u, v, si, idx) {
        var p = idx === null || idx === undefined ? null : state.points[idx];
        return p && p.n > 0 ? pct(p[field] / p.n) : "–";
      };
    };
    charts.share = new uPlot(Object.assign({}, common, {
      height: 210,
      scales: { x: xScale, y: { range: [0, 1] } },
      hooks: { draw: [drawMarks] }, // over the shares: they fill the whole panel
      axes: [
        { show: false },
        { values: function (u, vals) { return vals.map(function (v) { return Math.round(v * 100) + "%"; }); }, size: 50 },
      ],
      series: [
        { label: "UTC", value: function (u, v) { return v === null ? "–" : fmtTime(v); } },
        { label: "positive", stroke: COLORS.pos, fill: COLORS.pos, paths: stepped, width: 0, value: shareValue("n_pos") },
        { label: "neutral", stroke: COLORS.neu, fill: COLORS.neu, paths: stepped, width: 0, value: shareValue("n_neu") },
        { label: "negative", stroke: COLORS.neg, fill: COLORS.neg, paths: stepped, width: 0, value: shareValue("n_neg") },
      ],
    }), data.share, el);
    charts.volume = new uPlot(Object.assign({}, common, {
      height: 150,
      axes: [{ values: timeTicks, space: 60 }, { size: 50 }],
      hooks: { drawClear: [drawMarks] },
      series: [
        { label: "UTC", value: function (u, v) { return v === null ? "–" : fmtTime(v); } },
        { label: "articles", stroke: COLORS.vol, fill: "rgba(74,111,165,0.55)", paths: bars, width: 1 },
        { label: "negative", stroke: COLORS.neg, fill: "rgba(214,69,69,0.75)", paths: bars, width: 1 },
      ],
    }), data.volume, el);
    [charts.share, charts.volume].forEach(function (u) {
      u.over.addEventListener("click", function () {
        // the bar under the pointer spans [t, t + every): the last bucket starting at or
        // before the pointer (uPlot's own cursor index snaps to the nearest bucket start)
        if (u.cursor.left === undefined || u.cursor.left < 0) return;
        var at = u.posToVal(u.cursor.left, "x"), idx = -1;
        u.data[0].forEach(function (t, i) { if (t <= at) idx = i; });
        if (idx >= 0) selectPoint(idx, true);
      });
    });
    charts.width = width;
  }

  function renderChart(fresh) {
    var el = $("chart");
    var width = Math.max(el.clientWidth, 320);
    $("chart-title").textContent = state.key;
    if (fresh || !charts.share || Math.abs(width - charts.width) > 4) {
      if (charts.share) { charts.share.destroy(); charts.volume.destroy(); }
      makeCharts(width);
    } else {
      var data = chartData();
      charts.share.setData(data.share);
      charts.volume.setData(data.volume);
    }
    var xs = chartData().share[0];
    if (xs.length) {
      el.setAttribute("data-x-min", String(xs[0]));
      el.setAttribute("data-x-max", String(xs[xs.length - 1] + freqSeconds(state.every)));
    }
    el.setAttribute("data-points", String(state.points.length));
  }

  function renderSummary() {
    var n = 0, neg = 0;
    state.points.forEach(function (p) { n += p.n; neg += p.n_neg; });
    var open = keyAlerts().filter(function (a) { return a.state === "firing"; }).length;
    $("chart-summary").textContent = n + " articles, " + (n ? pct(neg / n) : "–") + " negative" +
      (open ? " · " + open + " alert firing" : "");
  }

  // -- the stories behind a point ----------------------------------------------------------
  function selectPoint(idx, load) {
    if (!state.points.length) return;
    idx = Math.max(0, Math.min(state.points.length - 1, idx));
    state.selected = idx;
    var p = state.points[idx];
    var t = Date.parse(p.t) / 1000, step = freqSeconds(state.every);
    state.selectedT = t;
    $("point").textContent = fmtTime(t) + "–" + fmtTime(t + step, false) + " UTC · " + p.n +
      " articles · " + (p.n ? pct(p.n_neg / p.n) : "–") + " negative, " +
      (p.n ? pct(p.n_neu / p.n) : "–") + " neutral, " + (p.n ? pct(p.n_pos / p.n) : "–") + " positive";
    if (charts.share) { charts.share.redraw(false); charts.volume.redraw(false); }
    if (load) loadStories();
  }

  function loadStories() {
    var p = state.points[state.selected];
    if (!p) return;
    var t = Date.parse(p.t) / 1000, step = freqSeconds(state.every);
    var q = query({
      key: state.key,
      since: new Date(t * 1000).toISOString(),
      until: new Date((t + step) * 1000).toISOString(),
      stories: "true",
      limit: 50,
    });
    var box = $("stories");
    $("stories-title").textContent = "Stories " + fmtTime(t) + "–" + fmtTime(t + step, false) + " UTC";
    api("api/articles?" + q).then(function (data) {
      renderStories((data && data.articles) || []);
    }).catch(function (err) {
      clear(box).appendChild(h("p", { text: "error: " + err.message }));
    });
  }

  function words(list) {
    var span = h("span");
    (list || []).slice(0, 6).forEach(function (w) {
      var word = Array.isArray(w) ? w[0] : w;
      var weight = Array.isArray(w) && w.length > 1 ? " (" + num(w[1]) + ")" : "";
      span.appendChild(h("span", { className: "word", title: String(word) + weight, text: String(word) }));
    });
    return span;
  }

  function safeLink(url, text) {
    if (typeof url === "string" && /^https?:\/\//i.test(url)) {
      return h("a", { href: url, rel: "noopener noreferrer", target: "_blank", text: text });
    }
    return document.createTextNode(text);
  }

  function probs(a) {
    var bar = h("span", {
      className: "probs",
      title: "negative " + num(a.p_neg) + " · neutral " + num(a.p_neu) + " · positive " + num(a.p_pos),
    });
    [["neg", a.p_neg], ["neu", a.p_neu], ["pos", a.p_pos]].forEach(function (x) {
      bar.appendChild(h("span", { className: x[0], style: "width:" + Math.round((x[1] || 0) * 100) + "%" }));
    });
    return bar;
  }

  function renderStories(list) {
    var box = clear($("stories"));
    if (!list.length) {
      box.appendChild(h("p", { className: "muted", text: "No stories in this bucket." }));
      return;
    }
    var body = h("tbody");
    list.forEach(function (a) {
      body.appendChild(h("tr", { "data-id": a.id },
        h("td", { className: "num", text: fmtTime(a.published_at, false) }),
        h("td", null, h("span", { className: "label " + String(a.label), text: a.label })),
        h("td", { className: "num" }, num(a.score), " ", probs(a)),
        h("td", null, h("span", { className: "title" }, safeLink(a.url, String(a.title || ""))),
          h("div", { className: "muted" }, String(a.source || "–"),
            a.copies > 1 ? " · " + a.copies + " copies" : "")),
        h("td", null, words(a.explanation))));
    });
    box.appendChild(h("table", { className: "stories" },
      h("thead", null, h("tr", null,
        h("th", { text: "time" }), h("th", { text: "label" }), h("th", { text: "score" }),
        h("th", { text: "title · source" }), h("th", { text: "why" }))),
      body));
  }

  // -- alerts -------------------------------------------------------------------------------
  function loadAlerts() {
    return api("api/alerts?" + query({ limit: 100 })).then(function (data) {
      state.alerts = (data && data.alerts) || [];
      // rebuild the list only when something changed: a card under the pointer stays put
      var sig = JSON.stringify(state.alerts);
      if (sig !== state.alertsSig) { state.alertsSig = sig; renderAlerts(); }
      if (charts.share) { charts.share.redraw(false); charts.volume.redraw(false); }
      renderSummary();
    }).catch(function (err) {
      state.alertsSig = "";
      clear($("alerts")).appendChild(h("p", { text: "error: " + err.message }));
    });
  }

  function who() { return $("who").value.trim() || "dashboard"; }

  function renderAlerts() {
    var box = $("alerts");
    var focused = document.activeElement && document.activeElement.getAttribute("data-focus");
    var open = {};
    box.querySelectorAll("details[open]").forEach(function (d) { open[d.getAttribute("data-id")] = true; });
    var filter = $("alert-state").value;
    var list = state.alerts.filter(function (a) { return !filter || a.state === filter; });
    clear(box);
    if (!list.length) box.appendChild(h("p", { className: "muted", text: "No alerts." }));
    list.forEach(function (a) { box.appendChild(alertCard(a, open[String(a.id)])); });
    if (focused) {
      var again = box.querySelector('[data-focus="' + cssEscape(focused) + '"]');
      if (again) again.focus();
    }
  }

  function alertCard(a, isOpen) {
    var ev = a.evidence || {};
    var facts = "negative " + pct(a.observed !== undefined ? a.observed : ev.share) + " vs baseline " +
      pct(a.baseline !== undefined ? a.baseline : ev.baseline_share) +
      " · lift " + num(a.lift !== undefined && a.lift !== null ? a.lift : ev.lift, 1) + "×" +
      (ev.n !== undefined ? " · n=" + ev.n : "") +
      (a.p_value !== undefined && a.p_value !== null ? " · p=" + Number(a.p_value).toExponential(1) : "");
    var when = "since " + fmtTime(a.opened_at) + (a.resolved_at ? ", resolved " + fmtTime(a.resolved_at) : "");
    var ackBtn = h("button", {
      type: "button",
      "data-focus": "ack-" + a.id,
      disabled: !!a.acked_at,
      onclick: function () { ack(a); },
    }, a.acked_at ? "Acknowledged" : "Acknowledge");
    var dur = h("select", { "aria-label": "silence duration", "data-focus": "dur-" + a.id },
      h("option", { value: "1h", text: "1 h" }), h("option", { value: "2h", text: "2 h", selected: true }),
      h("option", { value: "8h", text: "8 h" }), h("option", { value: "24h", text: "24 h" }));
    var silenceBtn = h("button", {
      type: "button",
      "data-focus": "silence-" + a.id,
      onclick: function () { silence(a, dur.value); },
    }, "Silence");
    var details = h("details", {
      "data-id": String(a.id),
      open: !!isOpen,
      ontoggle: function (e) { if (e.target.open) loadEvidence(a, e.target); },
    }, h("summary", { "data-focus": "ev-" + a.id, text: "Evidence" }), h("div", { className: "ev" }));
    if (isOpen) loadEvidence(a, details);
    return h("article", { className: "alert " + String(a.state), "data-alert-id": String(a.id) },
      h("div", { className: "head" },
        h("button", {
          type: "button", className: "key", "data-focus": "key-" + a.id,
          title: "show this key on the chart", onclick: function () { chooseKey(a.series_key); },
        }, String(a.series_key)),
        h("span", { className: "state", text: a.state }),
        h("span", { className: "muted", text: "#" + a.id + " · " + String(a.rule || "") })),
      h("div", { className: "facts", text: facts }),
      h("div", { className: "muted", text: when }),
      a.acked_at ? h("div", { className: "muted acked", text: "acked by " + (a.acked_by || "?") + " at " + fmtTime(a.acked_at) }) : null,
      details,
      h("div", { className: "actions" }, ackBtn, dur, silenceBtn));
  }

  function loadEvidence(a, details) {
    var box = details.querySelector(".ev");
    api("api/alerts/" + encodeURIComponent(a.id)).then(function (full) {
      var ev = (full && full.evidence) || {};
      clear(box);
      if (ev.window_start) {
        box.appendChild(h("div", { className: "muted", text: "window " + fmtTime(ev.window_start) + "–" + fmtTime(ev.window_end, false) + " UTC" }));
      }
      var topWords = (ev.top_words || []).map(function (w) { return Array.isArray(w) ? w[0] : w; });
      if (topWords.length) box.appendChild(h("div", null, "words: ", words(topWords)));
      var ol = h("ol");
      (ev.top_articles || []).forEach(function (s) {
        ol.appendChild(h("li", null, safeLink(s.url, String(s.title || "")),
          h("span", { className: "muted", text: " · " + String(s.source || "–") + " · score " + num(s.score) +
            (s.copies > 1 ? " · " + s.copies + " copies" : "") }),
          h("div", null, words(s.explanation))));
      });
      if (ol.childNodes.length) box.appendChild(ol);
      else box.appendChild(h("p", { className: "muted", text: "no stories in the evidence" }));
    }).catch(function (err) {
      clear(box).appendChild(h("p", { text: "error: " + err.message }));
    });
  }

  function ack(a) {
    api("api/alerts/" + encodeURIComponent(a.id) + "/ack", { method: "POST", body: { by: who() } })
      .then(function () { banner(""); return loadAlerts(); })
      .catch(function (err) { banner("ack failed: " + err.message); });
  }

  function silence(a, duration) {
    api("api/silences", {
      method: "POST",
      body: { matchers: { series_key: a.series_key }, duration: duration, comment: "from the dashboard (alert #" + a.id + ")", by: who() },
    }).then(function () { banner(""); return loadSilences(); })
      .catch(function (err) { banner("silence failed: " + err.message); });
  }

  // -- silences -----------------------------------------------------------------------------
  function loadSilences() {
    return api("api/silences").then(function (data) {
      var list = (data && data.silences) || [];
      var sig = JSON.stringify(list);
      if (sig === state.silencesSig) return;
      state.silencesSig = sig;
      var box = clear($("silences"));
      if (!list.length) box.appendChild(h("p", { className: "muted", text: "No active silence." }));
      list.forEach(function (s) {
        var what = Object.keys(s.matchers || {}).map(function (k) { return k + "=" + s.matchers[k]; }).join(", ");
        box.appendChild(h("div", { className: "silence", "data-silence-id": String(s.id) },
          h("span", { className: "what", text: what }),
          h("span", { className: "muted", text: "until " + fmtTime(s.ends_at) + (s.created_by ? " · " + s.created_by : "") }),
          h("button", {
            type: "button",
            onclick: function () {
              api("api/silences/" + encodeURIComponent(s.id), { method: "DELETE" })
                .then(loadSilences)
                .catch(function (err) { banner("expire failed: " + err.message); });
            },
          }, "Expire")));
      });
    }).catch(function (err) {
      state.silencesSig = "";
      clear($("silences")).appendChild(h("p", { text: "error: " + err.message }));
    });
  }

  // -- refresh loop -------------------------------------------------------------------------
  function refresh() {
    if (state.busy) return Promise.resolve();
    state.busy = true;
    var jobs = [loadHealth(), loadAlerts(), loadSilences(), loadSeries(false)];
    if (state.tick % KEYS_EVERY === 0) jobs.push(loadKeys().catch(function () {}));
    state.tick++;
    return Promise.all(jobs).then(function () {
      $("updated").textContent = "updated " + fmtTime(Date.now() / 1000, false) + " UTC";
      if (state.selected !== null) selectPoint(state.selected, false);
    }).catch(function () {}).then(function () { state.busy = false; });
  }

  function schedule() {
    if (state.timer) clearInterval(state.timer);
    state.timer = $("live").checked ? setInterval(refresh, REFRESH_MS) : null;
  }

  // -- wiring -------------------------------------------------------------------------------
  function init() {
    $("token").value = token();
    $("who").value = sessionStorage.getItem("finsentry.who") || "";
    $("token-form").addEventListener("submit", function (e) {
      e.preventDefault();
      sessionStorage.setItem("finsentry.token", $("token").value.trim());
      banner("");
      state.tick = 0;
      refresh();
    });
    $("who").addEventListener("change", function () { sessionStorage.setItem("finsentry.who", $("who").value.trim()); });
    $("key-filter").addEventListener("input", renderKeys);
    $("key-kind").addEventListener("change", renderKeys);
    $("alert-state").addEventListener("change", renderAlerts);
    $("live").addEventListener("change", schedule);
    $("range").addEventListener("change", function () {
      var v = $("range").value.split("|");
      state.since = v[0];
      state.every = v[1];
      state.selected = null;
      state.selectedT = null;
      loadSeries(true);
      loadKeys().catch(function () {});
    });
    $("chart").addEventListener("keydown", function (e) {
      if (!state.points.length) return;
      var last = state.points.length - 1;
      var cur = state.selected;
      if (cur === null) {
        cur = last;
        while (cur > 0 && state.points[cur].n === 0) cur--;
        if (e.key === "ArrowLeft" || e.key === "ArrowRight") { selectPoint(cur, false); e.preventDefault(); return; }
      }
      var moves = { ArrowLeft: cur - 1, ArrowRight: cur + 1, Home: 0, End: last, PageUp: cur - 10, PageDown: cur + 10 };
      if (e.key in moves) { selectPoint(moves[e.key], false); e.preventDefault(); }
      else if (e.key === "Enter" || e.key === " ") { selectPoint(cur, true); e.preventDefault(); }
    });
    // redraw at the new width when the chart's box changes (window resized, a scrollbar
    // appeared as the page grew)
    var resizeTimer = null;
    var onResize = function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (charts.share && Math.abs($("chart").clientWidth - charts.width) > 4) renderChart(false);
      }, 100);
    };
    if (window.ResizeObserver) new ResizeObserver(onResize).observe($("chart"));
    window.addEventListener("resize", onResize);
    var params = new URLSearchParams(location.search);
    if (params.get("key")) state.key = params.get("key");
    refresh();
    schedule();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
