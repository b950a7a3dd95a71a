// The timeline editor (studio video page): the video with hls.js, the brand's products, and the
// product cues. "Add cue here" puts the selected product at the player's current time; a cue is
// moved by dragging it on the timeline or typing its times; Save sends the whole list at once
// (one transaction on the server) and shows its errors next to each cue.
import { jsonBody, post as postTo } from "./lib/http.js";
import { gettext, interpolate, ngettext } from "./lib/i18n.js";
import { playHls } from "./lib/player.js";
import { clockTenths, parseClock } from "./lib/time.js";

const config = JSON.parse(document.getElementById("editor-config").textContent);
const video = document.getElementById("editor-video");
const rowsBody = document.getElementById("cue-rows");
const empty = document.getElementById("cue-empty");
const blocks = document.getElementById("timeline-blocks");
const timeline = document.getElementById("timeline");
const playhead = document.getElementById("timeline-playhead");
const picker = document.getElementById("product-picker");
const alertBox = document.getElementById("editor-alert");
const addButton = document.getElementById("add-cue");
const saveButton = document.getElementById("save-cues");
const saveState = document.getElementById("save-state");
const currentTime = document.getElementById("current-time");
const selectedLabel = document.getElementById("selected-label");
const importInput = document.getElementById("import-srt");

const products = new Map(config.products.map((product) => [product.id, product]));
let nextUid = 1;
let cues = config.cues.map(fromServer);
let errors = new Map(); // uid -> [messages]
let selected = null; // product id
let dirty = false;
let durationMs = config.durationMs || 0;

function fromServer(cue) {
  return { uid: nextUid++, productId: cue.productId, startMs: cue.startMs, endMs: cue.endMs ?? null };
}

// --- Player --------------------------------------------------------------------------------

function startPlayer() {
  const url = config.playbackUrl;
  if (!url) return;
  // A private video on the CDN: its signed cookies must go with every playlist and segment.
  playHls(video, url, { config: { capLevelToPlayerSize: true }, withCredentials: config.withCredentials });
  video.addEventListener("loadedmetadata", () => {
    if (!durationMs && Number.isFinite(video.duration)) durationMs = Math.round(video.duration * 1000);
    render();
  });
  const tick = () => {
    const ms = Math.round(video.currentTime * 1000);
    if (currentTime) currentTime.textContent = clockTenths(ms);
    playhead.style.left = `${durationMs ? Math.min(100, (ms / durationMs) * 100) : 0}%`;
  };
  ["timeupdate", "seeked", "seeking", "loadedmetadata"].forEach((name) => video.addEventListener(name, tick));
  const frame = () => { tick(); if (!video.paused) requestAnimationFrame(frame); };
  video.addEventListener("play", () => requestAnimationFrame(frame));
}

// --- Rendering -----------------------------------------------------------------------------

const sorted = () => [...cues].sort((a, b) => a.startMs - b.startMs || a.uid - b.uid);

function productName(id) {
  return products.get(id)?.name ?? interpolate(gettext("Product #%(id)s"), { id });
}

function renderPicker() {
  picker.replaceChildren();
  for (const product of products.values()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "product-choice";
    button.dataset.productId = String(product.id);
    button.setAttribute("aria-pressed", String(selected === product.id));
    button.disabled = !config.canEdit;
    const thumb = product.image ? Object.assign(document.createElement("img"), { src: product.image, alt: "" })
      : Object.assign(document.createElement("span"), { textContent: product.name.charAt(0).toUpperCase() });
    thumb.className = product.image ? "thumb" : "thumb thumb-empty";
    const text = document.createElement("span");
    text.className = "pick-text";
    text.innerHTML = '<span class="pick-name"></span><span class="muted small"></span>';
    text.firstChild.textContent = product.name;
    text.lastChild.textContent = product.sku;
    button.append(thumb, text);
    button.addEventListener("click", () => select(product.id));
    item.append(button);
    picker.append(item);
  }
  if (!products.size) picker.innerHTML = '<li class="muted small">This brand has no active products.</li>';
}

function select(productId) {
  selected = productId;
  picker.querySelectorAll(".product-choice").forEach((button) => {
    button.setAttribute("aria-pressed", String(Number(button.dataset.productId) === productId));
  });
  if (addButton) addButton.disabled = false;
  if (selectedLabel) selectedLabel.textContent = interpolate(gettext("Adds “%(name)s”."), { name: productName(productId) });
}

function render() {
  const list = sorted();
  rowsBody.replaceChildren(...list.map(rowFor));
  empty.hidden = list.length > 0;
  renderBlocks(list);
}

function rowFor(cue) {
  const row = document.createElement("tr");
  row.className = "cue-row";
  row.dataset.uid = String(cue.uid);
  const problems = errors.get(cue.uid) || [];
  if (problems.length) row.classList.add("has-error");

  const productCell = document.createElement("td");
  const chooser = document.createElement("select");
  chooser.setAttribute("aria-label", "Product");
  chooser.disabled = !config.canEdit;
  for (const product of products.values()) {
    chooser.append(new Option(product.name, String(product.id), false, product.id === cue.productId));
  }
  chooser.addEventListener("change", () => update(cue, { productId: Number(chooser.value) }));
  productCell.append(chooser);
  for (const message of problems) {
    const p = document.createElement("p");
    p.className = "field-error";
    p.textContent = message;
    productCell.append(p);
  }

  const startCell = timeCell(cue, "startMs", "Start");
  const endCell = timeCell(cue, "endMs", "End");

  const actions = document.createElement("td");
  actions.className = "cue-actions";
  const seek = Object.assign(document.createElement("button"), { type: "button", className: "link-button", textContent: gettext("Go to") });
  seek.addEventListener("click", () => { video.currentTime = cue.startMs / 1000; });
  actions.append(seek);
  if (config.canEdit) {
    const remove = Object.assign(document.createElement("button"), { type: "button", className: "link-button danger-link", textContent: "Delete" });
    remove.setAttribute("aria-label", interpolate(gettext("Delete the cue at %(time)s"), { time: clockTenths(cue.startMs) }));
    remove.addEventListener("click", () => {
      cues = cues.filter((other) => other !== cue);
      errors.delete(cue.uid);
      changed();
    });
    actions.append(remove);
  }
  row.append(productCell, startCell, endCell, actions);
  return row;
}

function timeCell(cue, field, label) {
  const cell = document.createElement("td");
  const input = document.createElement("input");
  input.type = "text";
  input.inputMode = "decimal";
  input.className = `time-input ${field === "startMs" ? "cue-start" : "cue-end"}`;
  input.value = clockTenths(cue[field]);
  input.placeholder = field === "endMs" ? "next cue" : "0:00.0";
  input.setAttribute("aria-label", label);
  input.disabled = !config.canEdit;
  input.addEventListener("change", () => {
    const ms = parseClock(input.value);
    if (Number.isNaN(ms) || (field === "startMs" && ms === null)) {
      input.setCustomValidity(gettext("Type a time like 1:05.5 or 65.5"));
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    update(cue, { [field]: ms });
  });
  cell.append(input);
  return cell;
}

function renderBlocks(list) {
  blocks.replaceChildren();
  if (!durationMs) return;
  list.forEach((cue, index) => {
    const next = list[index + 1];
    const end = cue.endMs ?? (next ? next.startMs : durationMs);
    const block = document.createElement("div");
    block.className = "timeline-block";
    if (errors.has(cue.uid)) block.classList.add("has-error");
    block.dataset.uid = String(cue.uid);
    block.style.left = `${(cue.startMs / durationMs) * 100}%`;
    block.style.width = `${Math.max(0.5, ((Math.max(end, cue.startMs) - cue.startMs) / durationMs) * 100)}%`;
    block.title = `${productName(cue.productId)} · ${clockTenths(cue.startMs)}`;
    block.textContent = productName(cue.productId);
    if (config.canEdit) block.addEventListener("pointerdown", (event) => drag(event, cue, block));
    blocks.append(block);
  });
}

// Drag a block to move its cue (its length stays when it has an end).
function drag(event, cue, block) {
  event.preventDefault();
  event.stopPropagation();
  block.setPointerCapture(event.pointerId);
  const width = timeline.getBoundingClientRect().width;
  const origin = { x: event.clientX, start: cue.startMs, end: cue.endMs };
  let moved = false;
  const move = (e) => {
    const delta = Math.round(((e.clientX - origin.x) / width) * durationMs / 100) * 100;
    const length = origin.end === null ? 0 : origin.end - origin.start;
    const start = Math.max(0, Math.min(durationMs - Math.max(length, 100), origin.start + delta));
    moved = moved || delta !== 0;
    cue.startMs = start;
    cue.endMs = origin.end === null ? null : start + length;
    block.style.left = `${(start / durationMs) * 100}%`;
    block.title = `${productName(cue.productId)} · ${clockTenths(start)}`;
  };
  const up = () => {
    block.removeEventListener("pointermove", move);
    block.removeEventListener("pointerup", up);
    block.removeEventListener("pointercancel", up);
    if (moved) changed(); else video.currentTime = cue.startMs / 1000;
  };
  block.addEventListener("pointermove", move);
  block.addEventListener("pointerup", up);
  block.addEventListener("pointercancel", up);
}

timeline.addEventListener("click", (event) => {
  if (event.target.closest(".timeline-block") || !durationMs) return;
  const box = timeline.getBoundingClientRect();
  video.currentTime = (Math.max(0, event.clientX - box.left) / box.width) * durationMs / 1000;
});

// --- Changes -------------------------------------------------------------------------------

function update(cue, fields) {
  Object.assign(cue, fields);
  errors.delete(cue.uid);
  changed();
}

function changed() {
  dirty = true;
  if (saveState) saveState.textContent = gettext("Unsaved changes");
  render();
}

function showAlert(message, details = []) {
  alertBox.replaceChildren();
  if (!message) { alertBox.hidden = true; return; }
  const strong = document.createElement("strong");
  strong.textContent = message;
  alertBox.append(strong);
  if (details.length) {
    const list = document.createElement("ul");
    for (const detail of details) list.append(Object.assign(document.createElement("li"), { textContent: detail }));
    alertBox.append(list);
  }
  alertBox.hidden = false;
}

addButton?.addEventListener("click", () => {
  if (selected === null) return;
  const startMs = Math.round(video.currentTime * 1000);
  cues.push({ uid: nextUid++, productId: selected, startMs, endMs: null });
  changed();
});

async function post(url, body, headers = {}) {
  const response = await postTo(url, body, { headers });
  const data = await jsonBody(response); // null: an HTML error page
  return { ok: response.ok, status: response.status, data: data || { error: interpolate(gettext("The server answered %(status)s."), { status: response.status }) } };
}

saveButton?.addEventListener("click", async () => {
  const list = sorted();
  const payload = list.map((cue) => ({ productId: cue.productId, startMs: cue.startMs, endMs: cue.endMs }));
  saveButton.disabled = true;
  saveState.textContent = gettext("Saving…");
  try {
    const result = await post(config.saveUrl, JSON.stringify({ cues: payload }), { "Content-Type": "application/json" });
    errors = new Map();
    if (result.ok) {
      cues = result.data.cues.map(fromServer);
      dirty = false;
      showAlert("");
      saveState.textContent = interpolate(ngettext("Saved %(count)s cue.", "Saved %(count)s cues.", cues.length), { count: cues.length });
    } else {
      const general = [];
      for (const [index, messages] of Object.entries(result.data.errors || {})) {
        const cue = list[Number(index)];
        if (cue) errors.set(cue.uid, messages); else general.push(...messages);
      }
      showAlert(result.data.error || gettext("Nothing was saved."), general);
      saveState.textContent = gettext("Not saved");
    }
  } catch (error) {
    showAlert(interpolate(gettext("Nothing was saved: %(reason)s"), { reason: error.message }));
    saveState.textContent = gettext("Not saved");
  } finally {
    saveButton.disabled = false;
    render();
  }
});

importInput?.addEventListener("change", async () => {
  const file = importInput.files[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  const result = await post(config.importUrl, body);
  importInput.value = "";
  if (!result.ok) {
    showAlert(result.data.error || gettext("The SRT file could not be imported."), result.data.problems || []);
    return;
  }
  for (const product of result.data.products || []) products.set(product.id, product);
  renderPicker();
  cues = result.data.cues.map(fromServer);
  errors = new Map();
  showAlert("");
  changed();
  saveState.textContent = interpolate(
    ngettext("Imported %(count)s cue from %(file)s: save to keep it.", "Imported %(count)s cues from %(file)s: save to keep them.", cues.length),
    { count: cues.length, file: file.name },
  );
});

window.addEventListener("beforeunload", (event) => {
  if (dirty) { event.preventDefault(); event.returnValue = ""; }
});

renderPicker();
render();
startPlayer();
