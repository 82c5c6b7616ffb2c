// The workspace's packet drill-down: a connection's packets, one packet's dissection tree and hex/ASCII pane.
"use strict";
window.WS = window.WS || {};
WS.drill = function (base) {
  var h = CR.h;

  function drill(table, rowid) {
    var box = document.getElementById("drill");
    box.hidden = false;
    var body = document.querySelector("#packets-table tbody");
    body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "reading the capture…")));
    document.getElementById("dissection").replaceChildren();
    CR.api("GET", base + "/events/" + encodeURIComponent(table) + "/" + rowid + "/packets").then(function (res) {
      document.getElementById("drill-filter").textContent = res.filter;
      body.replaceChildren();
      res.packets.forEach(function (p) {
        body.appendChild(h("tr", { class: "clickable", "data-testid": "packet-row", dataset: { frame: p.frame },
          onclick: function () { dissect(p.frame); } },
          h("td", {}, p.frame), h("td", {}, new Date(p.ts * 1000).toISOString()), h("td", {}, p.src), h("td", {}, p.dst),
          h("td", {}, p.protocol), h("td", { class: "num" }, p.length), h("td", {}, p.info)));
      });
      if (!res.packets.length) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no packets up to the session clock")));
      if (res.truncated) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "only the first packets are listed")));
    }).catch(function (e) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "error" }, e.message)));
    });
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

  return { open: drill, dissect: dissect };
};
