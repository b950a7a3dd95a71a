/* The live page's players: one interface over hls.js (or the browser's own HLS) and the IVS
 * player, for viewer.js. A player has load(url), destroy(), mediaTime(), mediaTimeAt(offsetMs, originMs),
 * latency(), rate(), active(), muted and unmute(); viewer.js keeps its flags played and trouble
 * and reads hasCues (IVS: in-band cues place the cards). `hooks` tell the page what happens:
 * playing(player), trouble(player, reason), cue(text) (an IVS in-band cue), progress() (the
 * playhead moved), controls() (muted, paused or autoplay changed), refused() (autoplay refused),
 * and unmuted() asks whether the viewer asked for sound.
 * For the player's controls (viewer/controls.js, through liveMedia below) each player also has
 * play(), pause(), paused(), setMuted(), volume(), setVolume(), qualities(), quality(),
 * setQuality(index) and jumpToLive().
 */
import { EDGE_POLL_MS } from "../lib/edge_loader.js";
import { canPlayHls, playHls, resetVideo, tryPlay } from "../lib/player.js";
import { hlsQualities, mediaOfVideo, setHlsQuality } from "./controls.js";

// hls.js counts latency from the playlist's edge as of the moment it received the playlist that
// listed the edge's segment; the player learns of a segment within EDGE_POLL_MS of its listing
// (lib/edge_loader.js), and the encoder took a little time before the media server listed it
// (~0.1 s for ffmpeg x264 zerolatency -> nginx-rtmp, more through the browser relay). So
// hls.latency is short by about that, plus half a poll. IVS's getLiveLatency() needs no correction.
const HLS_EDGE_SLACK_S = 0.1;
// Local HLS can do better than an estimate: a highlight's offsetMs is its moment in the stream (ms
// of the encoder's clock since the session's origin, the clock at its first frame: the message's
// mediaOriginMs, 0 for an encoder whose timestamps start at 0), and nginx-rtmp writes each
// frame's MPEG-TS timestamp as the encoder's plus 0.7 s (NGX_RTMP_HLS_DELAY, 63000 at 90 kHz);
// hls.js maps timestamps to currentTime by its initPTS (mediaTimeAt below).
const NGINX_RTMP_TS_DELAY_S = 0.7;
const STALL_MS = 4000; // a stall this long counts as a dropped stream
// hls.js for nginx-rtmp's short segments (hls_fragment 500ms: a segment per keyframe, so 0.5 s from
// the browser relay, 1 or 2 s from an encoder with that GOP): start and stay LIVE_SYNC_SEGMENTS
// segments behind the live edge (hls.js's default is 3) but at least LIVE_SYNC_MIN_S, seek only
// when more than 5 target durations behind. The segments' real length, not the playlist's
// TARGETDURATION (whole seconds: 1 for 0.5 s segments), sets the distance: syncToSegments below.
// After a stall hls.js moves the target back by liveSyncOnStallIncrease per stall (at most one
// TARGETDURATION): one real segment here, not its default whole second, so one late segment from
// the publisher costs a 0.5 s segment's viewer 0.5 s, and a second stall the second (bench/golive.py,
// quiet machine: a stall early in a browser publisher's show held the viewer 1 s further back for
// the next 30 s, glass to glass p95 2.35-2.90 s where runs without one gave 1.84-2.00 s).
// bench/golive.py on a busy 2-core machine:
// 1 s behind (two 0.5 s segments) stalled 3-4 times in 30 s where 2 s never did (the publisher
// itself paused for 2-4 s at times); hence 1.5 s.
const LIVE_SYNC_SEGMENTS = 2;
const LIVE_SYNC_MIN_S = 1.5;
const HLS_CONFIG = {
  lowLatencyMode: true,
  liveSyncDurationCount: LIVE_SYNC_SEGMENTS,
  liveMaxLatencyDurationCount: 5,
  maxLiveSyncPlaybackRate: 1, // catchUp below instead
  backBufferLength: 10,
};
// Catching up by playing 10 % faster rather than seeking. hls.js does so only while more than 1 s
// is buffered ahead, which with 0.5 s segments held viewers ~0.5 s behind their target (bench/golive.py);
// this speeds up from CATCH_UP_BUFFER_S on, and stops within CATCH_UP_SLACK_S of the target.
const CATCH_UP_RATE = 1.1;
const CATCH_UP_BUFFER_S = 0.5;
const CATCH_UP_SLACK_S = 0.1;

/** The typical segment length (s) of a live playlist: the median, as the first segment (the
 * relay's start) and the last (a stream's end) can be longer or shorter. */
function segmentSeconds(details) {
  const durations = (details?.fragments ?? []).map((fragment) => fragment.duration).filter((d) => d > 0);
  if (!durations.length) return null;
  durations.sort((a, b) => a - b);
  return durations[Math.floor(durations.length / 2)];
}

/** Seconds of media buffered ahead of the playhead. */
function bufferedAhead(video) {
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.start(i) <= video.currentTime + 0.1 && video.currentTime < ranges.end(i)) {
      return ranges.end(i) - video.currentTime;
    }
  }
  return 0;
}

/** Play at CATCH_UP_RATE while further than the target from the live edge with enough buffered,
 * else at 1 (a rate someone else chose is left alone). */
function catchUp(hls, video) {
  const target = hls.targetLatency;
  const latency = hls.latency;
  if (video.paused || !target || !(latency > 0)) return;
  const behind = latency - target > CATCH_UP_SLACK_S && bufferedAhead(video) > CATCH_UP_BUFFER_S;
  const rate = behind ? CATCH_UP_RATE : 1;
  if (video.playbackRate !== rate && [1, CATCH_UP_RATE].includes(video.playbackRate)) video.playbackRate = rate;
}

/** Keep hls.js LIVE_SYNC_SEGMENTS real segments behind the edge, and a real segment further per
 * stall. Called with each playlist, from the first one on (its MANIFEST_LOADED comes before hls.js
 * picks the start position). Setting the target also forgets hls.js's stall allowance (kept for
 * good otherwise): done when the target changes, or STALL_FORGIVEN_MS after the last stall. */
const STALL_FORGIVEN_MS = 30_000;
function syncToSegments(hls, details, lastStall) {
  const segment = segmentSeconds(details);
  if (!details?.live || !segment) return;
  const target = Math.max(LIVE_SYNC_MIN_S, Math.round(LIVE_SYNC_SEGMENTS * segment * 100) / 100);
  hls.config.liveSyncOnStallIncrease = segment; // read by hls.js's targetLatency each time
  const changed = !(Math.abs((hls.config.liveSyncDuration ?? 0) - target) < 0.05);
  const forgiven = hls.targetLatency > target + 0.05 && performance.now() - lastStall > STALL_FORGIVEN_MS;
  if (changed || forgiven) hls.targetLatency = target;
}

/** A player of `kind` ("ivs" or "hls") for `video`, or null when this browser cannot play it. */
export function createLivePlayer(kind, video, urls, hooks) {
  return kind === "ivs" ? createIvsPlayer(video, urls, hooks) : createHlsPlayer(video, hooks);
}

/** Watch the <video> element: playing, stalls, the autoplay outcome. */
function watchVideo(video, player, hooks) {
  let stallTimer = 0;
  const clearStall = () => {
    clearTimeout(stallTimer);
    stallTimer = 0;
  };
  const listeners = {
    playing: () => {
      clearStall();
      hooks.playing(player);
    },
    waiting: () => {
      clearStall();
      stallTimer = setTimeout(() => hooks.trouble(player, "stalled"), STALL_MS);
    },
    timeupdate: () => hooks.progress(),
    seeked: () => hooks.progress(),
    volumechange: () => hooks.controls(),
    pause: () => hooks.controls(),
  };
  for (const [name, fn] of Object.entries(listeners)) video.addEventListener(name, fn);
  return () => {
    clearStall();
    for (const [name, fn] of Object.entries(listeners)) video.removeEventListener(name, fn);
  };
}

function createHlsPlayer(video, hooks) {
  if (!canPlayHls(video)) return null;
  let hls = null;
  let unwatch = null;
  let streamOffset = null; // the encoder's stream time minus currentTime, from hls.js's initPTS
  let stopCatchUp = () => {};
  let lastStall = -Infinity; // performance.now() of hls.js's last buffer stall
  const player = {
    kind: "hls",
    hasCues: false,
    played: false,
    trouble: null,
    load(url) {
      this.detach();
      unwatch = watchVideo(video, player, hooks);
      video.muted = !hooks.unmuted(); // muted autoplay is allowed everywhere; the button unmutes
      streamOffset = null;
      hls = playHls(video, url, {
        config: HLS_CONFIG,
        liveEdge: true,
        on: {
          MANIFEST_LOADED: (data, instance) => syncToSegments(instance, data.levels?.[0]?.details, lastStall),
          LEVEL_LOADED: (data, instance) => syncToSegments(instance, data.details, lastStall),
          INIT_PTS_FOUND: (data) => {
            if (data.id === "main" && data.timescale > 0) {
              streamOffset = data.initPTS / data.timescale - NGINX_RTMP_TS_DELAY_S;
            }
          },
          ERROR: (data) => {
            if (data.details === "bufferStalledError") lastStall = performance.now();
            if (data.fatal) hooks.trouble(player, `${data.type}: ${data.details}`);
          },
        },
      }).hls;
      if (!hls) video.addEventListener("error", () => hooks.trouble(player, "media error"), { once: true }); // Safari
      if (hls) {
        const instance = hls;
        const onTime = () => catchUp(instance, video);
        video.addEventListener("timeupdate", onTime);
        stopCatchUp = () => {
          video.removeEventListener("timeupdate", onTime);
          if (video.playbackRate === CATCH_UP_RATE) video.playbackRate = 1;
        };
      }
      tryPlay(video, hooks.refused);
    },
    detach() {
      if (unwatch) unwatch();
      unwatch = null;
      stopCatchUp();
      stopCatchUp = () => {};
      if (hls) hls.destroy();
      hls = null;
    },
    destroy() {
      this.detach();
      resetVideo(video);
    },
    mediaTime: () => video.currentTime,
    /** The currentTime showing the frame `offsetMs` into the stream whose encoder's clock read
     * `originMs` at its start, or null when unknown. */
    mediaTimeAt: (offsetMs, originMs = 0) =>
      hls && streamOffset !== null && Number.isFinite(offsetMs)
        ? (originMs + offsetMs) / 1000 - streamOffset
        : null,
    /** Seconds from the live edge (what is being filmed now) to the frame on screen. */
    latency() {
      if (hls) {
        return hls.latency > 0 ? hls.latency + EDGE_POLL_MS / 2000 + HLS_EDGE_SLACK_S : null;
      }
      const ranges = video.seekable;
      return ranges.length ? Math.max(0, ranges.end(ranges.length - 1) - video.currentTime) : null;
    },
    /** hls.js's distance from the edge it aims for (s) and what a stall adds to it, or null. */
    liveSync: () => (hls ? { target: hls.targetLatency, perStall: hls.config.liveSyncOnStallIncrease } : null),
    rate: () => video.playbackRate,
    active: () => player.played && !player.trouble && !video.paused && !video.ended,
    get muted() { return video.muted; },
    unmute() {
      video.muted = false;
      if (video.paused) tryPlay(video, hooks.refused);
    },
    play: () => tryPlay(video, hooks.refused),
    pause: () => video.pause(),
    paused: () => video.paused,
    setMuted: (muted) => { video.muted = muted; },
    volume: () => video.volume,
    setVolume: (value) => { video.volume = value; },
    qualities: () => hlsQualities(hls),
    quality: () => (hls && !hls.autoLevelEnabled ? hls.currentLevel : -1),
    setQuality: (index) => setHlsQuality(hls, index),
    /** Seconds from the live edge to the playhead, paused too (hls.latency stops while paused):
     * the playlist's edge plus the time since it last grew, minus currentTime. */
    behind() {
      const details = hls?.latestLevelDetails;
      if (details?.live && Number.isFinite(details.edge)) return details.edge + details.age - video.currentTime;
      return player.latency();
    },
    /** Back to where hls.js starts a live stream (liveSyncDurationCount segments from the edge). */
    jumpToLive() {
      const ranges = video.seekable;
      const edge = hls?.liveSyncPosition ?? (ranges.length ? ranges.end(ranges.length - 1) - 3 : null);
      if (Number.isFinite(edge) && edge > video.currentTime) video.currentTime = edge;
    },
  };
  return player;
}

function createIvsPlayer(video, { ivsWorker, ivsWasm }, hooks) {
  const IVS = window.IVSPlayer;
  if (!IVS || !IVS.isPlayerSupported) return null;
  const absolute = (path) => new URL(path, document.baseURI).href;
  const ivs = IVS.create({ wasmWorker: absolute(ivsWorker), wasmBinary: absolute(ivsWasm) });
  ivs.attachHTMLVideoElement(video);
  const { PlayerEventType: Events, PlayerState: States } = IVS;
  let unwatch = null;
  let lastUrl = "";
  const player = {
    kind: "ivs",
    hasCues: true,
    played: false,
    trouble: null,
    load(url) {
      if (unwatch) unwatch();
      unwatch = watchVideo(video, player, hooks);
      ivs.setAutoplay(true);
      ivs.setMuted(!hooks.unmuted());
      lastUrl = url;
      ivs.load(url);
      ivs.play();
    },
    destroy() {
      if (unwatch) unwatch();
      ivs.delete();
    },
    mediaTime: () => ivs.getPosition(),
    mediaTimeAt: () => null, // the in-band cues place the cards
    latency() {
      const latency = ivs.getLiveLatency();
      return Number.isFinite(latency) && latency > 0 ? latency : null;
    },
    rate: () => ivs.getPlaybackRate?.() || 1,
    active: () => player.played && !player.trouble && ivs.getState() !== States.IDLE && !ivs.isPaused(),
    get muted() { return ivs.isMuted(); },
    unmute() {
      ivs.setMuted(false);
      if (ivs.isPaused()) ivs.play();
      hooks.controls();
    },
    play: () => ivs.play(),
    pause: () => ivs.pause(),
    paused: () => ivs.isPaused(),
    setMuted: (muted) => ivs.setMuted(muted),
    volume: () => ivs.getVolume(),
    setVolume: (value) => ivs.setVolume(value),
    qualities: () => ivsQualities(ivs),
    quality() {
      if (ivs.isAutoQualityMode()) return -1;
      const name = ivs.getQuality()?.name;
      return ivs.getQualities().findIndex((quality) => quality.name === name);
    },
    setQuality(index) {
      if (index < 0) ivs.setAutoQualityMode(true);
      else if (ivs.getQualities()[index]) ivs.setQuality(ivs.getQualities()[index]);
    },
    behind: () => player.latency(),
    /** The IVS player starts a load at the live edge: a paused or stalled-behind viewer reloads. */
    jumpToLive() {
      if (!lastUrl) return;
      ivs.load(lastUrl);
      ivs.play();
    },
  };
  ivs.addEventListener(Events.TEXT_METADATA_CUE, (cue) => hooks.cue(cue.text));
  ivs.addEventListener(States.PLAYING, () => hooks.playing(player));
  ivs.addEventListener(States.ENDED, () => hooks.trouble(player, "ended"));
  ivs.addEventListener(Events.ERROR, (error) => hooks.trouble(player, `${error.type} ${error.code}`));
  ivs.addEventListener(Events.MUTED_CHANGED, hooks.controls);
  ivs.addEventListener(Events.AUDIO_BLOCKED, hooks.controls);
  ivs.addEventListener(Events.PLAYBACK_BLOCKED, hooks.controls);
  return player;
}

/** The IVS player's renditions as [{index, label}] (tallest first), or [] with fewer than two. */
function ivsQualities(ivs) {
  const list = ivs.getQualities?.() ?? [];
  if (list.length < 2) return [];
  return list
    .map((quality, index) => ({ index, height: quality.height || 0, label: quality.name || `${quality.height}p` }))
    .sort((a, b) => b.height - a.height);
}

/** The media the live page's controls drive: its current player (which comes and goes with the
 * show: getPlayer() may be null), else the bare <video>. `live()`: the show is live. */
export function liveMedia(video, getPlayer, live) {
  const bare = mediaOfVideo(video);
  const on = (name, ...args) => {
    const player = getPlayer();
    return player ? player[name](...args) : bare[name](...args);
  };
  return {
    paused: () => on("paused"),
    play: () => on("play"),
    pause: () => on("pause"),
    muted: () => getPlayer()?.muted ?? video.muted,
    setMuted: (muted) => on("setMuted", muted),
    volume: () => on("volume"),
    setVolume: (value) => on("setVolume", value),
    qualities: () => getPlayer()?.qualities() ?? [],
    quality: () => getPlayer()?.quality() ?? -1,
    setQuality: (index) => getPlayer()?.setQuality(index),
    live: () => live() && Boolean(getPlayer()?.played),
    behind: () => getPlayer()?.behind() ?? null,
    jumpToLive: () => getPlayer()?.jumpToLive(),
  };
}
