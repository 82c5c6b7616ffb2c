// The workspace's rule editor: dry run and deploy, log sources and fields, a rule drafted from an event, the team's rules.
"use strict";
window.WS = window.WS || {};
WS.rules = function (base, alertView, showError) {
  var h = CR.h;
  var sources = { tables: null, counts: {}, logsources: {}, mapping: [], current: null };
  // the fields a rule drafted from an event selects on: what tells that event apart
  var DRAFT_FIELDS = { conn: ["id.resp_h", "id.resp_p", "proto"], dns: ["query", "qtype_name"],
    http: ["method", "uri", "user_agent"], ssh: ["client", "id.resp_h", "id.resp_p"], ftp: ["command", "arg"],
    telnet: ["user", "id.resp_h"], arp: ["operation", "id.orig_h", "src_mac"],
    webserver: ["cs-method", "cs-uri-stem", "cs-user-agent"] };

  // the YAML editor itself (ruleeditor.js): Ctrl+Enter dry-runs, the status line says which table the rule reads
  var ed = WS.codeEditor(document.getElementById("rule-editor"), {
    highlight: document.getElementById("rule-highlight"), gutter: document.getElementById("rule-gutter"),
    status: document.getElementById("rule-status"), problems: document.getElementById("rule-problems"),
    onRun: dryRun, describe: reads });
  var lineStart = ed.lineStart, lineEnd = ed.lineEnd, indentOf = ed.indentOf, docAt = ed.docAt, block = ed.block;

  function ruleText() { return ed.value(); }

  // ---- which table the rule reads ------------------------------------------------------------

  function ruleLogsource(v, pos) {
    var d = docAt(v, pos);
    // a correlation's document has none: the first document that has one
    var b = block(v, d[0], d[1], "logsource") || block(v, 0, v.length, "logsource");
    if (!b) return null;
    var ls = {};
    v.slice(b[0], b[1]).split("\n").slice(1).forEach(function (l) {
      var m = /^\s+(category|product|service)\s*:\s*(.*?)\s*(#.*)?$/.exec(l);
      if (m) ls[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
    });
    return ls;
  }

  // the table a log source reads, as the pipeline decides: its table mapping in the pipeline's order
  // ("mapping" of /events/tables), the last entry that matches wins, as pySigma applies them; so
  // product: linux, category: process_creation passes syslog's catch-all product: linux and reads process_creation
  function tableOf(ls) {
    if (!ls) return null;
    var found = null;
    sources.mapping.forEach(function (m) {
      var hit = m.logsources.some(function (c) {
        return Object.keys(c).length && Object.keys(c).every(function (k) {
          return String(ls[k] || "").toLowerCase() === String(c[k]).toLowerCase();
        });
      });
      if (hit) found = m.table;
    });
    return found;
  }

  // what the status line says after "Ln, Col": the table the rule at the caret reads
  function reads(v, s) {
    var ls = ruleLogsource(v, s), t = tableOf(ls);
    current(t);
    return !ls ? "no log source yet" : !sources.tables ? "" : t ? "reads the " + t + " log" : "this log source is not mapped to any table";
  }

  // the table the rule reads: its section is marked and its fields shown
  function current(t) {
    if (t === sources.current || !sources.tables) return;
    sources.current = t;
    document.querySelectorAll("#rule-sources-list .rule-source").forEach(function (sec) {
      var on = sec.dataset.table === t;
      sec.classList.toggle("current", on);
      if (on) sec.querySelector("details").open = true;
    });
  }

  // ---- dry run and deploy ------------------------------------------------------------------

  function messages(list) { return (list || []).map(function (w) { return w.message; }); }

  function dryRun() {
    var out = document.getElementById("dry-run-result");
    out.replaceChildren(h("p", { class: "muted" }, "running…"));
    return CR.api("POST", base + "/dry-run", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      ed.mark(messages(res.errors), messages(res.warnings));
      out.replaceChildren(h("p", { "data-testid": "dry-run-count" },
        "Would raise " + res.matches + " alert(s) over your events so far (nothing is kept, the score does not change)."));
      if (res.errors.length) out.appendChild(h("p", { class: "error" }, messages(res.errors).join("; ")));
      if (res.warnings && res.warnings.length) out.appendChild(h("p", { class: "warning", "data-testid": "dry-run-warnings" },
        "Warnings: " + messages(res.warnings).join("; ")));
      res.alerts.slice(0, 20).forEach(function (a) { out.appendChild(alertView(a)); });
    }).catch(function (e) { out.replaceChildren(); showError("rule-error", e); ed.mark([e.message], []); });
  }

  document.getElementById("rule-dry-run").addEventListener("click", dryRun);

  document.getElementById("rule-deploy").addEventListener("click", function () {
    CR.api("POST", base + "/rules", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      ed.mark([], messages(res.warnings));
      var msg = "Deployed rule #" + res.pk + " “" + res.title + "”.";
      if (res.warnings && res.warnings.length) msg += " Warnings: " + messages(res.warnings).join("; ");
      document.getElementById("dry-run-result").replaceChildren(h("p", { class: "ok", "data-testid": "deploy-ok" }, msg));
      loadRules();
    }).catch(function (e) { showError("rule-error", e); ed.mark([e.message], []); });
  });

  // ---- log sources and fields, one click away ----------------------------------------------

  function lsLines(ls) { return Object.keys(ls).map(function (k) { return "  " + k + ": " + ls[k]; }); }
  function lsText(ls) { return Object.keys(ls).map(function (k) { return k + ": " + ls[k]; }).join(", "); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs a secure context; this does not
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var x = Array.prototype.map.call(b, function (n) { return (n + 0x100).toString(16).slice(1); }).join("");
    return x.slice(0, 8) + "-" + x.slice(8, 12) + "-" + x.slice(12, 16) + "-" + x.slice(16, 20) + "-" + x.slice(20);
  }

  function skeleton(ls, title, selection, description) {
    return ["title: " + scalar(title), "id: " + uuid(), "status: experimental"]
      .concat(description ? ["description: " + scalar(description)] : [])
      .concat(["logsource:"], lsLines(ls), ["detection:", "  selection:"], selection.length ? selection : ["    "],
        ["  condition: selection", "level: medium", ""]).join("\n");
  }

  // the caret where the next field of the detection's first selection goes: on its blank line, or
  // at the end of its last line (the draft's and the skeleton's fields go there until the
  // trainee puts the caret somewhere)
  function caretInSelection() {
    var v = ed.value(), d = block(v, 0, v.length, "detection");
    if (!d) return;
    var lines = v.slice(d[0], d[1]).split("\n"), at = d[0], own = null, caret = null;
    for (var i = 0; i < lines.length; at += lines[i].length + 1, i++) {
      var l = lines[i];
      if (own === null) {
        var m = /^( +)([^\s#][^:]*?)\s*:\s*(#.*)?$/.exec(l);
        if (i > 0 && m && m[2] !== "condition") { own = m[1].length; caret = at + l.length; }
        continue;
      }
      if (l.trim() && indentOf(l).length <= own) break;
      if (!l.trim() && l.length <= own) continue;
      caret = at + l.length;
      if (!l.trim()) break;   // a blank line in the block: the field goes there
    }
    if (caret !== null) ed.setCaret(caret);
  }

  // how far in a field goes on a new line below the text ``above``: into a "selection:" right above
  // it, else beside the field above (past the items of its list)
  function fieldIndent(above) {
    var lines = above.split("\n"), first = true;
    for (var i = lines.length - 1; i >= 0; i--) {
      var l = lines[i];
      if (!l.trim() || /^\s*#/.test(l)) continue;
      if (first && /:(\s*#.*)?$/.test(l)) return indentOf(l) + "  ";
      first = false;
      if (/^\s*[^\s#-][^:]*:(\s|$)/.test(l)) return indentOf(l);
    }
    return "";
  }

  // put a log source in the rule: a new rule around it in an empty editor, else in place of the
  // logsource block of the document at the caret (or the first), else before its detection; the
  // caret stays where it was in the rule (the next field goes where it went before)
  function useLogsource(table, ls) {
    var v = ed.value(), s0 = ed.selection()[0], was = ed.touched();
    var text = "logsource:\n" + lsLines(ls).join("\n");
    if (!v.trim()) {
      ed.replace(0, v.length, skeleton(ls, table + " rule", [], null));
      ed.setTouched(false);
      caretInSelection();
      ed.focus();
      ed.status();
      return;
    }
    var d = docAt(v, s0), b = block(v, d[0], d[1], "logsource") || block(v, 0, v.length, "logsource");
    if (!b) {
      var det = block(v, d[0], d[1], "detection");
      var at = det ? det[0] : d[1];
      text = (!det && at > 0 && v[at - 1] !== "\n" ? "\n" : "") + text + "\n";
      b = [at, at];
    }
    ed.replace(b[0], b[1], text);
    var caret = s0 < b[0] ? s0 : s0 >= b[1] ? s0 + text.length - (b[1] - b[0]) : b[0] + text.length;
    ed.setCaret(caret);
    ed.setTouched(was);
    ed.focus();
    ed.status();
  }

  function useField(name) {
    var mod = document.getElementById("rule-field-as").value;
    var key = (/^[\w.-]+$/.test(name) ? name : scalar(name)) + mod + ": ";
    if (!ed.touched() && ed.value().trim()) caretInSelection();
    var v = ed.value(), sel = ed.selection(), s = sel[0], e = sel[1];
    var ls = lineStart(v, s), le = lineEnd(v, s), line = v.slice(ls, le);
    if (!line.trim()) {  // a blank line: the field goes there, as far in as the block it is in
      ed.replace(ls, le, (line.length ? line : fieldIndent(v.slice(0, ls))) + key);
    } else if (s === e && !v.slice(s, le).trim()) {  // the end of a line: the field goes on the next
      ed.replace(le, le, "\n" + fieldIndent(v.slice(0, le)) + key);
    } else {
      ed.replace(s, e, key);
    }
    ed.focus();
  }

  function drawSources() {
    var box = document.getElementById("rule-sources-list");
    var names = Object.keys(sources.tables);
    box.replaceChildren.apply(box, names.map(function (t) {
      var lss = sources.logsources[t] || [];
      return h("section", { class: "rule-source", "data-testid": "rule-source", dataset: { table: t } },
        h("h4", {}, t, " ", h("small", { class: "muted", "data-testid": "rule-source-count" },
          (sources.counts[t] === undefined ? "" : sources.counts[t] + " events"))),
        h("div", { class: "logsources" }, lss.map(function (ls, i) {
          return h("button", { type: "button", class: "logsource" + (i ? " alt" : ""), "data-testid": "rule-logsource",
            dataset: { table: t }, title: "put this log source in the rule (it reads the " + t + " log)",
            onclick: function () { useLogsource(t, ls); } }, lsText(ls));
        })),
        h("details", {}, h("summary", {}, sources.tables[t].length + " fields"),
          h("div", { class: "fields" }, sources.tables[t].map(function (f) {
            return h("button", { type: "button", class: "field", "data-testid": "rule-field", dataset: { table: t, field: f.name },
              title: f.type + ": insert at the cursor", onclick: function () { useField(f.name); } }, f.name);
          }))));
    }));
    sources.current = undefined;
    ed.status();
  }

  function loadSources() {
    return CR.api("GET", base + "/events/tables").then(function (res) {
      var first = !sources.tables;
      sources.tables = res.tables; sources.counts = res.counts || {}; sources.logsources = res.logsources || {};
      sources.mapping = res.mapping || [];
      if (first) drawSources();
      else document.querySelectorAll("#rule-sources-list .rule-source").forEach(function (sec) {
        var n = sources.counts[sec.dataset.table];
        sec.querySelector("[data-testid=rule-source-count]").textContent = n === undefined ? "" : n + " events";
      });
    }).catch(function (e) {
      if (!sources.tables) document.getElementById("rule-sources-list").replaceChildren(
        h("p", { class: "muted" }, "The log sources show once your events are ready (" + e.message + ")."));
    });
  }

  // ---- a rule drafted from one event (the explorer's pivot) ----------------------------------

  // a YAML scalar for a string, quoted only where YAML would read it otherwise
  function scalar(s) {
    s = String(s);
    if (/[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]/.test(s)) return JSON.stringify(s);
    var plain = s !== "" && !/^\s|\s$/.test(s) && !/^[-?:,\[\]{}#&*!|>'"%@`=<~]/.test(s) && !/:(\s|$)|\s#|\t/.test(s) &&
      !/^(true|false|yes|no|on|off|y|n|null)$/i.test(s) && !/^[-+]?[\d._:]*\d[\d._:]*([eE][-+]?\d+)?$/.test(s) &&
      !/^[-+]?0[xob]/i.test(s) && !/^[-+]?\.(inf|nan)$/i.test(s) && !/^\d{4}-\d\d?-\d\d?/.test(s);
    return plain ? s : "'" + s.replace(/'/g, "''") + "'";
  }

  // an event's value as a Sigma value: numbers as they are, strings exact (Sigma's wildcards
  // * and ? and its escape \ escaped), lists as lists
  function sigmaValue(v, indent) {
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (Array.isArray(v)) return "\n" + v.map(function (x) { return indent + "  - " + sigmaValue(x, indent + "  "); }).join("\n");
    return scalar(String(v).replace(/[\\*?]/g, "\\$&"));
  }

  function draft(table, event) {
    event = event || {};
    var usable = function (k) {
      var v = event[k];
      return v !== undefined && v !== null && v !== "" && v !== "-" && !(Array.isArray(v) && !v.length);
    };
    var fields = (DRAFT_FIELDS[table] || []).filter(usable);
    if (!fields.length) fields = ["id.orig_h", "id.resp_h", "id.resp_p"].filter(usable);
    if (!fields.length) {
      fields = Object.keys(event).filter(function (k) {
        return k[0] !== "_" && k !== "ts" && k !== "uid" && usable(k) && typeof event[k] !== "object";
      }).slice(0, 3);
    }
    var sel = fields.map(function (k) { return "    " + (/^[\w.-]+$/.test(k) ? k : scalar(k)) + ": " + sigmaValue(event[k], "    "); });
    var summary = fields.map(function (k) { return String(event[k]); }).join(" ");
    var title = (table + " " + summary).replace(/\s+/g, " ").trim();
    if (title.length > 80) title = title.slice(0, 79) + "…";
    var where = event._rowid !== undefined ? table + ":" + event._rowid : "a " + table + " event";
    var ls = (sources.logsources[table] || [])[0] || { product: "zeek", service: table };
    var when = event.ts ? " (" + (typeof event.ts === "number" ? CR.iso(event.ts) : event.ts) + ")" : "";
    var text = skeleton(ls, title, sel, "Drafted in the workspace from " + where + when +
      ": widen or narrow the selection before you deploy it.");
    ed.setValue(text);
    document.getElementById("tab-rules").click();
    ed.focus();
    ed.scrollToTop();
    ed.setTouched(false);
    caretInSelection();
    ed.sync();
    ed.status();
    return text;
  }

  // ---- the team's rules --------------------------------------------------------------------

  function loadRules() {
    return CR.api("GET", base + "/rules").then(function (res) {
      var body = document.querySelector("#rules-table tbody");
      body.replaceChildren();
      res.rules.slice().reverse().forEach(function (r) {
        body.appendChild(h("tr", { "data-testid": "rule-row", dataset: { pk: r.pk } },
          h("td", {}, r.pk), h("td", {}, r.title), h("td", {}, h("code", {}, r.rule_id)),
          h("td", {}, CR.when(r.deployed_at)),
          h("td", {}, r.active ? (r.problem ? h("span", { class: "error" }, "broken: " + r.problem) : "active") : "withdrawn"),
          h("td", {},
            h("button", { type: "button", onclick: function () { ed.setValue(r.yaml); ed.focus(); } }, "Edit copy"),
            r.active ? h("button", { type: "button", "data-testid": "rule-withdraw", onclick: function () { withdraw(r.pk); } }, "Withdraw") : null)));
      });
    }).catch(function (e) { showError("rule-error", e); });
  }

  function withdraw(pk) {
    CR.api("DELETE", base + "/rules/" + pk).then(loadRules).catch(function (e) { showError("rule-error", e); });
  }

  function load() {
    ed.redraw();
    loadSources();
    return loadRules();
  }

  ed.redraw();
  loadSources();   // a draft takes its table's usual log source from there
  var api = { load: load, draft: draft };
  WS.ruleEditor = api;   // for the other scripts of the page (the explorer's "rule from this event")
  return api;
};
