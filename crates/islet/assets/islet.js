// Islet dashboard: the CSRF header for htmx requests, an announcement when
// live updates arrive, and the three plots (uPlot) from the page's chart data.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (e) {
    var token = document.body.getAttribute("data-csrf");
    if (token) { e.detail.headers["X-CSRF-Token"] = token; }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var live = document.getElementById("live");
    if (live) { live.textContent = "Updated " + new Date().toLocaleTimeString(); }
  });

  var DAY = 86400;
  function seriesPlot(figure, xs, ys, opts) {
    var box = figure.querySelector(".plot");
    figure.setAttribute("data-points", String(xs.length));
    if (!xs.length) { box.textContent = "No values yet."; return; }
    var width = Math.max(320, box.clientWidth || 480);
    var series = [{}, { label: opts.label, stroke: opts.color, width: 2, points: { show: true, size: 7 } }];
    var bands = opts.bands || [];
    var marks = opts.marks || [];
    new uPlot({
      width: width, height: 220, scales: { x: { time: true }, y: { range: opts.range } },
      series: series, axes: [{}, { label: opts.unit }],
      hooks: { draw: [function (u) {
        var ctx = u.ctx; ctx.save();
        bands.forEach(function (b) {
          var y = u.valToPos(b, "y", true);
          ctx.strokeStyle = "#8a4b00"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1;
          ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
        });
        marks.forEach(function (m) {
          var x = u.valToPos(m.t, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
          ctx.strokeStyle = m.end ? "#4b5563" : "#2d5a27"; ctx.setLineDash(m.end ? [2, 3] : []); ctx.lineWidth = 1;
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        });
        ctx.restore();
      }] }
    }, [xs, ys], box);
  }

  function draw() {
    var data = document.getElementById("chart-data");
    if (!data || typeof uPlot === "undefined") { return; }
    var c = JSON.parse(data.textContent);
    var marks = [];
    (c.therapies || []).forEach(function (t) {
      marks.push({ t: t.t_start });
      if (t.t_end) { marks.push({ t: t.t_end, end: true }); }
    });
    var padRange = function (u, min, max) { return [Math.min(0, min), max + Math.max(1, (max - min) * 0.15)]; };
    var fig = function (name) { return document.querySelector('figure[data-plot="' + name + '"]'); };
    seriesPlot(fig("ki67"), c.ki67.map(function (p) { return p.t; }), c.ki67.map(function (p) { return p.value; }),
      { label: "Ki-67 %", unit: "%", color: "#a4000f", bands: c.ki67_bands, marks: marks,
        range: function (u, min, max) { return [0, Math.max(25, max * 1.15)]; } });
    var cga = c.cga.filter(function (p) { return p.times_uln !== null; });
    seriesPlot(fig("cga"), cga.map(function (p) { return p.t; }), cga.map(function (p) { return p.times_uln; }),
      { label: "CgA × ULN", unit: "× ULN", color: "#1f4f8f", bands: [1], marks: marks, range: padRange });
    seriesPlot(fig("size"), c.size.map(function (p) { return p.t; }), c.size.map(function (p) { return p.mm; }),
      { label: "size mm", unit: "mm", color: "#2d5a27", marks: marks, range: padRange });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
