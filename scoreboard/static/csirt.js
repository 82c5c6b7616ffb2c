// The trainee workspace's CSIRT workflow: incident reports (RSIT form) and the shared indicator feed.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var rp = document.getElementById("panel-reports"), sp = document.getElementById("panel-sharing");
  if (!rp || !sp) return;
  var h = CR.h, taxonomy = null;

  function say(id, text) { document.getElementById(id).textContent = text || ""; }
  function when(t) { return t ? new Date(t * 1000).toISOString().replace(".000Z", "Z") : ""; }
  function list(v) { return v.split(/[\s,;]+/).filter(Boolean); }

  // ---- the RSIT pickers -------------------------------------------------------------------
  var clsSel = document.getElementById("report-class"), typSel = document.getElementById("report-type");
  function fillTypes() {
    var c = (taxonomy || []).find(function (x) { return x.value === clsSel.value; });
    typSel.replaceChildren.apply(typSel, (c ? c.types : []).map(function (t) {
      return h("option", { value: t.value }, t.name);
    }));
  }
  function loadTaxonomy() {
    if (taxonomy) return Promise.resolve();
    return CR.api("GET", rp.dataset.rsit).then(function (res) {
      taxonomy = res.classes;
      clsSel.replaceChildren.apply(clsSel, taxonomy.map(function (c) { return h("option", { value: c.value }, c.name); }));
      fillTypes();
    });
  }
  clsSel.addEventListener("change", fillTypes);

  // ---- reports ----------------------------------------------------------------------------
  function loadReports() {
    return CR.api("GET", rp.dataset.reports).then(function (res) {
      var body = document.querySelector("#reports-table tbody");
      body.replaceChildren();
      if (!res.reports.length) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No report filed yet.")));
      res.reports.slice().reverse().forEach(function (r) {
        var mark = r.mark ? h("span", { title: r.mark.reason }, r.mark.earned + " pts" + (r.mark.counted ? "" : " (not counted)"))
          : h("span", { class: "muted" }, "at the end");
        body.appendChild(h("tr", { "data-testid": "report-row", dataset: { pk: r.pk } },
          h("td", {}, r.pk), h("td", { class: "wrap" }, r.title), h("td", {}, r.classification.label),
          h("td", {}, r.severity), h("td", {}, when(r.filed_at)), h("td", {}, mark),
          h("td", { class: "wrap" }, r.comments.map(function (c) { return h("div", { "data-testid": "report-comment" }, c.text); }))));
      });
    }).catch(function (e) { say("report-error", e.message); });
  }

  function indicatorLines(text) {
    return text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean).map(function (l) {
      var i = l.search(/\s/);
      return i < 0 ? { type: l, value: "" } : { type: l.slice(0, i), value: l.slice(i).trim() };
    });
  }

  document.getElementById("report-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var v = function (id) { return document.getElementById(id).value.trim(); };
    var body = {
      title: v("report-title"), classification: { "class": clsSel.value, type: typSel.value },
      severity: v("report-severity"), attack: v("report-attack") || null, first_seen: v("report-first-seen") || null,
      affected: list(v("report-affected")), attackers: list(v("report-attackers")), evidence: list(v("report-evidence")),
      indicators: indicatorLines(document.getElementById("report-indicators").value),
      actions: v("report-actions"), description: v("report-description")
    };
    say("report-ok", "");
    CR.api("POST", rp.dataset.reports, body).then(function (r) {
      say("report-error", "");
      say("report-ok", "Filed report #" + r.pk + " “" + r.title + "” (" + r.classification.label + ").");
      document.getElementById("report-form").reset();
      fillTypes();
      loadReports();
    }).catch(function (err) { say("report-error", err.message); });
  });

  // ---- the feed ---------------------------------------------------------------------------
  function toRule(pk, deploy) {
    return CR.api("POST", sp.dataset.feed + "/" + pk + "/rule", { deploy: deploy }).then(function (res) {
      say("indicator-error", "");
      document.getElementById("rule-editor").value = res.yaml;
      document.getElementById("tab-rules").click();
      if (deploy) document.getElementById("dry-run-result").replaceChildren(h("p", { class: "ok", "data-testid": "deploy-ok" },
        "Deployed rule #" + res.deployed.pk + " “" + res.deployed.title + "” from indicator #" + pk + "."));
    }).catch(function (err) { say("indicator-error", err.message); });
  }

  function loadFeed() {
    return CR.api("GET", sp.dataset.feed).then(function (res) {
      var body = document.querySelector("#feed-table tbody");
      body.replaceChildren();
      if (!res.indicators.length) body.appendChild(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "The feed is empty.")));
      res.indicators.slice().reverse().forEach(function (i) {
        var mark = i.mark ? h("span", { title: i.mark.reason }, i.mark.points + " pts") : h("span", { class: "muted" }, i.mine ? "at the end" : "");
        body.appendChild(h("tr", { "data-testid": "feed-row", dataset: { pk: i.pk, team: i.team, tlp: i.tlp } },
          h("td", {}, i.pk), h("td", {}, i.team + (i.mine ? " (you)" : "")), h("td", {}, i.type),
          h("td", { class: "wrap" }, h("code", {}, i.value)), h("td", {}, "TLP:" + i.tlp), h("td", {}, when(i.published_at)),
          h("td", {}, mark),
          h("td", {}, i.type === "hash" ? null : [
            h("button", { type: "button", "data-testid": "indicator-to-rule", onclick: function () { toRule(i.pk, false); } }, "To rule"),
            h("button", { type: "button", "data-testid": "indicator-deploy", onclick: function () { toRule(i.pk, true); } }, "Deploy rule")])));
      });
    }).catch(function (e) { say("indicator-error", e.message); });
  }

  document.getElementById("indicator-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var v = function (id) { return document.getElementById(id).value.trim(); };
    CR.api("POST", sp.dataset.feed, { type: v("indicator-type"), value: v("indicator-value"), tlp: v("indicator-tlp"),
                                      comment: v("indicator-comment") }).then(function () {
      say("indicator-error", "");
      document.getElementById("indicator-value").value = "";
      document.getElementById("indicator-comment").value = "";
      loadFeed();
    }).catch(function (err) { say("indicator-error", err.message); });
  });

  document.getElementById("tab-reports").addEventListener("click", function () { loadTaxonomy().then(loadReports); });
  document.getElementById("tab-sharing").addEventListener("click", loadFeed);
  setInterval(function () { if (!sp.hidden) loadFeed(); }, 10000);
});
