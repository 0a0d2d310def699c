/* Attribution chart: credited revenue per channel (or touchpoint) for each model, drawn from
   the figures embedded in the page (the same numbers the API returns). */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("attribution-chart");
    var node = element && document.getElementById(element.dataset.source);
    if (!node) return;
    var data = JSON.parse(node.textContent);
    if (!data.categories.length || !window.echarts) {
      element.classList.add("chart-empty");
      element.textContent = data.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return "¥" + Number(value).toFixed(2); },
      },
      legend: { top: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 40 },
      xAxis: { type: "category", data: data.categories },
      yAxis: { type: "value", axisLabel: { formatter: "¥{value}" } },
      series: data.series.map(function (s) {
        return { type: "bar", name: s.name, data: s.fen.map(function (fen) { return fen / 100; }) };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.dataset.drawn = "1";
    element.dataset.totals = data.series.map(function (s) {
      return s.fen.reduce(function (a, b) { return a + b; }, 0);
    }).join(",");
  });
})();
