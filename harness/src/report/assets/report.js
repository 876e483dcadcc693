// report.html's one script, inlined by report::html: the values under the pointer.
// Each chart figure carries its points' pixel x and their values already formatted
// (JSON in script.chart-data); this draws a crosshair at the nearest point and lists
// the values in a tooltip. No network, no library.
(function () {
  'use strict';
  function nearest(xs, x) {
    var low = 0, high = xs.length - 1;
    while (high - low > 1) {
      var middle = (low + high) >> 1;
      if (xs[middle] < x) { low = middle; } else { high = middle; }
    }
    return Math.abs(xs[low] - x) <= Math.abs(xs[high] - x) ? low : high;
  }
  function row(colour, text) {
    var line = document.createElement('div');
    var swatch = document.createElement('i');
    swatch.style.background = colour;
    line.appendChild(swatch);
    line.appendChild(document.createTextNode(text));
    return line;
  }
  function show(figure, data, event) {
    var svg = figure.querySelector('svg');
    var point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    var local = point.matrixTransform(svg.getScreenCTM().inverse());
    var index = nearest(data.x, local.x);
    var cross = svg.querySelector('.crosshair');
    cross.setAttribute('x1', data.x[index]);
    cross.setAttribute('x2', data.x[index]);
    cross.style.visibility = 'visible';
    var tip = figure.querySelector('.tooltip');
    tip.replaceChildren();
    var at = document.createElement('div');
    at.className = 'at';
    at.textContent = data.at[index];
    tip.appendChild(at);
    data.series.forEach(function (series) {
      var value = series.values[index];
      tip.appendChild(row(series.colour, series.label + ': ' + (value === null ? 'no data' : value)));
    });
    tip.hidden = false;
    var box = figure.getBoundingClientRect();
    var left = event.clientX - box.left + 14;
    if (left + tip.offsetWidth > box.width) { left = event.clientX - box.left - tip.offsetWidth - 14; }
    tip.style.left = Math.max(0, left) + 'px';
    tip.style.top = (event.clientY - box.top + 12) + 'px';
  }
  document.querySelectorAll('figure.chart').forEach(function (figure) {
    var holder = figure.querySelector('script.chart-data');
    var data = JSON.parse(holder.textContent);
    if (!data.x || data.x.length === 0) { return; }
    var svg = figure.querySelector('svg');
    svg.addEventListener('pointermove', function (event) { show(figure, data, event); });
    svg.addEventListener('pointerleave', function () {
      svg.querySelector('.crosshair').style.visibility = 'hidden';
      figure.querySelector('.tooltip').hidden = true;
    });
    figure.dataset.tooltip = 'ready';
  });
  document.body.dataset.charts = 'ready';
}());
