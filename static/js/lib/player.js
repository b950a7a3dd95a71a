/* Video players for HLS: hls.js (our static file, loaded as a classic script before the page's
 * module: window.Hls) where the browser has Media Source Extensions, the browser's own HLS where it
 * plays it natively (Safari, iOS). */

import { edgeWaitingLoader } from "./edge_loader.js";

const hlsJs = () => (window.Hls && window.Hls.isSupported() ? window.Hls : null);

/** hls.js's worker as our static file (its script tag's data-worker), so the Content-Security-Policy
 * needs no blob: workers. Workers must be same-origin: with the static files on another origin,
 * hls.js builds its worker from a blob (liveshop/csp.py then allows blob: workers). */
function workerConfig() {
  const url = document.querySelector("script[data-worker]")?.dataset.worker;
  return url && new URL(url, window.location.href).origin === window.location.origin ? { workerPath: url } : {};
}

/** Whether this browser can play HLS in `video`, with hls.js or by itself. */
export function canPlayHls(video) {
  return Boolean(hlsJs() || video.canPlayType("application/vnd.apple.mpegurl"));
}

/** `url` with `query` (a signed URL's Policy, Signature and Key-Pair-Id) added. */
export function withQuery(url, query) {
  return query ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url;
}

/** Play the HLS stream at `url` in `video`. `config` goes to hls.js; `withCredentials` sends the
 * cookies with every playlist and segment (a private video behind CloudFront's signed cookies);
 * `query` is added to every playlist and segment URL instead (a private video in a frame on
 * another site, which gets no cookie of ours: recordings.cdn.signed_query; with the browser's own
 * HLS only the master playlist gets it);
 * `liveEdge` has hls.js learn of each new segment of a live playlist as soon as it is listed
 * (lib/edge_loader.js) instead of up to a reload interval later;
 * `on` maps hls.js event names (ERROR, INIT_PTS_FOUND…) to handlers called with (data, hls).
 * Returns {hls (null when native), destroy()}, or null when the browser can play neither way. */
export function playHls(video, url, { config = {}, withCredentials = false, query = "", liveEdge = false, on = {} } = {}) {
  const Hls = hlsJs();
  if (Hls) {
    const setup = (xhr, requestUrl) => {
      if (query) xhr.open("GET", withQuery(requestUrl, query), true); // hls.js opens it unless we do
      if (withCredentials) xhr.withCredentials = true;
    };
    const hls = new Hls({
      ...workerConfig(),
      ...config,
      ...(withCredentials || query ? { xhrSetup: setup } : {}),
      ...(liveEdge ? { pLoader: edgeWaitingLoader(Hls) } : {}),
    });
    for (const [name, handler] of Object.entries(on)) hls.on(Hls.Events[name], (_event, data) => handler(data, hls));
    hls.loadSource(url);
    hls.attachMedia(video);
    return { hls, destroy: () => hls.destroy() };
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = withQuery(url, query);
    return { hls: null, destroy: () => resetVideo(video) };
  }
  return null;
}

/** hls.js's error types (NETWORK_ERROR, MEDIA_ERROR…), for the handlers of its ERROR event. */
export const hlsErrorTypes = () => window.Hls?.ErrorTypes ?? {};

/** Start playing; a refused autoplay calls `onRefused` (the viewer has to press play). */
export function tryPlay(video, onRefused = () => {}) {
  const attempt = video.play();
  if (attempt && attempt.catch) attempt.catch(onRefused);
}

/** Unload whatever `video` was playing. */
export function resetVideo(video) {
  video.removeAttribute("src");
  video.load();
}
