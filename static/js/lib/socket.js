/* A websocket that stays open: the viewer page's and the host console's live updates.
 *
 * - Frames are JSON; what is not JSON is dropped.
 * - The server sends a heartbeat every `heartbeatMs`: any frame proves the connection alive, and
 *   silence for SILENT_HEARTBEATS of them means it is dead (a frozen server, a half-open TCP
 *   connection), so it is dropped and replaced without waiting for a closing handshake.
 * - A lost connection comes back after an exponential backoff with jitter (a restart is not met by
 *   every client at once), longer when the server said it was busy (4429); a close code in
 *   `fatal` ends it for good. The page calls resetBackoff() once the server has sent its snapshot.
 * - Coming back online or to the tab reconnects at once rather than at the end of a long backoff.
 * - A "reconnect" frame (a server draining for a deploy) moves to a new socket before the old one
 *   closes, after a random pause (events/realtime/drain.py); it is not passed to onFrame.
 */
import { Backoff } from "./backoff.js";

export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;
export const CLOSE_RATE_LIMITED = 4429;
const SILENT_HEARTBEATS = 2.5;

/**
 * Open the socket at `path` (same origin) and keep it open. Hooks:
 * onFrame(frame) for each JSON frame; onConnecting(attempt) as each connection starts;
 * onRetry(delayMs, closeCode) when a lost one is retried (closeCode null after silence);
 * onFatal(closeCode); onVisible(socket) when the tab comes back with the socket still there.
 * `rateLimited(delayMs)` stretches the delay after a 4429. Returns {send, resetBackoff}.
 */
export function liveSocket(path, {
  heartbeatMs,
  backoff,
  rateLimited = (delay) => delay,
  fatal = [CLOSE_NOT_FOUND],
  onFrame,
  onConnecting = () => {},
  onRetry = () => {},
  onFatal = () => {},
  onVisible = () => {},
}) {
  const delays = new Backoff(backoff);
  let socket = null;
  let retryTimer = 0;
  let silenceTimer = 0;

  function heardFrom(ws) {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => {
      if (ws !== socket) return;
      socket = null;
      ws.close();
      retry(null);
    }, heartbeatMs * SILENT_HEARTBEATS);
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (socket) return;
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    socket = ws;
    heardFrom(ws); // a connect that never completes counts as silence too
    onConnecting(delays.attempt);
    ws.addEventListener("message", (message) => {
      if (ws !== socket) return;
      heardFrom(ws);
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "reconnect") moveOver(ws, frame.jitterMs);
      else onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      socket = null;
      clearTimeout(silenceTimer);
      if (fatal.includes(event.code)) onFatal(event.code);
      else retry(event.code);
    });
  }

  // The server is draining (a deploy) and spreads these frames over its window: after a random
  // pause of our own, open a new socket (the balancer sends it to another server) and let the old
  // one go once the new one has spoken (its snapshot), so the card stays and nothing is missed.
  function moveOver(old, jitterMs = 1000) {
    setTimeout(() => {
      if (old !== socket) return;
      socket = null;
      connect();
      const release = () => old.close();
      socket.addEventListener("message", release, { once: true });
      socket.addEventListener("close", release, { once: true });
    }, Math.random() * jitterMs);
  }

  function retry(code) {
    let delay = delays.next();
    if (code === CLOSE_RATE_LIMITED) delay = rateLimited(delay);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
    onRetry(delay, code);
  }

  const reconnectNow = () => {
    if (!socket && retryTimer) connect();
  };
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    if (socket) onVisible(socket);
    else reconnectNow();
  });

  connect();
  return {
    /** Send `text` if the socket is open; returns whether it was. */
    send(text) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(text);
      return true;
    },
    resetBackoff: () => delays.reset(),
  };
}
