// The workspace's event explorer: search, histogram, facets, the grid (columns, sorting, keyboard),
// one event's document view with its pivots, and a live tail that never moves rows under the pointer.
"use strict";
window.WS = window.WS || {};
WS.explorer = function (base, drills, rules, showError) {
  var h = CR.h;
  var FACETS = { conn: ["id.orig_h", "id.resp_h", "id.resp_p", "service", "conn_state"],
    dns: ["query", "qtype_name", "rcode_name", "id.orig_h"], http: ["host", "method", "status_code", "user_agent"],
    ssh: ["client", "server", "id.orig_h"], ftp: ["command", "reply_code", "user"], telnet: ["user", "direction"],
    arp: ["operation", "id.orig_h", "src_mac"],
    // the host tables (their records have no uid and no packets; host is the node's name)
    process_creation: ["host", "User", "Image", "ParentImage"], file_event: ["host", "Image", "TargetFilename", "User"],
    network_connection: ["host", "Image", "DestinationIp", "DestinationPort"], auditd: ["host", "type", "key", "exe"],
    syslog: ["host", "program", "facility", "severity"], webserver: ["host", "c-ip", "cs-method", "sc-status", "cs-user-agent"] };
  var HOST_TABLES = WS.HOST_TABLES || [], UID_TABLES = WS.UID_TABLES || [];  // the server's lists (workspace.js)
  var tree = WS.proctree ? WS.proctree(base) : null;
  var quoted = WS.quoted;
  var URL_KEYS = ["table", "query", "from", "to", "q", "sort", "order", "cols"];
  var IDS = { table: "event-table", query: "event-query", from: "event-from", to: "event-to", q: "event-search" };
  var state = { table: "conn", filters: [], from: "", to: "", q: "", query: "", offset: 0, limit: 50,
    sort: "", order: "", cols: "" };
  var page = null, open = null, finding = 0, hovering = false, lastHunt = 0, seenCount = null, pending = 0;
  var grid = document.getElementById("events-table");

  // ---- the search, in the page's address: it survives a reload and can be shared -----------
  function params(keys) {
    var p = new URLSearchParams();
    keys.forEach(function (k) { if (state[k]) p.set(k, state[k]); });
    return p;
  }
  function eventsUrl(extra) {
    var p = params(["table", "query", "from", "to", "q", "sort", "order"]);
    p.set("limit", state.limit); p.set("offset", state.offset);
    state.filters.forEach(function (f) { p.append("filter", f); });
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return base + "/events?" + p.toString();
  }
  function saveUrl() {
    var p = params(URL_KEYS.filter(function (k) { return !(k === "table" && state.table === "conn"); }));
    history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p.toString() : "") + location.hash);
  }
  function restoreUrl() {
    var p = new URLSearchParams(location.search);
    URL_KEYS.forEach(function (k) {
      if (!p.get(k)) return;
      state[k] = p.get(k);
      if (IDS[k]) document.getElementById(IDS[k]).value = p.get(k);
    });
  }
  // the table searched: another table has other fields, so the previous one's sort and columns go
  // (the table select, a pivot and a saved search all switch tables through here)
  function useTable(table) {
    if (table !== state.table) { state.sort = ""; state.order = ""; state.cols = ""; }
    state.table = table;
  }
  function fromForm() {
    useTable(document.getElementById("event-table").value);
    state.filters = document.getElementById("event-filters").value.split(";")
      .map(function (x) { return x.trim(); }).filter(Boolean);
    ["from", "to", "q", "query"].forEach(function (k) { state[k] = document.getElementById(IDS[k]).value.trim(); });
  }
  function setSearch(s) {  // a saved search or a pivot: table, query, from, to, columns
    useTable(s.table === undefined || s.table === null ? state.table : String(s.table));
    Object.keys(IDS).forEach(function (k) {
      state[k] = s[k] === undefined || s[k] === null ? (k === "table" ? state.table : "") : String(s[k]);
      document.getElementById(IDS[k]).value = state[k];
    });
    state.cols = (s.columns || []).join(",");
    state.filters = []; document.getElementById("event-filters").value = "";
    if (s.sort !== undefined) { state.sort = s.sort; state.order = s.order || ""; }
    apply();
  }

  // ---- histogram and facets ---------------------------------------------------------------
  var hunted = 0;  // as asked: an older histogram or facets answer is dropped
  function huntParams() { return params(["table", "query", "from", "to"]); }
  function loadHunt() {
    lastHunt = Date.now();
    var hp = huntParams();
    hp.set("buckets", 60);
    var mine = ++hunted, fresh = function (draw) { return function (r) { if (mine === hunted) draw(r); }; };
    CR.api("GET", base + "/events/histogram?" + hp.toString()).then(fresh(drawHistogram)).catch(function () {});
    var fp = huntParams();
    (FACETS[state.table] || []).forEach(function (f) { fp.append("field", f); });
    CR.api("GET", base + "/events/facets?" + fp.toString()).then(fresh(drawFacets)).catch(function () {});
  }
  function zoom(from, to) {
    state.from = CR.iso(from); state.to = CR.iso(to);
    document.getElementById("event-from").value = state.from;
    document.getElementById("event-to").value = state.to;
    apply();
  }
  function drawHistogram(hg) {
    var svg = document.getElementById("event-histogram");
    var top = Math.max.apply(null, hg.counts.concat([1]));
    var w = 600 / Math.max(hg.counts.length, 1);
    svg.replaceChildren.apply(svg, hg.counts.map(function (c, i) {
      var from = hg.start + i * hg.width;
      var bar = CR.s("rect", { x: i * w + 0.5, width: Math.max(w - 1, 1), y: 60 - 58 * c / top, height: 58 * c / top,
        "data-testid": "histogram-bar", "data-i": i, tabindex: c ? 0 : -1, role: "button",
        "aria-label": c + " hits from " + CR.tod(from) + ": Enter zooms in" },
      CR.s("title", {}, c + " hits from " + CR.tod(from, true)));
      bar.addEventListener("keydown", function (e) {  // the keyboard's way to zoom: Enter on a bar
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); zoom(from, from + hg.width); }
      });
      return bar;
    }));
    // click a bar to zoom into it, or drag across bars to zoom into the span
    var down = null;
    function bucketAt(ev) {
      var r = svg.getBoundingClientRect();
      return Math.max(0, Math.min(hg.counts.length - 1, Math.floor((ev.clientX - r.left) / r.width * hg.counts.length)));
    }
    svg.onmousedown = function (ev) { down = bucketAt(ev); ev.preventDefault(); };
    svg.onmouseup = function (ev) {
      if (down === null || !hg.counts.length) return;
      var a = Math.min(down, bucketAt(ev)), b = Math.max(down, bucketAt(ev));
      down = null;
      zoom(hg.start + a * hg.width, hg.start + (b + 1) * hg.width);
    };
    document.getElementById("histogram-span").textContent = hg.total
      ? hg.total + " hits, " + CR.tod(hg.start) + " – " + CR.tod(hg.end) + " UTC (click a bar or drag across bars to zoom in)" +
        (hg.partial ? "; only the newest events were counted in time: narrow the search" : "") : "no hits";
  }
  function refine(field, value, keep) {
    var term = (keep ? "" : "NOT ") + field + ":" + quoted(value);
    state.query = state.query ? "(" + state.query + ") AND " + term : term;
    document.getElementById("event-query").value = state.query;
    apply();
  }
  function inOut(f, v) {
    return [h("button", { type: "button", title: "only " + f + " " + v, "data-testid": "facet-in", class: "mini",
      onclick: function () { refine(f, v, true); } }, "+"),
    h("button", { type: "button", title: "all but " + f + " " + v, "data-testid": "facet-out", class: "mini",
      onclick: function () { refine(f, v, false); } }, "−")];
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
          h("small", { class: "muted" }, it.count), inOut(f, it.value));
      })));
    });
    if (res.sampled) box.appendChild(h("p", { class: "muted", "data-testid": "facet-sample" },
      "top values of the newest " + res.sampled + " hits"));
  }

  // ---- the grid ---------------------------------------------------------------------------
  function shown(cols) {
    if (!state.cols) return cols;
    var want = state.cols.split(",");
    var out = cols.filter(function (c) { return want.indexOf(c) >= 0; });
    return out.length ? out : cols;
  }
  function cell(c, v) {
    if (v === undefined || v === null) return h("td", {}, "");
    if (c === "ts") return h("td", {}, CR.when(v, true));
    return h("td", {}, typeof v === "object" ? JSON.stringify(v) : v);
  }
  function sortBy(c) {
    if (state.sort === c || (!state.sort && c === "ts")) state.order = state.order === "asc" ? "desc" : "asc";
    else { state.sort = c; state.order = c === "ts" ? "asc" : "desc"; }
    if (c === "ts" && state.order === "desc") { state.sort = ""; state.order = ""; }
    apply(true);
  }
  function header(cols) {
    var cur = state.sort || "ts", dir = state.order || "desc";
    return h("tr", {}, h("th", { class: "num", title: "cite it in a report as " + page.table + ":row" }, "row"),
      cols.map(function (c) {
        var on = c === cur;
        return h("th", { "aria-sort": on ? (dir === "asc" ? "ascending" : "descending") : "none" },
          h("button", { type: "button", class: "sort", "data-testid": "sort-" + c, onclick: function () { sortBy(c); },
            title: "sort by " + c + (c === "ts" ? "" : " (the newest 10,000 hits)") }, c, on ? (dir === "asc" ? " ▲" : " ▼") : ""));
      }));
  }
  function columnChooser(cols) {
    var box = document.getElementById("event-columns-list");
    var vis = shown(cols);
    box.replaceChildren.apply(box, cols.map(function (c) {
      return h("label", { class: "check" }, h("input", { type: "checkbox", checked: vis.indexOf(c) >= 0,
        "data-testid": "column-" + c, onchange: function () {
          var now = Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; })
            .map(function (i) { return i.parentNode.textContent; });
          state.cols = now.length === cols.length ? "" : now.join(",");
          saveUrl(); render();
        } }), c);
    }));
  }
  function render() {
    if (!page) return;
    var cols = shown(page.columns);
    grid.tHead.replaceChildren(header(cols));
    var body = grid.tBodies[0];
    body.replaceChildren();
    page.events.forEach(function (ev) {
      body.appendChild(h("tr", { class: "clickable" + (isOpen(ev) ? " open" : ""),
        tabindex: 0, "data-testid": "event-row", dataset: { rowid: ev._rowid },
        title: "open this event (Enter)", onclick: function () { openDoc(ev); } },
        h("td", { class: "num", "data-testid": "event-rowid", title: page.table + ":" + ev._rowid }, ev._rowid),
        cols.map(function (c) { return cell(c, ev[c]); })));
    });
    columnChooser(page.columns);
    var to = Math.min(page.offset + page.limit, page.total);
    var order = (page.sort === "ts" ? (page.order === "asc" ? "oldest first" : "newest first")
      : "by " + page.sort + (page.order === "asc" ? " ascending" : " descending") + ", of the newest " + page.sort_window);
    document.getElementById("event-range").textContent =
      page.total ? (page.offset + 1) + "–" + to + " of " + page.total + (page.total_capped ? "+" : "") +
        " (" + order + ")" + (page.total_partial ? "; counting stopped at its time limit: narrow the search" : "")
        : "no events";
    document.getElementById("event-newer").disabled = page.offset === 0;
    document.getElementById("event-older").disabled = to >= page.total;
  }
  var asked = 0;  // an older answer arriving after a newer search is dropped
  function loadEvents() {
    banner(0);
    var mine = ++asked;
    grid.setAttribute("aria-busy", "true");
    return CR.api("GET", eventsUrl()).then(function (p) {
      if (mine !== asked) return;
      showError("event-error", null);
      page = p;
      render();
    }).catch(function (e) { if (mine === asked) showError("event-error", e); })
      .then(function () { if (mine === asked) grid.setAttribute("aria-busy", "false"); });
  }
  function apply(keepDoc) {
    state.offset = 0;
    if (!keepDoc) closeDoc();
    saveUrl();
    loadEvents();
    loadHunt();
  }

  // rows with the keyboard: arrows move, Enter opens, Escape closes the document
  grid.addEventListener("keydown", function (e) {
    var row = e.target.closest && e.target.closest("tr[data-rowid]");
    if (!row) return;
    var next = e.key === "ArrowDown" ? row.nextElementSibling : e.key === "ArrowUp" ? row.previousElementSibling : null;
    if (next) { next.focus(); e.preventDefault(); }
    if (e.key === "Enter") { row.click(); e.preventDefault(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && open && !/INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) closeDoc();
  });

  // ---- one event: every field, filter in/out, pivots ----------------------------------------
  function pivot(label, testid, s) {
    return h("button", { type: "button", "data-testid": testid, onclick: function () { setSearch(s); } }, label);
  }
  function isOpen(ev) { return open !== null && page !== null && open.table === page.table && open.ev._rowid === ev._rowid; }
  function pivots(table, ev, treeBox) {
    var out = HOST_TABLES.indexOf(table) >= 0 ? hostPivots(table, ev, treeBox) : netPivots(table, ev);
    var around = { table: table, query: table === state.table ? state.query : "", from: CR.iso(ev._ts - 60), to: CR.iso(ev._ts + 60) };
    out.push(pivot("±1 min around it", "pivot-around", around));
    if (rules.draft) out.push(h("button", { type: "button", "data-testid": "pivot-rule",
      onclick: function () { rules.draft(table, ev); } }, "Rule draft from this event"));
    return out;
  }
  function netPivots(table, ev) {  // a Zeek log's record: its connection's packets, its uid, its hosts
    var out = [h("button", { type: "button", "data-testid": "pivot-packets",
      onclick: function () { drills.open(table, ev._rowid, ev._ts); } }, table === "arp" ? "Packets" : "Packets of its connection")];
    if (ev.uid) {
      UID_TABLES.filter(function (t) { return t !== table; }).forEach(function (t) {
        out.push(pivot(t + " with this uid", "pivot-uid-" + t, { table: t, query: "uid:" + quoted(ev.uid) }));
      });
    }
    ["id.orig_h", "id.resp_h"].forEach(function (f) {
      if (!ev[f]) return;
      var q = "id.orig_h:" + quoted(ev[f]) + " OR id.resp_h:" + quoted(ev[f]);
      out.push(pivot("conn of host " + ev[f], "pivot-host-" + (f === "id.orig_h" ? "orig" : "resp"), { table: "conn", query: q }));
    });
    return out;
  }
  // a host record (no uid, no packets of its own): its process, the process's tree, connections and
  // files, the Zeek connection of a network_connection record, and everything on the host around it
  function hostPivots(table, ev, treeBox) {
    var out = [], host = ev.host, pid = WS.hostPid(table, ev);
    if (host === undefined || host === null || host === "") return out;
    var on = "host:" + quoted(host);
    if (table === "process_creation" && tree) {
      out.push(h("button", { type: "button", "data-testid": "pivot-tree", "aria-controls": "proc-tree",
        "aria-expanded": "false", title: "its parents up the tree and its children, on " + host,
        onclick: function (e) { showTree(ev, treeBox, e.currentTarget); } }, "Its process tree"));
    } else if (pid !== null && tree) {
      out.push(h("button", { type: "button", "data-testid": "pivot-process", title: "the process_creation record of pid " + pid +
        " on " + host + " and its tree", onclick: function () { processTree(host, pid, ev._ts); } }, "Its process"));
    }
    if ((table === "process_creation" || table === "network_connection") && ev.ProcessId !== undefined && ev.ProcessId !== null) {
      var mine = on + " AND ProcessId:" + quoted(+ev.ProcessId);
      var since = table === "process_creation" ? CR.iso(ev._ts) : "";  // not a previous process of the same pid
      out.push(pivot("Its connections", "pivot-connections", { table: "network_connection", query: mine, from: since }));
      if (table === "process_creation") out.push(pivot("Its files", "pivot-files", { table: "file_event", query: mine, from: since }));
    }
    if (table === "network_connection") {
      var src = ev.SourceIp, dst = ev.DestinationIp;
      if (src && dst && ev.SourcePort && ev.DestinationPort) {  // Zeek's record of this very connection, either way round
        var one = function (a, ap, b, bp) {
          return "(id.orig_h:" + quoted(a) + " AND id.orig_p:" + +ap + " AND id.resp_h:" + quoted(b) + " AND id.resp_p:" + +bp + ")";
        };
        out.push(pivot("conn of this connection", "pivot-netconn-conn", { table: "conn",
          query: one(src, ev.SourcePort, dst, ev.DestinationPort) + " OR " + one(dst, ev.DestinationPort, src, ev.SourcePort),
          from: CR.iso(ev._ts - 60), to: CR.iso(ev._ts + 60) }));
      }
      if (src) out.push(pivot("conn from this host (" + src + ")", "pivot-host-conn", { table: "conn", query: "id.orig_h:" + quoted(src) }));
    }
    if (table === "webserver" && ev["c-ip"]) {  // the sensor's view of the client's requests
      out.push(pivot("http from this client (" + ev["c-ip"] + ") ±1 min", "pivot-webserver-http", { table: "http",
        query: "id.orig_h:" + quoted(ev["c-ip"]), from: CR.iso(ev._ts - 60), to: CR.iso(ev._ts + 60) }));
    }
    out.push(pivot("Processes on " + host, "pivot-host-processes", { table: "process_creation", query: on }));
    HOST_TABLES.forEach(function (t) {
      out.push(pivot(t + " ±1 min on " + host, "pivot-host-around-" + t,
        { table: t, query: on, from: CR.iso(ev._ts - 60), to: CR.iso(ev._ts + 60) }));
    });
    return out;
  }
  function showTree(ev, box, button) {
    if (button && !box.hidden) {  // the button folds it again
      box.hidden = true; button.setAttribute("aria-expanded", "false");
      return;
    }
    if (button) button.setAttribute("aria-expanded", "true");
    box.hidden = false;
    box.replaceChildren(h("p", { class: "muted" }, "Looking up the process tree…"));
    box.setAttribute("aria-busy", "true");
    tree.load(ev).then(function (t) {
      if (!open || open.ev !== ev) return;
      box.replaceChildren.apply(box, tree.view(t, { search: setSearch,
        open: function (rec) { openDoc(rec, "process_creation", true); } }));
    }).catch(function (e) {
      if (open && open.ev === ev) box.replaceChildren(h("p", { class: "error" }, e.message || String(e)));
    }).then(function () { box.setAttribute("aria-busy", "false"); });
  }
  // From an alert or a host record: the processes on ``host`` around ``at`` (epoch seconds or ISO)
  // in the grid, and the process ``pid`` had then opened with its tree (or a note that none is recorded).
  function processTree(host, pid, at) {
    var t = CR.millis(at) / 1000;
    setSearch({ table: "process_creation", query: "host:" + quoted(host), from: CR.iso(t - 60), to: CR.iso(t + 60) });
    var mine = ++finding;
    var none = function () {
      if (mine !== finding || open) return;
      note("No process_creation record " + (pid === null || pid === undefined ? "names the process" : "of pid " + pid) +
        " on " + host + " before " + CR.tod(t, true) + " UTC: the processes on " + host + " around then are listed.");
    };
    if (!tree || pid === null || pid === undefined) { none(); return Promise.resolve(null); }
    return tree.find(host, pid, t).then(function (rec) {
      if (mine !== finding) return null;
      if (rec) openDoc(rec, "process_creation", true); else none();
      return rec;
    }).catch(function (e) { if (mine === finding) showError("event-error", e); });
  }
  function note(text) {  // a message where the document view opens
    var box = document.getElementById("event-doc");
    box.replaceChildren(h("div", { class: "doc-head" }, h("h3", {}, "Process tree"), h("button", { type: "button",
      "data-testid": "doc-close", onclick: function () { box.hidden = true; } }, "Close")),
    h("p", { class: "muted", "data-testid": "tree-note" }, text));
    box.hidden = false;
  }
  function openDoc(ev, table, withTree) {
    table = table || page.table;
    finding++;  // a process lookup still under way does not open over this one
    open = { ev: ev, table: table };
    var box = document.getElementById("event-doc");
    var keys = Object.keys(ev).filter(function (k) { return k.charAt(0) !== "_"; });
    var treeBox = h("div", { class: "proc-tree", id: "proc-tree", "data-testid": "proc-tree", hidden: true,
      "aria-live": "polite" });
    box.replaceChildren(
      h("div", { class: "doc-head" }, h("h3", {}, table + ":" + ev._rowid, " ", h("small", { class: "muted" },
        CR.tod(ev._ts, true) + " UTC")), h("button", { type: "button", "data-testid": "doc-close", title: "Escape",
        onclick: closeDoc }, "Close")),
      h("p", { class: "muted" }, "Cite it in a report's evidence as ", h("code", { "data-testid": "doc-cite" }, table + ":" + ev._rowid)),
      h("div", { class: "toolbar pivots", "data-testid": "doc-pivots" }, pivots(table, ev, treeBox)),
      treeBox,
      h("table", { class: "grid compact doc", "data-testid": "doc-fields" }, h("tbody", {}, keys.map(function (k) {
        var v = ev[k];
        return h("tr", { "data-testid": "doc-field", dataset: { field: k } }, h("th", {}, k),
          h("td", { class: "wrap" }, k === "ts" ? CR.when(v, true) : v === null ? h("span", { class: "muted" }, "–") :
            typeof v === "object" ? JSON.stringify(v) : String(v)),
          h("td", {}, v === null || typeof v === "object" || table !== state.table ? null : inOut(k, v)));
      }))));
    box.hidden = false;
    if (withTree && tree) showTree(ev, treeBox, box.querySelector('[data-testid="pivot-tree"]'));
    render();
  }
  function closeDoc() {
    var box = document.getElementById("event-doc");
    if (!open) { box.hidden = true; return; }
    var row = open.table === (page && page.table) ? grid.querySelector('tr[data-rowid="' + open.ev._rowid + '"]') : null;
    open = null;
    box.hidden = true;
    render();
    if (row) { var again = grid.querySelector('tr[data-rowid="' + row.dataset.rowid + '"]'); if (again) again.focus(); }
    if (pending) loadEvents();
  }

  // ---- live tail: new events wait behind a banner while the pointer is on the grid or a row is open
  function banner(n) {
    pending = n;
    var b = document.getElementById("event-banner");
    b.hidden = !n;
    b.textContent = n ? n + " new event" + (n === 1 ? "" : "s") + " · show" : "";
  }
  document.getElementById("event-banner").addEventListener("click", loadEvents);
  grid.addEventListener("mouseenter", function () { hovering = true; });
  grid.addEventListener("mouseleave", function () { hovering = false; if (pending && !open) loadEvents(); });
  function held() { return hovering || open !== null || grid.contains(document.activeElement); }
  function onCount(n) {
    if (!document.getElementById("event-tail").checked || state.offset !== 0 || n === seenCount) return;
    seenCount = n;
    if (Date.now() - lastHunt > 5000) loadHunt();  // the histogram and facets follow, at most every 5 s
    if (!held() || !page) { loadEvents(); return; }
    var newest = page.sort === "ts" && page.order === "desc" || !page.sort;
    if (!newest) return;  // a sorted or oldest-first page does not take new rows at its top
    CR.api("GET", eventsUrl({ after: page.latest_rowid, limit: 1, offset: 0 })).then(function (p) {
      if (held()) banner(p.total); else loadEvents();
    }).catch(function () {});
  }

  // ---- form ---------------------------------------------------------------------------------
  document.getElementById("event-filter").addEventListener("submit", function (e) {
    e.preventDefault();
    fromForm();
    apply();
  });
  document.getElementById("event-table").addEventListener("change", function () {
    // another table has other fields: the previous table's filter and query go too (its sort and columns: useTable)
    document.getElementById("event-filters").value = "";
    document.getElementById("event-query").value = "";
    fromForm();
    apply();
  });
  document.getElementById("event-newer").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - state.limit); loadEvents();
  });
  document.getElementById("event-older").addEventListener("click", function () {
    state.offset += state.limit; loadEvents();
  });

  restoreUrl();
  saveUrl();
  loadEvents();
  loadHunt();
  return { onCount: onCount, table: function () { return state.table; }, state: state, setSearch: setSearch,
    processTree: processTree };
};
