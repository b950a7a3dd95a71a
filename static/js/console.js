// Liveshop host console (the event page in the studio).
//
// - Feature a product with its card's button or keys 1-9, clear the card with the Clear button,
//   0 or Esc. Each button is a real form (it works without JavaScript); here it is sent with
//   fetch(), the card shows "Featuring…" at once and the server's answer replaces it. A button is
//   disabled while its request is in flight, so a double click features once (the service also
//   folds a repeat within 2 s into the same highlight).
// - The studio websocket keeps the status badge, viewer count and cue states current. It sends a
//   studio_snapshot on every (re)connect, which replaces what the page holds; frames apply on top.
//   Lost connections come back with exponential backoff and jitter.
// - A muted hls.js preview of the playback URL while the event is live (console/preview.js).
import { createPreview } from "./console/preview.js";
import { applyStockLevels } from "./console/stock.js";
import { jsonBody, post } from "./lib/http.js";
import { gettext, interpolate, ngettext } from "./lib/i18n.js";
import { CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, liveSocket } from "./lib/socket.js";
import { streamClock, timeOfDay } from "./lib/time.js";

const root = document.getElementById("console");
const config = JSON.parse(document.getElementById("console-config").textContent);

const CLOSED = ["ended", "cancelled"];
// A cue only moves forward: pending -> waiting -> a final state. A late answer (the fetch
// response after a cue_state frame, say) never takes it back.
const CUE_RANK = { pending: 0, waiting: 1 };
const cueRank = (state) => CUE_RANK[state] ?? 2;

const state = {
  status: config.status,
  history: config.history.map(withoutServerFields),
  viewers: null,
  streamHealth: null, // the video service's word: the studio snapshot, stream_state frames
  healthAt: null, // when the newest health news happened (ISO 8601)
  preview: "idle",
};
const cueUpdates = new Map(); // cue_state frames for highlights the page has not seen yet

const $ = (selector, scope = document) => scope.querySelector(selector);
const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));
const els = {
  history: $("#history-list"),
  historyEmpty: $("#history-empty"),
  onScreen: $("#on-screen-body"),
  alert: $("#console-alert"),
  lineupChanged: $("#lineup-changed"),
  connection: $("#console-connection"),
  player: $("#preview-player"),
  video: $("#preview-video"),
  previewMessage: $("#preview-message"),
  statHealth: $("#stat-health"),
  statStatus: $("#stat-status"),
};

function withoutServerFields(row) {
  const { cueLabel, time, offset, ...rest } = row;
  return rest;
}

// Rendering ------------------------------------------------------------------------------------

function render() {
  renderStatus();
  renderHistory();
  renderCards();
  renderViewers();
  renderHealth();
}

function renderStatus() {
  const label = config.statusLabels[state.status] || state.status;
  for (const holder of $$("#event-status, #player-badge")) {
    const badge = document.createElement("span");
    badge.className = `status status-${state.status}`;
    if (state.status === "live") {
      const dot = document.createElement("span");
      dot.className = "status-dot";
      dot.setAttribute("aria-hidden", "true");
      badge.append(dot);
    }
    badge.append(label);
    holder.replaceChildren(badge);
  }
  if (els.statStatus) els.statStatus.textContent = label;
  root.toggleAttribute("data-closed", CLOSED.includes(state.status));
}

function currentProduct() {
  const latest = state.history[0];
  return latest && latest.product ? latest.product : null;
}

function renderCards() {
  const current = currentProduct();
  for (const card of $$(".product-card", root)) {
    const isCurrent = current !== null && String(current.id) === card.dataset.productId;
    card.classList.toggle("is-current", isCurrent);
    const label = $(".feature-button .button-label", card);
    if (label && !card.classList.contains("is-pending")) {
      label.textContent = isCurrent ? gettext("Feature again") : gettext("Feature");
    }
  }
  if (!els.onScreen) return;
  if (!current) {
    const none = document.createElement("span");
    none.className = "muted";
    none.textContent = gettext("Nothing: viewers see no product card.");
    els.onScreen.replaceChildren(none);
    return;
  }
  const text = document.createElement("span");
  text.className = "pick-text";
  text.append(span("pick-name", current.name), span("muted small", `${current.price} ${current.currency}`));
  els.onScreen.replaceChildren(thumbnail(current, "thumb"), text);
}

function renderHistory() {
  if (!els.history) return;
  const seen = new Set($$(".history-row", els.history).map((row) => row.dataset.highlightId));
  els.history.replaceChildren(...state.history.map((entry) => historyRow(entry, !seen.has(String(entry.highlightId)))));
  if (els.historyEmpty) els.historyEmpty.hidden = state.history.length > 0;
}

function historyRow(entry, isNew) {
  const row = document.createElement("li");
  row.className = "history-row";
  row.classList.toggle("is-clear", !entry.product);
  row.classList.toggle("is-new", isNew && rendered);
  row.dataset.highlightId = entry.highlightId;

  const thumb = document.createElement("span");
  thumb.className = "history-thumb";
  thumb.setAttribute("aria-hidden", "true");
  if (entry.product && entry.product.image) {
    const img = document.createElement("img");
    img.src = entry.product.image;
    img.alt = "";
    thumb.append(img);
  } else {
    thumb.textContent = entry.product ? initial(entry.product.name) : "×";
  }

  const main = document.createElement("span");
  main.className = "history-main";
  main.append(span("history-name", entry.product ? entry.product.name : gettext("Card cleared")));
  const meta = span("history-meta", "");
  const time = document.createElement("time");
  time.dateTime = entry.at;
  time.textContent = timeOfDay(entry.at);
  meta.append(time);
  if (entry.offsetMs !== null && entry.offsetMs !== undefined) {
    meta.append(` · ${streamClock(entry.offsetMs)} into the stream`);
  }
  main.append(meta);
  if (entry.cueError) main.append(span("history-error", entry.cueError));

  const cue = span(`cue cue-${entry.cueState}`, config.cueLabels[entry.cueState] || entry.cueState);
  row.append(thumb, main, cue);
  return row;
}

function renderViewers() {
  const text = state.viewers === null ? "—" : state.viewers.toLocaleString();
  for (const el of $$("[data-viewer-count]")) el.textContent = text;
}

// Stream health: the video service's word (the studio snapshot asks it; IVS's starvation
// events come as stream_state frames with a health) when it has one, otherwise what the
// preview player sees.
function renderHealth() {
  if (!els.statHealth) return;
  let key;
  let text;
  if (state.status !== "live") {
    [key, text] = ["offline", gettext("Offline")];
  } else if (state.streamHealth === "healthy" || state.streamHealth === "starving") {
    key = state.streamHealth;
    text = key === "healthy" ? gettext("Healthy") : gettext("Starving: too little data");
  } else {
    [key, text] = {
      playing: ["healthy", gettext("Video arriving")],
      buffering: ["buffering", gettext("Buffering…")],
      waiting: ["down", gettext("No video yet")],
      unsupported: ["unknown", gettext("Live")],
    }[state.preview] || ["unknown", gettext("Checking…")];
  }
  els.statHealth.dataset.health = key;
  els.statHealth.textContent = text;
}

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

function thumbnail(product, className) {
  if (product.image) {
    const img = document.createElement("img");
    img.src = product.image;
    img.alt = "";
    img.className = className;
    return img;
  }
  const el = span(`${className} thumb-empty`, initial(product.name));
  el.setAttribute("aria-hidden", "true");
  return el;
}

function initial(name) {
  return (name || "?").trim().charAt(0).toUpperCase();
}

// State changes --------------------------------------------------------------------------------

function upsert(entry) {
  const update = cueUpdates.get(entry.highlightId);
  if (update) {
    cueUpdates.delete(entry.highlightId);
    entry = mergeCue(entry, update);
  }
  const index = state.history.findIndex((row) => row.highlightId === entry.highlightId);
  if (index >= 0) {
    const old = state.history[index];
    const merged = { ...old, ...entry };
    // A guess gives way to the server's word; the server's word only moves forward.
    const keep = entry.guessed || (!old.guessed && cueRank(entry.cueState) < cueRank(old.cueState));
    if (entry.cueState === undefined || keep) {
      merged.cueState = old.cueState;
      merged.cueError = old.cueError;
      merged.guessed = old.guessed && entry.guessed;
    }
    state.history[index] = merged;
  } else {
    state.history.push(entry);
    state.history.sort((a, b) => b.at.localeCompare(a.at) || b.highlightId - a.highlightId);
    state.history.length = Math.min(state.history.length, 50);
  }
}

function mergeCue(entry, update) {
  if (!entry.guessed && entry.cueState !== undefined && cueRank(update.cueState) < cueRank(entry.cueState)) {
    return entry;
  }
  return { ...entry, cueState: update.cueState, cueError: update.cueError || "", guessed: false };
}

function applyCueState(frame) {
  const index = state.history.findIndex((row) => row.highlightId === frame.highlightId);
  if (index < 0) {
    cueUpdates.set(frame.highlightId, frame);
    return;
  }
  state.history[index] = mergeCue(state.history[index], frame);
}

function setStatus(status) {
  if (!status || status === state.status) return;
  state.status = status;
  state.streamHealth = null; // the last stream's health says nothing about the next one
  state.healthAt = null;
  const banner = $("#status-changed");
  if (banner) {
    // The console follows by itself; the event actions and sessions below were drawn for the old status.
    banner.hidden = status === config.status;
    banner.replaceChildren(
      `The event is ${(config.statusLabels[status] || status).toLowerCase()} now. `,
      Object.assign(document.createElement("a"), { href: location.pathname, textContent: "Reload" }),
      " to update the event actions and stream sessions.",
    );
  }
  if (status === "live") startPreview();
  if (CLOSED.includes(status)) {
    stopPreview(status === "ended" ? gettext("The stream has ended.") : gettext("This event was cancelled."));
  } else if (status !== "live") {
    stopPreview(gettext("Offline. The preview starts when your encoder goes live."));
  }
}

// The studio websocket ---------------------------------------------------------------------------

let socket = null; // liveSocket(), started below unless the event is closed
let resyncTimer = null;

function setConnection(name, text) {
  if (!els.connection) return;
  els.connection.dataset.state = name;
  $(".connection-text", els.connection).textContent = text;
}

function connect() {
  socket = liveSocket(config.socketPath, {
    heartbeatMs: config.heartbeatMs,
    // 1 s, 2 s, 4 s … up to 30 s, jittered so consoles do not all come back at once.
    backoff: { firstMs: 1000, maxMs: 30000 },
    rateLimited: (delay) => Math.max(10000, delay),
    fatal: [CLOSE_NOT_FOUND, CLOSE_FORBIDDEN],
    onFrame,
    onConnecting: (attempt) => setConnection("connecting", attempt ? gettext("Reconnecting…") : gettext("Connecting…")),
    onRetry: (delay) => setConnection("retry", interpolate(gettext("Offline: retrying in %(seconds)s s"), { seconds: Math.ceil(delay / 1000) })),
    onFatal: () => setConnection("denied", gettext("Live updates unavailable: reload the page")),
    onVisible: resync, // timers sleep in background tabs: catch up
  });
}

function resync() {
  socket?.send("resync");
}

function onFrame(frame) {
  root.dispatchEvent(new CustomEvent("console:frame", { detail: frame })); // features: console/deals.js
  switch (frame.type) {
    case "studio_snapshot":
      socket?.resetBackoff();
      setConnection("live", gettext("Live updates on"));
      setStatus(frame.event && frame.event.status);
      state.streamHealth = frame.streamHealth || null;
      state.healthAt = null;
      state.history = frame.history || [];
      state.viewers = frame.viewerCount ?? state.viewers;
      cueUpdates.clear();
      applyStockLevels(frame.stock);
      break;
    case "product_featured":
    case "product_cleared":
      if (frame.cueState !== undefined) {
        // The consoles' own frame: the highlight with its cue's state, the server's word.
        const { type, ...entry } = frame;
        upsert({ ...entry, product: frame.product || null, cueError: frame.cueError || "", guessed: false });
        break;
      }
      // The viewers' frame (the console follows their topic too; no cue state): keep what the
      // page knows, guess otherwise, and ask for a snapshot if nothing settles the guess.
      upsert({ ...frame, product: frame.product || null, guessed: true, cueState: undefined });
      settleGuesses();
      break;
    case "cue_state":
      applyCueState(frame);
      break;
    case "stream_state":
      setStatus(frame.status);
      // Viewers' frames carry no health; the consoles' own ones (IVS starvation news) do.
      // EventBridge may deliver them out of order: the newest news wins.
      if ("health" in frame && !(frame.healthAt && state.healthAt && frame.healthAt < state.healthAt)) {
        state.streamHealth = frame.health || null;
        state.healthAt = frame.healthAt || null;
      }
      break;
    case "viewer_count":
      state.viewers = frame.count;
      break;
    case "feed_status":
    case "heartbeat":
      if ((frame.status || frame.feed) === "reconnecting") {
        setConnection("retry", gettext("Live updates to viewers are paused: reconnecting to Redis…"));
      } else {
        setConnection("live", gettext("Live updates on"));
      }
      return;
    case "delivery_restored":
      showAlert(deliveryNotice(frame));
      return;
    case "lineup_changed":
      if (els.lineupChanged) els.lineupChanged.hidden = false;
      return;
    case "stock_levels": // the consoles' own stock frame: exact counts per variant
      applyStockLevels(frame.products);
      return;
    default:
      return;
  }
  render();
}

function settleGuesses() {
  for (const entry of state.history) {
    if (entry.cueState === undefined) {
      entry.cueState = state.status === "live" ? "pending" : "not_live";
      entry.cueError = "";
    }
  }
  clearTimeout(resyncTimer);
  resyncTimer = setTimeout(() => {
    if (state.history.some((entry) => entry.guessed)) resync();
  }, 1500);
}

/**
 * What viewers missed while Redis could not be reached, and that they have it now. One outage
 * may bring two notices (the server's feed, and the process that published meanwhile): within a
 * minute they add up to one message about one outage.
 */
let outage = null;
function deliveryNotice(frame) {
  const now = Date.now();
  if (!outage || now - outage.heard > 60000) {
    outage = { since: frame.since, until: frame.until, late: new Set() };
  }
  outage.heard = now;
  outage.since = Math.min(outage.since, frame.since);
  outage.until = Math.max(outage.until, frame.until);
  (frame.highlightIds || []).forEach((id) => outage.late.add(id));
  for (const entry of state.history) {
    const at = Date.parse(entry.at) / 1000;
    if (at >= frame.since && at <= frame.until) outage.late.add(entry.highlightId);
  }
  const since = new Date(outage.since * 1000);
  const until = new Date(outage.until * 1000);
  const late = outage.late.size;
  const seconds = Math.max(1, Math.round((until - since) / 1000));
  const gap = interpolate(gettext("Live updates to viewers were interrupted for %(seconds)s s (%(since)s–%(until)s)."), {
    seconds, since: timeOfDay(since), until: timeOfDay(until),
  });
  const after = late
    ? interpolate(ngettext("%(count)s highlight featured then reached viewers when the connection came back.",
      "%(count)s highlights featured then reached viewers when the connection came back.", late), { count: late })
    : gettext("Viewers are up to date again.");
  return `${gap} ${after}`;
}

// Feature and clear ----------------------------------------------------------------------------

function showAlert(message) {
  if (!els.alert) return;
  els.alert.textContent = message;
  els.alert.hidden = !message;
}

async function readError(response) {
  // Not JSON: a login page after the session expired, a CSRF failure page, a proxy error …
  const body = await jsonBody(response);
  if (body && body.error) return body.error;
  if (response.status === 403) return gettext("Not allowed: your session or role may have changed. Reload the page.");
  if (response.redirected || response.status === 401) return gettext("Your session has expired. Reload the page and log in.");
  return interpolate(gettext("The server could not do that (error %(status)s). Try again."), { status: response.status });
}

async function submit(form) {
  const button = $("button", form);
  if (!button || button.disabled) return; // in flight: a double click features once
  const card = form.closest(".product-card");
  const label = $(".button-label", button);
  const before = label ? label.textContent : "";
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (card) card.classList.add("is-pending");
  if (label) label.textContent = form.dataset.console === "feature" ? gettext("Featuring…") : gettext("Clearing…");
  showAlert("");
  try {
    const response = await post(form.action, new FormData(form), { form, headers: { "X-Requested-With": "fetch" } });
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    if (response.ok && isJson) {
      const body = await response.json();
      upsert({ ...body.highlight, guessed: false });
    } else {
      showAlert(await readError(response));
    }
  } catch {
    showAlert(gettext("Could not reach Liveshop. Check your connection and try again."));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (card) card.classList.remove("is-pending");
    if (label) label.textContent = before;
    render();
  }
}

root.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-console]");
  if (!form) return;
  event.preventDefault();
  submit(form);
});

function isTyping(target) {
  return Boolean(
    target && (target.isContentEditable || target.closest("input, textarea, select, [contenteditable]")),
  );
}

// The digit from the key, or from the key's position (so AZERTY's unshifted row works too).
function digitOf(event) {
  if (/^[0-9]$/.test(event.key)) return Number(event.key);
  const match = /^(?:Digit|Numpad)([0-9])$/.exec(event.code || "");
  return match ? Number(match[1]) : null;
}

document.addEventListener("keydown", (event) => {
  if (!config.canFeature || CLOSED.includes(state.status) || event.defaultPrevented || event.repeat) return;
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  const digit = event.key === "Escape" ? 0 : digitOf(event);
  if (digit === null) return;
  const form =
    digit === 0
      ? $("form[data-console='clear']", root)
      : $$(".product-card form[data-console='feature']", root)[digit - 1];
  if (!form) return;
  event.preventDefault();
  const card = form.closest(".product-card");
  if (card) {
    card.classList.add("is-pressed");
    setTimeout(() => card.classList.remove("is-pressed"), 120);
  }
  submit(form);
});

// The preview player ---------------------------------------------------------------------------

function setPreview(name, message) {
  state.preview = name;
  if (els.player) els.player.dataset.state = name;
  if (message !== undefined && els.previewMessage) els.previewMessage.textContent = message;
  renderHealth();
}

const { mode: previewMode, url: previewUrl } = config.preview;
const preview = previewMode === "hls" && previewUrl && els.video
  ? createPreview(els.video, previewUrl, { isLive: () => state.status === "live", onState: setPreview })
  : null;

function startPreview() {
  preview?.start();
}

function stopPreview(message) {
  preview?.stop();
  setPreview("idle", message);
}

// Start ----------------------------------------------------------------------------------------

let rendered = false;
render();
rendered = true;
if (state.status === "live") startPreview();
if (!CLOSED.includes(state.status)) connect();
