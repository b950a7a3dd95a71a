/* A playlist loader for hls.js (its `pLoader`) that gives a live playlist without low-latency
 * support the blocking reload of low-latency HLS, in the browser.
 *
 * hls.js reloads such a playlist on a fixed grid (every last segment's length) and counts its
 * latency from the moment it *received* the playlist that listed a segment. nginx-rtmp lists a
 * segment at a moment of its own, so a viewer learnt of each segment 0 to a whole segment after it
 * was listed, depending on the phase of its grid, and sat that much further behind its target for
 * the whole show (bench/golive.py: 0.36 s after the listing, every segment of a 30 s run).
 *
 * So the playlist handed to hls.js says CAN-BLOCK-RELOAD: hls.js then asks for the next one as
 * soon as it has one, naming the segment it waits for (`_HLS_msn`, the next media sequence number),
 * and this loader holds that request: it fetches the plain playlist (without the directive, which
 * a static file server ignores) from shortly before the segment is due (the shortest segment's
 * length after the last listing), every `pollMs` (every quarter target duration once the segment
 * is a target duration overdue: a publisher reconnecting), until it lists the segment, the stream
 * ends or three target durations pass (the server's limit in the low-latency HLS spec), then hands
 * it over. A reload without a directive (hls.js's first, or after a hold that ran out) waits the
 * same way for any change, up to one target duration. A playlist that already has
 * EXT-X-SERVER-CONTROL, an ended one (EXT-X-ENDLIST), a master playlist, errors, timeouts and
 * retries pass straight through: hls.js's own loader does the fetching. The cost: about three
 * playlist requests per segment instead of one (bench/golive.py: 5.7 per s per viewer of 0.5 s
 * segments, 2 before).
 */
export const EDGE_POLL_MS = 100;

const BLOCKING = "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES";

/** What hold-worthy facts a playlist's text tells: live (a media playlist that has not ended and
 * does not do low-latency HLS itself), its last media sequence number and target duration (ms). */
function parse(text) {
  if (typeof text !== "string" || !text.startsWith("#EXTM3U")) return null;
  const live = text.includes("#EXTINF") && !/#EXT-X-(ENDLIST|SERVER-CONTROL|STREAM-INF)/.test(text);
  if (!live) return null;
  const sequence = Number(/^#EXT-X-MEDIA-SEQUENCE:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  const segments = text.split("\n").filter((line) => line.trim() && !line.startsWith("#")).length;
  const target = Number(/^#EXT-X-TARGETDURATION:\s*(\d+(?:\.\d+)?)/m.exec(text)?.[1] ?? 0);
  const durations = [...text.matchAll(/^#EXTINF:\s*(\d+(?:\.\d+)?)/gm)].map((m) => Number(m[1]) * 1000);
  return { lastSn: sequence + segments - 1, targetMs: target * 1000, shortestMs: Math.min(...durations) };
}

/** `url` (absolute or relative to the page) without low-latency HLS's delivery directives, and the
 * segment its `_HLS_msn` asks for (NaN without one). */
function directives(url) {
  const clean = new URL(url, self.location.href);
  const msn = Number(clean.searchParams.get("_HLS_msn") ?? NaN);
  for (const name of ["_HLS_msn", "_HLS_part", "_HLS_skip"]) clean.searchParams.delete(name);
  return { url: clean.href, msn };
}

/** A loader class for hls.js's `pLoader` config, built on `Hls.DefaultConfig.loader`. */
export function edgeWaitingLoader(Hls, pollMs = EDGE_POLL_MS) {
  const Loader = Hls.DefaultConfig.loader;
  const handedOver = new Map(); // playlist URL (no directives) -> {text, changedAt}: hls.js's last
  return class EdgeWaitingLoader {
    constructor(config) {
      this.config = config;
      this.inner = new Loader(config);
      this.stats = this.inner.stats;
      this.context = null;
      this.callbacks = null;
      this.timer = 0;
    }

    load(context, loaderConfig, callbacks) {
      this.context = context;
      this.callbacks = callbacks;
      const { url, msn } = directives(context.url);
      const { text: previous, changedAt = 0 } = handedOver.get(url) ?? {};
      const known = parse(previous);
      const waitMs = !known ? 0 : Number.isFinite(msn) ? 3 * known.targetMs : known.targetMs;
      const waitUntil = performance.now() + waitMs;
      // The next segment is due no sooner than the shortest segment after the last: no fetching before.
      const dueMs = known ? changedAt + known.shortestMs - 2 * pollMs : 0;
      const firstMs = dueMs - performance.now();
      const ready = (text) => {
        const now = parse(text);
        if (!known || !now) return true;
        return Number.isFinite(msn) ? now.lastSn >= msn : text !== previous;
      };
      const attempt = (inner) => {
        this.inner = inner;
        this.stats = inner.stats;
        inner.load({ ...context, url }, loaderConfig, {
          ...callbacks,
          onSuccess: (response, stats, _ctx, details) => {
            const text = typeof response.data === "string" ? response.data : null;
            // A segment overdue by a target duration (a publisher reconnecting, a stream gone
            // quiet): ask four times a target duration, not every poll, until it comes.
            const overdue = known && performance.now() - dueMs > known.targetMs;
            const nextMs = overdue ? Math.max(pollMs, known.targetMs / 4) : pollMs;
            if (!ready(text) && performance.now() + nextMs < waitUntil) {
              this.timer = setTimeout(() => {
                this.timer = 0;
                inner.destroy();
                attempt(new Loader(this.config));
              }, nextMs);
              return;
            }
            if (text === null) return callbacks.onSuccess(response, stats, context, details);
            handedOver.set(url, { text, changedAt: text === previous ? changedAt : performance.now() });
            const data = parse(text) ? text.replace("#EXTM3U", `#EXTM3U\n${BLOCKING}`) : text;
            callbacks.onSuccess({ ...response, data }, stats, context, details);
          },
          onError: (error, _ctx, details, stats) => callbacks.onError(error, context, details, stats),
          onTimeout: (stats, _ctx, details) => callbacks.onTimeout(stats, context, details),
          onAbort: callbacks.onAbort && ((stats, _ctx, details) => callbacks.onAbort(stats, context, details)),
          onProgress: callbacks.onProgress && ((stats, _ctx, data, details) => callbacks.onProgress(stats, context, data, details)),
        });
      };
      if (firstMs > 0) this.timer = setTimeout(() => ((this.timer = 0), attempt(this.inner)), firstMs);
      else attempt(this.inner);
    }

    abort() {
      if (this.timer) {
        clearTimeout(this.timer); // between two requests: nothing in flight to abort
        this.timer = 0;
        this.stats.aborted = true;
        this.callbacks?.onAbort?.(this.stats, this.context, null);
        return;
      }
      this.inner?.abort();
    }

    destroy() {
      clearTimeout(this.timer);
      this.timer = 0;
      this.inner?.destroy();
      this.inner = this.callbacks = this.context = null;
    }

    getCacheAge() {
      return this.inner?.getCacheAge?.() ?? null;
    }

    getResponseHeader(name) {
      return this.inner?.getResponseHeader?.(name) ?? null;
    }
  };
}
