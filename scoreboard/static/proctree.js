// A process's tree, from the host tables: its ancestors (each the newest process_creation record of
// its parent's pid on the same host, not later than the child's) and its children (the records that
// name it as parent, from its start until its pid is used again). The explorer (explorer.js) shows
// it in an event's document view; the Alerts tab opens it from an alert on host records.
"use strict";
window.WS = window.WS || {};
// a value in the hunting language (shared with the explorer): a number as it is, else a quoted string
WS.quoted = function (v) { return typeof v === "number" ? String(v) : '"' + String(v).replace(/(["\\])/g, "\\$1") + '"'; };
// the process a host record is about: Sysmon's ProcessId, or auditd's and syslog's pid
WS.hostPid = function (table, ev) {
  var v = table === "auditd" || table === "syslog" ? ev.pid : ev.ProcessId;
  return v === undefined || v === null || v === "" ? null : v;
};
WS.proctree = function (base) {
  var h = CR.h;
  var DEPTH = 16;      // ancestors looked up at most (one request each)
  var CHILDREN = 50;   // children listed at most; the rest are a search away
  var SLACK = 0.002;   // seconds: times from an alert (ISO, read to the millisecond) and float round trips

  var quoted = WS.quoted;
  function onHost(host, field, pid) { return "host:" + quoted(host) + " AND " + field + ":" + quoted(+pid); }
  function search(query, from, to, order, limit) {
    var p = new URLSearchParams({ table: "process_creation", query: query, sort: "ts", order: order, limit: limit });
    if (from !== null) p.set("from", String(from));
    if (to !== null) p.set("to", String(to));
    return CR.api("GET", base + "/events?" + p.toString());
  }
  function usable(pid) { return pid !== null && pid !== undefined && pid !== "" && isFinite(+pid); }

  // the process_creation record of process ``pid`` on ``host`` at ``ts`` (epoch seconds): its newest start not after ts
  function find(host, pid, ts) {
    if (!host || !usable(pid)) return Promise.resolve(null);
    return search(onHost(host, "ProcessId", pid), null, ts + SLACK, "desc", 1)
      .then(function (p) { return p.events[0] || null; });
  }

  function load(ev) {
    var host = ev.host, out = { self: ev, host: host, ancestors: [], missing: null, children: [], more: 0, until: null };
    var seen = {};
    seen[ev._rowid] = true;
    function up(cur, depth) {
      var ppid = cur.ParentProcessId;
      if (!usable(ppid) || +ppid <= 0 || depth >= DEPTH) return Promise.resolve();
      return find(host, ppid, cur._ts).then(function (parent) {
        if (!parent || seen[parent._rowid]) {  // not recorded (it started before the records): what the child says of it
          if (!parent) out.missing = { ProcessId: ppid, Image: cur.ParentImage, CommandLine: cur.ParentCommandLine, User: cur.ParentUser };
          return;
        }
        seen[parent._rowid] = true;
        out.ancestors.unshift(parent);
        return up(parent, depth + 1);
      });
    }
    function down() {
      if (!usable(ev.ProcessId)) return Promise.resolve();
      // the pid's next start on this host ends this process's children
      return search(onHost(host, "ProcessId", ev.ProcessId), ev._ts, null, "asc", 5).then(function (p) {
        var next = p.events.filter(function (e) { return e._rowid !== ev._rowid && e._ts > ev._ts; })[0];
        out.until = next ? next._ts : null;
        return search(onHost(host, "ParentProcessId", ev.ProcessId), ev._ts - SLACK, out.until, "asc", CHILDREN);
      }).then(function (p) {
        out.children = p.events.filter(function (e) { return !seen[e._rowid]; });
        out.more = Math.max(0, p.total - p.events.length);
      });
    }
    if (!host) return Promise.resolve(out);
    return Promise.all([up(ev, 0), down()]).then(function () { return out; });
  }

  // one process: its program, pid, user, start and command line
  function node(rec, kind, open) {
    var body = [h("code", {}, rec.Image || "(unknown program)"), " ",
      h("small", { class: "muted" }, "pid " + rec.ProcessId + (rec.User ? " · " + rec.User : "") + (rec._ts ? " · " : "")),
      rec._ts ? h("small", { class: "muted" }, CR.when(rec._ts, true)) : null,
      rec.CommandLine ? h("div", { class: "cmd" }, String(rec.CommandLine).slice(0, 300)) : null];
    if (kind === "self") return h("div", { class: "node self", "data-testid": "tree-self", "aria-current": "true" }, body);
    if (kind === "missing") return h("div", { class: "node missing", "data-testid": "tree-missing",
      title: "no process_creation record of it: what its child's record says of it" }, body, h("small", { class: "muted" }, " (not recorded)"));
    return h("button", { type: "button", class: "node", "data-testid": "tree-" + kind, dataset: { rowid: rec._rowid },
      title: "open this process", onclick: function () { open(rec); } }, body);
  }

  // ``opts.open(record)`` opens a process of the tree; ``opts.search(s)`` runs an explorer search
  function view(t, opts) {
    var kids = t.children.map(function (c) { return h("li", {}, node(c, "child", opts.open)); });
    if (t.more) kids.push(h("li", { class: "muted" }, "… and " + t.more + " more ",
      h("button", { type: "button", class: "mini", "data-testid": "tree-more", onclick: function () {
        opts.search({ table: "process_creation", query: onHost(t.host, "ParentProcessId", t.self.ProcessId),
          from: String(t.self._ts - SLACK), to: t.until === null ? "" : String(t.until) });
      } }, "list them")));
    var li = h("li", {}, node(t.self, "self", opts.open), kids.length ? h("ul", { "data-testid": "tree-children" }, kids)
      : h("ul", {}, h("li", { class: "muted", "data-testid": "tree-no-children" }, "no child process recorded")));
    for (var i = t.ancestors.length - 1; i >= 0; i--) li = h("li", {}, node(t.ancestors[i], "ancestor", opts.open), h("ul", {}, li));
    if (t.missing) li = h("li", {}, node(t.missing, "missing", opts.open), h("ul", {}, li));
    return [h("h4", {}, "Process tree on " + t.host), h("ul", { class: "proc-tree-list" }, li)];
  }

  return { find: find, load: load, view: view };
};
