/* plasticity report charts: interactive line charts drawn from the JSON each figure embeds.
 * Hover for values, click a legend entry to hide or show a series, switch log/linear scale
 * and zoomed/full range. Hand-written for plasticity, no dependencies; same tick rules as the
 * static figures (src/plot/ticks.rs). Licence: the project's. */
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var SUP = '\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079';
  var DASH = { solid: null, dashed: '7 4', dotted: '2 3' };

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, content, attrs) {
    var t = el('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  // Ticks, as src/plot/ticks.rs.
  function linearTicks(lo, hi, target) {
    if (!(hi > lo)) return { ticks: [lo], step: 1 };
    var raw = (hi - lo) / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * mag; })
      .find(function (s) { return s >= raw; }) || 10 * mag;
    var ticks = [];
    for (var k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) ticks.push(k * step);
    return { ticks: ticks, step: step };
  }
  function label(v, step) {
    var d = step >= 1 ? 0 : Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
    var s = v.toFixed(d);
    return /^-?[0.]*$/.test(s) ? s.replace('-', '') : s;
  }
  function power(k) {
    var s = '10' + (k < 0 ? '\u207b' : '');
    String(Math.abs(k)).split('').forEach(function (c) { s += SUP[+c]; });
    return s;
  }
  function logTicks(lo, hi) {
    var first = Math.ceil(lo), last = Math.floor(hi), n = last - first + 1, out = [];
    if (n < 2) {
      for (var k = Math.floor(lo); k <= last; k++) {
        [1, 2, 5].forEach(function (m) {
          var p = Math.log10(m * Math.pow(10, k));
          if (p < lo - 1e-9 || p > hi + 1e-9) return;
          var l = k >= -3 && k <= 4 ? label(m * Math.pow(10, k), Math.pow(10, k))
            : (m === 1 ? power(k) : m + '\u00d7' + power(k));
          out.push([p, l]);
        });
      }
      return out;
    }
    var every = Math.max(1, Math.ceil(n / 8));
    for (var j = first; j <= last; j++) if (((j % every) + every) % every === 0) out.push([j, power(j)]);
    return out;
  }
  function pad(lo, hi) {
    var p = hi - lo < 1e-6 * Math.max(Math.abs(lo), Math.abs(hi), 1) ? 0.5 * Math.max(Math.abs(lo), 1)
      : (hi - lo) * 0.05;
    return [lo - p, hi + p];
  }
  function fmt(v) {
    if (v === 0) return '0';
    var a = Math.abs(v);
    return a >= 1e-3 && a < 1e5 ? String(+v.toPrecision(4)) : v.toExponential(3);
  }

  // Liang-Barsky clipping of a polyline to a box: the visible pieces.
  function clip(points, x0, x1, y0, y1) {
    var pieces = [], cur = [];
    function seg(a, b) {
      var dx = b[0] - a[0], dy = b[1] - a[1], t0 = 0, t1 = 1;
      var pq = [[-dx, a[0] - x0], [dx, x1 - a[0]], [-dy, a[1] - y0], [dy, y1 - a[1]]];
      for (var i = 0; i < 4; i++) {
        var p = pq[i][0], q = pq[i][1];
        if (p === 0) { if (q < 0) return null; } else {
          var r = q / p;
          if (p < 0) t0 = Math.max(t0, r); else t1 = Math.min(t1, r);
        }
      }
      if (t0 > t1) return null;
      return [[a[0] + t0 * dx, a[1] + t0 * dy], [a[0] + t1 * dx, a[1] + t1 * dy]];
    }
    if (points.length === 1) {
      var q = points[0];
      if (q[0] >= x0 && q[0] <= x1 && q[1] >= y0 && q[1] <= y1) pieces.push([q]);
    }
    for (var i = 1; i < points.length; i++) {
      var s = seg(points[i - 1], points[i]);
      if (!s) { if (cur.length > 1) pieces.push(cur); cur = []; continue; }
      var last = cur[cur.length - 1];
      if (!last || last[0] !== s[0][0] || last[1] !== s[0][1]) {
        if (cur.length > 1) pieces.push(cur);
        cur = [s[0]];
      }
      cur.push(s[1]);
    }
    if (cur.length > 1) pieces.push(cur);
    return pieces;
  }

  function visible(state, panel) {
    return panel.series.filter(function (s) { return !state.hidden[s.name]; });
  }
  function plotted(state, s) {
    return s.points.filter(function (p) {
      return isFinite(p[0]) && isFinite(p[1]) && (!state.log || p[1] > 0);
    }).map(function (p) { return [p[0], state.log ? Math.log10(p[1]) : p[1]]; });
  }
  function extent(list, i) {
    var lo = Infinity, hi = -Infinity;
    list.forEach(function (p) { lo = Math.min(lo, p[i]); hi = Math.max(hi, p[i]); });
    return [lo, hi];
  }
  function yRange(state, panel) {
    var spec = state.spec, t = function (v) { return state.log ? Math.log10(v) : v; };
    if (state.zoomed && spec.zoom) return [t(spec.zoom[0]), t(spec.zoom[1])];
    var panels = spec.shared ? spec.panels : [panel], pts = [];
    panels.forEach(function (p) {
      visible(state, p).forEach(function (s) { pts = pts.concat(plotted(state, s)); });
    });
    var e = extent(pts, 1);
    return e[0] > e[1] ? [0, 1] : pad(e[0], e[1]);
  }

  function drawPanel(svg, state, panel, box, hover) {
    var m = { left: 72, right: 10, top: 34, bottom: 50 };
    var px = box.x + m.left, py = box.y + m.top;
    var pw = box.w - m.left - m.right, ph = box.h - m.top - m.bottom;
    var all = [];
    panel.series.forEach(function (s) { all = all.concat(plotted(state, s)); });
    var xr = extent(all, 0);
    if (xr[0] > xr[1]) xr = [0, 1];
    if (xr[0] === xr[1]) xr[1] = xr[0] + 1;
    var yr = yRange(state, panel);
    var X = function (x) { return px + (x - xr[0]) / (xr[1] - xr[0]) * pw; };
    var Y = function (y) { return py + ph - (y - yr[0]) / (yr[1] - yr[0]) * ph; };
    text(svg, box.x + box.w / 2, box.y + 20, panel.title,
      { 'text-anchor': 'middle', 'font-size': state.single ? 18 : 15 });
    var xt = linearTicks(xr[0], xr[1], 6);
    xt.ticks.forEach(function (v) {
      el('line', { x1: X(v), x2: X(v), y1: py, y2: py + ph, stroke: '#e1e1e1' }, svg);
      text(svg, X(v), py + ph + 16, label(v, xt.step), { 'text-anchor': 'middle', 'font-size': 12 });
    });
    var yt = state.log ? logTicks(yr[0], yr[1]) : linearTicks(yr[0], yr[1], 6).ticks.map(
      function (v, _, a) { return [v, label(v, linearTicks(yr[0], yr[1], 6).step)]; });
    yt.forEach(function (t) {
      el('line', { x1: px, x2: px + pw, y1: Y(t[0]), y2: Y(t[0]), stroke: '#e1e1e1' }, svg);
      text(svg, px - 6, Y(t[0]) + 4, t[1], { 'text-anchor': 'end', 'font-size': 12 });
    });
    el('rect', { x: px, y: py, width: pw, height: ph, fill: 'none', stroke: '#444' }, svg);
    text(svg, px + pw / 2, py + ph + 36, panel.x_label, { 'text-anchor': 'middle', 'font-size': 12 });
    text(svg, 0, 0, panel.y_label, {
      'text-anchor': 'middle', 'font-size': 12,
      transform: 'translate(' + (box.x + 16) + ',' + (py + ph / 2) + ') rotate(-90)'
    });
    visible(state, panel).forEach(function (s) {
      clip(plotted(state, s), xr[0], xr[1], yr[0], yr[1]).forEach(function (piece) {
        var d = piece.map(function (p, i) {
          return (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1);
        }).join('');
        el('path', {
          class: 'series', 'data-series': s.name, d: d, fill: 'none', stroke: s.colour,
          'stroke-width': 2, 'stroke-dasharray': DASH[s.dash]
        }, svg);
      });
    });
    var overlay = el('rect', { x: px, y: py, width: pw, height: ph, fill: 'transparent', class: 'hover' }, svg);
    overlay.addEventListener('mousemove', function (ev) {
      var r = svg.getBoundingClientRect(), scale = svg.viewBox.baseVal.width / r.width;
      var x = xr[0] + ((ev.clientX - r.left) * scale - px) / pw * (xr[1] - xr[0]);
      hover(panel, x, X, Y, py, ph, ev);
    });
    overlay.addEventListener('mouseleave', function () { hover(null); });
  }

  function legendOf(spec) {
    var seen = {}, entries = [];
    spec.panels.forEach(function (p) {
      p.series.forEach(function (s) {
        if (!seen[s.name]) { seen[s.name] = 1; entries.push(s); }
      });
    });
    return spec.legend ? entries : [];
  }

  function render(state) {
    var spec = state.spec, host = state.host;
    var n = spec.panels.length, cols = Math.max(1, Math.min(spec.columns, n));
    var rows = Math.max(1, Math.ceil(n / cols));
    var single = spec.kind === 'curves';
    state.single = single;
    var pw = single ? 760 : 420, ph = single ? 460 : 300;
    var entries = legendOf(spec);
    var chars = entries.reduce(function (a, s) { return Math.max(a, s.name.length); }, 0);
    var lw = entries.length ? Math.min(48 + 8 * chars, 320) : 0;
    var lh = entries.length * 19 + 16;
    var width = cols * pw + lw, height = Math.max(rows * ph, entries.length ? lh + 40 : 0);
    host.textContent = '';
    var svg = el('svg', {
      xmlns: NS, viewBox: '0 0 ' + width + ' ' + height, width: width, height: height,
      'font-family': 'sans-serif', class: 'chart-svg'
    }, host);
    var tip = document.createElement('div');
    tip.className = 'chart-tip';
    host.appendChild(tip);
    var marks = null;
    function hover(panel, x, X, Y, py, ph, ev) {
      if (marks) { marks.remove(); marks = null; }
      if (!panel) { tip.style.display = 'none'; return; }
      marks = el('g', { class: 'marks' }, svg);
      var lines = [], at = null;
      visible(state, panel).forEach(function (s) {
        var best = null;
        s.points.forEach(function (p) {
          if (isFinite(p[1]) && (best === null || Math.abs(p[0] - x) < Math.abs(best[0] - x))) best = p;
        });
        if (!best) return;
        at = best[0];
        lines.push('<span style="color:' + s.colour + '">\u25a0</span> ' + s.name + ': ' + fmt(best[1]));
        var y = state.log ? (best[1] > 0 ? Math.log10(best[1]) : NaN) : best[1];
        if (isFinite(y)) el('circle', { cx: X(best[0]), cy: Y(y), r: 3.5, fill: s.colour }, marks);
      });
      if (at === null) { tip.style.display = 'none'; return; }
      el('line', { x1: X(at), x2: X(at), y1: py, y2: py + ph, stroke: '#888', 'stroke-dasharray': '3 3' }, marks);
      tip.innerHTML = '<b>' + panel.x_label + ' ' + fmt(at) + '</b><br>' + lines.join('<br>');
      var r = host.getBoundingClientRect();
      tip.style.left = (ev.clientX - r.left + 14) + 'px';
      tip.style.top = (ev.clientY - r.top + 14) + 'px';
      tip.style.display = 'block';
    }
    spec.panels.forEach(function (panel, i) {
      var box = { x: (i % cols) * pw, y: Math.floor(i / cols) * ph, w: pw, h: ph };
      drawPanel(svg, state, panel, box, hover);
    });
    if (entries.length) {
      var lx = cols * pw, top = single ? 40 : 30;
      var g = el('g', { class: 'legend' }, svg);
      el('rect', { class: 'legend-box', x: lx + 2, y: top, width: lw - 4, height: lh, fill: 'white', stroke: '#ccc' }, g);
      entries.forEach(function (s, i) {
        var y = top + 8 + i * 19 + 9;
        var e = el('g', { class: 'legend-entry', 'data-series': s.name, cursor: 'pointer',
          opacity: state.hidden[s.name] ? 0.3 : 1 }, g);
        el('rect', { x: lx + 2, y: y - 9, width: lw - 4, height: 19, fill: 'transparent' }, e);
        el('line', { x1: lx + 8, x2: lx + 32, y1: y, y2: y, stroke: s.colour, 'stroke-width': 2,
          'stroke-dasharray': DASH[s.dash] }, e);
        text(e, lx + 38, y + 4, s.name, { 'font-size': 13 });
        e.addEventListener('click', function () {
          state.hidden[s.name] = !state.hidden[s.name];
          render(state);
        });
      });
    }
  }

  function button(bar, label, on) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', function () { on(b); });
    bar.appendChild(b);
    return b;
  }

  function setup(figure) {
    var data = figure.querySelector('script.chart-data');
    var host = figure.querySelector('.chart');
    if (!data || !host) return;
    var spec = JSON.parse(data.textContent);
    var state = { spec: spec, host: host, log: spec.log, zoomed: !!spec.zoom, hidden: {} };
    var bar = document.createElement('div');
    bar.className = 'chart-controls';
    host.parentNode.insertBefore(bar, host);
    button(bar, spec.log ? 'linear scale' : 'log scale', function (b) {
      state.log = !state.log;
      b.textContent = state.log ? 'linear scale' : 'log scale';
      render(state);
    });
    if (spec.zoom) {
      button(bar, 'full range', function (b) {
        state.zoomed = !state.zoomed;
        b.textContent = state.zoomed ? 'full range' : 'zoom to curves';
        render(state);
      });
    }
    if (legendOf(spec).length) {
      button(bar, 'show all', function () { state.hidden = {}; render(state); });
    }
    render(state);
  }

  function start() {
    document.querySelectorAll('figure[data-plot]').forEach(function (f) {
      try { setup(f); } catch (e) { window.__chartErrors = (window.__chartErrors || 0) + 1; throw e; }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
