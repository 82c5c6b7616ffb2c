// The public scoreboard: ranking, timeline and ATT&CK coverage, updated by server-sent events.
// ?projector=1 (data-projector): the projector mode, the whole board fitted to the window (fit()).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("board");
  if (!root) return;
  var h = CR.h, s = CR.s;
  var projector = root.dataset.projector === "1";
  var clock = new CR.Clock(document.getElementById("board-clock"), document.getElementById("board-status"));
  var last = null, geo = null, pj = 1;
  // where a score's points come from (the ranking's "breakdown"), with the score legend's symbols
  var PARTS = [["detection", "◆", "detection"], ["false_positives", "×", "false positives"], ["hints", "?", "hints"],
    ["reports", "✎", "reports"], ["sharing", "⇄", "sharing"], ["other", "±", "other"]];
  // the timeline's type and marks in px (1 unit of its SVG = 1 px), before the projector's scaling;
  // labels never go below MIN_SMALL px (readable from the back of a room at 1280x720)
  var SIZES = projector ? { name: 22, small: 17, band: 26, mark: 22 } : { name: 18, small: 14, band: 30, mark: 20 };
  var MIN_SMALL = projector ? 14 : 11, MIN_NAME = projector ? 16 : 13;

  // ---- numbers ------------------------------------------------------------------------------

  // scores are shown as whole numbers (the API keeps its decimals)
  function whole(v) { var n = Math.round(v || 0); return n === 0 ? 0 : n; }
  function signed(n) { return n > 0 ? "+" + n : n < 0 ? "−" + (-n) : "0"; }

  // whole numbers for the parts that add up to the whole number shown for the total (largest remainders)
  function apportion(values, total) {
    var out = values.map(function (v) { return Math.floor(v); });
    var rest = whole(total) - out.reduce(function (a, v) { return a + v; }, 0);
    var order = values.map(function (v, i) { return i; })
      .sort(function (a, b) { return (values[b] - out[b]) - (values[a] - out[a]); });
    for (var k = 0; k < rest && k < order.length; k++) out[order[k]] += 1;
    return out;
  }

  function madeOf(r) {
    var bd = r.breakdown;
    if (!bd) return "–";
    var parts = PARTS.filter(function (p) { return Math.abs(bd[p[0]] || 0) >= 0.005; });
    if (!parts.length) return h("span", { class: "muted" }, "–");
    var shown = apportion(parts.map(function (p) { return bd[p[0]]; }), r.score);
    return parts.map(function (p, i) {  // spaces between the parts: a narrow cell wraps them
      return [i ? " " : null, h("span", { class: "part " + p[0], "data-part": p[0], "data-value": shown[i], title: p[2] },
        p[1] + " " + signed(shown[i]))];
    });
  }

  // ---- the ranking ----------------------------------------------------------------------------

  function ranking(b) {
    var body = document.querySelector("#ranking tbody");
    body.replaceChildren();
    b.ranking.forEach(function (r) {
      // only a team ranked first alone leads: tied teams share their rank ("=1") and none is highlighted
      body.appendChild(h("tr", { "data-testid": "rank-row", class: r.leader ? "leader" : null,
          dataset: { team: r.team, rank: r.rank, tied: r.tied ? "yes" : "no" } },
        h("td", { class: "rank", title: r.tied ? "tied" : null }, (r.tied ? "=" : "") + r.rank),
        h("td", { class: "team", title: r.team }, r.team),
        h("td", { class: "num score", "data-field": "score" }, whole(r.score)),
        h("td", { class: "made-of", "data-field": "breakdown" }, madeOf(r)),
        h("td", { class: "num", "data-field": "steps_detected" }, r.steps_detected + (b.revealed ? " / " + r.steps : "")),
        h("td", { class: "num", "data-field": "mttd" }, CR.dur(r.mttd_seconds)),
        h("td", { class: "num", "data-field": "precision" }, CR.pct(r.precision)),
        h("td", { class: "num", "data-field": "false_positives" }, r.false_positives),
        h("td", { class: "num", "data-field": "alerts" }, r.alerts)));
    });
    if (!b.ranking.length) {
      body.appendChild(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No scores yet (the session is " + b.status + ").")));
    }
    root.classList.toggle("revealed", !!b.revealed);
  }

  // ---- the timeline ---------------------------------------------------------------------------

  var ctx = null;
  function textWidth(text, px, bold) {
    ctx = ctx || document.createElement("canvas").getContext("2d");
    ctx.font = (bold ? "600 " : "") + px + "px " + getComputedStyle(document.body).fontFamily;
    return ctx.measureText(text).width;
  }

  function fitText(text, px, bold, room) {
    if (textWidth(text, px, bold) <= room) return text;
    var t = text;
    while (t.length > 1 && textWidth(t + "…", px, bold) > room) t = t.slice(0, -1);
    return t + "…";
  }

  // a time axis' step: the smallest round step that leaves room for every label
  function tickStep(span, room, labelW) {
    var most = Math.max(1, Math.floor(room / (labelW + 16)));
    var steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 28800, 86400];
    for (var i = 0; i < steps.length; i++) if (span / steps[i] <= most) return steps[i];
    return span;
  }

  // the first lane whose previous item ends before ``from`` (a new lane if none); ``ends``: each lane's end
  function lane(ends, from, to) {
    for (var k = 0; k < ends.length; k++) if (from >= ends[k]) { ends[k] = to; return k; }
    ends.push(to);
    return ends.length - 1;
  }

  // The attack steps' labels, once above the rows (the steps are the same for every team): each at
  // its step's earliest start, in lanes (0 just above the rows, 1 above it...) so that none overlap.
  function stepLabels(b, teams, x, fs, L, Wr) {
    var first = {};
    teams.forEach(function (t) {
      ((b.teams[t] || {}).steps || []).forEach(function (st) {
        if (!(st.id in first) || st.start < first[st.id]) first[st.id] = st.start;
      });
    });
    var ends = [], gap = Math.ceil(fs * 0.6);
    var labels = Object.keys(first).map(function (id) {
      var w = textWidth(id, fs);
      return { id: id, w: w, x: Math.max(L, Math.min(x(first[id]) + 2, Wr - w)) };
    }).sort(function (a, c) { return a.x - c.x || (a.id < c.id ? -1 : 1); });
    labels.forEach(function (p) { p.lane = lane(ends, p.x, p.x + p.w + gap); });
    return { labels: labels, lanes: ends.length };
  }

  // Marks at (nearly) the same time: stacked in up to ``most`` lanes, then nudged right, so that
  // each stays visible; ``w``: a mark's width with its margin.
  function markLanes(marks, x, w, most) {
    var ends = [], out = marks.map(function (m) { return { m: m, x: x(m.t) }; });
    out.slice().sort(function (a, c) { return a.x - c.x; }).forEach(function (p) {
      var k = 0;
      while (k < ends.length && ends[k] > p.x) k++;
      if (k === ends.length && k >= most) {  // every lane taken: the one free first, nudged
        k = 0;
        for (var j = 1; j < ends.length; j++) if (ends[j] < ends[k]) k = j;
      }
      p.lane = k;
      p.dx = Math.max(p.x, k < ends.length ? ends[k] : p.x);
      ends[k] = p.dx + w;
    });
    return { marks: out, lanes: Math.max(ends.length, 1) };
  }

  // Where everything of the timeline goes, at scale z (1 unit = 1 px): the steps' labels above the
  // rows, a row per team (its name, its steps' bands, its marks), the time axis' labels below.
  function layout(b, teams, W, z) {
    var fs = Math.max(MIN_SMALL, SIZES.small * z), fn = Math.max(MIN_NAME, SIZES.name * z);
    var line = Math.ceil(fs * 1.3), M = Math.max(14, SIZES.mark * z), slot = M + 3;
    var longest = Math.max.apply(null, teams.map(function (t) { return textWidth(t, fn, true); }).concat([40]));
    var L = Math.round(Math.min(longest + 16, W * 0.2)), tickW = textWidth("00:00", fs);
    var R = Math.ceil(tickW / 2) + 6, span = Math.max(b.duration, 1);
    var x = function (t) { return L + (W - L - R) * Math.max(0, Math.min(t, span)) / span; };
    var head = stepLabels(b, teams, x, fs, L, W - R), y = 4 + head.lanes * line + (head.lanes ? 2 : 0);
    var rows = teams.map(function (team) {
      var info = b.teams[team] || { marks: [] }, mk = markLanes(info.marks, x, M * 0.85 + 3, 2);
      var band = Math.max(SIZES.band * z, mk.lanes * slot + 2, fn * 1.3);
      var row = { team: team, steps: info.steps || [], marks: mk.marks, lanesM: mk.lanes, top: y, band: band,
        name: fitText(team, fn, true, L - 12) };
      y += band + Math.ceil(fs * 0.5);
      return row;
    });
    return { W: W, H: y + line + 2, L: L, R: R, x: x, span: span, fs: fs, fn: fn, line: line, M: M, rows: rows,
      head: head, axisY: y, tick: tickStep(span, W - L - R, tickW) };
  }

  function draw(b, g) {
    var svg = s("svg", { viewBox: "0 0 " + g.W + " " + g.H, class: "chart", role: "img",
      "aria-label": "detections over time per team", "data-label-px": g.fs.toFixed(1) });
    var small = "font-size:" + g.fs.toFixed(1) + "px", big = "font-size:" + g.fn.toFixed(1) + "px";
    var top = g.rows.length ? g.rows[0].top : g.axisY;
    g.head.labels.forEach(function (p) {  // a lane's slot is g.line high; the baseline sits g.fs below its top
      svg.appendChild(s("text", { x: p.x, y: top - 2 - (p.lane + 1) * g.line + g.fs, class: "tiny", style: small,
        "data-testid": "timeline-label", "data-step": p.id, "data-lane": p.lane }, p.id));
    });
    g.rows.forEach(function (r) {
      var el = s("g", { "data-team": r.team, "data-testid": "timeline-row" }), mid = r.top + r.band / 2;
      el.appendChild(s("text", { x: 4, y: mid + g.fn * 0.35, class: "lbl", style: big, "data-testid": "timeline-label" },
        r.name, s("title", {}, r.team)));
      el.appendChild(s("line", { x1: g.L, x2: g.W - g.R, y1: mid, y2: mid, class: "axis" }));
      r.steps.forEach(function (st) {
        var x1 = g.x(st.start), x2 = g.x(st.end);
        el.appendChild(s("rect", { x: x1, y: r.top, width: Math.max(x2 - x1, 4), height: r.band,
          class: "band " + (st.detected ? "hit" : "miss"), "data-step": st.id },
          s("title", {}, st.id + " (" + st.attack + ", " + st.tactic + ")" + (st.detected ? ": detected after " + CR.dur(st.ttd) : ": missed"))));
      });
      r.marks.forEach(function (p) {
        var m = p.m, hh = g.M / 2, hw = g.M * 0.4, a = g.M * 0.3;
        var cy = r.lanesM === 1 ? mid : r.top + 1 + (p.lane + 0.5) * (r.band - 2) / r.lanesM;
        var attrs = { "data-lane": p.lane, "data-t": m.t };
        if (m.kind === "detect") {
          el.appendChild(s("path", Object.assign(attrs, { d: "M" + p.dx + " " + (cy - hh) + " l" + hw + " " + hh + " l" + (-hw) +
            " " + hh + " l" + (-hw) + " " + (-hh) + " z", class: "mark-detect", "data-testid": "mark-detect" }),
            s("title", {}, m.step ? "detected " + m.step + " after " + CR.dur(m.ttd) : "detection at " + CR.at(m.t))));
        } else {
          el.appendChild(s("path", Object.assign(attrs, { d: "M" + (p.dx - a) + " " + (cy - a) + " l" + 2 * a + " " + 2 * a +
            " m0 " + (-2 * a) + " l" + (-2 * a) + " " + 2 * a, class: "mark-fp", "data-testid": "mark-fp" }),
            s("title", {}, "false positive (" + m.rule + ") at " + CR.at(m.t))));
        }
      });
      svg.appendChild(el);
    });
    var now = g.x(clock.elapsed());
    svg.appendChild(s("line", { x1: now, x2: now, y1: top, y2: g.axisY, class: "now", id: "timeline-now" }));
    for (var t = 0; t <= g.span + 0.001; t += g.tick) {
      svg.appendChild(s("text", { x: g.x(t), y: g.axisY + g.fs, class: "tiny", style: small, "text-anchor": "middle",
        "data-testid": "timeline-tick" }, CR.mmss(t)));
    }
    return svg;
  }

  function timeline(b) {
    var box = document.getElementById("timeline");
    var teams = b.ranking.map(function (r) { return r.team; });
    Object.keys(b.teams).forEach(function (t) { if (teams.indexOf(t) < 0) teams.push(t); });
    document.getElementById("timeline-note").textContent = b.revealed
      ? "Bands: the attack steps (green: detected, red: missed). ◆ detection, × false positive; marks at the same time are stacked."
      : "◆ detection, × false positive; marks at the same time are stacked. The attack steps appear here when the session ends.";
    box.replaceChildren();
    var W = Math.max(320, Math.floor(box.clientWidth || 1000) - 2), g = layout(b, teams, W, pj);
    if (projector) {  // the rows shrink (to the labels' minimum size) to fit the height left to them
      var room = box.clientHeight;
      for (var z = pj; g.H > room && z > 0.6; z -= 0.05) g = layout(b, teams, W, z);
    }
    geo = g;
    box.appendChild(draw(b, g));
  }

  // ---- ATT&CK coverage ------------------------------------------------------------------------

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
    if (projector) { box.appendChild(coverageGrid(b)); return; }
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

  // the projector's matrix, collapsed: a row per team (in ranking order), a column per technique
  // (grouped by tactic), ✓ where the team detected it
  function coverageGrid(b) {
    var techs = [];
    b.attack.tactics.forEach(function (tac) {
      tac.techniques.forEach(function (t, i) { techs.push({ t: t, tactic: tac.tactic, first: i === 0 }); });
    });
    var teams = b.ranking.map(function (r) { return r.team; }).filter(function (t) { return b.attack.teams.indexOf(t) >= 0; });
    b.attack.teams.forEach(function (t) { if (teams.indexOf(t) < 0) teams.push(t); });
    var head = h("tr", {}, h("th", { class: "team" }, ""));
    techs.forEach(function (c) {
      head.appendChild(h("th", { class: "tid" + (c.first ? " tactic-start" : ""), scope: "col", dataset: { attack: c.t.attack },
        title: c.t.attack + " " + c.t.techniques.join(", ") + " (" + c.tactic.replace(/-/g, " ") + ")" }, h("span", {}, c.t.attack)));
    });
    var body = h("tbody", {});
    teams.forEach(function (team) {
      var tr = h("tr", { dataset: { team: team } }, h("th", { class: "team", scope: "row", title: team }, team));
      techs.forEach(function (c) {
        var hit = !!c.t.teams[team];
        tr.appendChild(h("td", { class: (hit ? "hit" : "miss") + (c.first ? " tactic-start" : ""), "data-testid": "coverage-cell",
          dataset: { attack: c.t.attack }, title: team + ": " + c.t.attack + (hit ? " detected" : " missed") }, hit ? "✓" : "·"));
      });
      body.appendChild(tr);
    });
    return h("table", { class: "coverage-grid", "data-testid": "coverage-grid" }, h("thead", {}, head), body);
  }

  // ---- the projector: everything in the window ------------------------------------------------

  function overflows() {
    var d = document.documentElement;
    return d.scrollHeight > window.innerHeight || d.scrollWidth > window.innerWidth;
  }

  // the type shrinks in steps (--pj, app.css) until the board fits the window, or reaches 70 %
  function fit(b) {
    pj = 1;
    document.body.style.setProperty("--pj", pj);
    timeline(b);
    while (overflows() && pj > 0.7) {
      pj = Math.round((pj - 0.05) * 100) / 100;
      document.body.style.setProperty("--pj", pj);
      timeline(b);
    }
  }

  function render(b) {
    last = b;
    clock.set(b);
    ranking(b);
    matrix(b);
    if (projector) fit(b); else timeline(b);
  }

  setInterval(function () {
    var line = document.getElementById("timeline-now");
    if (line && geo) {
      var nx = geo.x(clock.elapsed());
      line.setAttribute("x1", nx); line.setAttribute("x2", nx);
    }
  }, 1000);

  var resized = null;
  window.addEventListener("resize", function () {
    clearTimeout(resized);
    resized = setTimeout(function () { if (last) { if (projector) fit(last); else timeline(last); } }, 150);
  });

  if (projector) {  // F: full screen; Esc: back to the ordinary board
    document.addEventListener("keydown", function (e) {
      if (e.target !== document.body || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "f" || e.key === "F") {
        if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen().catch(function () {});
      } else if (e.key === "Escape" && !document.fullscreenElement && root.dataset.exit) {
        location.href = root.dataset.exit;
      }
    });
  }

  CR.follow(root.dataset.stream, root.dataset.api, render, document.getElementById("board-live"));
});
