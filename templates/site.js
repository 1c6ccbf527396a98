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
  // column toggles: "all keys" (non-headline columns carry class x), one checkbox per metric group
  // (cells carry data-g); group headers get the number of columns left visible as their colspan
  var all = document.getElementById("show-all");
  var groups = document.querySelectorAll("input.grp");
  var applyColumns = function () {
    var off = {};
    Array.prototype.forEach.call(groups, function (g) { if (!g.checked) off[g.getAttribute("data-g")] = true; });
    document.querySelectorAll("table.board").forEach(function (t) {
      var showAll = !!(all && all.checked);
      t.classList.toggle("all", showAll);
      t.querySelectorAll("[data-g]").forEach(function (c) { c.classList.toggle("goff", !!off[c.getAttribute("data-g")]); });
      t.querySelectorAll("th[data-gh]").forEach(function (th) {
        var g = th.getAttribute("data-gh"), n = 0;
        t.querySelectorAll("tr.cols th").forEach(function (c) {
          if (c.getAttribute("data-g") === g && !off[g] && !c.classList.contains("u") &&
              (showAll || !c.classList.contains("x"))) n++;
        });
        th.colSpan = n || 1;
        th.style.display = n === 0 ? "none" : "";
      });
    });
  };
  if (all) all.addEventListener("change", applyColumns);
  Array.prototype.forEach.call(groups, function (g) { g.addEventListener("change", applyColumns); });
  if (all || groups.length) applyColumns();
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
      if (typeof paginate === "function") paginate();
    };
    var PAGE = 100, page = 0;
    var prev = document.getElementById("s-prev"), next = document.getElementById("s-next");
    var pageLabel = document.getElementById("s-page"), tok = document.getElementById("s-tok");
    // rows matching the filter are numbered in display order; only those of the current page are shown
    var paginate = function () {
      var matching = Array.prototype.filter.call(tb.rows, function (r) { return !r.classList.contains("hidden"); });
      var pages = Math.max(1, Math.ceil(matching.length / PAGE));
      page = Math.min(page, pages - 1);
      Array.prototype.forEach.call(tb.rows, function (r) { r.classList.remove("offpage"); });
      matching.forEach(function (r, i) { r.classList.toggle("offpage", Math.floor(i / PAGE) !== page); });
      if (pageLabel) pageLabel.textContent = "page " + (page + 1) + " of " + pages;
      if (prev) prev.disabled = page === 0;
      if (next) next.disabled = page >= pages - 1;
    };
    var refilter = function () {
      var q = filt.value.toLowerCase(), shown = 0;
      Array.prototype.forEach.call(tb.rows, function (r) {
        var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) && (!dis.checked || r.getAttribute("data-dis") === "1");
        r.classList.toggle("hidden", !ok);
        if (ok) shown++;
      });
      count.textContent = shown + " of " + tb.rows.length + " samples";
      page = 0;
      paginate();
    };
    if (prev) prev.addEventListener("click", function () { page = Math.max(0, page - 1); paginate(); });
    if (next) next.addEventListener("click", function () { page += 1; paginate(); });
    if (tok) tok.addEventListener("change", function () { viewer.classList.toggle("tokens", tok.checked); });
    sortSel.addEventListener("change", resort);
    filt.addEventListener("input", refilter);
    dis.addEventListener("change", refilter);
    resort();
    refilter();
  }
})();
