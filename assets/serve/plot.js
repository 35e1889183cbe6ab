// plasticity serve: small SVG charts shared by the playground and the runs page.
// Hand-written, no dependencies. LabPlot.lines draws curves with hover values, a legend
// whose entries toggle their series, and a log/linear switch; LabPlot.bars draws one bar per
// block. The palette is the figures' own (src/plot/style.rs): series i has colour i.
"use strict";

const LabPlot = (() => {
  const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9",
    "#000000", "#882255", "#44aa99", "#999933", "#332288", "#ddaa33"];
  const NS = "http://www.w3.org/2000/svg";
  const hidden = new Map(); // chart id -> Set of hidden series names

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function colour(i) { return PALETTE[i % PALETTE.length]; }

  function fmt(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1000 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
    if (Number.isInteger(v)) return String(v);
    return v.toPrecision(3).replace(/\.?0+$/, "");
  }

  function ticks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return out;
  }

  // series: [{name, colour?, points: [[x, y], ...], dashed?}]; options: {id, title, xlabel,
  // log, yrange: [lo, hi]}. Draws into `host` (replacing what was there).
  function lines(host, series, options) {
    const o = Object.assign({ width: 420, height: 220, log: false }, options);
    const off = hidden.get(o.id) || new Set();
    hidden.set(o.id, off);
    host.innerHTML = "";
    const wrap = document.createElement("div");
    wrap.className = "chart-wrap";
    host.appendChild(wrap);
    const head = document.createElement("div");
    head.className = "chart-head";
    head.textContent = o.title || "";
    wrap.appendChild(head);
    const margin = { l: 52, r: 8, t: 8, b: 30 };
    const w = o.width - margin.l - margin.r;
    const h = o.height - margin.t - margin.b;
    const svg = el("svg", { width: o.width, height: o.height, class: "chart",
      "data-series": series.length,
      "data-points": series.reduce((n, s) => n + s.points.length, 0) });
    wrap.appendChild(svg);
    const visible = series.filter(s => !off.has(s.name));
    const ok = v => Number.isFinite(v) && (!o.log || v > 0);
    const all = visible.flatMap(s => s.points.filter(p => ok(p[1])));
    if (all.length === 0) {
      el("text", { x: margin.l + w / 2, y: margin.t + h / 2, "text-anchor": "middle",
        class: "empty" }, svg).textContent = "no data yet";
    }
    const xs = all.map(p => p[0]);
    const ys = all.map(p => o.log ? Math.log10(p[1]) : p[1]);
    let [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
    let [y0, y1] = o.yrange && !o.log ? o.yrange : [Math.min(...ys), Math.max(...ys)];
    if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.05;
    if (!o.yrange || o.log) { y0 -= pad; y1 += pad; }
    const X = x => margin.l + (x - x0) / (x1 - x0 || 1) * w;
    const Y = y => margin.t + h - ((o.log ? Math.log10(y) : y) - y0) / (y1 - y0) * h;
    const g = el("g", {}, svg);
    el("rect", { x: margin.l, y: margin.t, width: w, height: h, class: "frame" }, g);
    for (const t of ticks(x0, x1, 5)) {
      el("line", { x1: X(t), x2: X(t), y1: margin.t + h, y2: margin.t + h + 4, class: "tick" }, g);
      el("text", { x: X(t), y: margin.t + h + 16, "text-anchor": "middle" }, g).textContent = fmt(t);
    }
    // Log axes: one label per decade, or the values themselves within less than two decades.
    const decades = ticks(Math.floor(y0), Math.ceil(y1), 4)
      .filter(t => Number.isInteger(t) && t >= y0 && t <= y1);
    const yt = !o.log ? ticks(y0, y1, 4)
      : decades.length >= 2 ? decades
      : ticks(Math.pow(10, y0), Math.pow(10, y1), 4).filter(v => v > 0).map(Math.log10);
    for (const t of yt) {
      const y = margin.t + h - (t - y0) / (y1 - y0) * h;
      if (y < margin.t - 1 || y > margin.t + h + 1) continue;
      el("line", { x1: margin.l, x2: margin.l + w, y1: y, y2: y, class: "grid" }, g);
      el("text", { x: margin.l - 5, y: y + 4, "text-anchor": "end" }, g)
        .textContent = !o.log ? fmt(t) : Number.isInteger(t) ? "1e" + t : fmt(Math.pow(10, t));
    }
    if (o.xlabel) {
      el("text", { x: margin.l + w, y: o.height - 2, "text-anchor": "end", class: "label" }, g)
        .textContent = o.xlabel;
    }
    series.forEach((s, i) => {
      if (off.has(s.name)) return;
      const pts = s.points.filter(p => ok(p[1]));
      if (pts.length === 0) return;
      const c = s.colour || colour(i);
      el("path", { d: pts.map((p, j) => (j ? "L" : "M") + X(p[0]).toFixed(1) + "," +
        Y(p[1]).toFixed(1)).join(""), stroke: c, fill: "none", "stroke-width": 1.8,
        "stroke-dasharray": s.dashed ? "5,3" : "", class: "curve", "data-name": s.name }, svg);
      if (pts.length <= 60) {
        for (const p of pts) el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2, fill: c }, svg);
      }
    });
    // Hover: the nearest x's value of every visible series.
    const tip = document.createElement("div");
    tip.className = "tip";
    wrap.appendChild(tip);
    svg.addEventListener("mousemove", ev => {
      const r = svg.getBoundingClientRect();
      const x = x0 + (ev.clientX - r.left - margin.l) / w * (x1 - x0);
      const rows = [];
      series.forEach((s, i) => {
        if (off.has(s.name) || s.points.length === 0) return;
        const p = s.points.reduce((b, q) => Math.abs(q[0] - x) < Math.abs(b[0] - x) ? q : b);
        rows.push(`<span style="color:${s.colour || colour(i)}">■</span> ${s.name}: ` +
          `${fmt(p[1])} <small>at ${fmt(p[0])}</small>`);
      });
      tip.innerHTML = rows.join("<br>");
      tip.style.display = rows.length ? "block" : "none";
    });
    svg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    // Legend: click toggles a series; the log switch redraws.
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, i) => {
      const item = document.createElement("span");
      item.className = "legend-item" + (off.has(s.name) ? " off" : "");
      item.innerHTML = `<span class="swatch" style="background:${s.colour || colour(i)}"></span>`;
      item.appendChild(document.createTextNode(s.name));
      item.onclick = () => {
        off.has(s.name) ? off.delete(s.name) : off.add(s.name);
        lines(host, series, options);
      };
      legend.appendChild(item);
    });
    if (options.onLog) {
      const log = document.createElement("label");
      log.className = "legend-item";
      log.innerHTML = `<input type="checkbox" ${o.log ? "checked" : ""}> log`;
      log.querySelector("input").onchange = e => options.onLog(e.target.checked);
      legend.appendChild(log);
    }
    wrap.appendChild(legend);
  }

  // values: one number (or null) per block; draws one bar per block on a log or linear axis.
  function bars(host, groups, options) {
    const o = Object.assign({ width: 420, height: 150, log: false }, options);
    host.innerHTML = "";
    const head = document.createElement("div");
    head.className = "chart-head";
    head.textContent = o.title || "";
    host.appendChild(head);
    const margin = { l: 52, r: 8, t: 6, b: 22 };
    const w = o.width - margin.l - margin.r;
    const h = o.height - margin.t - margin.b;
    const svg = el("svg", { width: o.width, height: o.height, class: "bars" }, host);
    const vals = groups.flatMap(g => g.values).filter(v => Number.isFinite(v) && (!o.log || v > 0));
    const blocks = Math.max(1, ...groups.map(g => g.values.length));
    let lo = o.log ? Math.floor(Math.log10(Math.min(...vals, 1))) : 0;
    let hi = o.log ? Math.ceil(Math.log10(Math.max(...vals, 1e-12))) : (o.max || Math.max(...vals, 1e-12));
    if (!(hi > lo)) hi = lo + 1;
    const Y = v => margin.t + h - ((o.log ? Math.log10(v) : v) - lo) / (hi - lo) * h;
    el("rect", { x: margin.l, y: margin.t, width: w, height: h, class: "frame" }, svg);
    const yt = o.log ? ticks(lo, hi, 4).filter(Number.isInteger) : ticks(lo, hi, 3);
    for (const t of yt) {
      const y = margin.t + h - (t - lo) / (hi - lo) * h;
      el("line", { x1: margin.l, x2: margin.l + w, y1: y, y2: y, class: "grid" }, svg);
      el("text", { x: margin.l - 5, y: y + 4, "text-anchor": "end" }, svg)
        .textContent = o.log ? "1e" + t : fmt(t);
    }
    const slot = w / blocks;
    const bw = Math.max(2, slot * 0.8 / groups.length);
    for (let b = 0; b < blocks; b++) {
      el("text", { x: margin.l + slot * (b + 0.5), y: o.height - 6, "text-anchor": "middle" }, svg)
        .textContent = b === blocks - 1 && o.lastLabel ? o.lastLabel : "block " + b;
      groups.forEach((g, i) => {
        const v = g.values[b];
        if (!Number.isFinite(v) || (o.log && v <= 0)) return;
        const x = margin.l + slot * b + slot * 0.1 + i * bw;
        const y = Y(Math.max(v, o.log ? Math.pow(10, lo) : lo));
        const bar = el("rect", { x, y, width: bw - 1, height: margin.t + h - y,
          fill: g.colour || colour(i) }, svg);
        el("title", {}, bar).textContent = `${g.name}, block ${b}: ${fmt(v)}`;
      });
    }
  }

  return { lines, bars, colour, fmt, PALETTE };
})();
