// Report-in rate bar chart (stats/registration.html). Data comes from a json_script element; no inline script (CSP).
(function () {
  var box = document.getElementById("rate-chart");
  var source = document.getElementById("rate-chart-data");
  if (!box || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var target = data.target;
  var chart = echarts.init(box);
  chart.setOption({
    grid: { left: 48, right: 16, top: 24, bottom: 90 },
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
    xAxis: { type: "category", data: data.names, axisLabel: { interval: 0, rotate: 40 } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{
      type: "bar",
      name: data.labels.rate,
      data: data.rates.map(function (v) {
        var below = target !== null && v !== null && v < target;
        return { value: v, itemStyle: { color: below ? "#c8161d" : "#2f7d4f" } };
      }),
      markLine: target === null ? undefined : {
        symbol: "none", label: { formatter: data.labels.target + " " + target + "%", position: "insideEndTop" },
        lineStyle: { type: "dashed", color: "#9e1016" }, data: [{ yAxis: target }]
      }
    }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
