/* Purchase funnel chart, drawn from the funnel's own counts embedded in the page (the same
   numbers the API returns). */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("funnel-chart");
    var node = element && document.getElementById(element.dataset.source);
    if (!node) return;
    var data = JSON.parse(node.textContent);
    if (!data.counts.length || !data.counts[0] || !window.echarts) {
      element.classList.add("chart-empty");
      element.textContent = data.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item" },
      color: ["#4f46e5", "#6366f1", "#818cf8", "#a5b4fc", "#c7d2fe", "#e0e7ff"],
      series: [{
        type: "funnel",
        sort: "none",
        min: 0,
        max: data.counts[0],
        minSize: "8%",
        left: "10%",
        width: "80%",
        label: { show: true, position: "inside", formatter: "{b}: {c}" },
        data: data.steps.map(function (name, i) { return { name: name, value: data.counts[i] }; }),
      }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.dataset.drawn = "1";
    element.dataset.counts = data.counts.join(",");
  });
})();
