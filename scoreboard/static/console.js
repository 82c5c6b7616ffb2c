// The instructor console: scenario picker filtering, and live team progress on a session page.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var env = document.getElementById("create-environment");
  var scn = document.getElementById("create-scenario");
  if (env && scn) {
    var filter = function () {
      Array.prototype.forEach.call(scn.options, function (o) {
        o.hidden = !!env.value && o.dataset.environment !== env.value;
      });
      if (scn.selectedOptions.length && scn.selectedOptions[0].hidden) {
        var first = Array.prototype.find.call(scn.options, function (o) { return !o.hidden && !o.disabled; });
        if (first) scn.value = first.value;
      }
    };
    env.addEventListener("change", filter);
    filter();
  }

  var root = document.getElementById("console-session");
  if (!root) return;
  var clock = new CR.Clock(document.getElementById("session-clock"), document.getElementById("session-status"));
  var shownStatus = document.getElementById("session-status").textContent;
  var leaving = false;  // a form was submitted: its answer replaces the page (a reload would cancel it)
  document.addEventListener("submit", function (e) { if (!e.defaultPrevented) leaving = true; });
  var api = "/api/sessions/" + encodeURIComponent(root.dataset.session);

  function update(d) {
    clock.set(d);
    document.getElementById("session-preparing").textContent = d.preparing || "";
    d.teams_progress.forEach(function (t) {
      var row = document.querySelector('#progress tr[data-team="' + CSS.escape(t.team) + '"]');
      if (!row) return;
      var set = function (f, v) { var c = row.querySelector('[data-field="' + f + '"]'); if (c) c.textContent = v; };
      set("score", t.score === null ? "–" : t.score);
      set("steps_detected", t.steps_detected + (t.steps === null ? "" : " / " + t.steps));
      set("detected", t.detected.join(", "));
      set("alerts", t.alerts);
      set("rules_deployed", t.rules_deployed);
      set("hints", t.hints);
      set("broken_rules", Object.keys(t.broken_rules).map(function (k) { return "#" + k + ": " + t.broken_rules[k]; }).join(" "));
    });
    (d.steps || []).forEach(function (st) {
      var cell = document.querySelector('#steps tr[data-step="' + CSS.escape(st.id) + '"] [data-field="state"]');
      if (cell) cell.replaceChildren(CR.h("span", { class: "status " + st.state }, st.state));
    });
    // the controls depend on the status: reload the page when it changes (e.g. the driver finished it)
    if (!leaving && d.status !== shownStatus && ["preparing", "ready", "running", "paused", "finished", "failed"].indexOf(d.status) >= 0) {
      shownStatus = d.status;
      window.location.reload();
    }
  }
  CR.follow(root.dataset.stream, api, update, null);
});
