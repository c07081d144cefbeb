// Draw the reports' trend charts (one per category): the page shows first, then this fetches
// the year's figures (data-trend-url) and draws them.
(function () {
  "use strict";
  var holder = document.getElementById("trend-charts");
  if (!holder || typeof Chart === "undefined") { return; }
  var palette = ["#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c"];
  holder.setAttribute("aria-busy", "true");

  function draw(data) {
    data.charts.forEach(function (chart, index) {
      var canvas = holder.querySelector('canvas[data-chart="' + index + '"]');
      if (!canvas) { return; }
      var datasets = Object.keys(chart.series).map(function (provider, i) {
        return { label: provider, data: chart.series[provider], spanGaps: false,
                 borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
                 tension: 0 };
      });
      datasets.push({ label: holder.dataset.passLabel || "pass mark",
                      data: data.labels.map(function () { return chart.pass_mark; }),
                      borderColor: "#868e96", borderDash: [6, 4], pointRadius: 0, fill: false });
      new Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: datasets },
        // offset: a month's point sits in the middle of its slot, not on the chart's edge
        options: { animation: false, responsive: true,
                   scales: { x: { offset: true }, y: { min: 0, max: 100 } },
                   plugins: { legend: { position: "bottom" } } }
      });
    });
    holder.dataset.state = "drawn";
    holder.removeAttribute("aria-busy");
  }

  fetch(holder.dataset.trendUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(draw)
    .catch(function () { holder.dataset.state = "failed"; holder.removeAttribute("aria-busy"); });
}());
