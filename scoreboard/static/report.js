"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var b = document.getElementById("print-report");
  if (b) b.addEventListener("click", function () { window.print(); });
});
