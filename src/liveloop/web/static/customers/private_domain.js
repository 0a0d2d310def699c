/* Tag rules and RFM console pages: example conditions, the segment/stage bar charts. */
(function () {
  "use strict";

  function useExample(button) {
    var box = document.getElementById("rule-condition");
    if (!box) return;
    box.value = button.dataset.example;
    if (window.htmx) window.htmx.trigger(box, "keyup");
  }

  function bars(element) {
    var source = document.getElementById(element.dataset.source);
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    if (!data.values.some(function (n) { return n > 0; })) {
      element.classList.add("chart-empty");
      element.textContent = data.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
      color: ["#4f46e5"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 40, right: 16, top: 16, bottom: 60 },
      xAxis: { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.values, barMaxWidth: 32 }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-example]");
    if (button) useExample(button);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-bars]").forEach(bars);
  });
})();
