// The public scoreboard: ranking, timeline and ATT&CK coverage, updated by server-sent events.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("board");
  if (!root) return;
  var h = CR.h, s = CR.s;
  var clock = new CR.Clock(document.getElementById("board-clock"), document.getElementById("board-status"));
  var last = null;
  var LEFT = 200;

  function ranking(b) {
    var body = document.querySelector("#ranking tbody");
    body.replaceChildren();
    b.ranking.forEach(function (r) {
      // only a team ranked first alone leads: tied teams share their rank ("=1") and none is highlighted
      body.appendChild(h("tr", { "data-testid": "rank-row", class: r.leader ? "leader" : null,
          dataset: { team: r.team, rank: r.rank, tied: r.tied ? "yes" : "no" } },
        h("td", { class: "rank", title: r.tied ? "tied" : null }, (r.tied ? "=" : "") + r.rank),
        h("td", { class: "team" }, r.team),
        h("td", { class: "num score", "data-field": "score" }, r.score),
        h("td", { class: "num", "data-field": "steps_detected" }, r.steps_detected + (b.revealed ? " / " + r.steps : "")),
        h("td", { class: "num", "data-field": "mttd" }, CR.dur(r.mttd_seconds)),
        h("td", { class: "num", "data-field": "precision" }, CR.pct(r.precision)),
        h("td", { class: "num", "data-field": "false_positives" }, r.false_positives),
        h("td", { class: "num", "data-field": "alerts" }, r.alerts)));
    });
    if (!b.ranking.length) {
      body.appendChild(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No scores yet (the session is " + b.status + ").")));
    }
  }

  function timeline(b) {
    var box = document.getElementById("timeline");
    var teams = b.ranking.map(function (r) { return r.team; });
    Object.keys(b.teams).forEach(function (t) { if (teams.indexOf(t) < 0) teams.push(t); });
    document.getElementById("timeline-note").textContent = b.revealed
      ? "Bands: the attack steps (green: detected, red: missed). ◆ detection, × false positive."
      : "◆ detection, × false positive. The attack steps appear here when the session ends.";
    var W = 1000, L = LEFT, R = 16, row = b.revealed ? 62 : 46, span = Math.max(b.duration, 1);
    var H = row * teams.length + 34;
    var x = function (t) { return L + (W - L - R) * Math.max(0, Math.min(t, span)) / span; };
    var svg = s("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", "aria-label": "detections over time per team" });
    teams.forEach(function (team, i) {
      var y = 8 + row * i, info = b.teams[team] || { marks: [] };
      var g = s("g", { "data-team": team, "data-testid": "timeline-row" });
      g.appendChild(s("text", { x: 4, y: y + 26, class: "lbl" }, team.length > 16 ? team.slice(0, 15) + "…" : team,
        s("title", {}, team)));
      g.appendChild(s("line", { x1: L, x2: W - R, y1: y + 20, y2: y + 20, class: "axis" }));
      var labelEnd = -1, below = false;
      (info.steps || []).forEach(function (st) {
        var x1 = x(st.start), x2 = x(st.end);
        below = x1 < labelEnd && !below;  // a label that would overlap the previous one goes under the band
        labelEnd = below ? labelEnd : x1 + 7 * st.id.length;
        g.appendChild(s("rect", { x: x1, y: y + 6, width: Math.max(x2 - x1, 4), height: 28,
          class: "band " + (st.detected ? "hit" : "miss"), "data-step": st.id },
          s("title", {}, st.id + " (" + st.attack + ", " + st.tactic + ")" + (st.detected ? ": detected after " + CR.dur(st.ttd) : ": missed"))));
        g.appendChild(s("text", { x: x1 + 2, y: below ? y + 46 : y + 4, class: "tiny" }, st.id));
      });
      info.marks.forEach(function (m) {
        var mx = x(m.t);
        if (m.kind === "detect") {
          g.appendChild(s("path", { d: "M" + mx + " " + (y + 10) + " l8 10 l-8 10 l-8 -10 z", class: "mark-detect", "data-testid": "mark-detect" },
            s("title", {}, m.step ? "detected " + m.step + " after " + CR.dur(m.ttd) : "detection at " + CR.mmss(m.t))));
        } else {
          g.appendChild(s("path", { d: "M" + (mx - 6) + " " + (y + 14) + " l12 12 m0 -12 l-12 12", class: "mark-fp", "data-testid": "mark-fp" },
            s("title", {}, "false positive (" + m.rule + ") at " + CR.mmss(m.t))));
        }
      });
      svg.appendChild(g);
    });
    var now = x(clock.elapsed());
    svg.appendChild(s("line", { x1: now, x2: now, y1: 0, y2: H - 26, class: "now", id: "timeline-now" }));
    for (var k = 0; k <= 10; k++) {
      svg.appendChild(s("text", { x: L + (W - L - R) * k / 10, y: H - 6, class: "tiny", "text-anchor": "middle" }, CR.mmss(span * k / 10)));
    }
    box.replaceChildren(svg);
  }

  function matrix(b) {
    var box = document.getElementById("matrix");
    box.replaceChildren();
    if (!b.revealed || !b.attack) {
      box.appendChild(h("p", { class: "muted" }, "Which techniques each team covered appears when the session ends. Techniques detected so far:"));
      var ul = h("ul", { class: "counts", "data-testid": "coverage-counts" });
      Object.keys(b.teams).sort().forEach(function (t) {
        ul.appendChild(h("li", { dataset: { team: t } }, h("strong", {}, t), ": " + b.teams[t].coverage));
      });
      box.appendChild(ul);
      return;
    }
    var grid = h("div", { class: "matrix" });
    b.attack.tactics.forEach(function (tac) {
      var col = h("div", { class: "tactic", dataset: { tactic: tac.tactic } }, h("h3", {}, tac.tactic.replace(/-/g, " ")));
      tac.techniques.forEach(function (t) {
        var chips = h("div", { class: "chips" });
        b.attack.teams.forEach(function (team) {
          chips.appendChild(h("span", { class: "chip " + (t.teams[team] ? "hit" : "miss"), title: team + (t.teams[team] ? ": detected" : ": missed") }, team));
        });
        col.appendChild(h("div", { class: "technique", "data-testid": "technique", dataset: { attack: t.attack } },
          h("div", { class: "tid" }, t.attack), h("div", { class: "muted small" }, t.techniques.join(", ")), chips));
      });
      grid.appendChild(col);
    });
    box.appendChild(grid);
  }

  function render(b) {
    last = b;
    clock.set(b);
    ranking(b);
    timeline(b);
    matrix(b);
  }

  setInterval(function () {
    var line = document.getElementById("timeline-now");
    if (line && last) {
      var W = 1000, L = LEFT, R = 16, span = Math.max(last.duration, 1);
      var nx = L + (W - L - R) * Math.min(clock.elapsed(), span) / span;
      line.setAttribute("x1", nx); line.setAttribute("x2", nx);
    }
  }, 1000);

  CR.follow(root.dataset.stream, root.dataset.api, render, document.getElementById("board-live"));
});
