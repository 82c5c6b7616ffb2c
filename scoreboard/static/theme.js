// Light or dark theme: ?theme=dark|light, else the last choice, else the page's default.
(function () {
  var root = document.documentElement;
  var asked = new URLSearchParams(location.search).get("theme");
  var saved = null;
  try { saved = localStorage.getItem("cyberrange-theme"); } catch (e) { /* private mode */ }
  root.dataset.theme = asked || saved || root.dataset.theme || "light";
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("theme-toggle");
    if (!b) return;
    b.addEventListener("click", function () {
      root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
      try { localStorage.setItem("cyberrange-theme", root.dataset.theme); } catch (e) { /* ignore */ }
    });
  });
})();
