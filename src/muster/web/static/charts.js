// muster console: draws the SLA dashboard's charts with the vendored Chart.js.
// Each <canvas data-chart="ID"> reads its figures from <script type="application/json" id="ID">
// (labels, series of {label, data}, unit); durations arrive in seconds and show as minutes.
// Loaded as a file (the Content-Security-Policy allows no inline script); no eval.
(function () {
  "use strict";

  var COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

  function figures(canvas) {
    var block = document.getElementById(canvas.getAttribute("data-chart"));
    if (!block) { return null; }
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  function shown(value, unit) {
    if (value === null || value === undefined) { return null; }
    return unit === "seconds" ? Math.round(value / 6) / 10 : value;
  }

  function draw(canvas) {
    var data = figures(canvas);
    if (!data || typeof window.Chart !== "function") { return; }
    var line = data.kind === "line";
    new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, n) {
          return {
            label: series.label,
            data: series.data.map(function (v) { return shown(v, data.unit); }),
            borderColor: COLOURS[n % COLOURS.length],
            backgroundColor: COLOURS[n % COLOURS.length],
            spanGaps: true
          };
        })
      },
      options: {
        animation: false,
        responsive: true,
        scales: {
          y: {
            beginAtZero: true,
            title: { display: true, text: data.unit === "seconds" ? "minutes" : data.unit }
          }
        }
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
