/* Post-live report charts: retention (line) and comments per minute (bars), drawn from the
   report's own arrays embedded in the page (the same numbers the API returns). */
(function () {
  "use strict";

  function draw(element, data) {
    var kind = element.dataset.reportChart;
    var values = data[kind] || [];
    if (!values.length || !window.echarts) {
      element.classList.add("chart-empty");
      element.textContent = data.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false, // printed pages and tests see the final picture at once
      color: [kind === "retention" ? "#4f46e5" : "#10b981"],
      tooltip: { trigger: "axis" },
      grid: { left: 44, right: 16, top: 24, bottom: 36 },
      xAxis: { type: "category", name: data.labels.minute, nameLocation: "middle", nameGap: 24, data: data.minutes },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: data.labels[kind],
        type: kind === "retention" ? "line" : "bar",
        data: values,
        areaStyle: kind === "retention" ? { opacity: 0.15 } : undefined,
        showSymbol: values.length <= 60,
        barMaxWidth: 18,
      }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
    window.addEventListener("beforeprint", function () { chart.resize(); });
    element.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-report-chart]").forEach(function (element) {
      var node = document.getElementById(element.dataset.source);
      if (node) draw(element, JSON.parse(node.textContent));
    });
  });
})();
