// Shared helpers: the JSON API with the CSRF header, DOM building without innerHTML, the clock.
"use strict";
window.CR = (function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  async function api(method, url, body) {
    var opt = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") opt.headers["X-CSRFToken"] = csrf();
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    var r = await fetch(url, opt);
    var data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      var err = new Error((data && data.error) || r.status + " " + r.statusText);
      err.status = r.status;
      throw err;
    }
    return data;
  }

  // h("td", {class: "num", dataset: {team: "x"}}, "text", childNode, ...)
  function h(tag, props) {
    var e = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }

  function add(parent, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(parent, x); }); return; }
    parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }

  var SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null) continue;
      e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function dur(v) {
    if (v === null || v === undefined) return "–";
    if (v < 90) return Math.round(v) + " s";
    return (v / 60).toFixed(1) + " min";
  }

  function mmss(v) {
    v = Math.max(0, Math.floor(v || 0));
    var m = Math.floor(v / 60), sec = v % 60;
    return (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  // One time format everywhere (workspace, console, board, report): the time of day in UTC, the
  // events' own clock, "14:39:05" (".123" with ms); the full ISO time goes in a title attribute.
  function millis(ts) {  // epoch seconds (a number or its text) or an ISO-8601 time
    return typeof ts === "number" || isFinite(+ts) ? +ts * 1000 : Date.parse(ts);
  }
  function tod(ts, ms) {
    if (ts === null || ts === undefined || ts === "" || isNaN(millis(ts))) return "–";
    return new Date(millis(ts)).toISOString().slice(11, ms ? 23 : 19);
  }
  function isoOf(ts) {
    return ts === null || ts === undefined || ts === "" || isNaN(millis(ts)) ? "" : new Date(millis(ts)).toISOString();
  }
  // a time cell: "14:39:05" with the full date and time on hover
  function when(ts, ms) { return h("time", { datetime: isoOf(ts), title: isoOf(ts) + " (UTC)" }, tod(ts, ms)); }

  // a point in session time, as every clock of the range shows it: "T+07:05"
  function at(v) { return v === null || v === undefined ? "–" : "T+" + mmss(v); }

  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 100) + "%"; }

  // A clock that runs between snapshots: elapsed + speed x wall time since the snapshot.
  function Clock(el, statusEl) {
    this.el = el; this.statusEl = statusEl; this.snap = null; this.at = 0;
    var self = this;
    setInterval(function () { self.draw(); }, 500);
  }
  Clock.prototype.set = function (snap) {
    this.snap = snap; this.at = Date.now();
    if (this.statusEl) {
      this.statusEl.textContent = snap.status;
      this.statusEl.className = "status " + snap.status;
    }
    this.draw();
  };
  Clock.prototype.elapsed = function () {
    var s = this.snap;
    if (!s) return 0;
    var e = s.elapsed + (s.status === "running" ? s.speed * (Date.now() - this.at) / 1000 : 0);
    return Math.min(e, s.duration);
  };
  Clock.prototype.draw = function () {
    if (!this.snap || !this.el) return;
    this.el.textContent = mmss(this.elapsed()) + " / " + mmss(this.snap.duration);
    // the session clock on the events' own axis: the time of day the events carry now
    if (this.snap.now !== undefined) {
      var now = this.snap.now + (this.elapsed() - this.snap.elapsed);
      this.el.title = "session time; the events' clock reads " + tod(now) + " UTC";
      var t = this.el.nextElementSibling;
      if (t && t.classList.contains("tod")) t.textContent = tod(now) + " UTC";
    }
  };

  // Follow a server-sent-event stream; fall back to polling the JSON twin if streams fail. A stream
  // the server refuses (503: it follows as many as it can already) closes for good: poll, and try
  // the stream again after a while (spread out, so refused viewers do not all come back at once).
  function follow(streamUrl, pollUrl, onUpdate, dot) {
    var failures = 0, timer = null, again = null;
    function poll() {
      api("GET", pollUrl).then(onUpdate).catch(function (e) { console.error("cyberrange: " + e.message + "\n" + e.stack); });
    }
    function open() {
      var es = new EventSource(streamUrl);
      es.addEventListener("update", function (ev) {
        failures = 0;
        if (timer) { clearInterval(timer); timer = null; }
        if (dot) dot.classList.add("on");
        onUpdate(JSON.parse(ev.data));
      });
      es.addEventListener("gone", function () { es.close(); if (dot) dot.classList.remove("on"); });
      es.onerror = function () {
        if (dot) dot.classList.remove("on");
        failures += 1;
        if (es.readyState === EventSource.CLOSED || failures > 5) {
          es.close();
          if (!timer) timer = setInterval(poll, 3000);
          if (!again) again = setTimeout(function () { again = null; failures = 0; open(); }, 30000 + Math.random() * 30000);
        }
      };
    }
    poll();
    if (window.EventSource) open(); else timer = setInterval(poll, 3000);
  }

  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.dataset.confirm && !window.confirm(b.dataset.confirm)) e.preventDefault();
  });

  return { api: api, h: h, s: s, dur: dur, mmss: mmss, pct: pct, millis: millis, tod: tod, iso: isoOf, when: when, at: at, Clock: Clock,
    follow: follow, csrf: csrf };
})();
