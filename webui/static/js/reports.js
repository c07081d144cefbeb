// Draw the reports' trend charts (one per category) from the JSON the page carries.
(function () {
  "use strict";
  var holder = document.getElementById("trend-data");
  if (!holder || typeof Chart === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  var palette = ["#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c"];
  data.charts.forEach(function (chart, index) {
    var canvas = document.querySelector('canvas[data-chart="' + index + '"]');
    if (!canvas) { return; }
    var datasets = Object.keys(chart.series).map(function (provider, i) {
      return { label: provider, data: chart.series[provider], spanGaps: false,
               borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
               tension: 0 };
    });
    datasets.push({ label: "pass mark", data: data.labels.map(function () { return chart.pass_mark; }),
                    borderColor: "#868e96", borderDash: [6, 4], pointRadius: 0, fill: false });
    new Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: { animation: false, responsive: true,
                 scales: { y: { min: 0, max: 100 } },
                 plugins: { legend: { position: "bottom" } } }
    });
  });
}());
