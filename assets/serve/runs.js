// plasticity serve: the runs page. Lists every run, comparison and sweep under --runs
// (GET /api/runs, refreshed every few seconds) and shows the one picked (GET /api/run),
// polling once a second while it is in progress so new epochs appear without a reload.
"use strict";

const $ = id => document.getElementById(id);
let selected = null;   // path of the entry shown
let shown = null;      // {path, kind, status, runs: [{path, name, rule, metrics}]} as drawn
let polling = null;
const logScale = { test_accuracy: false, train_loss: true, grad: true };

async function getJson(url) {
  const r = await fetch(url);
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fixed = (v, d) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "–");
const fileUrl = path => "/files/" + path.split("/").map(encodeURIComponent).join("/");

function badge(status) { return `<span class="badge ${esc(status)}">${esc(status)}</span>`; }

function item(entry) {
  const acc = entry.kind === "run" && entry.test_accuracy !== null
    ? ` <small>${fixed(entry.test_accuracy, 3)}</small>` : "";
  const what = entry.kind === "run" ? (entry.rule ? ` <small>${esc(entry.rule)}</small>` : "")
    : ` <small>${entry.kind}, ${entry.children.length}</small>`;
  const children = entry.children.length
    ? `<ul>${entry.children.map(item).join("")}</ul>` : "";
  const cls = entry.path === selected ? "selected" : "";
  return `<li><a class="${cls}" data-path="${esc(entry.path)}" data-kind="${entry.kind}">` +
    `${esc(entry.name)}</a>${what}${badge(entry.status)}${acc}${children}</li>`;
}

async function refreshList() {
  try {
    const entries = await getJson("/api/runs");
    $("list").innerHTML = entries.length
      ? `<ul>${entries.map(item).join("")}</ul>`
      : "<p>No runs yet: <code>plasticity train --out &lt;this --runs dir&gt;</code> starts one.</p>";
    $("list").querySelectorAll("a[data-path]").forEach(a => a.onclick = () => pick(a.dataset.path));
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("list").textContent = e.message;
  }
}

function pick(path) {
  selected = path;
  location.hash = "path=" + encodeURIComponent(path);
  shown = null;
  refreshList();
  poll();
}

// Metrics lines of a run so far (`since` lines are already here).
function merge(run, update) {
  run.metrics = run.metrics.concat(update.metrics);
  run.status = update.status;
  run.total = update.total;
}

async function poll() {
  clearTimeout(polling);
  if (!selected) return;
  const path = selected;
  try {
    const since = shown && shown.path === path && shown.kind === "run" ? shown.runs[0].total : 0;
    const data = await getJson(`/api/run?path=${encodeURIComponent(path)}&since=${since}`);
    if (path !== selected) return;
    if (data.kind === "run") {
      if (shown && shown.path === path && since > 0) {
        merge(shown.runs[0], data);
        shown.status = data.status;
        shown.summary = data.summary;
      } else {
        shown = { path, kind: "run", status: data.status, summary: data.summary, config: data.config,
          report: data.report, name: data.name,
          runs: [{ path, name: data.name, rule: data.rule, metrics: data.metrics, total: data.total, status: data.status }] };
      }
    } else {
      shown = { path, kind: data.kind, status: data.status, table: data.table, report: data.report,
        name: data.name, runs: data.runs };
    }
    render();
    const live = shown.status === "running" || shown.runs.some(r => r.status === "running");
    polling = setTimeout(poll, live ? 1000 : 5000);
  } catch (e) {
    $("detail").innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
}

function epochs(run) { return run.metrics.filter(m => m.epoch !== undefined); }

function series(key, pick) {
  return shown.runs.map((run, i) => ({
    name: run.name + (run.rule && shown.kind === "run" ? "" : ""),
    colour: LabPlot.colour(i),
    points: epochs(run).map(m => [m.epoch, pick ? pick(m) : m[key]]).filter(p => p[1] !== null && p[1] !== undefined),
  }));
}

function markdownTable(text) {
  const rows = text.split("\n").filter(l => l.trim().startsWith("|"));
  if (rows.length < 2) return `<pre>${esc(text)}</pre>`;
  const cells = l => l.trim().replace(/^\||\|$/g, "").split("|").map(c => c.trim());
  const head = cells(rows[0]);
  const body = rows.slice(2).map(cells);
  return `<table class="metrics"><tr>${head.map(h => `<th>${esc(h)}</th>`).join("")}</tr>` +
    body.map(r => `<tr>${r.map(c => `<td>${esc(c)}</td>`).join("")}</tr>`).join("") + "</table>";
}

// A key's value in the run's config.toml (first occurrence), for runs without a summary yet.
function configValue(key) {
  const m = (shown.config || "").match(new RegExp("^" + key + " = (.*)$", "m"));
  return m ? m[1].replace(/^"|"$/g, "") : null;
}

function runTable() {
  const run = shown.runs[0];
  const last = epochs(run).slice(-1)[0] || {};
  const s = shown.summary || {};
  const diverged = run.metrics.find(m => m.status === "diverged");
  const rows = [
    ["status", badge(shown.status)],
    ["rule", esc(run.rule)],
    ["net", esc(s.sizes || configValue("hidden") || "–")],
    ["data set", esc(s.dataset || configValue("dataset") || "–")],
    ["epochs", epochs(run).length],
    ["test accuracy", fixed(s.test_accuracy ?? last.test_accuracy, 4)],
    ["test loss", fixed(s.test_loss ?? last.test_loss, 4)],
    ["train loss", fixed(last.train_loss, 4)],
  ];
  if (s.train_seconds) rows.push(["training time", `${fixed(s.train_seconds, 1)} s`]);
  if (diverged) rows.push(["diverged", esc(JSON.stringify(diverged))]);
  return `<table class="metrics">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</table>`;
}

function render() {
  const host = $("detail");
  const report = shown.report ? ` · <a href="${fileUrl(shown.path + "/report.html")}" target="_blank">report.html</a>` : "";
  let html = `<h2>${esc(shown.name)} <small>${shown.kind}</small> ${badge(shown.status)}${report}</h2>`;
  html += shown.kind === "run" ? runTable() : (shown.table ? markdownTable(shown.table) :
    `<table class="metrics"><tr><th>run</th><th>rule</th><th>epochs</th><th>test accuracy</th><th>status</th></tr>` +
    shown.runs.map(r => { const l = epochs(r).slice(-1)[0] || {}; return `<tr><td>${esc(r.name)}</td><td>${esc(r.rule)}</td><td>${epochs(r).length}</td><td>${fixed(l.test_accuracy, 4)}</td><td>${badge(r.status)}</td></tr>`; }).join("") + "</table>");
  html += `<div class="chart-grid"><div id="c_acc"></div><div id="c_loss"></div><div id="c_grad"></div></div>`;
  if (shown.config) html += `<details><summary>config.toml</summary><pre class="config">${esc(shown.config)}</pre></details>`;
  host.innerHTML = html;
  // The accuracy curve's length at each render, for the page's own tests ("it grew").
  const points = shown.runs.reduce((n, r) => n + epochs(r).length, 0);
  const seen = (document.body.dataset.points || "").split(",").filter(Boolean);
  if (seen[seen.length - 1] !== String(points)) seen.push(points);
  document.body.dataset.points = seen.slice(-50).join(",");
  const redraw = () => render();
  LabPlot.lines($("c_acc"), series("test_accuracy"), { id: "acc", title: "test accuracy", xlabel: "epoch",
    log: logScale.test_accuracy, onLog: v => { logScale.test_accuracy = v; redraw(); } });
  LabPlot.lines($("c_loss"), series("train_loss"), { id: "loss", title: "train loss", xlabel: "epoch",
    log: logScale.train_loss, onLog: v => { logScale.train_loss = v; redraw(); } });
  if (shown.kind === "run") {
    const run = shown.runs[0];
    const blocks = Math.max(0, ...epochs(run).map(m => (m.mean_abs_grad || []).length));
    const grads = Array.from({ length: blocks }, (_, b) => ({
      name: `block ${b}`, colour: LabPlot.colour(b),
      points: epochs(run).map(m => [m.epoch, (m.mean_abs_grad || [])[b]]).filter(p => typeof p[1] === "number"),
    }));
    LabPlot.lines($("c_grad"), grads, { id: "grad", title: "mean |gradient| per block", xlabel: "epoch",
      log: logScale.grad, onLog: v => { logScale.grad = v; redraw(); } });
  } else {
    LabPlot.lines($("c_grad"), series("val_accuracy"), { id: "val", title: "validation accuracy", xlabel: "epoch" });
  }
}

const fromHash = new URLSearchParams(location.hash.slice(1)).get("path");
if (fromHash) selected = fromHash;
refreshList();
setInterval(refreshList, 3000);
if (selected) poll();
