// The editor page: load a sound, select cells of its code grid, resample them on the server, listen (A/B,
// selection, loop), undo/redo, download. The history lives in this browser, so any server worker can answer.

import * as api from "./api.js";
import { Player } from "./player.js";
import { melSpectrogram, mono, spectrogramImage } from "./spectrogram.js";
import * as store from "./store.js";
import { View } from "./view.js";

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  versions: [], // { key, name, duration, grid, changed, params, cells, region, changedCells, latency, energy }
  index: -1,
  selection: null, // { row_start, row_stop, col_start, col_stop, dragging }
  drag: null,
  abLatched: "B",
  abHeld: false,
  busy: false,
};
const media = new Map(); // version key -> { bytes, buffer, image, secondsPerFrame }
const player = new Player();
const view = new View({
  scroller: $("scroller"),
  stage: $("stage"),
  canvas: $("spectrogram"),
  freqAxis: $("freq-axis"),
  playhead: $("playhead"),
});
window.spectrolabEditor = { state, player, view, media };

const current = () => state.versions[state.index] ?? null;
const original = () => state.versions[0] ?? null;
const which = () => (state.abHeld ? "A" : state.abLatched);

// -- feedback ------------------------------------------------------------------------------------------------
let errorTimer = null;
function showError(error) {
  const message = error instanceof api.ApiError ? error.message : `Something went wrong in the page: ${error.message || error}.`;
  $("error-text").textContent = message;
  $("error").hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => ($("error").hidden = true), 15000);
}

function clearError() {
  $("error").hidden = true;
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    console.error(error);
    showError(error);
  }
}

const fmtHz = (f) => (f >= 1000 ? `${(f / 1000).toFixed(2)} kHz` : `${Math.round(f)} Hz`);
const fmtS = (s) => `${s.toFixed(2)} s`;
const fmtMs = (ms) => `${Math.round(ms)} ms`;

// -- versions and their media --------------------------------------------------------------------------------
async function prepare(version) {
  let m = media.get(version.key);
  if (!m) {
    const bytes = await store.getAudio(version.key);
    if (!bytes) throw new api.ApiError("A version of this session is no longer stored in the browser; load the sound again.");
    m = { bytes };
    media.set(version.key, m);
  }
  if (!m.buffer) {
    try {
      m.buffer = await player.decode(m.bytes);
    } catch {
      throw new api.ApiError("The server read this file but this browser cannot play its format; try WAV, FLAC or OGG.");
    }
  }
  if (!m.image) {
    const edges = version.grid.row_edges_hz;
    const spec = melSpectrogram(mono(m.buffer), m.buffer.sampleRate, edges[edges.length - 1]);
    m.image = spectrogramImage(spec);
    m.secondsPerFrame = spec.secondsPerFrame;
  }
  return m;
}

function stem(name) {
  return name.replace(/\.[A-Za-z0-9]{1,5}$/, "") || "sound";
}

function extensionOf(bytes) {
  const head = String.fromCharCode(...new Uint8Array(bytes.slice(0, 4)));
  return { RIFF: ".wav", fLaC: ".flac", OggS: ".ogg", FORM: ".aiff" }[head] ?? "";
}

async function persist() {
  await store.putSession({
    versions: state.versions,
    index: state.index,
    abLatched: state.abLatched,
    selection: state.selection && !state.selection.dragging ? state.selection : null,
    params: readParams(),
  });
}

async function forget(removed) {
  const kept = new Set(state.versions.map((v) => v.key));
  for (const version of removed) {
    if (kept.has(version.key)) continue;
    media.delete(version.key);
    await store.deleteAudio(version.key);
  }
}

// -- rendering -----------------------------------------------------------------------------------------------
function render() {
  const version = current();
  const body = document.body;
  body.dataset.state = version ? (state.busy ? "busy" : "ready") : "empty";
  body.dataset.ab = which();
  body.dataset.index = String(state.index);
  body.dataset.versions = String(state.versions.length);
  body.dataset.currentKey = version ? version.key : "";
  $("undo").disabled = state.index <= 0;
  $("redo").disabled = state.index >= state.versions.length - 1;
  for (const id of ["play", "play-selection", "download", "ab-toggle", "zoom-in", "zoom-out", "zoom-fit"]) $(id).disabled = !version;
  $("play-selection").disabled = !version || !state.selection;
  $("resample").disabled = !version || !state.selection || state.busy;
  $("resample").textContent = state.busy ? "Resampling…" : "Resample";
  $("ab-toggle").setAttribute("aria-pressed", String(state.abLatched === "A"));
  $("ab-state").textContent =
    which() === "A" ? "hearing A (the original)" : state.index > 0 ? "hearing B (current version, level-matched)" : "hearing B (current = original)";
  $("play").textContent = player.playing ? "■ Stop" : "▶ Play";
  renderHistory();
  renderSelectionInfo();
  if (!version) return;
  const shown = which() === "A" ? original() : version;
  const m = media.get(shown.key);
  if (!m || !m.image) return;
  body.dataset.shownKey = shown.key;
  view.set({
    image: m.image,
    secondsPerFrame: m.secondsPerFrame,
    grid: shown.grid,
    changed: shown.changed,
    duration: shown.duration,
    selection: state.selection,
  });
}

function renderHistory() {
  const list = $("history");
  list.replaceChildren(
    ...state.versions.map((v, i) => {
      const item = document.createElement("li");
      item.textContent = i === 0 ? `original: ${v.name}` : describeEdit(v);
      item.className = i === state.index ? "current" : i > state.index ? "future" : "";
      item.addEventListener("click", () => guarded(() => jumpTo(i)));
      return item;
    }),
  );
}

function describeEdit(v) {
  const p = v.params;
  const targets = [p.pitch ? `pitch ${p.pitch}` : "", p.family ? p.family.replace("_", " ") : ""].filter(Boolean);
  const steer = targets.length ? ` · ${targets.join(", ")}, guidance ${p.guidance}` : "";
  const level = p.match_level === false ? " · own level" : "";
  return `${v.changedCells} of ${cellCount(v.cells)} cells changed · ${p.prior}, T ${p.temperature}, ${p.steps} steps, seed ${p.seed}${steer}${level} · ${fmtMs(v.latency.round_trip)}`;
}

const cellCount = (c) => (c.row_stop - c.row_start) * (c.col_stop - c.col_start);

function renderSelectionInfo() {
  const s = state.selection;
  const version = current();
  if (!s || !version) {
    $("selection-info").textContent = "Drag across the grid to select cells. Esc cancels.";
    return;
  }
  const g = version.grid;
  $("selection-info").textContent =
    `${cellCount(s)} cells will be resampled: rows ${s.row_start}–${s.row_stop - 1} ` +
    `(${fmtHz(g.row_edges_hz[s.row_start])}–${fmtHz(g.row_edges_hz[s.row_stop])}), ` +
    `time cells ${s.col_start}–${s.col_stop - 1} (${fmtS(s.col_start * g.seconds_per_cell)}–${fmtS(s.col_stop * g.seconds_per_cell)}).`;
}

function renderEditInfo(v) {
  if (!v || !v.params) {
    $("edit-info").textContent = "";
    return;
  }
  const r = v.region;
  const energy = !v.energy
    ? "not metered yet"
    : typeof v.energy.joules === "number"
      ? `${v.energy.joules.toFixed(3)} J${v.energy.method ? ` (${v.energy.method})` : ""}`
      : JSON.stringify(v.energy);
  $("edit-info").textContent =
    `Resampled ${cellCount(v.cells)} cells (${v.changedCells} changed), ${fmtS(r.start_s)}–${fmtS(r.stop_s)}, ` +
    `${fmtHz(r.low_hz)}–${fmtHz(r.high_hz)}. Latency ${fmtMs(v.latency.round_trip)} ` +
    `(server ${fmtMs(v.latency.total)}, of which the edit ${fmtMs(v.latency.edit)}). Energy: ${energy}.`;
}

// -- loading -------------------------------------------------------------------------------------------------
async function loadSound(bytes, name) {
  const limit = state.config.max_upload_bytes;
  if (bytes.byteLength > limit) {
    throw new api.ApiError(`That file is ${(bytes.byteLength / 2 ** 20).toFixed(1)} MB; the limit is ${limit / 2 ** 20} MB.`);
  }
  if (bytes.byteLength === 0) throw new api.ApiError("That file is empty.");
  setBusy(true);
  try {
    const analysis = await api.analyse(bytes);
    const version = { key: analysis.key, name, duration: analysis.duration, grid: analysis.grid, changed: null, params: null };
    media.set(version.key, { bytes });
    await prepare(version);
    player.stop();
    const removed = state.versions;
    await store.putAudio(version.key, bytes);
    state.versions = [version];
    state.index = 0;
    state.selection = null;
    state.abLatched = "B";
    await forget(removed);
    await persist();
    view.setZoom(1);
    clearError();
    renderEditInfo(null);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  state.busy = busy;
  render();
}

async function loadExample() {
  const { bytes, name } = await api.getExample();
  await loadSound(bytes, name);
}

async function loadRandom() {
  const { bytes, name } = await api.getRandomExample();
  await loadSound(bytes, name + extensionOf(bytes));
}

async function loadFile(file) {
  await loadSound(await file.arrayBuffer(), file.name);
}

// -- editing -------------------------------------------------------------------------------------------------
function readParams() {
  return {
    prior: $("prior").value || "nb",
    temperature: $("temperature").value,
    steps: $("steps").value,
    seed: $("seed").value,
    pitch: $("pitch").value,
    family: $("family").value,
    guidance: $("guidance").value,
    match_level: $("match_level").checked,
  };
}

function writeParams(p) {
  for (const [name, value] of Object.entries(p || {})) {
    const input = $(name);
    if (!input || value === undefined) continue;
    if (input.type === "checkbox") input.checked = value === true || value === "true";
    else input.value = value;
  }
}

async function resample() {
  const version = current();
  const s = state.selection;
  if (!version) throw new api.ApiError("Load a sound first.");
  if (!s) throw new api.ApiError("Select cells first: drag across the grid.");
  if (state.busy) return;
  const params = readParams();
  const cells = { row_start: s.row_start, row_stop: s.row_stop, col_start: s.col_start, col_stop: s.col_stop };
  setBusy(true);
  try {
    const started = performance.now();
    const reply = await api.edit(media.get(version.key).bytes, { ...cells, ...params });
    const roundTrip = performance.now() - started;
    const bytes = api.base64ToBytes(reply.audio_wav_base64);
    const edited = {
      key: reply.key,
      name: `${stem(original().name)}_edit${state.index + 1}.wav`,
      duration: version.duration,
      grid: reply.grid,
      changed: reply.changed,
      params,
      cells: reply.cells,
      region: reply.region,
      changedCells: reply.changed_cells,
      latency: { ...reply.latency_ms, round_trip: roundTrip },
      energy: reply.energy,
    };
    media.set(edited.key, { bytes });
    const m = await prepare(edited);
    edited.duration = m.buffer.duration;
    await store.putAudio(edited.key, bytes);
    const removed = state.versions.splice(state.index + 1);
    state.versions.push(edited);
    state.index = state.versions.length - 1;
    await forget(removed);
    await persist();
    clearError();
    renderEditInfo(edited);
  } finally {
    setBusy(false);
  }
}

async function jumpTo(index) {
  if (index < 0 || index >= state.versions.length || index === state.index) return;
  await prepare(state.versions[index]);
  player.stop();
  state.index = index;
  renderEditInfo(current());
  render();
  await persist();
}

const undo = () => jumpTo(state.index - 1);
const redo = () => jumpTo(state.index + 1);

function download() {
  const version = current();
  if (!version) return;
  const blob = new Blob([media.get(version.key).bytes], { type: "audio/wav" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = version.name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// -- listening -----------------------------------------------------------------------------------------------
async function play(selectionOnly) {
  if (player.playing && !selectionOnly) {
    player.stop();
    return;
  }
  const version = current();
  if (!version) return;
  const a = (await prepare(original())).buffer;
  const b = (await prepare(version)).buffer;
  let start = 0;
  let stop = null;
  const s = state.selection;
  if (selectionOnly) {
    if (!s) throw new api.ApiError("Select cells first: drag across the grid.");
    start = s.col_start * version.grid.seconds_per_cell;
    stop = Math.min(b.duration, s.col_stop * version.grid.seconds_per_cell);
  }
  player.setWhich(which());
  await player.play({ a, b, start, stop, loop: $("loop").checked });
  render();
  requestAnimationFrame(tick);
}

function tick() {
  view.showPlayhead(player.position());
  if (player.playing) requestAnimationFrame(tick);
}

player.onend = () => {
  view.showPlayhead(null);
  render();
};

function setAB({ latched, held }) {
  if (latched !== undefined) state.abLatched = latched;
  if (held !== undefined) state.abHeld = held;
  player.setWhich(which());
  render();
  if (latched !== undefined) persist();
}

// -- selecting -----------------------------------------------------------------------------------------------
function rectOf(a, b) {
  return {
    row_start: Math.min(a.row, b.row),
    row_stop: Math.max(a.row, b.row) + 1,
    col_start: Math.min(a.col, b.col),
    col_stop: Math.max(a.col, b.col) + 1,
  };
}

const canvas = $("spectrogram");
canvas.addEventListener("pointerdown", (e) => {
  if (!current() || e.button !== 0) return;
  canvas.setPointerCapture(e.pointerId);
  const cell = view.cellAt(e.clientX, e.clientY);
  state.drag = { anchor: cell };
  state.selection = { ...rectOf(cell, cell), dragging: true };
  render();
});
canvas.addEventListener("pointermove", (e) => {
  if (!current()) return;
  const cell = view.cellAt(e.clientX, e.clientY);
  const v = current();
  const code = v.grid.codes[cell.row]?.[cell.col];
  $("status").textContent =
    `cell row ${cell.row}, time cell ${cell.col} · code ${code} · ` +
    `${fmtS(cell.col * v.grid.seconds_per_cell)}–${fmtS((cell.col + 1) * v.grid.seconds_per_cell)} · ` +
    `${fmtHz(v.grid.row_edges_hz[cell.row])}–${fmtHz(v.grid.row_edges_hz[cell.row + 1])}`;
  if (!state.drag) return;
  state.selection = { ...rectOf(state.drag.anchor, cell), dragging: true };
  render();
});
canvas.addEventListener("pointerup", () => {
  if (!state.drag) return;
  state.drag = null;
  if (state.selection) state.selection.dragging = false;
  render();
  persist();
});

function cancelSelection() {
  state.drag = null;
  state.selection = null;
  render();
  if (current()) persist();
}

// -- keyboard ------------------------------------------------------------------------------------------------
function toggleHelp(show) {
  $("help").hidden = !(show ?? $("help").hidden);
}

const KEYS = {
  " ": () => play(false),
  s: () => play(true),
  l: () => {
    $("loop").checked = !$("loop").checked;
  },
  r: resample,
  Enter: resample,
  b: () => setAB({ latched: state.abLatched === "A" ? "B" : "A" }),
  "+": () => view.setZoom(view.zoom * 1.5),
  "=": () => view.setZoom(view.zoom * 1.5),
  "-": () => view.setZoom(view.zoom / 1.5),
  0: () => view.setZoom(1),
  d: download,
  e: loadExample,
  n: loadRandom,
  o: () => $("file-input").click(),
  "?": () => toggleHelp(),
};

document.addEventListener("keydown", (e) => {
  const inField = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.key === "Escape") {
    toggleHelp(false);
    cancelSelection();
    return;
  }
  if ((e.ctrlKey || e.metaKey) && !e.altKey && (key === "z" || key === "y")) {
    if (inField) return;
    e.preventDefault();
    guarded(key === "y" || e.shiftKey ? redo : undo);
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || inField) return;
  if (key === "a") {
    e.preventDefault();
    if (!e.repeat) setAB({ held: true });
    return;
  }
  const action = KEYS[key] ?? KEYS[e.key];
  if (!action) return;
  e.preventDefault();
  guarded(action);
});
document.addEventListener("keyup", (e) => {
  if (e.key.toLowerCase() === "a" && state.abHeld) setAB({ held: false });
});
window.addEventListener("blur", () => {
  if (state.abHeld) setAB({ held: false });
});

// -- buttons, drops, start-up --------------------------------------------------------------------------------
function on(id, action) {
  $(id).addEventListener("click", (e) => {
    e.currentTarget.blur();
    guarded(action);
  });
}

on("load-example", loadExample);
on("load-random", loadRandom);
on("load-file", () => $("file-input").click());
on("play", () => play(false));
on("play-selection", () => play(true));
on("ab-toggle", () => setAB({ latched: state.abLatched === "A" ? "B" : "A" }));
on("undo", undo);
on("redo", redo);
on("download", download);
on("resample", resample);
on("zoom-in", () => view.setZoom(view.zoom * 1.5));
on("zoom-out", () => view.setZoom(view.zoom / 1.5));
on("zoom-fit", () => view.setZoom(1));
on("new-seed", () => {
  $("seed").value = String(Math.floor(Math.random() * 1e6));
});
on("help-button", () => toggleHelp(true));
on("help-close", () => toggleHelp(false));
on("error-close", clearError);
$("file-input").addEventListener("change", (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (file) guarded(() => loadFile(file));
});
// Each prior samples at its own default temperature (spectrolab.sampling); switching priors takes it.
$("prior").addEventListener("change", () => {
  const t = state.config && state.config.default_temperatures[$("prior").value];
  if (t !== undefined) $("temperature").value = t;
});
for (const id of ["prior", "temperature", "steps", "seed", "pitch", "family", "guidance", "match_level"]) $(id).addEventListener("change", () => persist());
$("scroller").addEventListener(
  "wheel",
  (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    view.setZoom(view.zoom * (e.deltaY < 0 ? 1.25 : 0.8));
  },
  { passive: false },
);
window.addEventListener("resize", () => render());

const zone = $("drop-zone");
zone.addEventListener("dragover", (e) => {
  e.preventDefault();
  zone.classList.add("dragging");
});
zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("dragging");
  const file = e.dataTransfer.files[0];
  if (file) guarded(() => loadFile(file));
});

function configure(config) {
  state.config = config;
  api.setUploadLimit(config.max_upload_bytes);
  $("limits").textContent =
    `or drop a file here (any format libsndfile reads: WAV, FLAC, OGG, MP3, AIFF…; ` +
    `up to ${config.max_upload_bytes / 2 ** 20} MB and ${config.max_duration_s} s)`;
  $("load-random").disabled = !config.examples_folder;
  if (!config.examples_folder) $("load-random").title = "Start the server with --examples DIR to draw random notes";
  $("prior").replaceChildren(
    ...config.priors.map((name) => new Option(name === "nb" ? "Naive Bayes (fast)" : name === "transformer" ? "Transformer" : name, name)),
  );
  $("family").append(...config.families.map((f) => new Option(f.replace("_", " "), f)));
  const b = config.bounds;
  $("temperature").max = b.temperature[1];
  $("steps").max = b.steps[1];
  $("guidance").max = b.guidance[1];
  $("seed").max = b.seed[1];
}

async function restore() {
  const session = await store.getSession();
  if (!session || !session.versions || session.versions.length === 0) return;
  writeParams(session.params);
  try {
    await prepare(session.versions[0]);
    await prepare(session.versions[session.index]);
  } catch (error) {
    await store.clearAudio();
    await store.putSession({ versions: [], index: -1 });
    throw error;
  }
  state.versions = session.versions;
  state.index = session.index;
  state.abLatched = session.abLatched || "B";
  state.selection = session.selection || null;
  renderEditInfo(current());
}

async function start() {
  render();
  configure(await api.getConfig());
  await restore();
  render();
  document.body.dataset.started = "true";
}

guarded(start);
