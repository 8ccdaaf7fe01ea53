// Charts of the indicator page, drawn with the vendored Apache ECharts.
(function () {
  "use strict";
  var trendEl = document.getElementById("trend");
  if (trendEl) {
    var series = JSON.parse(trendEl.dataset.series);
    var labels = JSON.parse(trendEl.dataset.labels);
    var chart = echarts.init(trendEl);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: labels },
      xAxis: { type: "category", data: series.map(function (p) { return p.month; }) },
      yAxis: { type: "value", scale: true },
      series: [
        { name: labels[0], type: "line", data: series.map(function (p) { return p.actual; }), showSymbol: false },
        { name: labels[1], type: "line", data: series.map(function (p) { return p.expected; }), lineStyle: { type: "dashed" }, showSymbol: false },
        { name: labels[2], type: "line", data: series.map(function (p) { return p.target; }), lineStyle: { type: "dotted" }, showSymbol: false }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  var unitsEl = document.getElementById("units");
  if (unitsEl) {
    var names = JSON.parse(unitsEl.dataset.rows);
    var pct = function (v) { return v === null ? null : Math.round(v * 1000) / 10; };
    var values = JSON.parse(unitsEl.dataset.values).map(pct);
    var expected = JSON.parse(unitsEl.dataset.expected).map(pct);
    var bars = echarts.init(unitsEl);
    bars.setOption({
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [
        { type: "bar", data: values, itemStyle: { color: "#2e7d32" } },
        { type: "scatter", data: expected, symbol: "diamond", symbolSize: 12, itemStyle: { color: "#ef6c00" } }
      ]
    });
    window.addEventListener("resize", function () { bars.resize(); });
  }
})();
