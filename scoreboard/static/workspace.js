// The trainee workspace: event explorer with packet drill-down, rule editor, alerts, score, hints, pcap.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("workspace");
  if (!root) return;
  var h = CR.h;
  var base = root.dataset.api;
  var clock = new CR.Clock(document.getElementById("ws-clock"), document.getElementById("ws-status"));
  var state = { table: "conn", filters: [], from: "", to: "", q: "", query: "", offset: 0, limit: 50 };
  var FACETS = { conn: ["id.orig_h", "id.resp_h", "id.resp_p", "service", "conn_state"],
    dns: ["query", "qtype_name", "rcode_name", "id.orig_h"], http: ["host", "method", "status_code", "user_agent"],
    ssh: ["client", "server", "id.orig_h"], ftp: ["command", "reply_code", "user"], telnet: ["user", "direction"],
    arp: ["operation", "id.orig_h", "src_mac"] };
  var URL_KEYS = ["table", "query", "from", "to", "q"];
  var seen = { events: null, alerts: -1, rules: -1, hints: -1, score: null };

  function showError(id, err) {
    var e = document.getElementById(id);
    e.textContent = err ? (err.message || String(err)) : "";
    if (e.tagName === "PRE") e.hidden = !err;
  }

  // ---- tabs ------------------------------------------------------------------------------
  document.querySelectorAll(".tabs [data-tab]").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".tabs [data-tab]").forEach(function (x) { x.classList.toggle("active", x === b); });
      document.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.dataset.panel !== b.dataset.tab; });
      ({ rules: function () { rules.load(); }, alerts: loadAlerts, score: loadScore, hints: loadHints }[b.dataset.tab] || function () {})();
    });
  });

  // ---- events ----------------------------------------------------------------------------
  function eventsUrl() {
    var p = new URLSearchParams({ table: state.table, limit: state.limit, offset: state.offset });
    state.filters.forEach(function (f) { p.append("filter", f); });
    if (state.from) p.set("from", state.from);
    if (state.to) p.set("to", state.to);
    if (state.q) p.set("q", state.q);
    if (state.query) p.set("query", state.query);
    return base + "/events?" + p.toString();
  }

  // the search lives in the page's address: it survives a reload and can be shared
  function saveUrl() {
    var p = new URLSearchParams();
    URL_KEYS.forEach(function (k) { if (state[k] && !(k === "table" && state[k] === "conn")) p.set(k, state[k]); });
    history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p.toString() : "") + location.hash);
  }

  function restoreUrl() {
    var p = new URLSearchParams(location.search);
    var ids = { table: "event-table", query: "event-query", from: "event-from", to: "event-to", q: "event-search" };
    URL_KEYS.forEach(function (k) {
      if (!p.get(k)) return;
      state[k] = p.get(k);
      document.getElementById(ids[k]).value = p.get(k);
    });
  }

  function huntParams() {
    var p = new URLSearchParams({ table: state.table });
    if (state.query) p.set("query", state.query);
    if (state.from) p.set("from", state.from);
    if (state.to) p.set("to", state.to);
    return p;
  }

  var lastHunt = 0;
  function loadHunt() {
    lastHunt = Date.now();
    var hp = huntParams();
    hp.set("buckets", 60);
    CR.api("GET", base + "/events/histogram?" + hp.toString()).then(drawHistogram).catch(function () {});
    var fp = huntParams();
    (FACETS[state.table] || []).forEach(function (f) { fp.append("field", f); });
    CR.api("GET", base + "/events/facets?" + fp.toString()).then(drawFacets).catch(function () {});
  }

  function iso(t) { return new Date(t * 1000).toISOString(); }

  function drawHistogram(hg) {
    var svg = document.getElementById("event-histogram");
    var top = Math.max.apply(null, hg.counts.concat([1]));
    var w = 600 / Math.max(hg.counts.length, 1);
    svg.replaceChildren.apply(svg, hg.counts.map(function (c, i) {
      var from = hg.start + i * hg.width, to = from + hg.width;
      var bar = CR.s("rect", { x: i * w + 0.5, width: Math.max(w - 1, 1), y: 60 - 58 * c / top, height: 58 * c / top,
        "data-testid": "histogram-bar" }, CR.s("title", {}, c + " hits from " + iso(from)));
      bar.addEventListener("click", function () {  // zoom into this bucket
        state.from = iso(from); state.to = iso(to);
        document.getElementById("event-from").value = state.from;
        document.getElementById("event-to").value = state.to;
        apply();
      });
      return bar;
    }));
    document.getElementById("histogram-span").textContent = hg.total
      ? hg.total + " hits, " + iso(hg.start) + " – " + iso(hg.end) + " (click a bar to zoom in)" +
        (hg.partial ? "; only the newest events were counted in time: narrow the search" : "") : "no hits";
  }

  function quoted(v) { return typeof v === "number" ? String(v) : '"' + String(v).replace(/(["\\])/g, "\\$1") + '"'; }

  function refine(field, value, keep) {
    var term = (keep ? "" : "NOT ") + field + ":" + quoted(value);
    state.query = state.query ? "(" + state.query + ") AND " + term : term;
    document.getElementById("event-query").value = state.query;
    apply();
  }

  function drawFacets(res) {
    var box = document.getElementById("event-facets");
    box.replaceChildren();
    Object.keys(res.facets).forEach(function (f) {
      var items = res.facets[f];
      if (!items.length) return;
      box.appendChild(h("h4", {}, f));
      box.appendChild(h("ul", {}, items.map(function (it) {
        return h("li", { "data-testid": "facet-value", dataset: { field: f } }, String(it.value), " ",
          h("small", { class: "muted" }, it.count),
          h("button", { type: "button", title: "only these", "data-testid": "facet-in",
            onclick: function () { refine(f, it.value, true); } }, "+"),
          h("button", { type: "button", title: "all but these", "data-testid": "facet-out",
            onclick: function () { refine(f, it.value, false); } }, "−"));
      })));
    });
    if (res.sampled) box.appendChild(h("p", { class: "muted", "data-testid": "facet-sample" },
      "top values of the newest " + res.sampled + " hits"));
  }

  function apply() {
    state.offset = 0;
    saveUrl();
    loadEvents();
    loadHunt();
  }

  function loadEvents() {
    return CR.api("GET", eventsUrl()).then(function (page) {
      showError("event-error", null);
      var head = document.querySelector("#events-table thead"), body = document.querySelector("#events-table tbody");
      var cols = page.columns;
      // "row": the event's row id, what a report's evidence cites as table:row (e.g. conn:42)
      head.replaceChildren(h("tr", {}, h("th", { class: "num", title: "cite it in a report as " + page.table + ":row" }, "row"),
        cols.map(function (c) { return h("th", {}, c); })));
      body.replaceChildren();
      page.events.forEach(function (ev) {
        body.appendChild(h("tr", { class: "clickable", "data-testid": "event-row", dataset: { rowid: ev._rowid },
          title: "show this connection's packets", onclick: function () { drills.open(page.table, ev._rowid); } },
          h("td", { class: "num", "data-testid": "event-rowid", title: page.table + ":" + ev._rowid }, ev._rowid),
          cols.map(function (c) { return h("td", {}, ev[c] === undefined ? "" : ev[c]); })));
      });
      var to = Math.min(page.offset + page.limit, page.total);
      document.getElementById("event-range").textContent =
        page.total ? (page.offset + 1) + "–" + to + " of " + page.total + (page.total_capped ? "+" : "") +
          " (newest first)" + (page.total_partial ? "; counting stopped at its time limit: narrow the search" : "")
          : "no events";
      document.getElementById("event-newer").disabled = page.offset === 0;
      document.getElementById("event-older").disabled = to >= page.total;
    }).catch(function (e) { showError("event-error", e); });
  }

  document.getElementById("event-filter").addEventListener("submit", function (e) {
    e.preventDefault();
    state.table = document.getElementById("event-table").value;
    state.filters = document.getElementById("event-filters").value.split(";").map(function (x) { return x.trim(); }).filter(Boolean);
    state.from = document.getElementById("event-from").value.trim();
    state.to = document.getElementById("event-to").value.trim();
    state.q = document.getElementById("event-search").value.trim();
    state.query = document.getElementById("event-query").value.trim();
    apply();
  });
  document.getElementById("event-table").addEventListener("change", function () {
    // another table has other fields: the previous table's filter would not apply there
    document.getElementById("event-filters").value = "";
    document.getElementById("event-query").value = "";
    document.getElementById("event-apply").click();
  });
  document.getElementById("event-newer").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - state.limit); loadEvents();
  });
  document.getElementById("event-older").addEventListener("click", function () {
    state.offset += state.limit; loadEvents();
  });

  // ---- alerts, score, hints --------------------------------------------------------------
  function alertView(a) {
    var evs = a.events || [];
    var keys = [];
    evs.forEach(function (ev) { Object.keys(ev).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    return h("details", { class: "alert", "data-testid": "alert", dataset: { id: a.id } },
      h("summary", {}, h("strong", {}, a.rule_title || a.rule_id), " · " + (a.level || "") + " · raised " + a.raised_at +
        " · " + evs.length + " event(s)"),
      h("div", { class: "scroll" }, h("table", { class: "grid compact" },
        h("thead", {}, h("tr", {}, keys.map(function (k) { return h("th", {}, k); }))),
        h("tbody", {}, evs.map(function (ev) {
          return h("tr", {}, keys.map(function (k) { return h("td", {}, ev[k] === undefined ? "" : ev[k]); }));
        })))));
  }

  function loadAlerts() {
    return CR.api("GET", base + "/alerts").then(function (res) {
      var box = document.getElementById("alerts-list");
      box.replaceChildren();
      if (!res.alerts.length) box.appendChild(h("p", { class: "muted" }, "No alert yet. Deploy a rule from the Rules tab."));
      res.alerts.slice().reverse().forEach(function (a) { box.appendChild(alertView(a)); });
    });
  }

  function loadScore() {
    return CR.api("GET", base + "/score").then(function (s) {
      // replaceChildren() writes a null argument as the text "null": build the children with h(), which skips it
      var steps = s.revealed && s.steps ? " / " + s.steps.length : "";
      document.getElementById("score-summary").replaceChildren(h("div", {}, h("p", { class: "figures" },
        h("span", {}, "Score ", h("strong", {}, s.score)),
        h("span", {}, "Steps detected ", h("strong", {}, s.steps_detected + steps)),
        h("span", {}, "Precision ", h("strong", {}, CR.pct(s.precision))),
        h("span", {}, "MTTD ", h("strong", {}, CR.dur(s.mttd_seconds))),
        h("span", {}, "False positives ", h("strong", {}, s.false_positives))),
        s.revealed ? h("p", { class: "muted", "data-testid": "score-final" }, "The session has ended: this is your final score, with every step you detected and missed.")
          : h("p", { class: "muted" }, "Which attack step each detection found, and what you missed, shows when the session ends.")));
      var body = document.querySelector("#ledger tbody");
      body.replaceChildren();
      s.ledger.forEach(function (e) {
        body.appendChild(h("tr", { "data-testid": "ledger-row" },
          h("td", { class: "num " + (e.points > 0 ? "ok" : e.points < 0 ? "bad" : "") }, (e.points > 0 ? "+" : "") + e.points),
          h("td", { class: "wrap" }, e.reason || ""), h("td", {}, e.rule_id || ""), h("td", {}, e.alert_id || "")));
      });
    }).catch(function () {});
  }

  function loadHints() {
    return CR.api("GET", base + "/hints").then(function (res) {
      var ul = document.getElementById("hints-list");
      ul.replaceChildren();
      if (!res.hints.length) ul.appendChild(h("li", { class: "muted" }, "No hint released to your team."));
      res.hints.forEach(function (x) {
        ul.appendChild(h("li", { "data-testid": "hint" }, x.text, h("small", { class: "muted" },
          " (−" + x.cost + " points" + (x.step ? ", step " + x.step : "") + ")")));
      });
    });
  }

  // ---- pcap ------------------------------------------------------------------------------
  document.getElementById("pcap-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var p = new URLSearchParams();
    ["from", "to", "bpf"].forEach(function (k) {
      var v = document.getElementById("pcap-" + k).value.trim();
      if (v) p.set(k, v);
    });
    fetch(base + "/pcap?" + p.toString(), { credentials: "same-origin" }).then(async function (r) {
      if (!r.ok) {
        var d = null;
        try { d = await r.json(); } catch (x) { d = null; }
        throw new Error((d && d.error) || r.statusText);
      }
      var blob = await r.blob();
      var cd = r.headers.get("Content-Disposition") || "";
      var m = /filename="([^"]+)"/.exec(cd);
      var a = h("a", { href: URL.createObjectURL(blob), download: m ? m[1] : "capture.pcap" });
      document.body.appendChild(a); a.click(); a.remove();
      showError("pcap-error", null);
    }).catch(function (err) { showError("pcap-error", err); });
  });

  // ---- live ------------------------------------------------------------------------------
  function update(o) {
    clock.set(o);
    document.getElementById("ws-score").textContent = o.score ? o.score.score : "–";
    document.getElementById("ws-alerts").textContent = o.alerts;
    var n = o.events ? o.events[state.table] : null;
    if (document.getElementById("event-tail").checked && state.offset === 0 && n !== seen.events) {
      seen.events = n;
      loadEvents();
      if (Date.now() - lastHunt > 5000) loadHunt();  // the histogram and facets follow, at most every 5 s
    }
    var active = (document.querySelector(".tabs .active") || {}).dataset || {};
    if (o.alerts !== seen.alerts) { seen.alerts = o.alerts; if (active.tab === "alerts") loadAlerts(); }
    var sc = JSON.stringify(o.score);
    if (sc !== seen.score) { seen.score = sc; if (active.tab === "score") loadScore(); }
    if (o.hints.length !== seen.hints) { seen.hints = o.hints.length; if (active.tab === "hints") loadHints(); }
    if (o.rules_deployed !== seen.rules) { seen.rules = o.rules_deployed; if (active.tab === "rules") rules.load(); }
  }

  var drills = WS.drill(base);
  var rules = WS.rules(base, alertView, showError);
  restoreUrl();
  saveUrl();
  loadEvents();
  loadHunt();
  CR.follow(root.dataset.stream, base, update, null);
});
