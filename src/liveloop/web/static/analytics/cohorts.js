/* Cohort charts: one retention curve per cohort (share active k periods after the first) and
   LTV per customer by months since the first purchase, drawn from the figures embedded in the
   page (the same numbers the API returns and the tables show). */
(function () {
  "use strict";

  function draw(element, data) {
    var texts = data.texts;
    var retention = element.dataset.series === "retention";
    var series = retention ? data.retention : data.ltv;
    if (!series.length || !window.echarts) {
      element.classList.add("chart-empty");
      element.textContent = texts.empty || "";
      return;
    }
    var width = Math.max.apply(null, series.map(function (s) {
      return (retention ? s.rates : s.fen).length;
    }));
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: {
        trigger: "axis",
        valueFormatter: retention
          ? function (value) { return value == null ? "—" : Number(value).toFixed(1) + "%"; }
          : function (value) { return value == null ? "—" : "¥" + Number(value).toFixed(2); },
      },
      legend: { top: 0, type: "scroll" },
      grid: { left: 64, right: 20, top: 40, bottom: 48 },
      xAxis: {
        type: "category",
        name: retention ? texts.axis : texts.month_axis,
        nameLocation: "middle",
        nameGap: 28,
        data: Array.from({ length: width }, function (_, k) { return String(k); }),
      },
      yAxis: {
        type: "value",
        name: retention ? texts.rate : texts.ltv,
        max: retention ? 100 : null,
        axisLabel: { formatter: retention ? "{value}%" : "¥{value}" },
      },
      series: series.map(function (s) {
        return {
          type: "line",
          name: s.name,
          data: retention ? s.rates : s.fen.map(function (fen) { return fen / 100; }),
        };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart[data-series]").forEach(function (element) {
      var node = document.getElementById(element.dataset.source);
      if (node) draw(element, JSON.parse(node.textContent));
    });
  });
})();
