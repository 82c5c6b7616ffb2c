// The workspace's rule editor: a YAML editor (line numbers, highlighting, Ctrl+Enter to dry-run, the
// lines of errors and warnings marked), the store's log sources and fields one click away, a rule
// drafted from an event; dry run, deploy, the team's rules, withdraw.
"use strict";
window.WS = window.WS || {};
WS.rules = function (base, alertView, showError) {
  var h = CR.h;
  var ta = document.getElementById("rule-editor");
  var pre = document.getElementById("rule-highlight");
  var gutter = document.getElementById("rule-gutter");
  var sources = { tables: null, counts: {}, logsources: {}, current: null };
  var marks = {};        // line number -> {kind: "error" | "warning", messages: [...]}
  var lineCount = 0;
  var escaped = false;   // Esc was pressed: the next Tab leaves the editor
  var touched = false;   // the trainee has put the cursor somewhere (else fields go under the selection)
  // the fields a rule drafted from an event selects on: what tells that event apart
  var DRAFT_FIELDS = { conn: ["id.resp_h", "id.resp_p", "proto"], dns: ["query", "qtype_name"],
    http: ["method", "uri", "user_agent"], ssh: ["client", "id.resp_h", "id.resp_p"], ftp: ["command", "arg"],
    telnet: ["user", "id.resp_h"], arp: ["operation", "id.orig_h", "src_mac"] };

  // ---- the editor: the textarea over a highlighted <pre>, a gutter of line numbers -----------

  // every way the text changes ends here: Playwright, csirt.js ("indicator to rule") and "Edit
  // copy" set .value, which fires no input event, so the element's own value setter redraws too
  var proto = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value");
  Object.defineProperty(ta, "value", {
    configurable: true,
    get: function () { return proto.get.call(ta); },
    set: function (v) { proto.set.call(ta, v); marks = {}; redraw(); }
  });

  function ruleText() { return ta.value; }

  var COND = /^(and|or|not|of|all|them|any|near|by|count|min|max|avg|sum)$/;

  // A YAML line as [class, text] tokens; ``st`` carries block scalars and condition lists across lines.
  function tokens(line, st) {
    var out = [];
    var lead = /^ */.exec(line)[0].length;
    if (st.block !== null) {
      if (!line.trim() || lead > st.block) return [["str", line]];
      st.block = null;
    }
    if (st.cond !== null && line.trim() && lead <= st.cond) st.cond = null;
    if (/^(---|\.\.\.)\s*$/.test(line)) { st.cond = null; return [["doc", line]]; }
    if (/^\s*#/.test(line)) return [[null, line.slice(0, lead)], ["comment", line.slice(lead)]];
    var rest = line.slice(lead), col = lead;
    out.push([null, line.slice(0, lead)]);
    var d;
    while ((d = /^-(\s+|$)/.exec(rest))) {
      out.push(["dash", "-"], [null, d[1]]);
      rest = rest.slice(d[0].length); col += d[0].length;
    }
    if (st.cond !== null && out.length > 1) return out.concat(condition(rest));
    var k = /^([^\s:|#'"\[\]{},&*!>%@`][^:|#]*?|"[^"]*"|'[^']*')((?:\|[^:|\s]*)*)(:)(?=\s|$)/.exec(rest);
    if (!k) return out.concat(value(rest));
    out.push(["key", k[1]]);
    if (k[2]) k[2].split(/(?=\|)/).forEach(function (m) { out.push(["op", "|"], ["mod", m.slice(1)]); });
    out.push(["colon", ":"]);
    var v = rest.slice(k[0].length);
    if (k[1].trim() === "condition") {
      if (!v.trim() || /^\s*#/.test(v)) st.cond = col;
      return out.concat(condition(v));
    }
    if (/^\s*[|>][-+0-9]*\s*(#.*)?$/.test(v)) {  // a block scalar: the lines below, further in, are its text
      st.block = col;
      var c = v.indexOf("#");
      return out.concat([["op", c < 0 ? v : v.slice(0, c)], ["comment", c < 0 ? "" : v.slice(c)]]);
    }
    return out.concat(value(v));
  }

  function value(v) {
    var out = [], ws = /^\s*/.exec(v)[0], s = v.slice(ws.length), m;
    out.push([null, ws]);
    if (!s) return out;
    if ((m = /^'(?:[^']|'')*'?/.exec(s)) || (m = /^"(?:[^"\\]|\\.)*"?/.exec(s))) {
      out.push(["str", m[0]]);
      s = s.slice(m[0].length);
      return out.concat(trailing(s));
    }
    var c = /(^|\s)#/.exec(s);
    var plain = c ? s.slice(0, c.index) : s, rest = c ? s.slice(c.index) : "";
    var t = plain.trim();
    var cls = /^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t) || /^0x[0-9a-f]+$/i.test(t) ? "num"
      : /^(true|false|null|~|yes|no)$/i.test(t) ? "bool" : /^[\[{]/.test(t) ? "flow" : "val";
    out.push([cls, plain]);
    return out.concat(trailing(rest));
  }

  function trailing(s) {
    var c = s.indexOf("#");
    return c < 0 ? [[null, s]] : [[null, s.slice(0, c)], ["comment", s.slice(c)]];
  }

  function condition(v) {
    var out = [], c = /(^|\s)#/.exec(v);
    var body = c ? v.slice(0, c.index) : v;
    body.split(/(\s+|[()|<>=]+)/).forEach(function (w) {
      if (!w) return;
      out.push([COND.test(w) || /^\d+$/.test(w) ? "kw" : /^[()|<>=]+$/.test(w) ? "op" : /^\s+$/.test(w) ? null : "ident", w]);
    });
    if (c) out.push(["comment", v.slice(c.index)]);
    return out;
  }

  function redraw() {
    var lines = ta.value.split("\n");
    var st = { block: null, cond: null };
    var hl = document.createDocumentFragment(), nums = document.createDocumentFragment();
    lines.forEach(function (line, i) {
      var n = i + 1, mk = marks[n];
      var span = h("span", { class: "ln" + (mk ? " mark-" + mk.kind : ""), dataset: { line: n } });
      tokens(line, st).forEach(function (t) {
        if (!t[1]) return;
        span.appendChild(t[0] ? h("span", { class: "t-" + t[0] }, t[1]) : document.createTextNode(t[1]));
      });
      hl.appendChild(span);
      hl.appendChild(document.createTextNode("\n"));
      nums.appendChild(h("div", { class: mk ? "mark-" + mk.kind : null, dataset: { line: n },
        title: mk ? mk.messages.join("\n") : null, "data-testid": "rule-line-number" }, n));
    });
    hl.appendChild(document.createTextNode(" "));  // a last empty line is a line too
    pre.replaceChildren(hl);
    gutter.replaceChildren(nums);
    lineCount = lines.length;
    sync();
    status();
    problems();
  }

  function sync() {
    // the <pre> leaves out the textarea's scroll bars: both scroll over the same width and height
    var right = (ta.offsetWidth - ta.clientWidth) + "px", bottom = (ta.offsetHeight - ta.clientHeight) + "px";
    if (pre.style.right !== right) pre.style.right = right;
    if (pre.style.bottom !== bottom) { pre.style.bottom = bottom; gutter.style.paddingBottom = "calc(var(--code-pad) + 4px + " + bottom + ")"; }
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
    gutter.scrollTop = ta.scrollTop;
  }

  ta.addEventListener("input", function () {
    if (ta.value.split("\n").length !== lineCount) marks = {};  // the marked lines moved
    redraw();
  });
  ta.addEventListener("scroll", sync);
  if (window.ResizeObserver) new ResizeObserver(sync).observe(ta);
  ["keyup", "mouseup", "select", "focus"].forEach(function (e) {
    ta.addEventListener(e, function () { if (e !== "focus") touched = true; status(); });
  });

  // ---- editing -----------------------------------------------------------------------------

  // Replace [from, to) with text, as typing would (the browser's undo keeps it where it can).
  function replace(from, to, text) {
    ta.focus();
    ta.setSelectionRange(from, to);
    var done = false;
    try { done = document.execCommand("insertText", false, text); } catch (e) { done = false; }
    if (!done || ta.value.slice(from, from + text.length) !== text) {
      ta.setRangeText(text, from, to, "end");
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
    ta.setSelectionRange(from + text.length, from + text.length);
    touched = true;
    status();
  }

  function lineStart(v, pos) { return v.lastIndexOf("\n", pos - 1) + 1; }
  function lineEnd(v, pos) { var e = v.indexOf("\n", pos); return e < 0 ? v.length : e; }
  function indentOf(line) { return /^ */.exec(line)[0]; }

  // Tab and Shift+Tab indent and outdent the lines of the selection by two spaces
  function indent(out) {
    var v = ta.value, s = ta.selectionStart, e = ta.selectionEnd;
    if (!out && v.slice(s, e).indexOf("\n") < 0) { replace(s, e, "  "); return; }
    var from = lineStart(v, s), to = lineEnd(v, e > s && v[e - 1] === "\n" ? e - 1 : e);
    var first = 0;
    var changed = v.slice(from, to).split("\n").map(function (l, i) {
      var d = out ? -Math.min(2, indentOf(l).length) : l ? 2 : 0;
      if (i === 0) first = d;
      return d < 0 ? l.slice(-d) : d > 0 ? "  " + l : l;
    }).join("\n");
    replace(from, to, changed);
    var a = s === from && s !== e ? from : Math.max(from, s + first);  // whole lines stay selected whole
    ta.setSelectionRange(a, s === e ? a : from + changed.length);
  }

  ta.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      dryRun();
      return;
    }
    if (e.key === "Escape") { escaped = true; return; }
    if (e.key === "Tab" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      if (escaped) { escaped = false; return; }   // Esc, Tab: the keyboard leaves the editor
      e.preventDefault();
      indent(e.shiftKey);
      return;
    }
    escaped = false;
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing) {  // keep the indentation
      var v = ta.value, s = ta.selectionStart;
      var line = v.slice(lineStart(v, s), s);
      var ind = indentOf(line) + (/:\s*(#.*)?$/.test(line) ? "  " : "");
      e.preventDefault();
      replace(s, ta.selectionEnd, "\n" + ind);
    }
  });

  // ---- where the caret is, and which table the rule reads ------------------------------------

  // the document (between --- lines) around offset pos: [start, end)
  function docAt(v, pos) {
    var re = /^---[ \t]*$/gm, m, start = 0, end = v.length;
    while ((m = re.exec(v))) {
      if (m.index + m[0].length < pos) start = Math.min(v.length, m.index + m[0].length + 1);
      else { end = m.index; break; }
    }
    return [start, end];
  }

  // the top-level block ``key:`` of a document: [start of its line, end of its last line] or null
  function block(v, from, to, key) {
    var m = new RegExp("^" + key + ":[ \\t]*(#.*)?$", "m").exec(v.slice(from, to));
    if (!m) return null;
    var start = from + m.index, end = lineEnd(v, start);
    var p = end;
    while (p < to) {
      var ne = lineEnd(v, p + 1), line = v.slice(p + 1, ne);
      if (line.trim() && !/^[ \t]/.test(line)) break;
      if (line.trim()) end = ne;
      p = ne;
    }
    return [start, end];
  }

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

  // the table a log source reads, as the pipeline decides (its last matching entry wins)
  function tableOf(ls) {
    if (!ls) return null;
    var found = null;
    Object.keys(sources.logsources).forEach(function (t) {
      sources.logsources[t].forEach(function (c) {
        var ok = Object.keys(c).every(function (k) { return String(ls[k] || "").toLowerCase() === String(c[k]).toLowerCase(); });
        if (ok && Object.keys(c).length) found = t;
      });
    });
    return found;
  }

  function status() {
    var v = ta.value, s = ta.selectionStart;
    var ln = v.slice(0, s).split("\n").length, col = s - lineStart(v, s) + 1;
    var ls = ruleLogsource(v, s), t = tableOf(ls);
    var reads = !ls ? "no log source yet" : !sources.tables ? "" : t ? "reads the " + t + " log" : "this log source is not mapped to any table";
    document.getElementById("rule-status").textContent = "Ln " + ln + ", Col " + col + (reads ? " · " + reads : "");
    current(t);
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

  // ---- error and warning lines -------------------------------------------------------------

  // the line a message is about: "line 7: ..." (YAML), "rule.yml:7", else the first line that
  // holds a name the message quotes ('qurey', 'selectoin', 'huge'), or the logsource line
  function lineOf(msg) {
    var m = /\bline (\d+)\b/.exec(msg) || /\.ya?ml:(\d+)\b/.exec(msg);
    if (m) return Math.max(1, Math.min(+m[1], ta.value.split("\n").length));
    var lines = ta.value.split("\n"), names = [], q = /'([^'\n]{1,200})'/g;
    while ((m = q.exec(msg))) names.push(m[1]);
    for (var i = 0; i < names.length; i++) {
      var esc = names[i].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      var re = new RegExp("(^|[^\\w.-])" + esc + "($|[^\\w.-])");
      var keyRe = new RegExp("^[\\s-]*['\"]?" + esc + "['\"]?\\s*[|:]");
      var at = lines.findIndex(function (l) { return keyRe.test(l); });
      if (at < 0) at = lines.findIndex(function (l) { return !/^\s*#/.test(l) && re.test(l); });
      if (at >= 0) return at + 1;
    }
    if (/log source/.test(msg)) {
      var ls = lines.findIndex(function (l) { return /^logsource\s*:/.test(l); });
      if (ls >= 0) return ls + 1;
    }
    return null;
  }

  function mark(errors, warnings) {
    marks = {};
    var add = function (kind) {
      return function (msg) {
        msg.split(/;\s+(?=\S)/).forEach(function (part) {
          var n = lineOf(part);
          if (n === null) return;
          var mk = marks[n] || (marks[n] = { kind: kind, messages: [] });
          if (kind === "error") mk.kind = "error";
          mk.messages.push(part);
        });
      };
    };
    errors.forEach(add("error"));
    warnings.forEach(add("warning"));
    redraw();
  }

  function problems() {
    var ul = document.getElementById("rule-problems");
    ul.replaceChildren.apply(ul, Object.keys(marks).map(Number).sort(function (a, b) { return a - b; }).map(function (n) {
      var mk = marks[n];
      return h("li", { class: mk.kind, "data-testid": "rule-problem", dataset: { line: n, kind: mk.kind } },
        h("button", { type: "button", class: "link", title: "go to the line", onclick: function () { goto(n); } }, "line " + n),
        " " + mk.kind + ": " + mk.messages.join("; "));
    }));
  }

  function goto(n) {
    var v = ta.value, lines = v.split("\n"), start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + (lines[n - 1] || "").length);
    var lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
    ta.scrollTop = Math.max(0, (n - 1) * lh - ta.clientHeight / 3);
    sync();
    touched = true;
    status();
  }

  // ---- dry run and deploy ------------------------------------------------------------------

  function messages(list) { return (list || []).map(function (w) { return w.message; }); }

  function dryRun() {
    var out = document.getElementById("dry-run-result");
    out.replaceChildren(h("p", { class: "muted" }, "running…"));
    return CR.api("POST", base + "/dry-run", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      mark(messages(res.errors), messages(res.warnings));
      out.replaceChildren(h("p", { "data-testid": "dry-run-count" },
        "Would raise " + res.matches + " alert(s) over your events so far (nothing is kept, the score does not change)."));
      if (res.errors.length) out.appendChild(h("p", { class: "error" }, messages(res.errors).join("; ")));
      if (res.warnings && res.warnings.length) out.appendChild(h("p", { class: "warning", "data-testid": "dry-run-warnings" },
        "Warnings: " + messages(res.warnings).join("; ")));
      res.alerts.slice(0, 20).forEach(function (a) { out.appendChild(alertView(a)); });
    }).catch(function (e) { out.replaceChildren(); showError("rule-error", e); mark([e.message], []); });
  }

  document.getElementById("rule-dry-run").addEventListener("click", dryRun);

  document.getElementById("rule-deploy").addEventListener("click", function () {
    CR.api("POST", base + "/rules", { yaml: ruleText() }).then(function (res) {
      showError("rule-error", null);
      mark([], messages(res.warnings));
      var msg = "Deployed rule #" + res.pk + " “" + res.title + "”.";
      if (res.warnings && res.warnings.length) msg += " Warnings: " + messages(res.warnings).join("; ");
      document.getElementById("dry-run-result").replaceChildren(h("p", { class: "ok", "data-testid": "deploy-ok" }, msg));
      loadRules();
    }).catch(function (e) { showError("rule-error", e); mark([e.message], []); });
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
    var v = ta.value, d = block(v, 0, v.length, "detection");
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
    if (caret !== null) ta.setSelectionRange(caret, caret);
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
    var v = ta.value, s0 = ta.selectionStart, was = touched;
    var text = "logsource:\n" + lsLines(ls).join("\n");
    if (!v.trim()) {
      replace(0, v.length, skeleton(ls, table + " rule", [], null));
      touched = false;
      caretInSelection();
      ta.focus();
      status();
      return;
    }
    var d = docAt(v, s0), b = block(v, d[0], d[1], "logsource") || block(v, 0, v.length, "logsource");
    if (!b) {
      var det = block(v, d[0], d[1], "detection");
      var at = det ? det[0] : d[1];
      text = (!det && at > 0 && v[at - 1] !== "\n" ? "\n" : "") + text + "\n";
      b = [at, at];
    }
    replace(b[0], b[1], text);
    var caret = s0 < b[0] ? s0 : s0 >= b[1] ? s0 + text.length - (b[1] - b[0]) : b[0] + text.length;
    ta.setSelectionRange(caret, caret);
    touched = was;
    ta.focus();
    status();
  }

  function useField(name) {
    var mod = document.getElementById("rule-field-as").value;
    var key = (/^[\w.-]+$/.test(name) ? name : scalar(name)) + mod + ": ";
    if (!touched && ta.value.trim()) caretInSelection();
    var v = ta.value, s = ta.selectionStart, e = ta.selectionEnd;
    var ls = lineStart(v, s), le = lineEnd(v, s), line = v.slice(ls, le);
    if (!line.trim()) {  // a blank line: the field goes there, as far in as the block it is in
      replace(ls, le, (line.length ? line : fieldIndent(v.slice(0, ls))) + key);
    } else if (s === e && !v.slice(s, le).trim()) {  // the end of a line: the field goes on the next
      replace(le, le, "\n" + fieldIndent(v.slice(0, le)) + key);
    } else {
      replace(s, e, key);
    }
    ta.focus();
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
    status();
  }

  function loadSources() {
    return CR.api("GET", base + "/events/tables").then(function (res) {
      var first = !sources.tables;
      sources.tables = res.tables; sources.counts = res.counts || {}; sources.logsources = res.logsources || {};
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
    ta.value = text;
    document.getElementById("tab-rules").click();
    ta.focus();
    ta.scrollTop = 0;
    touched = false;
    caretInSelection();
    sync();
    status();
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
            h("button", { type: "button", onclick: function () { ta.value = r.yaml; ta.focus(); } }, "Edit copy"),
            r.active ? h("button", { type: "button", "data-testid": "rule-withdraw", onclick: function () { withdraw(r.pk); } }, "Withdraw") : null)));
      });
    }).catch(function (e) { showError("rule-error", e); });
  }

  function withdraw(pk) {
    CR.api("DELETE", base + "/rules/" + pk).then(loadRules).catch(function (e) { showError("rule-error", e); });
  }

  function load() {
    redraw();
    loadSources();
    return loadRules();
  }

  redraw();
  loadSources();   // a draft takes its table's usual log source from there
  var api = { load: load, draft: draft };
  WS.ruleEditor = api;   // for the other scripts of the page (the explorer's "rule from this event")
  return api;
};
