// Draws every element with data-chart="<id of a JSON script>" with ECharts (canvas: names stay text, never markup).
(function () {
  var charts = [];
  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    var nodes = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.getAttribute("data-drawn")) { continue; }
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { continue; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    }
  }
  function resize() { for (var i = 0; i < charts.length; i++) { charts[i].resize(); } }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  window.addEventListener("resize", resize);
})();
