/* Comparison of live sessions: every session's retention curve in one ECharts line chart,
   drawn from the comparison's own arrays embedded in the page. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("compare-chart");
    var node = element && document.getElementById(element.dataset.source);
    if (!node || !window.echarts) return;
    var data = JSON.parse(node.textContent);
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 44, right: 16, top: 36, bottom: 36 },
      xAxis: { type: "category", name: data.labels.minute, nameLocation: "middle", nameGap: 24, data: data.minutes },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "line", data: s.data, showSymbol: s.data.length <= 60 };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.dataset.drawn = "1";
  });
})();
