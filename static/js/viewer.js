/* Liveshop viewer page: the player, the product card in step with the video, the lineup.
 *
 * An ES module, no build step (lib/ holds what the pages share, viewer/players.js the players).
 * The page embeds its data (#watch-config: the stream details
 * plus URLs); a websocket (/ws/events/<id>/) keeps it current: a snapshot on every (re)connect,
 * then product_featured / product_cleared / stream_state / viewer_count / lineup_changed.
 *
 * Card timing. The host clicks "feature" at wall time T; the video frame of that moment reaches
 * this viewer later, by the player's live latency. So:
 * - IVS: the in-band cue (TEXT_METADATA_CUE, our {"v":1,...} JSON) fires when the playhead
 *   reaches the moment: it shows the card. A websocket highlight whose cue has not come by
 *   the moment it should have (its media time below, plus CUE_GRACE_S) is shown anyway.
 * - hls.js (the local media server has no in-band cues): a websocket highlight arriving at T is
 *   pinned to the media time the live edge had at T (currentTime + latency) and shown when
 *   playback reaches it. Pinning to media time rather than to the wall clock keeps the card in
 *   step through stalls and catch-up speed changes.
 * - Nothing to sync to (not live, video not playing): shown at once. The snapshot's card (a late
 *   joiner, a reconnect) is shown at once too.
 * Highlight ids only grow: a card is never replaced by an older one, whichever path it came by.
 */
import { Backoff } from "./lib/backoff.js";
import * as Card from "./lib/card.js";
import * as Frames from "./lib/frames.js";
import { getJson } from "./lib/http.js";
import { gettext, interpolate, locale, ngettext } from "./lib/i18n.js";
import { liveSocket } from "./lib/socket.js";
import { countdown, dateTime } from "./lib/time.js";
import "./viewer/chat.js"; // the live chat beside the player
import "./viewer/poll.js"; // the host's polls, in step with the video
import "./viewer/deal.js"; // flash deals on the card and lineup
import "./viewer/replay_ready.js"; // the ended screen offers the replay once it is ready
import { attachControls } from "./viewer/controls.js";
import { createLivePlayer, liveMedia } from "./viewer/players.js";

const CUE_GRACE_S = 2; // IVS: how long past its moment a websocket highlight waits for its cue
const MAX_WAIT_S = 20; // a pending highlight is shown at the latest this long after its moment
const DEFAULT_LATENCY_S = 3; // until the player reports its own
// With local HLS a highlight's moment comes from the stream's timestamps (players.js,
// mediaTimeAt: its offset plus the session's origin, mediaOriginMs, the encoder's clock at the
// session's start), used only while they agree with the latency estimate within this (a message
// without an origin, stamped by the wall clock, is mapped as if the clock started at 0: an encoder
// whose clock did not falls back to the estimate). Measured by bench/sync.py.
const MAX_TIMESTAMP_DISAGREEMENT_S = 2.5;
// A viewer retries a lost socket within 5 s at most (each wait drawn from 2.5-5 s once it is that
// long): a show is live, and a restarted server must have its audience back within seconds, not
// at the end of a 16 s wait that began while it was booting (bench/fanout.py --reconnect-storm).
// A server that is busy says so (4429: four times the wait).
const SOCKET_BACKOFF_MS = { firstMs: 500, maxMs: 5000 };
const PLAYER_BACKOFF_MS = { firstMs: 1000, maxMs: 10000 };

const config = JSON.parse(document.getElementById("watch-config").textContent);
const $ = (id) => document.getElementById(id);
const root = $("watch");
const video = $("video");
const playerBox = $("player");
const cardEl = $("product-card");
const unmuteButton = $("unmute");

const products = new Map(); // product id -> card, from the page, the API and the socket
const pending = new Map(); // highlight id -> {highlight, mediaTarget, deadline, source}
const state = {
  status: config.status,
  shownId: config.latestHighlightId || 0, // newest highlight applied (a clear included)
  shownProductId: config.currentHighlight?.product?.id ?? null,
  socket: "connecting",
  player: null, // the adapter below, while live
  unmuted: false, // the viewer asked for sound (kept across reloads of the stream)
  screen: playerBox.dataset.screen,
};

// The test and debugging hook: what the card shows and when it changed.
const debug = (window.liveshop = {
  card: {
    highlightId: config.currentHighlight?.highlightId ?? null,
    productId: state.shownProductId,
    shownAt: Date.now(),
    mediaTime: null,
    source: "page",
  },
  history: [],
  placed: {}, // highlight id -> what placed its moment: "timestamps" or "estimate" (momentOf)
  get status() { return state.status; },
  get socket() { return state.socket; },
  get pending() { return [...pending.keys()]; },
  latency: () => state.player?.latency() ?? null,
  liveSync: () => state.player?.liveSync?.() ?? null,
  mediaTime: () => state.player?.mediaTime() ?? null,
  cue: (text) => onCue(text), // feed an in-band cue's text, as the IVS player would
});

// Formatting ------------------------------------------------------------------------------

const countFormat = new Intl.NumberFormat(locale(), { notation: "compact" });

// Cards and lineup ------------------------------------------------------------------------

function remember(card) {
  if (card && card.id != null) products.set(card.id, card);
}

function renderCard(card, highlightId) {
  cardEl.dataset.highlightId = highlightId ?? "";
  Card.show(cardEl, card, { qrUrl: config.qrUrl });
}

function renderLineup(lineup) {
  const list = $("lineup");
  const template = $("lineup-item-template");
  list.replaceChildren(
    ...lineup.map((card) => {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.productId = String(card.id);
      Card.fill(item, card, { qrUrl: config.qrUrl });
      return item;
    }),
  );
  $("lineup-empty").hidden = lineup.length > 0;
  Card.markFeatured(state.shownProductId);
}

// Highlights: when to show which card ----------------------------------------------------

/** Show a highlight now, unless a newer one is already shown. Returns whether it was. */
function apply(highlight, source, mediaTarget = null) {
  if (highlight.highlightId <= state.shownId) return false;
  for (const id of pending.keys()) if (id <= highlight.highlightId) pending.delete(id);
  const card = highlight.productId == null ? null : products.get(highlight.productId);
  if (highlight.productId != null && !card) {
    // An in-band cue for a product this page has not seen yet (added to the lineup meanwhile).
    refreshDetails().then(() => products.has(highlight.productId) && apply(highlight, source, mediaTarget));
    return false;
  }
  state.shownId = highlight.highlightId;
  showCard(card, highlight.highlightId, source, mediaTarget);
  return true;
}

function showCard(card, highlightId, source, mediaTarget = null) {
  state.shownProductId = card ? card.id : null;
  renderCard(card, highlightId);
  debug.card = {
    highlightId,
    productId: state.shownProductId,
    shownAt: Date.now(),
    mediaTime: state.player ? state.player.mediaTime() : null,
    mediaTarget, // the media time of the highlight's moment, when it waited for it
    source,
  };
  debug.history.push(debug.card);
  if (debug.history.length > 50) debug.history.shift();
}

function fromMessage(message) {
  return {
    highlightId: message.highlightId,
    productId: message.product ? message.product.id : null,
  };
}

/** product_featured / product_cleared from the socket, received now. */
function onHighlightMessage(message) {
  remember(message.product);
  const highlight = fromMessage(message);
  if (highlight.highlightId <= state.shownId || pending.has(highlight.highlightId)) return;
  const player = state.player;
  if (state.status !== "live" || !player || !player.active()) {
    apply(highlight, "socket");
    return;
  }
  const latency = player.latency() ?? DEFAULT_LATENCY_S;
  const extra = player.hasCues ? CUE_GRACE_S : 0;
  const moment = momentOf(player, message.offsetMs, message.mediaOriginMs, latency);
  debug.placed[highlight.highlightId] = moment.by;
  pending.set(highlight.highlightId, {
    highlight,
    mediaTarget: moment.at + extra,
    deadline: performance.now() + (latency + extra + MAX_WAIT_S) * 1000,
    source: player.hasCues ? "socket-no-cue" : "socket-synced",
  });
  tick();
}

/** The media time of a highlight's moment (`at`) and what placed it (`by`): the stream's
 * timestamps when the player can map them (players.js, mediaTimeAt; `originMs`: the encoder's
 * clock at the session's start, null when unknown), else the playhead plus the live latency. */
function momentOf(player, offsetMs, originMs, latency) {
  const estimate = player.mediaTime() + latency;
  const exact = player.mediaTimeAt(offsetMs, Number.isFinite(originMs) ? originMs : 0);
  return exact !== null && Math.abs(exact - estimate) < MAX_TIMESTAMP_DISAGREEMENT_S
    ? { at: exact, by: "timestamps" }
    : { at: estimate, by: "estimate" };
}

/** An IVS in-band cue: the playhead is at the moment the host featured (or cleared). */
function onCue(text) {
  let cue;
  try {
    cue = JSON.parse(text);
  } catch {
    return; // someone else's metadata
  }
  if (cue.v === 1 && cue.eventId === config.id && cue.type === "poll") {
    Frames.dispatch({ type: "poll_cue", pollId: cue.pollId }); // viewer/poll.js
    return;
  }
  if (cue.v !== 1 || cue.eventId !== config.id || !Number.isInteger(cue.highlightId)) return;
  const productId = cue.type === "product" ? cue.productId : null;
  apply({ highlightId: cue.highlightId, productId }, "cue");
}

let tickTimer = 0;
/** Show the pending highlights whose moment the playback has reached. */
function tick() {
  clearTimeout(tickTimer);
  tickTimer = 0;
  if (!pending.size) return;
  const player = state.player;
  const active = Boolean(player && player.active());
  const media = active ? player.mediaTime() : 0;
  const now = performance.now();
  let wait = Infinity;
  for (const id of [...pending.keys()].sort((a, b) => a - b)) {
    const entry = pending.get(id);
    if (!entry) continue; // a newer one applied just now removed it
    if (!active || media >= entry.mediaTarget - 0.03 || now >= entry.deadline) {
      pending.delete(id);
      apply(entry.highlight, entry.source, entry.mediaTarget);
    } else {
      const rate = player.rate() || 1;
      wait = Math.min(wait, ((entry.mediaTarget - media) / rate) * 1000, entry.deadline - now);
    }
  }
  if (pending.size) tickTimer = setTimeout(tick, Math.max(10, Math.min(wait, 250)));
}

function onSnapshot(snapshot) {
  setStatus(snapshot.event.status);
  setViewerCount(snapshot.viewerCount);
  const highlight = snapshot.highlight;
  if (highlight) {
    remember(highlight.product);
    if (pending.has(highlight.highlightId)) {
      // Already waiting for its moment in the video: keep that, drop anything older.
      for (const id of pending.keys()) if (id < highlight.highlightId) pending.delete(id);
      tick();
    } else {
      pending.clear();
      apply(fromMessage(highlight), "snapshot");
    }
    return;
  }
  // The newest highlight cleared the card (or there is none): it may be waiting for its moment.
  const newest = Math.max(0, ...pending.keys());
  if (newest && pending.get(newest).highlight.productId == null) {
    for (const id of pending.keys()) if (id !== newest) pending.delete(id);
    tick();
    return;
  }
  pending.clear();
  if (state.shownProductId != null) showCard(null, state.shownId, "snapshot");
}

// Event status and the player area ---------------------------------------------------------

const STATUS_LABELS = {
  scheduled: gettext("Upcoming"),
  live: gettext("Live"),
  ended: gettext("Ended"),
  cancelled: gettext("Cancelled"),
};

function setStatus(status) {
  state.status = status;
  root.dataset.status = status;
  if (status === "live") {
    startPlayback();
  } else {
    stopPlayback();
    tick(); // nothing to sync to any more: pending cards show now
  }
  updateScreen();
}

function setScreen(screen) {
  state.screen = screen;
  playerBox.dataset.screen = screen;
}

function updateScreen() {
  const pill = $("status-pill");
  let label = STATUS_LABELS[state.status] || state.status;
  let pillStatus = state.status;
  if (state.status === "live") {
    const player = state.player;
    if (!player || player.trouble) {
      setScreen(player && player.played ? "offline" : "connecting");
      if (player && player.played) [label, pillStatus] = [gettext("Reconnecting"), "reconnecting"];
    } else {
      setScreen(player.played || autoplayBlocked(player) ? "none" : "connecting");
    }
  } else if (state.status === "ended") {
    setScreen("ended");
  } else if (state.status === "cancelled") {
    setScreen("unavailable");
  } else if (state.screen !== "unavailable") {
    setScreen(Date.parse(config.scheduledStart) > Date.now() ? "scheduled" : "waiting");
  }
  pill.dataset.status = pillStatus;
  pill.querySelector('[data-field="label"]').textContent = label;
  updateUnmute();
}

function tickCountdown() {
  const left = Math.max(0, Date.parse(config.scheduledStart) - Date.now());
  $("countdown").textContent = countdown(left);
  if (!left && state.screen === "scheduled") updateScreen();
}

function setViewerCount(count) {
  if (typeof count !== "number") return;
  const el = $("viewer-count");
  el.querySelector('[data-field="count"]').textContent = interpolate(
    ngettext("%(count)s watching", "%(count)s watching", count), { count: countFormat.format(count) },
  );
  el.hidden = false;
}

// Players ----------------------------------------------------------------------------------

const playerRetries = new Backoff(PLAYER_BACKOFF_MS);
let playerRetryTimer = 0;

function startPlayback() {
  if (state.player || !config.playbackUrl) return;
  const player = createLivePlayer(config.player, video, config, playerHooks);
  if (!player) {
    setScreen("unsupported");
    return;
  }
  state.player = player;
  player.load(config.playbackUrl);
}

function stopPlayback() {
  clearTimeout(playerRetryTimer);
  playerRetries.reset();
  if (state.player) state.player.destroy();
  state.player = null;
}

/** The stream failed or stalled: say so, and load it again after a backoff. */
function onPlayerTrouble(player, reason) {
  if (player !== state.player || player.trouble) return;
  player.trouble = reason;
  tick();
  updateScreen();
  playerRetryTimer = setTimeout(async () => {
    if (state.player !== player || state.status !== "live") return;
    // A private event's signed URL (?token=) may have expired: IVS checks it at each load.
    if (/[?&]token=/.test(config.playbackUrl)) await refreshDetails();
    player.trouble = null;
    player.load(config.playbackUrl);
    updateScreen();
  }, playerRetries.next());
}

function onPlayerPlaying(player) {
  if (player !== state.player) return;
  player.played = true;
  player.trouble = null;
  playerRetries.reset();
  updateScreen();
  tick();
}

const playerHooks = {
  playing: onPlayerPlaying,
  trouble: onPlayerTrouble,
  cue: (text) => onCue(text),
  progress: () => tick(),
  controls: () => updateUnmute(),
  refused: () => updateScreen(),
  unmuted: () => state.unmuted,
};

/** The browser refused even muted autoplay (e.g. iOS Low Power Mode): the viewer must tap. */
function autoplayBlocked(player) {
  return Boolean(player && !player.played && video.paused && video.readyState >= 2);
}

function updateUnmute() {
  const player = state.player;
  const blocked = autoplayBlocked(player);
  const show = Boolean(player && !player.trouble && (player.muted || blocked));
  unmuteButton.hidden = !show;
  unmuteButton.querySelector('[data-field="label"]').textContent = blocked ? gettext("Tap to play") : gettext("Tap to unmute");
}

unmuteButton.addEventListener("click", () => {
  state.unmuted = true;
  if (state.player) state.player.unmute();
  updateUnmute();
});

// The player's controls (viewer/controls.js): the viewer's sound choice outlives a reload of the stream.
attachControls(playerBox, video, liveMedia(video, () => state.player, () => state.status === "live"), {
  onSound: (muted) => {
    state.unmuted = !muted;
    updateUnmute();
  },
});

// Stream details (the API) ----------------------------------------------------------------

let detailsRequest = null;
/** Fetch the stream details again (lineup changed, a cue named an unknown product, a private
 * playback token to renew). Concurrent callers share one request. */
function refreshDetails() {
  if (detailsRequest) return detailsRequest;
  detailsRequest = getJson(config.detailsUrl)
    .then((response) => {
      if (response.status === 404) {
        stopPlayback();
        setScreen("unavailable");
        return null;
      }
      return response.ok ? response.json() : null;
    })
    .then((details) => {
      if (!details) return;
      config.playbackUrl = details.playbackUrl;
      details.lineup.forEach(remember);
      if (details.currentHighlight) remember(details.currentHighlight.product);
      renderLineup(details.lineup);
    })
    .catch(() => {})
    .finally(() => {
      detailsRequest = null;
    });
  return detailsRequest;
}

// The websocket ----------------------------------------------------------------------------

let socket = null; // liveSocket(), started below

function setSocketState(value) {
  state.socket = value;
  $("socket-note").hidden = value !== "reconnecting";
}

function connect() {
  socket = liveSocket(config.socketPath, {
    heartbeatMs: config.heartbeatMs,
    backoff: SOCKET_BACKOFF_MS,
    rateLimited: (delay) => delay * 4,
    onFrame,
    onRetry: () => setSocketState("reconnecting"),
    onFatal: () => { // CLOSE_NOT_FOUND: the event is gone, or this viewer may no longer watch it
      setSocketState("closed");
      stopPlayback();
      setScreen("unavailable");
    },
  });
  Frames.setSender(socket.send);
}

function onFrame(message) {
  switch (message.type) {
    case "snapshot":
      socket.resetBackoff();
      setSocketState("open");
      onSnapshot(message);
      break;
    case "product_featured":
    case "product_cleared":
      if (message.eventId === undefined || message.eventId === config.id) onHighlightMessage(message);
      break;
    case "stream_state":
      setStatus(message.status);
      break;
    case "viewer_count":
      setViewerCount(message.count);
      break;
    case "feed_status": // the server lost its feed (Redis): a fresh snapshot follows its return
    case "heartbeat":
      setSocketState((message.status || message.feed) === "reconnecting" ? "reconnecting" : "open");
      break;
    case "lineup_changed":
      refreshDetails();
      break;
    default:
      break;
  }
  Frames.dispatch(message); // the features plugged into the page (lib/frames.js)
}

// Start ------------------------------------------------------------------------------------

// The player clock for features shown in step with the video (viewer/poll.js).
Frames.setPlayback({
  live: () => state.status === "live",
  active: () => Boolean(state.player && state.player.active()),
  latency: () => state.player?.latency() ?? null,
  hasCues: () => Boolean(state.player?.hasCues),
});
config.lineup.forEach(remember);
if (config.currentHighlight) remember(config.currentHighlight.product);
Card.localisePrices();
$("start-time").textContent = dateTime(config.scheduledStart);
tickCountdown();
setInterval(tickCountdown, 1000);
setStatus(state.status);
connect();
