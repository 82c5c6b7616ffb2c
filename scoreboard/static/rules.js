// The workspace's rule editor: dry run, deploy, the team's rules, withdraw.
"use strict";
window.WS = window.WS || {};
WS.rules = function (base, alertView, showError) {
  var h = CR.h;

  function ruleText() { return document.getElementById("rule-editor").value; }

  document.getElementById("rule-dry-run").addEventListener("click", function () {
    var out = document.getElementById("dry-run-result");
    out.replaceChildren(h("p", { class: "muted" }, "running…"));
    CR.api("POST", base + "/dry-run", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      out.replaceChildren(h("p", { "data-testid": "dry-run-count" },
        "Would raise " + res.matches + " alert(s) over your events so far (nothing is kept, the score does not change)."));
      if (res.errors.length) out.appendChild(h("p", { class: "error" }, res.errors.map(function (e) { return e.message; }).join("; ")));
      if (res.warnings && res.warnings.length) out.appendChild(h("p", { class: "warning", "data-testid": "dry-run-warnings" },
        "Warnings: " + res.warnings.map(function (w) { return w.message; }).join("; ")));
      res.alerts.slice(0, 20).forEach(function (a) { out.appendChild(alertView(a)); });
    }).catch(function (e) { out.replaceChildren(); showError("rule-error", e); });
  });

  document.getElementById("rule-deploy").addEventListener("click", function () {
    CR.api("POST", base + "/rules", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      var msg = "Deployed rule #" + res.pk + " “" + res.title + "”.";
      if (res.warnings && res.warnings.length) msg += " Warnings: " + res.warnings.map(function (w) { return w.message; }).join("; ");
      document.getElementById("dry-run-result").replaceChildren(h("p", { class: "ok", "data-testid": "deploy-ok" }, msg));
      loadRules();
    }).catch(function (e) { showError("rule-error", e); });
  });

  function loadRules() {
    return CR.api("GET", base + "/rules").then(function (res) {
      var body = document.querySelector("#rules-table tbody");
      body.replaceChildren();
      res.rules.slice().reverse().forEach(function (r) {
        body.appendChild(h("tr", { "data-testid": "rule-row", dataset: { pk: r.pk } },
          h("td", {}, r.pk), h("td", {}, r.title), h("td", {}, h("code", {}, r.rule_id)),
          h("td", {}, new Date(r.deployed_at * 1000).toISOString()),
          h("td", {}, r.active ? (r.problem ? h("span", { class: "error" }, "broken: " + r.problem) : "active") : "withdrawn"),
          h("td", {},
            h("button", { type: "button", onclick: function () { document.getElementById("rule-editor").value = r.yaml; } }, "Edit copy"),
            r.active ? h("button", { type: "button", "data-testid": "rule-withdraw", onclick: function () { withdraw(r.pk); } }, "Withdraw") : null)));
      });
    }).catch(function (e) { showError("rule-error", e); });
  }

  function withdraw(pk) {
    CR.api("DELETE", base + "/rules/" + pk).then(loadRules).catch(function (e) { showError("rule-error", e); });
  }

  return { load: loadRules };
};
