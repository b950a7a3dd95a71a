/* Liveshop replay and video pages: the VOD (hls.js from our static files, or the browser's own
 * HLS), the product card at its cue times, "jump to a product" chapters, the lineup.
 *
 * The page embeds its data (#replay-config: masterUrl, cues [{id, startMs, endMs, productId}],
 * products [cards], qrUrl, withCredentials, mediaQuery). Which card shows is a pure function of the video's
 * currentTime and the cue list (activeCue below), re-evaluated on every seek, pause and
 * timeupdate and on every animation frame while playing: seeking back before a cue hides the
 * card, seeking forward shows the right one, whatever came before. The card of the opening moment
 * (0 s, or ?t=) comes with the page (recordings.views.replay.active_cue: the same rule).
 *
 * Nothing of the video loads before the viewer asks for it (play, a chapter): the page paints the
 * poster, and hls.js (a 600 KB script) and the segments come only then (Lighthouse: the poster is
 * the page's largest paint, and no script of the player blocks the main thread while it loads).
 */
import * as Card from "./lib/card.js";
import { gettext } from "./lib/i18n.js";
import { hlsErrorTypes, playHls, tryPlay } from "./lib/player.js";
import { attachControls, mediaOfVideo } from "./viewer/controls.js";
import "./viewer/replay_socket.js"; // live stock over a read-only socket (lib/frames.js "stock")
import "./viewer/deal.js"; // flash deals on the card and lineup

const config = JSON.parse(document.getElementById("replay-config").textContent);
const $ = (id) => document.getElementById(id);
const video = $("video");
const playerBox = $("player");
const cardEl = $("product-card");
const chapterButtons = [...document.querySelectorAll("#chapters .chapter")];
const MAX_NETWORK_RETRIES = 4;

const products = new Map(config.products.map((card) => [card.id, card]));
const cues = [...config.cues].sort((a, b) => a.startMs - b.startMs || a.id - b.id);

/**
 * The cue on screen at media time `ms`, or null. A cue covers [startMs, endMs), or without an
 * end until the next cue starts; where cues overlap, the one that started last wins.
 * Pure: depends on its arguments only. `cueList` is sorted by startMs.
 */
function activeCue(cueList, ms) {
  let active = null;
  for (let i = 0; i < cueList.length && cueList[i].startMs <= ms; i++) {
    const cue = cueList[i];
    const end = cue.endMs ?? cueList[i + 1]?.startMs ?? Infinity;
    if (ms < end) active = cue;
  }
  return active;
}

// The test and debugging hook: what the card shows and when it changed.
const debug = (window.liveshop = {
  card: { cueId: null, productId: null, mediaTime: null, shownAt: null },
  history: [],
  activeCue: (ms) => activeCue(cues, ms),
  mediaTime: () => video.currentTime,
  get screen() { return playerBox.dataset.screen; },
});

// The card ---------------------------------------------------------------------------------

let shownCueId; // undefined until the first update, so the first one always renders

// Where the video is to start (s) while the player is not there yet (?t=, a chapter pressed before
// play), else null: the card follows it until the video has seeked there.
let pendingStart = startPosition() > 0 ? startPosition() : null;
video.addEventListener("seeking", () => {
  if (video.readyState >= HTMLMediaElement.HAVE_METADATA) pendingStart = null;
});
video.addEventListener("playing", () => { pendingStart = null; });

function update() {
  const mediaMs = Math.round((pendingStart ?? video.currentTime) * 1000);
  const cue = activeCue(cues, mediaMs);
  const card = cue ? products.get(cue.productId) ?? null : null;
  const cueId = card ? cue.id : null;
  if (cueId === shownCueId) return;
  const rendered = shownCueId === undefined && card && !cardEl.hidden; // the page's own card
  shownCueId = cueId;
  cardEl.dataset.cueId = cueId ?? "";
  Card.show(cardEl, card, { qrUrl: config.qrUrl });
  if (rendered) cardEl.classList.remove("is-new"); // there from the first paint: no entrance
  for (const button of chapterButtons) {
    const current = button.dataset.cueId === String(cueId);
    button.classList.toggle("is-current", current);
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  debug.card = { cueId, productId: card ? card.id : null, mediaTime: mediaMs / 1000, shownAt: Date.now() };
  debug.history.push(debug.card);
}

// While playing, check every frame: timeupdate alone fires only every ~250 ms.
let frame = 0;
function tick() {
  update();
  frame = video.paused || video.ended ? 0 : requestAnimationFrame(tick);
}
video.addEventListener("play", () => {
  if (!frame) frame = requestAnimationFrame(tick);
});
for (const type of ["seeking", "seeked", "timeupdate", "loadedmetadata", "pause", "ended", "emptied"]) {
  video.addEventListener(type, update);
}

// Chapters: a click seeks to the cue and plays from there.
function seekTo(ms) {
  if (video.readyState >= HTMLMediaElement.HAVE_METADATA) video.currentTime = ms / 1000;
  else pendingStart = ms / 1000; // the player starts there (attach)
  update();
  tryPlay(video); // autoplay refused: the viewer presses play
}
for (const button of chapterButtons) {
  button.addEventListener("click", () => {
    seekTo(Number(button.dataset.startMs));
    if (window.matchMedia("(max-width: 959px)").matches) {
      playerBox.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
  });
}

// The player -------------------------------------------------------------------------------

function setScreen(screen, note) {
  playerBox.dataset.screen = screen;
  if (note) $("error-note").textContent = note;
}

/** ?t=90 (seconds) starts the video there, for shared links. */
function startPosition() {
  const t = Number(new URLSearchParams(window.location.search).get("t"));
  return Number.isFinite(t) && t > 0 ? t : -1;
}

/** hls.js's fatal errors: network errors retried, media errors recovered, a few times each. */
function recovery() {
  let retries = 0;
  return {
    FRAG_LOADED: () => { retries = 0; },
    ERROR: (data, hls) => {
      if (!data.fatal) return;
      const { NETWORK_ERROR, MEDIA_ERROR } = hlsErrorTypes();
      if (data.type === NETWORK_ERROR && retries < MAX_NETWORK_RETRIES) {
        retries += 1;
        setTimeout(() => hls.startLoad(), 1000 * retries);
      } else if (data.type === MEDIA_ERROR && retries < MAX_NETWORK_RETRIES) {
        retries += 1;
        hls.recoverMediaError();
      } else {
        hls.destroy();
        setScreen("error");
      }
    },
  };
}

/** hls.js, our static file (the <video>'s data-hls-src, its worker data-hls-worker), loaded once;
 * resolves when it ran or failed (then the browser's own HLS, or the "cannot play" screen). */
let hlsLoading = null;
function loadHlsJs() {
  hlsLoading ??= new Promise((resolve) => {
    if (window.Hls || !video.dataset.hlsSrc) return resolve();
    const script = document.createElement("script");
    script.src = video.dataset.hlsSrc;
    script.dataset.worker = video.dataset.hlsWorker; // lib/player.js's workerConfig reads it
    script.addEventListener("load", resolve);
    script.addEventListener("error", resolve);
    document.head.append(script);
  });
  return hlsLoading;
}

/** Whether this browser can play HLS, known before hls.js is loaded: Media Source Extensions
 * (what hls.js needs) or HLS of its own. */
function canPlay() {
  const mse = window.ManagedMediaSource || window.MediaSource;
  return Boolean(mse?.isTypeSupported?.('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'))
    || Boolean(video.canPlayType("application/vnd.apple.mpegurl"));
}

/** What the player can say before anything loads: no stream, or a browser that cannot play it. */
function check() {
  if (playerBox.dataset.screen !== "replay") return false;
  if (!config.masterUrl) setScreen("error", gettext("This video has no playable stream."));
  else if (!canPlay()) setScreen("unsupported");
  else return true;
  return false;
}

/** Load the video into the player: once, when the viewer first asks for it (play). A play()
 * asked for meanwhile stays pending (the <video> has no source yet) and plays once the media is
 * there. A start asked for meanwhile (a chapter) is where the player starts. */
let attaching = null;
const attach = () => { attaching ??= load(); };
async function load() {
  if (!check()) return;
  await loadHlsJs();
  const start = pendingStart ?? -1;
  // Wherever the viewer asked for meanwhile (hls.js starts at `start`, the browser's own HLS at 0).
  video.addEventListener("loadedmetadata", () => {
    if (pendingStart !== null && Math.abs(video.currentTime - pendingStart) > 0.1) video.currentTime = pendingStart;
  }, { once: true });
  const player = playHls(video, config.masterUrl, {
    config: { startPosition: start },
    withCredentials: config.withCredentials, // private replays: CloudFront's signed cookies
    query: config.mediaQuery || "", // ... or, in a shop's frame, a signed query on each request
    on: recovery(),
  });
  if (!player) {
    setScreen("unsupported");
  } else if (player.hls) {
    debug.hls = player.hls;
  } else { // Safari and iOS play HLS themselves
    video.addEventListener("error", () => setScreen("error"));
  }
}

Card.localisePrices();
update();
check();
video.addEventListener("play", attach);
// A pointer over the player or the chapters, or focus there: fetch hls.js ahead of the click.
for (const el of [playerBox, document.getElementById("chapters")]) {
  for (const type of ["pointerenter", "focusin", "touchstart"]) {
    el?.addEventListener(type, () => { if (playerBox.dataset.screen === "replay") loadHlsJs(); }, { once: true, passive: true });
  }
}
attachControls(playerBox, video, mediaOfVideo(video, () => debug.hls ?? null)); // play, sound, seek, captions…
