/* IVS mode: the Amazon IVS Web Broadcast SDK (served from our static files as the global
 * IVSBroadcastClient) sends the composited video over WebRTC to the channel. The console loads it
 * only once the host turns the camera on here (loadIvsSdk: a large script, which also talks to
 * IVS and names a source map it does not ship: Lighthouse's best practices on the console). The stream key is
 * asked of the server by POST just before each start (host only, never cached) and kept in this
 * closure only. A failed or lost connection is retried with backoff and a fresh key. */
import { Backoff } from "../../lib/backoff.js";
import { jsonBody, post } from "../../lib/http.js";
import { gettext, interpolate } from "../../lib/i18n.js";

const MAX_RETRIES = 8;

let sdkLoading = null;
/** The SDK's script (the panel's data-ivs-sdk), added once; resolves when it ran or failed (a
 * failure is tried again with the next call). */
export function loadIvsSdk() {
  sdkLoading ??= new Promise((resolve) => {
    const src = document.getElementById("golive-browser")?.dataset.ivsSdk;
    if (window.IVSBroadcastClient || !src) return resolve();
    const script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => {
      script.remove();
      sdkLoading = null;
      resolve();
    });
    document.head.append(script);
  });
  return sdkLoading;
}

export function ivsPublisher({ keyUrl, onState, onError }) {
  const backoff = new Backoff({ firstMs: 1000, maxMs: 15000 });
  let client = null;
  let stopping = false;
  let retries = 0;
  let retryTimer = 0;
  let media = null;
  let preset = "";

  async function fetchKey() {
    const response = await post(keyUrl, null, { headers: { "X-Requested-With": "fetch" } });
    const body = await jsonBody(response);
    if (!response.ok) throw new Error((body && body.error) || interpolate(gettext("The server refused the stream key (error %(status)s)."), { status: response.status }));
    return body;
  }

  async function connect() {
    await loadIvsSdk();
    const sdk = window.IVSBroadcastClient;
    if (!sdk) {
      onError(gettext("The IVS broadcast library did not load. Reload the page."));
      onState("error", gettext("Not streaming"));
      return;
    }
    onState(retries ? "retry" : "connecting", retries ? gettext("Reconnecting…") : gettext("Connecting…"));
    try {
      const { streamKey, ingestEndpoint } = await fetchKey();
      client = sdk.create({ streamConfig: sdk[preset] || sdk.STANDARD_LANDSCAPE, ingestEndpoint });
      client.on(sdk.BroadcastClientEvents.CONNECTION_STATE_CHANGE, (state) => {
        if (state === sdk.ConnectionState.CONNECTED) {
          retries = 0;
          backoff.reset();
          onState("live", gettext("Sending video to Amazon IVS"));
        } else if ((state === sdk.ConnectionState.FAILED || state === sdk.ConnectionState.DISCONNECTED) && !stopping) {
          retry();
        }
      });
      client.on(sdk.BroadcastClientEvents.ERROR, (error) => onError(error?.message || String(error)));
      await client.addVideoInputDevice(new MediaStream(media.getVideoTracks()), "camera", { index: 0 });
      if (media.getAudioTracks().length) await client.addAudioInputDevice(new MediaStream(media.getAudioTracks()), "mic");
      await client.startBroadcast(streamKey, ingestEndpoint);
    } catch (error) {
      onError(error?.message || String(error));
      if (!stopping) retry();
    }
  }

  function teardown() {
    try { client?.stopBroadcast(); } catch { /* already stopped */ }
    try { client?.delete?.(); } catch { /* already gone */ }
    client = null;
  }

  function retry() {
    teardown();
    if (retries >= MAX_RETRIES) {
      onState("error", gettext("Not streaming"));
      return;
    }
    retries += 1;
    const delay = backoff.next();
    onState("retry", interpolate(gettext("Connection lost: retrying in %(seconds)s s"), { seconds: Math.ceil(delay / 1000) }));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  return {
    mode: "ivs",
    start(mediaStream, presetName) {
      media = mediaStream;
      preset = presetName;
      stopping = false;
      retries = 0;
      connect();
    },
    stop() {
      stopping = true;
      clearTimeout(retryTimer);
      teardown();
      onState("stopped", gettext("Stopped"));
    },
    buffered: () => 0,
    dropConnection: () => retry(),
  };
}
