/* LiveLoop console: charts from embedded JSON, HTMX error toasts, small conveniences. */
(function () {
  "use strict";

  var PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#64748b", "#ec4899", "#84cc16"];

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function stackedBars(element, data) {
    var hasData = data.series.some(function (s) { return s.counts.some(function (n) { return n > 0; }); });
    if (!hasData) {
      element.classList.add("chart-empty");
      element.textContent = data.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
      color: PALETTE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 16, top: 40, bottom: 28 },
      xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: (data.labels && data.labels[s.channel]) || s.channel, type: "bar", stack: "total", data: s.counts, barMaxWidth: 24 };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function drawCharts(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (element) {
      if (element.dataset.drawn) return;
      var data = readJson(element.dataset.source);
      if (!data) return;
      element.dataset.drawn = "1";
      if (element.dataset.chart === "stacked-bars" && window.echarts) stackedBars(element, data);
    });
  }

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
  // A failed HTMX request: show the server's message (the error page's <h1> and text).
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var heading = doc.querySelector(".error-page h1");
    var detail = doc.querySelector(".error-page p");
    toast([heading && heading.textContent, detail && detail.textContent].filter(Boolean).join(" — ") || xhr.status + " " + xhr.statusText);
  });
  document.addEventListener("htmx:sendError", function () { toast("Network error"); });
  // Copy buttons: <button data-copy="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim());
  });
})();
