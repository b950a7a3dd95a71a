/* The host console's preview: a muted hls.js view of the playback URL while the event is live
 * (Safari/iPadOS play HLS natively). The playlist appears a few seconds after the encoder
 * connects, so a start that fails is retried, backing off. `onState(name, message)` hears each
 * change: connecting, waiting, playing, buffering, unsupported; `isLive()` says whether to go on.
 */
import { Backoff } from "../lib/backoff.js";
import { gettext } from "../lib/i18n.js";
import { playHls, resetVideo, tryPlay } from "../lib/player.js";

const HLS_CONFIG = { lowLatencyMode: true, liveDurationInfinity: true, backBufferLength: 30 };

/** The preview of `url` in `video`: start() when the event goes live, stop() when it is not. */
export function createPreview(video, url, { isLive, onState }) {
  let player = null; // playHls()'s handle while the preview plays
  let timer = null;
  const retries = new Backoff({ firstMs: 1500, maxMs: 10000 });

  function start() {
    if (!isLive()) return;
    clearTimeout(timer);
    if (player || video.getAttribute("src")) return;
    onState("connecting", gettext("Connecting to the stream…"));
    player = playHls(video, url, { config: HLS_CONFIG, liveEdge: true, on: { ERROR: (data) => data.fatal && retry() } });
    if (!player) {
      onState("unsupported", gettext("This browser cannot play the preview."));
      return;
    }
    tryPlay(video); // muted autoplay; "playing" updates the state
  }

  function teardown() {
    clearTimeout(timer);
    player?.destroy();
    player = null;
    if (video.getAttribute("src")) resetVideo(video);
  }

  function retry() {
    teardown();
    if (!isLive()) return;
    const delay = retries.next();
    onState("waiting", gettext("Waiting for video from your encoder…"));
    timer = setTimeout(start, delay);
  }

  function stop() {
    teardown();
    retries.reset();
  }

  video.addEventListener("playing", () => {
    retries.reset();
    onState("playing");
  });
  video.addEventListener("waiting", () => onState("buffering", gettext("Buffering…")));
  video.addEventListener("error", () => {
    if (!player?.hls) retry();
  });
  return { start, stop };
}
