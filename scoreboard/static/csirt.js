// The trainee workspace's CSIRT workflow: incident reports (RSIT form; filed, edited, withdrawn) and the
// shared indicator feed.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var rp = document.getElementById("panel-reports"), sp = document.getElementById("panel-sharing");
  if (!rp || !sp) return;
  var h = CR.h, taxonomy = null;

  function say(id, text) { document.getElementById(id).textContent = text || ""; }
  function when(t) { return t ? CR.when(t) : ""; }
  function list(v) { return v.split(/[\s,;]+/).filter(Boolean); }

  // ---- the RSIT pickers -------------------------------------------------------------------
  // both start on an empty "choose…" option the form requires: nothing is classified for the team
  var clsSel = document.getElementById("report-class"), typSel = document.getElementById("report-type");
  function fillTypes() {
    var c = (taxonomy || []).find(function (x) { return x.value === clsSel.value; });
    typSel.replaceChildren(h("option", { value: "" }, c ? "choose a type…" : "choose a class first…"));
    (c ? c.types : []).forEach(function (t) { typSel.appendChild(h("option", { value: t.value }, t.name)); });
  }
  function loadTaxonomy() {
    if (taxonomy) return Promise.resolve();
    return CR.api("GET", rp.dataset.rsit).then(function (res) {
      taxonomy = res.classes;
      clsSel.replaceChildren(h("option", { value: "" }, "choose a class…"));
      taxonomy.forEach(function (c) { clsSel.appendChild(h("option", { value: c.value }, c.name)); });
      fillTypes();
    });
  }
  clsSel.addEventListener("change", fillTypes);

  // ---- long text: a live counter, and a clear message (never a silent cut) past the limit --
  var limited = Array.prototype.slice.call(rp.querySelectorAll("textarea[data-limit]"));
  function count(ta) {
    var limit = +ta.dataset.limit, n = Array.from(ta.value).length;  // code points, as the server counts
    var out = document.getElementById(ta.id + "-count"), name = ta.name;
    var msg = n > limit ? "'" + name + "' holds " + n + " characters, " + (n - limit) + " more than the " + limit +
      " a report keeps: shorten it to file the report (nothing is cut)" : "";
    ta.setCustomValidity(msg);
    out.textContent = n + " / " + limit + (msg ? ": " + (n - limit) + " too many, shorten it (nothing is cut)" :
      n === limit ? ": the limit" : "");
    out.classList.toggle("over", n > limit);
    out.classList.toggle("full", n === limit);
  }
  limited.forEach(function (ta) { ta.addEventListener("input", function () { count(ta); }); count(ta); });
  function countAll() { limited.forEach(count); }

  // ---- reports ----------------------------------------------------------------------------
  function loadReports() {
    return CR.api("GET", rp.dataset.reports).then(function (res) {
      var body = document.querySelector("#reports-table tbody");
      body.replaceChildren();
      if (!res.reports.length) body.appendChild(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No report filed yet.")));
      if (!res.open && editing !== null) resetForm();
      res.reports.slice().reverse().forEach(function (r) {
        var mark = r.mark ? h("span", { title: r.mark.reason }, r.mark.earned + " pts" + (r.mark.counted ? "" : " (not counted)"))
          : h("span", { class: "muted" }, "at the end");
        body.appendChild(h("tr", { "data-testid": "report-row", dataset: { pk: r.pk } },
          h("td", {}, r.pk), h("td", { class: "wrap" }, r.title), h("td", {}, r.classification.label),
          h("td", {}, r.severity),
          h("td", {}, when(r.filed_at), r.edited_at ? h("small", { class: "muted", "data-testid": "report-edited" },
            " (edited ", when(r.edited_at), ")") : null),
          h("td", {}, mark),
          h("td", { class: "wrap" }, r.comments.map(function (c) { return h("div", { "data-testid": "report-comment" }, c.text); })),
          h("td", {}, res.open ? [
            h("button", { type: "button", "data-testid": "report-edit", onclick: function () { edit(r); } }, "Edit"),
            h("button", { type: "button", class: "danger", "data-testid": "report-withdraw", onclick: function () { withdraw(r); } },
              "Withdraw")] : null)));
      });
    }).catch(function (e) { say("report-error", e.message); });
  }

  // ---- editing and withdrawing one's own report (while the session runs) -----------------
  var form = document.getElementById("report-form"), editing = null;
  function setv(id, value) { document.getElementById(id).value = value === null || value === undefined ? "" : value; }

  function edit(r) {
    editing = r.pk;
    setv("report-title", r.title);
    clsSel.value = r.classification["class"];
    fillTypes();
    typSel.value = r.classification.type;
    setv("report-severity", r.severity);
    setv("report-attack", r.attack);
    setv("report-first-seen", r.first_seen_iso);
    setv("report-affected", r.affected.join(", "));
    setv("report-attackers", r.attackers.join(", "));
    setv("report-evidence", r.evidence.join(", "));
    setv("report-indicators", r.indicators.map(function (i) { return i.type + " " + i.value; }).join("\n"));
    setv("report-actions", r.actions);
    setv("report-description", r.description);
    countAll();
    say("report-error", "");
    say("report-ok", "");
    document.getElementById("report-form-title").textContent = "Edit report #" + r.pk;
    document.getElementById("report-submit").textContent = "Save report #" + r.pk;
    document.getElementById("report-cancel").hidden = false;
    document.getElementById("report-title").focus();
  }

  function resetForm() {
    editing = null;
    form.reset();
    fillTypes();
    countAll();
    document.getElementById("report-form-title").textContent = "File an incident report";
    document.getElementById("report-submit").textContent = "File report";
    document.getElementById("report-cancel").hidden = true;
  }
  document.getElementById("report-cancel").addEventListener("click", resetForm);

  function withdraw(r) {
    if (!window.confirm("Withdraw report #" + r.pk + " “" + r.title + "”? It will no longer count or be exported.")) return;
    CR.api("DELETE", rp.dataset.reports + "/" + r.pk).then(function () {
      if (editing === r.pk) resetForm();
      say("report-error", "");
      say("report-ok", "Withdrew report #" + r.pk + " “" + r.title + "”.");
      loadReports();
    }).catch(function (err) { say("report-error", err.message); });
  }

  function indicatorLines(text) {
    return text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean).map(function (l) {
      var i = l.search(/\s/);
      return i < 0 ? { type: l, value: "" } : { type: l.slice(0, i), value: l.slice(i).trim() };
    });
  }

  form.addEventListener("submit", function (e) {
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
    var pk = editing;
    CR.api(pk === null ? "POST" : "PUT", rp.dataset.reports + (pk === null ? "" : "/" + pk), body).then(function (r) {
      say("report-error", "");
      say("report-ok", (pk === null ? "Filed" : "Saved") + " report #" + r.pk + " “" + r.title + "” (" +
        r.classification.label + ").");
      resetForm();
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
      if (!res.indicators.length) body.appendChild(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "The feed is empty.")));
      res.indicators.slice().reverse().forEach(function (i) {
        var mark = i.mark ? h("span", { title: i.mark.reason }, i.mark.points + " pts") : h("span", { class: "muted" }, i.mine ? "at the end" : "");
        body.appendChild(h("tr", { "data-testid": "feed-row", dataset: { pk: i.pk, team: i.team, tlp: i.tlp } },
          h("td", {}, i.pk), h("td", {}, i.team + (i.mine ? " (you)" : "")), h("td", {}, i.type),
          h("td", { class: "wrap" }, h("code", {}, i.value)), h("td", {}, "TLP:" + i.tlp),
          h("td", { class: "wrap", "data-testid": "feed-comment" }, i.comment || ""), h("td", {}, when(i.published_at)),
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
