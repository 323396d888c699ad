// muster console: keyboard navigation of the queue, ticking countdowns, small conveniences.
// Loaded as a file (the Content-Security-Policy allows no inline script); no eval.
(function () {
  "use strict";

  var selectedId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tr[data-incident-id]"));
  }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); });
    if (!row) { selectedId = null; return; }
    row.classList.add("selected");
    selectedId = row.getAttribute("data-incident-id");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (!document.getElementById("queue-rows")) { return; }
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter") {
      var row = document.querySelector("#queue-rows tr.selected a.incident-link");
      if (row) { window.location.href = row.getAttribute("href"); event.preventDefault(); }
    } else if (event.key === "/") {
      var box = document.getElementById("filter-box");
      if (box) { box.focus(); box.select(); event.preventDefault(); }
    }
  });

  // Keep the highlighted row and the ticked boxes across the queue's live refreshes.
  var checked = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "queue-rows") {
      checked = Array.prototype.map.call(
        document.querySelectorAll("#queue-rows input[name=ids]:checked"),
        function (box) { return box.value; });
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    checked.forEach(function (id) {
      var box = document.querySelector("#queue-rows input[name=ids][value='" + CSS.escape(id) + "']");
      if (box) { box.checked = true; }
    });
    if (selectedId) {
      var row = document.querySelector("#queue-rows tr[data-incident-id='" + CSS.escape(selectedId) + "']");
      if (row) { row.classList.add("selected"); }
    }
    tick();
  });

  // Countdowns: every element with data-deadline shows the time left (or overdue).
  function duration(seconds) {
    var total = Math.floor(Math.abs(seconds));
    var days = Math.floor(total / 86400), hours = Math.floor((total % 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60), secs = total % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (days) { return days + "d " + two(hours) + "h"; }
    if (hours) { return hours + "h " + two(minutes) + "m"; }
    if (minutes) { return minutes + "m " + two(secs) + "s"; }
    return secs + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(due)) { return; }
      var left = (due - now) / 1000;
      el.textContent = left > 0 ? duration(left) + " left" : "overdue " + duration(left);
      el.classList.toggle("overdue", left <= 0);
    });
  }

  // The tenant switcher submits itself when a tenant is chosen.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("autosubmit") && target.form) {
      target.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
})();
