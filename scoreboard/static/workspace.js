// The trainee workspace: tabs, alerts, score, hints, pcap and the live stream; the explorer (explorer.js),
// the packet drill-down (drill.js) and the rule editor (rules.js) are its parts.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("workspace");
  if (!root) return;
  var h = CR.h;
  var base = root.dataset.api;
  // the server's lists of tables (range.events): the host logs, and the Zeek logs whose records carry a uid
  WS.HOST_TABLES = JSON.parse(root.dataset.hostTables || "[]");
  WS.UID_TABLES = JSON.parse(root.dataset.uidTables || "[]");
  var clock = new CR.Clock(document.getElementById("ws-clock"), document.getElementById("ws-status"));
  var seen = { alerts: -1, rules: -1, hints: -1, score: null };

  function showError(id, err) {
    var e = document.getElementById(id);
    e.textContent = err ? (err.message || String(err)) : "";
    if (e.tagName === "PRE") e.hidden = !err;
  }

  // ---- tabs: click, or the arrow keys, Home and End as in any tab list ----------------------
  var tabs = Array.prototype.slice.call(document.querySelectorAll(".tabs [data-tab]"));
  function select(b) {
    tabs.forEach(function (x) {
      x.classList.toggle("active", x === b);
      x.setAttribute("aria-selected", x === b ? "true" : "false");
      x.tabIndex = x === b ? 0 : -1;
    });
    document.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.dataset.panel !== b.dataset.tab; });
    ({ rules: function () { rules.load(); }, alerts: loadAlerts, score: loadScore, hints: loadHints }[b.dataset.tab] || function () {})();
  }
  tabs.forEach(function (b, i) {
    b.addEventListener("click", function () { select(b); });
    b.addEventListener("keydown", function (e) {
      var j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (j === undefined) return;
      var t = tabs[(j + tabs.length) % tabs.length];
      e.preventDefault();
      select(t);
      t.focus();
    });
  });
  select(tabs[0]);

  // ---- alerts, score, hints --------------------------------------------------------------
  function alertView(a) {
    var evs = a.events || [];
    var keys = [];
    evs.forEach(function (ev) { Object.keys(ev).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    var trees = processTrees(evs);
    return h("details", { class: "alert", "data-testid": "alert", dataset: { id: a.id } },
      h("summary", {}, h("strong", {}, a.rule_title || a.rule_id), " · " + (a.level || "") + " · raised ", CR.when(a.raised_at),
        " · " + evs.length + " event(s)"),
      trees.length ? h("div", { class: "toolbar pivots" }, trees) : null,
      h("div", { class: "scroll" }, h("table", { class: "grid compact" },
        h("thead", {}, h("tr", {}, keys.map(function (k) { return h("th", {}, k); }))),
        h("tbody", {}, evs.map(function (ev) {
          return h("tr", {}, keys.map(function (k) { return h("td", {}, ev[k] === undefined ? "" : ev[k]); }));
        })))));
  }

  // an alert on host records: one button per node, to its processes around the node's first event
  // and the tree of that event's process (the explorer, on the Events tab)
  function processTrees(evs) {
    var hosts = [];
    return evs.filter(function (ev) {
      if ((WS.HOST_TABLES || []).indexOf(ev._path) < 0 || !ev.host || hosts.indexOf(ev.host) >= 0) return false;
      hosts.push(ev.host);
      return true;
    }).map(function (ev) {
      return h("button", { type: "button", "data-testid": "alert-proctree", dataset: { host: ev.host },
        title: "the processes on " + ev.host + " around " + CR.tod(ev.ts, true) + " UTC, and the tree of this event's process",
        onclick: function () {
          select(document.getElementById("tab-events"));
          explorer.processTree(ev.host, WS.hostPid(ev._path, ev), ev.ts);
        } }, "Process tree on " + ev.host);
    });
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
    explorer.onCount(o.events ? o.events[explorer.table()] : null);
    var active = (document.querySelector(".tabs .active") || {}).dataset || {};
    if (o.alerts !== seen.alerts) { seen.alerts = o.alerts; if (active.tab === "alerts") loadAlerts(); }
    var sc = JSON.stringify(o.score);
    if (sc !== seen.score) { seen.score = sc; if (active.tab === "score") loadScore(); }
    if (o.hints.length !== seen.hints) { seen.hints = o.hints.length; if (active.tab === "hints") loadHints(); }
    if (o.rules_deployed !== seen.rules) { seen.rules = o.rules_deployed; if (active.tab === "rules") rules.load(); }
  }

  var drills = WS.drill(base);
  var rules = WS.rules(base, alertView, showError);
  var explorer = WS.explorer(base, drills, rules, showError);
  WS.saved(document.getElementById("saved-searches").dataset.url, explorer);
  CR.follow(root.dataset.stream, base, update, null);
});
