// The workspace's packet drill-down: a connection's packets (the clicked event's own marked), one packet's
// dissection tree and hex/ASCII pane, and Follow TCP stream (client and server in two colours, ASCII or hex).
"use strict";
window.WS = window.WS || {};
WS.drill = function (base) {
  var h = CR.h;
  var current = null;  // the event drilled into: {table, rowid}
  var asHex = false;   // the stream's view, kept from one stream to the next as in Wireshark

  function drill(table, rowid, ts) {
    var box = document.getElementById("drill");
    box.hidden = false;
    current = { table: table, rowid: rowid, ts: typeof ts === "number" ? ts : null };
    var body = document.querySelector("#packets-table tbody");
    body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "reading the capture…")));
    document.getElementById("dissection").replaceChildren();
    var stream = document.getElementById("stream");
    stream.hidden = true;
    stream.replaceChildren();
    var followBtn = document.getElementById("follow-stream");
    followBtn.hidden = true;
    followBtn.onclick = function () { follow(table, rowid); };
    document.getElementById("drill-event").textContent = "";
    CR.api("GET", eventUrl(table, rowid) + "/packets").then(function (res) {
      if (!current || current.table !== table || current.rowid !== rowid) return;  // another event was clicked since
      document.getElementById("drill-filter").textContent = res.filter;
      followBtn.hidden = res.proto !== "tcp";
      body.replaceChildren();
      // the event's own packets: from its time on; the first of them is the event's packet
      var t = typeof res.event_ts === "number" ? res.event_ts : typeof ts === "number" ? ts : null;
      var at = t === null ? null : t - 5e-7, first = null, before = 0;
      current.ts = t;
      res.packets.forEach(function (p) {
        var mine = at === null || p.ts >= at, isFirst = mine && at !== null && first === null;
        if (!mine) before++;
        var row = h("tr", { class: "clickable" + (isFirst ? " event-packet" : mine ? "" : " before-event"),
          "data-testid": "packet-row", dataset: { frame: p.frame, event: mine ? "yes" : "no" },
          title: isFirst ? "the event's own packet" : mine ? null : "before the event",
          onclick: function () { dissect(p.frame); } },
          h("td", {}, p.frame), h("td", {}, CR.when(p.ts, true)), h("td", {}, p.src),
          h("td", {}, p.dst), h("td", {}, p.protocol), h("td", { class: "num" }, p.length), h("td", {}, p.info));
        if (isFirst) first = row;
        body.appendChild(row);
      });
      if (at !== null) {
        document.getElementById("drill-event").textContent = first
          ? "▶ marks the " + table + " event's packet (" + CR.tod(t, true) + ")" +
            (before ? "; the connection's " + before + " earlier packet" + (before > 1 ? "s are" : " is") + " dimmed" : "")
          : "no packet at the " + table + " event's time (" + CR.tod(t, true) + ") up to the session clock";
      }
      var list = body.closest(".scroll");  // the event's packet in sight, the page left where it is
      if (first && list) list.scrollTop += first.getBoundingClientRect().top - list.getBoundingClientRect().top - 30;
      if (!res.packets.length) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no packets up to the session clock")));
      if (res.truncated) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "only the first packets are listed")));
    }).catch(function (e) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "error" }, e.message)));
    });
  }

  function eventUrl(table, rowid) {
    return base + "/events/" + encodeURIComponent(table) + "/" + rowid;
  }

  // ---- Follow TCP stream ----------------------------------------------------------------------

  function follow(table, rowid) {
    var box = document.getElementById("stream");
    box.hidden = false;
    box.replaceChildren(h("p", { class: "muted" }, "following the TCP stream…"));
    CR.api("GET", eventUrl(table, rowid) + "/stream").then(function (res) {
      if (!current || current.table !== table || current.rowid !== rowid) return;
      var view = h("pre", { class: "stream-view", "data-testid": "stream-view", tabindex: 0 });
      var at = current.ts === null ? null : current.ts - 5e-7;
      var firstAt = at === null ? -1 : res.chunks.findIndex(function (c) { return c.ts >= at; });
      res.chunks.forEach(function (c, i) { c.at = i === firstAt; });
      function show() {
        view.classList.toggle("hex", asHex);
        var parts = document.createDocumentFragment();  // a telnet stream is thousands of one-byte parts
        (asHex ? hexChunks(res.chunks) : res.chunks.map(asciiChunk)).forEach(function (x) { parts.appendChild(x); });
        view.replaceChildren(parts);
        // the event's own part of the stream: the first sent at or after its time
        var mark = current.ts === null ? null : view.querySelector('.chunk[data-at="1"]');
        if (mark) {
          mark.classList.add("event-chunk");
          view.scrollTop += mark.getBoundingClientRect().top - view.getBoundingClientRect().top;
        }
        if (!res.chunks.length) view.textContent = "no payload up to the session clock";
      }
      var toggle = h("input", { type: "checkbox", "data-testid": "stream-hex", checked: asHex,
        onchange: function () { asHex = toggle.checked; show(); } });
      var n = function (x) { return x.toLocaleString("en"); };
      box.replaceChildren(h("div", {},
        h("div", { class: "stream-head" },
          h("span", { class: "client" }, "client " + res.client + ": " + n(res.bytes.client) + " bytes"),
          h("span", { class: "server" }, "server " + res.server + ": " + n(res.bytes.server) + " bytes"),
          h("label", { class: "check" }, toggle, " show as hex"),
          h("button", { type: "button", "data-testid": "stream-close",
            onclick: function () { box.hidden = true; box.replaceChildren(); } }, "Close")),
        res.truncated ? h("p", { class: "muted", "data-testid": "stream-truncated" },
          "only the first " + n(res.limit) + " bytes of the stream are shown") : null,
        view,
        h("p", { class: "muted" }, "up to the session clock (" + CR.tod(res.to) + "); click a part to dissect its packet")));
      show();
    }).catch(function (e) { box.replaceChildren(h("p", { class: "error", "data-testid": "stream-error" }, e.message)); });
  }

  function bytesOf(hex) {
    var out = new Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  // ASCII as Wireshark shows it: printable characters, line breaks and tabs; anything else a '.'
  function asciiChunk(c) {
    var b = bytesOf(c.hex), text = [];
    for (var i = 0; i < b.length; i++) {
      var v = b[i];
      if (v === 13 && b[i + 1] === 10) continue;
      text.push(v === 10 || v === 9 || (v >= 32 && v < 127) ? String.fromCharCode(v) : ".");
    }
    return chunkSpan(c, text.join(""));
  }

  // hex dump as Wireshark's: each side's own offset, 16 bytes a line, the ASCII beside
  function hexChunks(chunks) {
    var offset = { client: 0, server: 0 };
    return chunks.map(function (c) {
      var b = bytesOf(c.hex), lines = [];
      for (var off = 0; off < b.length; off += 16) {
        var row = b.slice(off, off + 16), hex = [], ascii = [];
        row.forEach(function (v) {
          hex.push((v < 16 ? "0" : "") + v.toString(16));
          ascii.push(v >= 32 && v < 127 ? String.fromCharCode(v) : ".");
        });
        while (hex.length < 16) hex.push("  ");
        lines.push((c.from === "server" ? "    " : "") + ("0000000" + (offset[c.from] + off).toString(16)).slice(-8) +
          "  " + hex.slice(0, 8).join(" ") + "  " + hex.slice(8).join(" ") + "  " + ascii.join("") + "\n");
      }
      offset[c.from] += b.length;
      return chunkSpan(c, lines.join(""));
    });
  }

  function chunkSpan(c, text) {
    return h("span", { class: "chunk " + c.from, "data-testid": "stream-chunk",
      dataset: { from: c.from, frame: c.frame, at: c.at ? "1" : "0" },
      title: c.from + ", frame " + c.frame + ", " + CR.tod(c.ts, true), onclick: function () { dissect(c.frame); } }, text);
  }

  function dissect(frame) {
    var box = document.getElementById("dissection");
    box.replaceChildren(h("p", { class: "muted" }, "dissecting frame " + frame + "…"));
    CR.api("GET", base + "/packets/" + frame).then(function (res) {
      var hex = hexPane(res.bytes || "");
      function mark(pos, size) {
        hex.querySelectorAll(".byte").forEach(function (b) {
          var i = +b.dataset.i;
          b.classList.toggle("marked", i >= pos && i < pos + size);
        });
      }
      function node(f) {
        var label = h("span", { class: "field", tabindex: 0, onclick: function (e) { e.stopPropagation(); mark(f.pos, f.size); },
          onkeydown: function (e) { if (e.key === "Enter") mark(f.pos, f.size); } }, f.text);
        if (!f.children || !f.children.length) return h("li", { "data-testid": "field", dataset: { name: f.name } }, label);
        return h("li", { "data-testid": "field", dataset: { name: f.name } },
          h("details", {}, h("summary", {}, label), h("ul", {}, f.children.map(node))));
      }
      var tree = h("div", { class: "tree" }, res.layers.map(function (layer) {
        return h("details", { open: layer.layer !== "frame", "data-testid": "layer", dataset: { layer: layer.layer } },
          h("summary", { onclick: function () { mark(layer.pos, layer.size); } }, layer.title),
          h("ul", {}, layer.fields.map(node)));
      }));
      box.replaceChildren(h("h4", {}, "Frame " + res.frame), h("div", { class: "dissect-panes" }, tree, hex));
    }).catch(function (e) { box.replaceChildren(h("p", { class: "error" }, e.message)); });
  }

  function hexPane(bytes) {
    var rows = [];
    for (var off = 0; off < bytes.length / 2; off += 16) {
      var cells = [], text = [];
      for (var i = off; i < Math.min(off + 16, bytes.length / 2); i++) {
        var v = parseInt(bytes.substr(i * 2, 2), 16);
        cells.push(h("span", { class: "byte", dataset: { i: i } }, bytes.substr(i * 2, 2)));
        text.push(h("span", { class: "byte", dataset: { i: i } }, v >= 32 && v < 127 ? String.fromCharCode(v) : "."));
      }
      rows.push(h("div", { class: "hexrow" }, h("span", { class: "off" }, ("000" + off.toString(16)).slice(-4)),
        h("span", { class: "hex" }, cells), h("span", { class: "ascii" }, text)));
    }
    return h("div", { class: "hexpane", "data-testid": "hex" }, rows);
  }

  return { open: drill, dissect: dissect, follow: function () { if (current) follow(current.table, current.rowid); } };
};
