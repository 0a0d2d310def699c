/* Realtime live dashboard: tiles, per-minute ECharts series, product and source tables, drawn
   from the snapshot embedded in the page, then redrawn from each snapshot the API's
   Server-Sent Events stream pushes (EventSource reconnects by itself when it drops). */
(function () {
  "use strict";

  var config = null;
  var charts = {};

  function money(fen) {
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(Math.round(fen));
    var yuan = Math.floor(fen / 100).toLocaleString("en-US");
    var cents = String(fen % 100).padStart(2, "0");
    return sign + "¥" + yuan + "." + cents;
  }

  function shown(value, format) {
    if (format === "money") return money(value);
    if (format === "percent") return (value * 100).toFixed(1) + "%";
    if (format === "duration") {
      var s = Math.round(value);
      return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }
    return Number(value).toLocaleString("en-US");
  }

  function cell(text, numeric) {
    var td = document.createElement("td");
    if (numeric) td.className = "num";
    td.textContent = text;
    return td;
  }

  function fillTable(id, rows, columns, empty) {
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren();
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = cell(empty, false);
      td.colSpan = columns.length;
      td.className = "muted";
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      columns.forEach(function (column, index) {
        tr.appendChild(cell(column(row), index > 0));
      });
      if (row.product_id !== undefined) tr.dataset.product = row.product_id;
      if (row.source !== undefined) tr.dataset.source = row.source;
      body.appendChild(tr);
    });
  }

  function drawChart(element, snapshot) {
    var key = element.dataset.series;
    var values = snapshot.series[key] || [];
    var texts = config.i18n;
    if (!window.echarts) return;
    var chart = charts[key];
    if (!chart) {
      chart = charts[key] = window.echarts.init(element, null, { renderer: "svg" });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var names = { online: texts.online, comments: texts.comments, orders: texts.orders, gmv_fen: texts.gmv };
    var line = key === "online" || key === "gmv_fen";
    chart.setOption({
      animation: false,
      color: [{ online: "#4f46e5", comments: "#10b981", orders: "#f59e0b", gmv_fen: "#ef4444" }[key]],
      tooltip: {
        trigger: "axis",
        valueFormatter: key === "gmv_fen" ? money : undefined,
      },
      title: values.length ? undefined : { text: texts.empty, left: "center", top: "middle", textStyle: { fontSize: 13, color: "#888" } },
      grid: { left: 56, right: 16, top: 24, bottom: 36 },
      xAxis: { type: "category", name: texts.minute, nameLocation: "middle", nameGap: 24, data: snapshot.series.minutes },
      yAxis: {
        type: "value",
        minInterval: 1,
        axisLabel: key === "gmv_fen" ? { formatter: function (v) { return money(v); } } : {},
      },
      series: [{
        name: names[key],
        type: line ? "line" : "bar",
        data: values,
        areaStyle: key === "online" ? { opacity: 0.15 } : undefined,
        showSymbol: values.length <= 60,
        barMaxWidth: 18,
      }],
    }, true);
    element.dataset.points = String(values.length);
    element.dataset.drawn = "1";
  }

  function render(snapshot) {
    var labels = config.labels;
    document.querySelectorAll("#dashboard-tiles [data-figure]").forEach(function (tile) {
      var value = snapshot.figures[tile.dataset.figure];
      tile.dataset.value = String(value);
      tile.querySelector(".figure-value").textContent = shown(value, tile.dataset.format);
    });
    document.querySelectorAll(".chart[data-series]").forEach(function (element) {
      drawChart(element, snapshot);
    });
    fillTable("dashboard-products", snapshot.products, [
      function (p) { return p.name || "#" + p.product_id; },
      function (p) { return shown(p.clicks); },
      function (p) { return shown(p.carts); },
      function (p) { return shown(p.orders); },
      function (p) { return shown(p.paid_units); },
      function (p) { return money(p.gmv_fen); },
      function (p) { return shown(p.stock); },
    ], config.i18n.no_products);
    var sources = snapshot.sources.channels.concat(snapshot.sources.links.map(function (link) {
      return { link: true, label: "↳ " + (link.label || link.code) + " (" + (labels[link.channel] || link.channel) + ")",
               visits: link.visits, viewers: link.viewers };
    }));
    fillTable("dashboard-sources", sources, [
      function (r) { return r.link ? r.label : (labels[r.source] || r.source); },
      function (r) { return shown(r.visits); },
      function (r) { return shown(r.viewers); },
    ], config.i18n.no_entries);
    document.getElementById("dashboard-generated").textContent = snapshot.generated_at.slice(11, 19);
    document.getElementById("dashboard-rebuilding").hidden = snapshot.read_from !== "rebuilding";
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
  }

  function listen() {
    var status = document.getElementById("dashboard-status");
    var source = new EventSource(config.stream_url);
    source.addEventListener("snapshot", function (event) {
      status.dataset.state = "live";
      status.textContent = config.i18n.live;
      render(JSON.parse(event.data));
    });
    source.onerror = function () {
      status.dataset.state = "reconnecting";
      status.textContent = config.i18n.reconnecting;
    };
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("dashboard-config");
    if (!node) return;
    config = JSON.parse(node.textContent);
    render(config.snapshot);
    listen();
  });
})();
