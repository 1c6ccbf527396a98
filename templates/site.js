"use strict";
(function () {
  function num(v) { if (v === null || v === undefined || v === "") return NaN; return parseFloat(v); }
  // click-to-sort for any table.sortable: th.sortable[data-col] sorts rows by td[data-col] data-v
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var tbody = table.tBodies[0];
    table.querySelectorAll("th.sortable").forEach(function (th) {
      th.setAttribute("tabindex", "0");
      function sort() {
        var col = th.getAttribute("data-col");
        var text = th.getAttribute("data-type") === "text";
        var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" :
                  (th.getAttribute("aria-sort") === "ascending" ? "descending" : (text ? "ascending" : "descending"));
        table.querySelectorAll("th.sortable").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var rows = Array.prototype.slice.call(tbody.rows);
        rows.sort(function (a, b) {
          var ca = a.querySelector('[data-col="' + col + '"]'), cb = b.querySelector('[data-col="' + col + '"]');
          var va = ca ? ca.getAttribute("data-v") : "", vb = cb ? cb.getAttribute("data-v") : "";
          if (text) { return (dir === "ascending" ? 1 : -1) * String(va).localeCompare(String(vb)); }
          var na = num(va), nb = num(vb);
          if (isNaN(na) && isNaN(nb)) return 0;
          if (isNaN(na)) return 1;
          if (isNaN(nb)) return -1;
          return dir === "ascending" ? na - nb : nb - na;
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
  // "show all metrics" toggle: hidden columns carry class x; group headers carry both colspans
  var all = document.getElementById("show-all");
  if (all) {
    var apply = function () {
      document.querySelectorAll("table.board").forEach(function (t) {
        t.classList.toggle("all", all.checked);
        t.querySelectorAll("th[data-span-all]").forEach(function (th) {
          var n = all.checked ? th.getAttribute("data-span-all") : th.getAttribute("data-span-head");
          th.colSpan = parseInt(n, 10) || 1;
          th.style.display = n === "0" ? "none" : "";
        });
      });
    };
    all.addEventListener("change", apply);
    apply();
  }
  // per-sample viewer: sort by a score, filter by text, only label disagreements
  var viewer = document.getElementById("samples");
  if (viewer) {
    var tb = viewer.tBodies[0];
    var sortSel = document.getElementById("s-sort"), filt = document.getElementById("s-filter");
    var dis = document.getElementById("s-dis"), count = document.getElementById("s-count");
    var resort = function () {
      var v = sortSel.value.split("|"), key = v[0], dir = v[1];
      var rows = Array.prototype.slice.call(tb.rows);
      rows.sort(function (a, b) {
        if (key === "id") return (dir === "asc" ? 1 : -1) * a.getAttribute("data-id").localeCompare(b.getAttribute("data-id"));
        var na = num(a.getAttribute("data-s-" + key)), nb = num(b.getAttribute("data-s-" + key));
        if (isNaN(na) && isNaN(nb)) return 0;
        if (isNaN(na)) return 1;
        if (isNaN(nb)) return -1;
        return dir === "asc" ? na - nb : nb - na;
      });
      rows.forEach(function (r) { tb.appendChild(r); });
      viewer.querySelectorAll(".scs span").forEach(function (sp) {
        sp.classList.toggle("hl", sp.getAttribute("data-k") === key);
      });
    };
    var refilter = function () {
      var q = filt.value.toLowerCase(), shown = 0;
      Array.prototype.forEach.call(tb.rows, function (r) {
        var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) && (!dis.checked || r.getAttribute("data-dis") === "1");
        r.classList.toggle("hidden", !ok);
        if (ok) shown++;
      });
      count.textContent = shown + " of " + tb.rows.length + " samples";
    };
    sortSel.addEventListener("change", resort);
    filt.addEventListener("input", refilter);
    dis.addEventListener("change", refilter);
    resort();
    refilter();
  }
})();
