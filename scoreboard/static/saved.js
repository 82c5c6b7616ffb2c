// The workspace's saved searches: the team's named searches (table, query, time range, columns).
"use strict";
window.WS = window.WS || {};
WS.saved = function (url, explorer) {
  var h = CR.h;
  var list = document.getElementById("saved-list"), name = document.getElementById("saved-name");
  var del = document.getElementById("saved-delete"), msg = document.getElementById("saved-msg");
  var byId = {};

  function say(text, bad) { msg.textContent = text; msg.className = bad ? "error" : "muted"; }

  function load(select) {
    return CR.api("GET", url).then(function (res) {
      byId = {};
      list.replaceChildren(h("option", { value: "" }, res.searches.length ? "— choose —" : "— none yet —"));
      res.searches.forEach(function (s) {
        byId[s.id] = s;
        list.appendChild(h("option", { value: s.id, "data-testid": "saved-option" }, s.name + " · " + s.table));
      });
      list.value = select && byId[select] ? String(select) : "";
      del.disabled = !list.value;
    }).catch(function (e) { say(e.message, true); });
  }

  list.addEventListener("change", function () {
    del.disabled = !list.value;
    var s = byId[list.value];
    if (!s) return;
    name.value = s.name;
    explorer.setSearch(s);
    say("opened “" + s.name + "”");
  });

  function save(replace) {
    var st = explorer.state;
    var body = { name: name.value, table: st.table, query: st.query, from: st.from || null, to: st.to || null,
      columns: st.cols ? st.cols.split(",") : [] };
    if (replace) body.replace = true;
    return CR.api("POST", url, body).then(function (s) {
      say("saved “" + s.name + "”");
      return load(s.id);
    }).catch(function (e) {
      if (e.status === 409 && window.confirm(e.message + "\n\nReplace it?")) return save(true);
      say(e.message, true);
    });
  }
  document.getElementById("saved-save").addEventListener("click", function () { save(false); });

  del.addEventListener("click", function () {
    var s = byId[list.value];
    if (!s || !window.confirm("Delete the saved search “" + s.name + "”?")) return;
    CR.api("DELETE", url + "/" + s.id).then(function () { say("deleted “" + s.name + "”"); return load(); })
      .catch(function (e) { say(e.message, true); });
  });

  load();
  return { load: load };
};
