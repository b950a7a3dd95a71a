/* The host console's "Go live from this browser" panel (templates/broadcast/golive_panel.html).
 *
 * Turn camera on: getUserMedia (camera and microphone picked from the lists, or a shared screen),
 * a preview of the outgoing video with the overlays, and a microphone level. Start: the local
 * relay (golive/local.js) or the IVS Web Broadcast SDK (golive/ivs.js), by the event's video
 * mode; Stop ends the stream. The featured product follows the studio socket's frames, which
 * console.js passes on as "console:frame" events on #console; its QR code is a PNG of its buy
 * link made by the server, drawn into every frame (golive/compositor.js).
 *
 * window.liveshopGoLive exposes the state for tests and bench/golive.py. */
import { createCompositor, loadBitmap } from "./golive/compositor.js";
import { gettext, interpolate } from "../lib/i18n.js";
import { ivsPublisher, loadIvsSdk } from "./golive/ivs.js";
import { localPublisher } from "./golive/local.js";

const panel = document.getElementById("golive-browser");
const config = JSON.parse(document.getElementById("golive-config").textContent);
const $ = (id) => document.getElementById(id);
const els = {
  state: $("golive-state"),
  error: $("golive-error"),
  preview: $("golive-preview"),
  level: $("golive-level"),
  camera: $("golive-camera"),
  mic: $("golive-mic"),
  screen: $("golive-screen"),
  preset: $("golive-preset"),
  qr: $("golive-qr"),
  corner: $("golive-corner"),
  image: $("golive-image"),
  devices: $("golive-devices"),
  start: $("golive-start"),
  stop: $("golive-stop"),
};

const PRICE = (product) => {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: product.currency }).format(Number(product.price));
  } catch {
    return `${product.price} ${product.currency}`;
  }
};

const state = { name: "idle", message: "", productId: null, overlayVersion: 0, compositor: null, media: null, publisher: null };
window.liveshopGoLive = state;

function setState(name, text) {
  state.name = name;
  panel.dataset.state = name;
  els.state.textContent = text;
  const publishing = ["connecting", "live", "retry"].includes(name);
  els.start.hidden = publishing;
  els.stop.hidden = !publishing;
  els.start.disabled = !state.media || publishing;
  for (const control of [els.camera, els.mic, els.screen, els.preset, els.devices]) control.disabled = publishing;
  if (name === "live") showError("");
}

function showError(message) {
  state.message = message;
  els.error.textContent = message;
  els.error.hidden = !message;
}

function preset() {
  const chosen = els.preset.value;
  if (config.mode === "ivs") {
    const [width, height] = chosen.includes("PORTRAIT") ? [720, 1280] : chosen.startsWith("BASIC_LANDSCAPE") ? [852, 480] : [1280, 720];
    return { name: chosen, width, height, bitrate: 0 };
  }
  return config.presets.find((p) => p.name === chosen) || config.presets[0];
}

// Devices --------------------------------------------------------------------------------------

function deviceError(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return gettext("The browser was not allowed to use the camera or microphone. Allow them for this site (the icon in the address bar) and try again.");
    case "NotFoundError":
    case "OverconstrainedError":
      return gettext("No camera or microphone was found. Plug one in, or pick another in the lists, and try again.");
    case "NotReadableError":
    case "AbortError":
      return gettext("The camera or microphone is in use by another program, or failed. Close that program and try again.");
    default:
      return interpolate(gettext("The camera could not start: %(reason)s"), { reason: (error && error.message) || error });
  }
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  fill(els.camera, devices.filter((d) => d.kind === "videoinput"), gettext("Camera"));
  fill(els.mic, devices.filter((d) => d.kind === "audioinput"), gettext("Microphone"), [["none", gettext("No sound")]]);
}

function fill(select, devices, label, extra = []) {
  const chosen = select.value;
  const options = devices.map((d, i) => [d.deviceId, d.label || `${label} ${i + 1}`]);
  select.replaceChildren(...[...options, ...extra].map(([value, text]) => new Option(text, value)));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

async function openDevices() {
  showError("");
  if (config.mode === "ivs") loadIvsSdk(); // fetched while the host sets up, ready by Start
  const { width, height } = preset();
  const wantsSound = els.mic.value !== "none";
  let media;
  try {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw Object.assign(new Error(gettext("This browser cannot use a camera here (it needs HTTPS, or localhost).")), { name: "TypeError" });
    }
    const video = { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } };
    if (els.camera.value) video.deviceId = { exact: els.camera.value };
    const audio = wantsSound ? (els.mic.value ? { deviceId: { exact: els.mic.value } } : true) : false;
    if (els.screen.checked) {
      const screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: false });
      const sound = audio ? await navigator.mediaDevices.getUserMedia({ audio }) : null;
      media = new MediaStream([...screen.getVideoTracks(), ...(sound ? sound.getAudioTracks() : [])]);
    } else {
      media = await navigator.mediaDevices.getUserMedia({ video, audio });
    }
  } catch (error) {
    showError(deviceError(error));
    setState("error", gettext("Camera off"));
    return;
  }
  closeDevices();
  const compositor = createCompositor({ width, height });
  applyOverlayControls(compositor);
  const { track, insertable } = compositor.start(media.getVideoTracks()[0]);
  state.insertable = insertable;
  state.compositor = compositor;
  state.media = new MediaStream([track, ...media.getAudioTracks()]);
  state.sources = media;
  els.preview.srcObject = new MediaStream([track]);
  els.preview.play().catch(() => {});
  meter(media);
  await listDevices().catch(() => {});
  els.devices.textContent = gettext("Switch camera");
  setState("ready", gettext("Camera on: ready to start"));
  refreshOverlay();
}

function closeDevices() {
  state.compositor?.stop();
  state.sources?.getTracks().forEach((t) => t.stop());
  state.media?.getTracks().forEach((t) => t.stop());
  state.compositor = state.media = state.sources = null;
  stopMeter();
}

let meterContext = null;
let meterTimer = 0;
function meter(media) {
  stopMeter();
  if (!media.getAudioTracks().length) return;
  meterContext = new AudioContext();
  const analyser = meterContext.createAnalyser();
  analyser.fftSize = 512;
  meterContext.createMediaStreamSource(media).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  meterTimer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const s of samples) peak = Math.max(peak, Math.abs(s));
    els.level.value = peak;
  }, 100);
}

function stopMeter() {
  clearInterval(meterTimer);
  meterContext?.close().catch(() => {});
  meterContext = null;
}

// Overlays -------------------------------------------------------------------------------------

function applyOverlayControls(compositor = state.compositor) {
  if (!compositor) return;
  compositor.overlay.show = els.qr.checked;
  compositor.overlay.corner = els.corner.value;
  compositor.overlay.logo = state.logo || null;
}

let featured = null; // the product card on screen (the studio socket's), or null
// QR codes of the lineup, fetched when the snapshot names it, so a feature shows on the next frame.
const qrCodes = new Map(); // product id -> Promise<ImageBitmap | null>
const pictures = new Map(); // image URL -> ImageBitmap | null

function qrFor(productId) {
  if (!qrCodes.has(productId)) {
    const loading = loadBitmap(config.qrUrl.replace("{id}", productId)).then((bitmap) => {
      if (!bitmap) qrCodes.delete(productId); // asked again at the next feature
      return bitmap;
    });
    qrCodes.set(productId, loading);
  }
  return qrCodes.get(productId);
}

async function refreshOverlay() {
  const compositor = state.compositor;
  if (!compositor) return;
  const product = featured;
  const version = ++state.overlayVersion;
  if (!product) {
    compositor.overlay.product = null;
    state.productId = null;
    return;
  }
  const qr = product.buyUrl ? await qrFor(product.id) : null;
  if (version !== state.overlayVersion) return; // a newer feature or clear won
  const picture = pictures.get(product.image) || null;
  Object.assign(compositor.overlay, { qr, picture, product: { name: product.name, priceText: PRICE(product) } });
  state.productId = product.id;
  if (product.image && !pictures.has(product.image)) {
    const loaded = await loadBitmap(product.image); // drawn from the frame it arrives on
    pictures.set(product.image, loaded);
    if (version === state.overlayVersion) compositor.overlay.picture = loaded;
  }
}

function onConsoleFrame(event) {
  const frame = event.detail || {};
  let next;
  if (frame.type === "studio_snapshot") (frame.stock || []).forEach((entry) => qrFor(entry.id));
  if (frame.type === "studio_snapshot" || frame.type === "snapshot") next = frame.highlight ? frame.highlight.product : null;
  else if (frame.type === "product_featured") next = frame.product || null;
  else if (frame.type === "product_cleared") next = null;
  else return;
  if ((next && next.id) === (featured && featured.id)) return;
  featured = next;
  refreshOverlay();
}

// Start and stop -------------------------------------------------------------------------------

function publisher() {
  const hooks = { onState: setState, onError: showError };
  if (config.mode === "ivs") return ivsPublisher({ keyUrl: config.ivsKeyUrl, ...hooks });
  return localPublisher({ socketPath: config.socketPath, ...hooks });
}

function start() {
  if (!state.media) return;
  showError("");
  state.publisher = state.publisher || publisher();
  state.publisher.start(state.media, config.mode === "ivs" ? preset().name : preset());
}

function stop() {
  state.publisher?.stop();
}

els.devices.addEventListener("click", openDevices);
els.start.addEventListener("click", start);
els.stop.addEventListener("click", stop);
els.qr.addEventListener("change", () => applyOverlayControls());
els.corner.addEventListener("change", () => applyOverlayControls());
els.image.addEventListener("change", async () => {
  const file = els.image.files[0];
  const logo = file ? await createImageBitmap(file).catch(() => null) : null;
  if (file && !logo) showError(gettext("That file is not a picture the browser can read."));
  state.logo = logo;
  applyOverlayControls();
});
document.getElementById("console")?.addEventListener("console:frame", onConsoleFrame);
window.addEventListener("beforeunload", () => state.publisher?.stop());
setState("idle", gettext("Camera off"));
