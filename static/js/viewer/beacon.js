/* Show analytics from the player (analytics/ingest.py): while the video plays, a heartbeat every
 * ~15 s with the time it actually played (paused, buffering or ended time is not counted), and
 * the card events since the last one: the card shown (once per highlight or cue), clicked, added
 * to the cart. One small POST per batch, off the page's socket and the card's path; the last
 * batch goes with navigator.sendBeacon when the page is left. The viewer id is the server's
 * (signed-in user or its first-party cookie): a refresh or a second tab is the same viewer. */
const script = document.getElementById("beacon-script");
const video = document.getElementById("video");
const cardEl = document.getElementById("product-card");

if (script && video) start(script.dataset);

function randomTab() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function start({ url, target, id, heartbeatMs }) {
  const tab = randomTab();
  const every = Math.max(5000, Number(heartbeatMs) || 15000);
  let seq = 0;
  let played = 0; // ms played since the last heartbeat sent
  let lastTick = performance.now();
  let items = [];
  const shown = new Set();
  const isLive = target === "event";

  const playing = () => !video.paused && !video.ended && video.readyState >= 3;
  const momentOf = () => {
    const value = isLive ? cardEl?.dataset.highlightId : cardEl?.dataset.cueId;
    const moment = Number(value);
    return cardEl && !cardEl.hidden && moment > 0 ? moment : null;
  };
  const cardItem = (type) => {
    const moment = momentOf();
    if (moment == null) return;
    items.push({ type, at: Date.now(), [isLive ? "highlightId" : "cueId"]: moment });
  };

  function tick() {
    const now = performance.now();
    if (playing()) played += Math.min(now - lastTick, 2000); // a throttled timer never credits a frozen tab
    lastTick = now;
    const moment = momentOf();
    if (moment != null && !shown.has(moment) && playing()) {
      shown.add(moment);
      cardItem("impression");
    }
  }

  function take() {
    const batch = items.slice(0, 39);
    items = items.slice(39);
    const heartbeat = Math.round(played);
    if (heartbeat >= 1000) {
      const item = { type: "heartbeat", at: Date.now(), playedMs: Math.min(heartbeat, 600000) };
      if (!isLive && Number.isFinite(video.currentTime)) item.positionMs = Math.round(video.currentTime * 1000);
      batch.push(item);
      played = 0;
    }
    if (!batch.length) return null;
    return { [target]: Number(id), tab, seq: seq++, sentAt: Date.now(), items: batch };
  }

  async function post(batch) {
    const response = await fetch(url, {
      method: "POST", body: JSON.stringify(batch), credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "text/plain" },
    });
    const answer = await response.json().catch(() => ({}));
    if (answer.retry && !batch.retry) await post({ ...batch, retry: true }); // the cookie just arrived
  }

  async function flush() {
    const batch = take();
    if (!batch) return;
    try {
      await post(batch);
    } catch {
      // offline: the items go again with the next batch (the heartbeat's time is lost, not doubled)
      items = batch.items.filter((item) => item.type !== "heartbeat").concat(items);
    }
  }

  setInterval(tick, 1000);
  setInterval(flush, every);
  cardEl?.addEventListener("click", (event) => {
    if (event.target.closest("a, button")) cardItem("click");
  });
  document.addEventListener("liveshop:cart-added", (event) => {
    if (String(event.detail?.product?.id) === cardEl?.dataset.productId) cardItem("add_to_cart");
  });
  window.addEventListener("pagehide", () => {
    tick();
    const batch = take();
    if (batch) navigator.sendBeacon(url, new Blob([JSON.stringify(batch)], { type: "text/plain" }));
  });
  // exposed for the browser tests: send now instead of waiting for the next heartbeat
  window.liveshopBeacon = { flush, tick };
}
