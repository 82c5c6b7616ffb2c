// The rule editor's code widget: a YAML textarea over a highlighted <pre>, line numbers, problem lines marked.
"use strict";
window.WS = window.WS || {};
// ta: the textarea; opts: highlight (the <pre>), gutter, status (the "Ln, Col" line), problems (a <ul>),
// onRun (Ctrl+Enter), describe(text, caret) (what the status line adds after "Ln, Col", or "")
WS.codeEditor = function (ta, opts) {
  var h = CR.h;
  var pre = opts.highlight, gutter = opts.gutter;
  var marks = {};        // line number -> {kind: "error" | "warning", messages: [...]}
  var lineCount = 0;
  var escaped = false;   // Esc was pressed: the next Tab leaves the editor
  var touched = false;   // the trainee has put the cursor somewhere (else fields go under the selection)

  // ---- the editor: the textarea over a highlighted <pre>, a gutter of line numbers -----------

  // every way the text changes ends here: Playwright, csirt.js ("indicator to rule") and "Edit
  // copy" set .value, which fires no input event, so the element's own value setter redraws too
  var proto = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value");
  Object.defineProperty(ta, "value", {
    configurable: true,
    get: function () { return proto.get.call(ta); },
    set: function (v) { proto.set.call(ta, v); marks = {}; redraw(); }
  });

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
      opts.onRun();
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

  // ---- where the caret is -----------------------------------------------------------------

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

  // the status line: where the caret is, and what the page says about the text there
  function status() {
    var v = ta.value, s = ta.selectionStart;
    var ln = v.slice(0, s).split("\n").length, col = s - lineStart(v, s) + 1;
    var more = opts.describe ? opts.describe(v, s) : "";
    opts.status.textContent = "Ln " + ln + ", Col " + col + (more ? " · " + more : "");
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
    var ul = opts.problems;
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

  return {
    textarea: ta,
    value: function () { return ta.value; },
    setValue: function (v) { ta.value = v; },   // clears the marks and redraws (the setter above)
    redraw: redraw, sync: sync, status: status, mark: mark, replace: replace, focus: function () { ta.focus(); },
    selection: function () { return [ta.selectionStart, ta.selectionEnd]; },
    setCaret: function (from, to) { ta.setSelectionRange(from, to === undefined ? from : to); },
    scrollToTop: function () { ta.scrollTop = 0; },
    touched: function () { return touched; },
    setTouched: function (t) { touched = t; },
    // the text's helpers: offsets of lines, a line's indentation, the YAML document and top-level block at an offset
    lineStart: lineStart, lineEnd: lineEnd, indentOf: indentOf, docAt: docAt, block: block
  };
};
