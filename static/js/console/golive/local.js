/* Local mode: MediaRecorder's WebM chunks over the publish socket to the server's ffmpeg, which
 * sends them on to the local media server (broadcast/consumers.py). The stream key never comes
 * to this page.
 *
 * A lost connection is retried (backoff 1, 2, 4 … 10 s) with a new recorder: a WebM stream
 * cannot resume in the middle, so each connection starts a new one (the server treats it as an
 * encoder reconnecting). A refusal (not a host, another tab live, no ffmpeg on the server, the
 * server falling behind) ends it with the server's sentence. */
import { Backoff } from "../../lib/backoff.js";
import { gettext, interpolate } from "../../lib/i18n.js";

const TIMESLICE_MS = 100; // a chunk every tenth of a second: latency against per-chunk overhead
const MAX_BUFFERED = 4 * 1024 * 1024; // bytes the socket may hold unsent before we give up
const MAX_RETRIES = 8;
const FATAL = new Set([4400, 4403, 4404, 4409, 4413, 4422, 4503]);
// H.264 first when the browser can also be told its keyframe interval (Chromium 115+): the relay then
// passes the browser's video on as it is (no decode, no x264), and the media server cuts a segment at
// each keyframe. Otherwise VP8 (or whatever the browser records), which the relay re-encodes.
const H264 = "video/webm;codecs=h264,opus";
const MIME_TYPES = ["video/webm;codecs=vp8,opus", H264, "video/webm"];
const KEYFRAME_MS = 500; // the relay's keyframe interval (broadcast/relay.py): 0.5 s HLS segments

function tabId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function localPublisher({ socketPath, onState, onError }) {
  const tab = tabId(); // one per page: this tab's reconnects take its own lease back
  const backoff = new Backoff({ firstMs: 1000, maxMs: 10000 });
  let socket = null;
  let recorder = null;
  let stream = null;
  let bitrate = 0;
  let mimeType = "";
  let stopping = false;
  let retryTimer = 0;
  let retries = 0;

  function connect() {
    const url = new URL(socketPath, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("tab", tab);
    if (mimeType === H264) url.searchParams.set("video", "h264"); // the relay copies it
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    socket = ws;
    onState(retries ? "retry" : "connecting", retries ? gettext("Reconnecting…") : gettext("Connecting…"));
    ws.addEventListener("message", (message) => {
      if (ws !== socket || typeof message.data !== "string") return;
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame.type === "publishing") {
        record(ws);
        onState("live", gettext("Sending video to the server"));
      } else if (frame.type === "error") {
        onError(frame.error, frame.code);
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      stopRecorder();
      socket = null;
      if (stopping) {
        onState("stopped", gettext("Stopped"));
      } else if (FATAL.has(event.code)) {
        onState("error", gettext("Not streaming"));
      } else if (retries >= MAX_RETRIES) {
        onError(gettext("Lost the connection to the server and could not get it back. Check your network and press Start again."));
        onState("error", gettext("Not streaming"));
      } else {
        retries += 1;
        const delay = backoff.next();
        onState("retry", interpolate(gettext("Connection lost: retrying in %(seconds)s s"), { seconds: Math.ceil(delay / 1000) }));
        retryTimer = setTimeout(connect, delay);
      }
    });
  }

  function record(ws) {
    recorder = new MediaRecorder(stream, recorderOptions());
    recorder.addEventListener("dataavailable", (event) => {
      if (ws.readyState !== WebSocket.OPEN || !event.data.size) return;
      if (ws.bufferedAmount > MAX_BUFFERED) {
        // The upload cannot keep up: growing this buffer would only add delay until memory runs out.
        onError(gettext("Your connection cannot upload this quality fast enough. Choose a lower quality and start again."));
        stopping = true;
        ws.close(4000);
        return;
      }
      ws.send(event.data);
      retries = 0;
      backoff.reset();
    });
    recorder.start(TIMESLICE_MS);
  }

  function recorderOptions() {
    return {
      mimeType,
      videoBitsPerSecond: bitrate,
      audioBitsPerSecond: 128000,
      videoKeyFrameIntervalDuration: KEYFRAME_MS,
    };
  }

  /** Whether this browser's MediaRecorder takes a keyframe interval: a dictionary member the
   * browser knows is read when the options are converted, an unknown one never. */
  function keyframesSettable() {
    let read = false;
    const options = {
      mimeType: H264,
      get videoKeyFrameIntervalDuration() {
        read = true;
        return KEYFRAME_MS;
      },
    };
    try {
      new MediaRecorder(stream, options); // not started: only its options are read
    } catch {
      return false;
    }
    return read;
  }

  function chooseType() {
    if (MediaRecorder.isTypeSupported(H264) && keyframesSettable()) return H264;
    return MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  }

  function stopRecorder() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    recorder = null;
  }

  return {
    mode: "local",
    /** Start publishing `mediaStream` (composited video, and sound if any) at `preset`. */
    start(mediaStream, preset) {
      stream = mediaStream;
      bitrate = preset.bitrate;
      mimeType = chooseType();
      stopping = false;
      retries = 0;
      backoff.reset();
      connect();
    },
    stop() {
      stopping = true;
      clearTimeout(retryTimer);
      stopRecorder();
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "stop" })); // the server flushes ffmpeg, then closes
      } else {
        socket?.close();
        socket = null;
        onState("stopped", gettext("Stopped"));
      }
    },
    /** Bytes waiting to be sent (for the page's health line). */
    buffered: () => socket?.bufferedAmount || 0,
    /** Drop the connection as a network failure would (tests). */
    dropConnection: () => socket?.close(4001),
  };
}
