/* The host console's "Seen on screen" panel (templates/discovery/_console.html, issue 19): the
 * detector's suggestions ("Blue mug is on screen — Feature") and what it is doing (last frame,
 * frames a second, last result). Hosts only: these frames travel on the studio socket, never the
 * viewers'. console.js passes every frame on as a "console:frame" event on #console; this module
 * handles discovery_suggestion, discovery_status and discovery_settings frames.
 *
 * Feature is one click through the lineup card's own Feature form (the same feature_product
 * service, the same pending state and answer handling in console.js). A product not in the
 * lineup cannot be featured: its suggestion says so.
 *
 * While the show is live and the detector on, a sampler sends a discovery_status frame a second
 * (or "waiting" while it opens the stream). None for data-stall-seconds: nothing samples this
 * show (no worker on the discovery queue, or eager Celery without manage.py discovery_sampler),
 * and the panel says so (data-state="missing") instead of waiting for a first frame forever. */
import { post } from "../lib/http.js";
import { gettext, interpolate } from "../lib/i18n.js";
import { timeOfDay } from "../lib/time.js";

const panel = document.getElementById("discovery");
const root = document.getElementById("console");
const MAX_SUGGESTIONS = 5;
const watch = { live: false, enabled: false, timer: null };

const $ = (selector, scope = panel) => scope.querySelector(selector);

function featureForm(productId) {
  for (const form of document.querySelectorAll('form[data-console="feature"]')) {
    const field = form.querySelector("input[name=product_id]");
    if (field && field.value === String(productId)) return form;
  }
  return null;
}

function suggestionRow(frame) {
  const row = $("#discovery-suggestion-template").content.firstElementChild.cloneNode(true);
  row.dataset.productId = frame.product.id;
  const thumb = $(".discovery-thumb", row);
  thumb.src = frame.thumbnail || frame.product.image || "";
  const box = $(".discovery-box", row);
  const [x, y, w, h] = frame.box || [0, 0, 0, 0];
  Object.assign(box.style, { left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${h * 100}%` });
  $(".discovery-name", row).textContent = frame.product.name;
  const when = frame.at ? timeOfDay(frame.at) : "";
  const where = frame.inLineup ? "" : ` · ${gettext("not in the lineup")}`;
  const score = interpolate(gettext("score %(score)s"), { score: `${Math.round(frame.score * 100)}%` });
  $(".discovery-meta", row).textContent = `${when} · ${score}${where}`;
  const button = $(".discovery-feature", row);
  if (button) {
    const form = featureForm(frame.product.id);
    button.disabled = !form;
    button.title = form
      ? interpolate(gettext("Feature %(name)s"), { name: frame.product.name })
      : gettext("Add it to the lineup to feature it");
    button.addEventListener("click", () => featureForm(frame.product.id)?.requestSubmit());
  }
  return row;
}

function onSuggestion(frame) {
  const list = $("#discovery-suggestions");
  list.querySelector(`[data-product-id="${frame.product.id}"]`)?.remove();
  list.prepend(suggestionRow(frame));
  while (list.children.length > MAX_SUGGESTIONS) list.lastElementChild.remove();
  $("#discovery-empty").hidden = true;
}

// Restarted by every status frame; fires when none came for data-stall-seconds while it matters.
function watchSampler() {
  clearTimeout(watch.timer);
  if (!(watch.live && watch.enabled)) return;
  watch.timer = setTimeout(() => {
    $("#discovery-status").textContent = panel.dataset.stallMessage;
    panel.dataset.state = "missing";
  }, Number(panel.dataset.stallSeconds) * 1000);
}

function onEventStatus(status) {
  if (!status || (status === "live") === watch.live) return;
  watch.live = status === "live";
  if (watch.live && watch.enabled) $("#discovery-status").textContent = gettext("Waiting for the first frame…");
  watchSampler();
}

function onStatus(frame) {
  const status = $("#discovery-status");
  watchSampler();
  if (frame.state === "stopped") {
    status.textContent = gettext("Detector stopped.");
  } else if (frame.state === "waiting") {
    status.textContent = gettext("Detector started: waiting for the stream's video…");
  } else if (frame.state === "error") {
    status.textContent = interpolate(gettext("Detector error: %(error)s"), { error: frame.error });
  } else {
    const seen = frame.result.length ? frame.result.map((r) => r.name).join(", ") : gettext("no product");
    const last = interpolate(gettext("Last frame %(time)s"), { time: frame.at ? timeOfDay(frame.at) : "–" });
    status.textContent = `${last} · ${frame.fps} fps · ${seen}`;
  }
  panel.dataset.state = frame.state;
}

function onSettings(frame) {
  const form = $("#discovery-settings");
  watch.enabled = frame.enabled;
  if (!frame.enabled) $("#discovery-status").textContent = gettext("Detector off.");
  watchSampler();
  if (!form) return;
  form.elements.enabled.checked = frame.enabled;
  form.elements.auto_feature.checked = frame.autoFeature;
}

if (panel && root) {
  root.addEventListener("console:frame", (event) => {
    const frame = event.detail;
    if (frame.type === "discovery_suggestion") onSuggestion(frame);
    else if (frame.type === "discovery_status") onStatus(frame);
    else if (frame.type === "discovery_settings") onSettings(frame);
    else if (frame.type === "studio_snapshot") onEventStatus(frame.event?.status);
    else if (frame.type === "stream_state") onEventStatus(frame.status);
  });
  watch.live = panel.dataset.live === "1";
  watch.enabled = panel.dataset.enabled === "1";
  watchSampler();
  const form = $("#discovery-settings");
  form?.addEventListener("change", async () => {
    const response = await post(panel.dataset.settingsUrl, new FormData(form), { form });
    if (!response.ok) $("#discovery-status").textContent = gettext("Could not save the detector settings. Reload the page.");
  });
}
