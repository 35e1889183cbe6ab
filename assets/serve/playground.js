// plasticity serve: the playground page. The server steps the nets (POST
// /api/playground/{id}/step); this page only keeps the settings, the URL and the drawing.
// The whole state, seeds included, lives in the URL's hash, so a link replays a run
// exactly; `run=N` in the hash plays to step N and pauses.
"use strict";

const HARD = ["sign", "step", "stochastic_binary", "stochastic_hard_sigmoid", "bernoulli"];
const ESTIMATORS = ["ste", "ste_clipped", "ste_sigmoid", "reinforce", "concrete"];
const DATASETS = ["signed_xor", "xor", "circles", "moons", "spirals", "gaussians"];
const CLASS_COLOURS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9"];
const DEFAULTS = {
  dataset: "signed_xor", noise: null, samples: 500, train_ratio: 0.5, data_seed: 0,
  hidden: [8, 8], activation: ["tanh"], estimator: ["ste"], rule: "backprop", compare: null,
  optimizer: "adam", lr: 0.01, batch_size: 16, seed: 0,
};
const LISTS = ["hidden", "activation", "estimator"];
const NUMBERS = ["noise", "samples", "train_ratio", "data_seed", "lr", "batch_size", "seed"];

const $ = id => document.getElementById(id);
let catalogue = { rules: [], activations: [] };
let state = structuredClone(DEFAULTS);
let session = null;     // {id, info}
let curve = [];         // frames' losses, for the loss curves
let playing = false;
let target = null;      // `run=N`: pause at step N
let speed = 10;
let generation = 0;     // bumps on every restart, so a stale step's answer is dropped
let frameTimes = [];
let logGrads = true;

// ---- the URL ----------------------------------------------------------------------------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const s = structuredClone(DEFAULTS);
  for (const [k, v] of params) {
    if (k === "run") { target = parseInt(v, 10) || null; continue; }
    if (k === "speed") { speed = Math.max(1, Math.min(2000, parseInt(v, 10) || 10)); continue; }
    if (!(k in DEFAULTS)) continue;
    if (LISTS.includes(k)) {
      s[k] = v === "" ? [] : v.split(",").map(x => k === "hidden" ? parseInt(x, 10) : x);
    } else if (NUMBERS.includes(k)) {
      s[k] = v === "" ? null : Number(v);
    } else {
      s[k] = v === "" ? null : v;
    }
  }
  return s;
}

function hashOf(s) {
  const params = new URLSearchParams();
  for (const k of Object.keys(DEFAULTS)) {
    const v = s[k];
    if (v === null || v === undefined) continue;
    params.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  params.set("speed", speed);
  return params.toString();
}

function writeHash() {
  const hash = hashOf(state);
  window.history.replaceState(null, "", "#" + hash);
  $("share").href = "#" + hash;
}

// ---- controls ---------------------------------------------------------------------------

function options(select, names, selected) {
  select.innerHTML = "";
  for (const name of names) {
    const o = document.createElement("option");
    o.value = o.textContent = name;
    if (name === selected) o.selected = true;
    select.appendChild(o);
  }
}

function perBlock(list, i) { return list.length === 1 ? list[0] : list[i]; }

function blockControls() {
  const host = $("blocks");
  host.innerHTML = "";
  state.hidden.forEach((units, i) => {
    const row = document.createElement("div");
    row.className = "row block-row";
    row.innerHTML = `<span>block ${i}</span>
      <button data-d="-1" title="fewer units">−</button>
      <input type="number" min="1" max="64" value="${units}" title="units">
      <button data-d="1" title="more units">+</button>
      <select class="act" title="activation"></select>
      <select class="est" title="estimator of the hard unit's gradient"></select>`;
    const act = perBlock(state.activation, i);
    options(row.querySelector(".act"), catalogue.activations, act);
    const est = row.querySelector(".est");
    options(est, ESTIMATORS, perBlock(state.estimator, i));
    est.style.display = HARD.includes(act) ? "" : "none";
    const input = row.querySelector("input");
    const setUnits = u => { state.hidden[i] = Math.max(1, Math.min(64, u)); changed(); };
    row.querySelectorAll("button").forEach(b => b.onclick = () =>
      setUnits(state.hidden[i] + parseInt(b.dataset.d, 10)));
    input.onchange = () => setUnits(parseInt(input.value, 10) || 1);
    row.querySelector(".act").onchange = e => {
      state.activation = state.hidden.map((_, j) => j === i ? e.target.value : perBlock(state.activation, j));
      changed();
    };
    est.onchange = e => {
      state.estimator = state.hidden.map((_, j) => j === i ? e.target.value : perBlock(state.estimator, j));
      changed();
    };
    host.appendChild(row);
  });
  ruleControls();
}

function ruleControls() {
  const rules = state.rule.split(",");
  const per = rules.length > 1;
  $("per_block").checked = per;
  $("rule").disabled = per;
  options($("rule"), catalogue.rules, rules[0]);
  const host = $("block_rules");
  host.innerHTML = "";
  if (!per) return;
  const blocks = state.hidden.length + 1;
  for (let i = 0; i < blocks; i++) {
    const label = document.createElement("label");
    label.textContent = i === blocks - 1 ? "output" : `block ${i}`;
    const select = document.createElement("select");
    select.className = "block-rule";
    options(select, catalogue.rules, rules[i] || rules[rules.length - 1]);
    select.onchange = () => {
      state.rule = [...host.querySelectorAll("select")].map(s => s.value).join(",");
      changed();
    };
    label.appendChild(select);
    host.appendChild(label);
  }
}

function fillControls() {
  options($("dataset"), DATASETS, state.dataset);
  $("noise").value = state.noise ?? "";
  $("samples").value = state.samples;
  $("train_ratio").value = state.train_ratio;
  $("train_ratio_value").textContent = state.train_ratio;
  $("data_seed_label").textContent = `data seed ${state.data_seed}`;
  $("optimizer").value = state.optimizer;
  $("lr").value = state.lr;
  $("batch_size").value = state.batch_size;
  $("seed").value = state.seed;
  $("speed").value = String(speed);
  options($("compare"), catalogue.rules, state.compare || "dfa");
  $("compare_on").checked = !!state.compare;
  blockControls();
}

function bindControls() {
  const num = (id, key) => $(id).onchange = () => {
    const v = $(id).value;
    state[key] = v === "" ? (key === "noise" ? null : DEFAULTS[key]) : Number(v);
    changed();
  };
  num("noise", "noise"); num("samples", "samples"); num("lr", "lr");
  num("batch_size", "batch_size"); num("seed", "seed"); num("train_ratio", "train_ratio");
  $("dataset").onchange = () => { state.dataset = $("dataset").value; changed(); };
  $("optimizer").onchange = () => { state.optimizer = $("optimizer").value; changed(); };
  $("regenerate").onclick = () => { state.data_seed += 1; changed(); };
  $("add_block").onclick = () => {
    if (state.hidden.length >= 8) return;
    state.hidden.push(state.hidden[state.hidden.length - 1] || 8);
    for (const k of ["activation", "estimator"]) {
      if (state[k].length > 1) state[k].push(state[k][state[k].length - 1]);
    }
    widenRules(+1);
    changed();
  };
  $("remove_block").onclick = () => {
    if (state.hidden.length === 0) return;
    state.hidden.pop();
    for (const k of ["activation", "estimator"]) {
      if (state[k].length > 1) state[k].pop();
      if (state[k].length === 0) state[k] = [DEFAULTS[k][0]];
    }
    widenRules(-1);
    changed();
  };
  $("rule").onchange = () => { state.rule = $("rule").value; changed(); };
  $("per_block").onchange = e => {
    const first = state.rule.split(",")[0];
    state.rule = e.target.checked ? Array(state.hidden.length + 1).fill(first).join(",") : first;
    changed();
  };
  const compare = () => { state.compare = $("compare_on").checked ? $("compare").value : null; changed(); };
  $("compare_on").onchange = compare;
  $("compare").onchange = compare;
  $("speed").onchange = () => { speed = parseInt($("speed").value, 10); writeHash(); };
  $("play").onclick = () => (playing ? pause() : play());
  $("step").onclick = () => { pause(); advance(1); };
  $("reset").onclick = () => restart();
}

function widenRules(delta) {
  const rules = state.rule.split(",");
  if (rules.length === 1) return;
  if (delta > 0) rules.splice(rules.length - 1, 0, rules[rules.length - 2] || rules[0]);
  else if (rules.length > 2) rules.splice(rules.length - 2, 1);
  state.rule = rules.join(",");
}

function changed() {
  writeHash();
  fillControls();
  restart();
}

// ---- the session ------------------------------------------------------------------------

async function api(method, url, body) {
  const r = await fetch(url, {
    method, headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const data = text ? JSON.parse(text) : {};
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function spec() {
  const s = structuredClone(state);
  if (s.noise === null) delete s.noise;
  if (!s.compare) delete s.compare;
  return s;
}

async function restart() {
  const mine = ++generation;
  const old = session;
  session = null;
  curve = [];
  $("error").textContent = "";
  if (old) api("DELETE", `/api/playground/${old.id}`).catch(() => {});
  try {
    const created = await api("POST", "/api/playground", spec());
    if (mine !== generation) return;
    session = { id: created.id, info: created.info };
    buildLanes(created.info);
    draw(created.frame);
    if (playing) loop(mine);
  } catch (e) {
    if (mine !== generation) return;
    $("error").textContent = e.message;
    $("lanes").innerHTML = "";
    pause();
  }
}

async function advance(n) {
  if (!session) return null;
  const mine = generation;
  try {
    const frame = await api("POST", `/api/playground/${session.id}/step`, { steps: n });
    if (mine !== generation) return null;
    draw(frame);
    return frame;
  } catch (e) {
    $("error").textContent = e.message;
    pause();
    return null;
  }
}

function play() {
  playing = true;
  $("play").textContent = "❚❚ Pause";
  loop(generation);
}

function pause() {
  playing = false;
  $("play").textContent = "▶ Play";
}

async function loop(mine) {
  while (playing && mine === generation && session) {
    let n = speed;
    const now = session.step || 0;
    if (target !== null) n = Math.min(n, target - now);
    if (n <= 0) { pause(); done(); return; }
    const frame = await advance(n);
    if (!frame) return;
    session.step = frame.step;
    if (frame.lanes.every(l => l.diverged)) { pause(); return; }
    await new Promise(r => setTimeout(r, 0));
  }
}

function done() {
  target = null;
  document.body.dataset.done = "1";
}

// ---- drawing ----------------------------------------------------------------------------

function buildLanes(info) {
  const host = $("lanes");
  host.innerHTML = "";
  info.rules.forEach((rule, i) => {
    const lane = document.createElement("div");
    lane.className = "lane";
    lane.dataset.rule = rule;
    lane.dataset.lane = i;
    lane.innerHTML = `<h3><span style="color:${LabPlot.colour(i)}">■</span> ${rule}
        <small>${info.nets[i]}</small></h3>
      <canvas class="boundary" data-source="net" width="300" height="300"></canvas>
      <div class="figures">test accuracy <b class="test-accuracy">–</b>
        · train <span class="train-accuracy">–</span>
        · test loss <span class="test-loss">–</span></div>
      <div class="diverged"></div>
      <div class="decoders"></div>`;
    host.appendChild(lane);
  });
}

function rgb(hex) { return [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)); }

function heatmap(canvas, map, info, small) {
  const n = info.resolution;
  const bytes = Uint8Array.from(atob(map.probabilities), c => c.charCodeAt(0));
  const k = map.classes;
  const colours = Array.from({ length: k }, (_, c) => rgb(CLASS_COLOURS[c % CLASS_COLOURS.length]));
  const image = new ImageData(n, n);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      const cell = row * n + col;
      const out = ((n - 1 - row) * n + col) * 4;
      let best = 0, mix = [0, 0, 0];
      for (let c = 0; c < k; c++) {
        const p = bytes[cell * k + c] / 255;
        best = Math.max(best, p);
        for (let j = 0; j < 3; j++) mix[j] += p * colours[c][j];
      }
      const confidence = Math.max(0, (best - 1 / k) / (1 - 1 / k));
      const a = 0.15 + 0.6 * confidence;
      for (let j = 0; j < 3; j++) image.data[out + j] = 255 * (1 - a) + mix[j] * a;
      image.data[out + 3] = 255;
    }
  }
  const scratch = document.createElement("canvas");
  scratch.width = scratch.height = n;
  scratch.getContext("2d").putImageData(image, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
  const [x0, x1] = info.x_range, [y0, y1] = info.y_range;
  const X = x => (x - x0) / (x1 - x0) * canvas.width;
  const Y = y => canvas.height - (y - y0) / (y1 - y0) * canvas.height;
  const r = small ? 1.5 : 3;
  const dot = (p, test) => {
    ctx.beginPath();
    ctx.arc(X(p[0]), Y(p[1]), r, 0, 2 * Math.PI);
    const c = CLASS_COLOURS[p[2] % CLASS_COLOURS.length];
    ctx.fillStyle = test ? "#fff" : c;
    ctx.strokeStyle = test ? c : "rgba(0,0,0,.45)";
    ctx.lineWidth = test ? 1.5 : 0.6;
    ctx.fill();
    ctx.stroke();
  };
  info.train.forEach(p => dot(p, false));
  if (!small) info.test.forEach(p => dot(p, true));
  canvas.dataset.drawn = String((parseInt(canvas.dataset.drawn || "0", 10)) + 1);
}

const fixed = (v, d) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(d));

function draw(frame) {
  const info = session && session.info;
  if (!info) return;
  session.step = frame.step;
  const lanes = [...document.querySelectorAll(".lane")];
  frame.lanes.forEach((lf, i) => {
    const lane = lanes[i];
    if (!lane) return;
    const net = lf.maps.find(m => m.source === "net");
    if (net) heatmap(lane.querySelector("canvas[data-source=net]"), net, info, false);
    const decoders = lane.querySelector(".decoders");
    for (const map of lf.maps.filter(m => m.source !== "net")) {
      let canvas = decoders.querySelector(`canvas[data-source="${map.source}"]`);
      if (!canvas) {
        const fig = document.createElement("figure");
        fig.innerHTML = `<canvas class="boundary" width="120" height="120"></canvas>
          <figcaption>${map.source} decoder</figcaption>`;
        canvas = fig.querySelector("canvas");
        canvas.dataset.source = map.source;
        decoders.appendChild(fig);
      }
      heatmap(canvas, map, info, true);
    }
    lane.querySelector(".test-accuracy").textContent = fixed(lf.test_accuracy, 3);
    lane.querySelector(".train-accuracy").textContent = fixed(lf.train_accuracy, 3);
    lane.querySelector(".test-loss").textContent = fixed(lf.test_loss, 4);
    lane.querySelector(".diverged").textContent = lf.diverged || "";
    lane.dataset.step = frame.step;
  });
  curve.push({ step: frame.step, lanes: frame.lanes.map(l => ({ train: l.train_loss, test: l.test_loss })) });
  if (curve.length > 2000) curve = curve.filter((_, i) => i % 2 === 0);
  charts(frame);
  status(frame);
}

function charts(frame) {
  const rules = session.info.rules;
  const series = [];
  rules.forEach((rule, i) => {
    const c = LabPlot.colour(i);
    series.push({ name: `${rule} train`, colour: c, points: curve.map(h => [h.step, h.lanes[i].train]) });
    series.push({ name: `${rule} test`, colour: c, dashed: true, points: curve.map(h => [h.step, h.lanes[i].test]) });
  });
  LabPlot.lines($("loss_chart"), series, { id: "loss", title: "loss (train solid, test dashed)", xlabel: "step", log: true });
  const groups = frame.lanes.map((l, i) => ({ name: rules[i], values: l.grad, colour: LabPlot.colour(i) }));
  LabPlot.bars($("grad_chart"), groups, { title: "mean |gradient| per block (this frame's steps, log)", log: logGrads, lastLabel: "output" });
  const angles = frame.lanes.map((l, i) => ({ name: rules[i], values: l.angle, colour: LabPlot.colour(i) }));
  LabPlot.bars($("angle_chart"), angles, { title: "angle to the backprop gradient per block (°)", max: 90, lastLabel: "output" });
}

function status(frame) {
  const now = performance.now();
  frameTimes.push(now);
  frameTimes = frameTimes.filter(t => now - t < 1000);
  const perSecond = frame.step_seconds > 0 ? Math.round((frame.lanes.length ? speed : 0) / frame.step_seconds) : null;
  $("status").innerHTML = `step <b id="step_count">${frame.step}</b> · epoch ${frame.epoch}` +
    (perSecond ? ` · ${perSecond.toLocaleString()} steps/s on the server` : "") +
    ` · <span id="fps">${frameTimes.length}</span> frames/s`;
}

// ---- start --------------------------------------------------------------------------------

async function main() {
  catalogue = await api("GET", "/api/catalogue");
  state = readHash();
  fillControls();
  bindControls();
  writeHash();
  window.addEventListener("hashchange", () => {
    const next = readHash();
    if (hashOf(next) !== hashOf(state)) { state = next; fillControls(); restart(); }
  });
  await restart();
  if (target !== null) play();
}

main().catch(e => { $("error").textContent = e.message; });
