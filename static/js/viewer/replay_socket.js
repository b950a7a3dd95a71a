/* The replay and video page's live stock: a read-only websocket (/ws/stock/?products=<the
 * page's products>, events/stock_socket.py) that sends a "stock" frame on every (re)connect and
 * then every stock change of those products' brand, each {type: "stock", products: [{id, inStock,
 * left, variants: [{id, inStock, left}]}]}. Frames go to the features plugged into the page
 * through lib/frames.js (Frames.on("stock", ...)), as on the live page. The page sends nothing on
 * it, so it is not the page's sender: Frames.send() stays false on replay pages. */
import * as Frames from "../lib/frames.js";
import { liveSocket } from "../lib/socket.js";

const BACKOFF_MS = { firstMs: 2500, maxMs: 30000 }; // nothing urgent: stock can wait a retry

// The test and debugging hook: the stock frames received, newest last.
const debug = (window.liveshopStock = { frames: [], socket: "idle" });

/** The ids of the products the page shows: cued cards and lineup items. */
function pageProductIds(config) {
  const ids = new Set((config.products || []).map((card) => card.id));
  for (const item of document.querySelectorAll("#lineup [data-product-id]")) {
    const id = Number(item.dataset.productId);
    if (id) ids.add(id);
  }
  return [...ids];
}

function connect() {
  const config = JSON.parse(document.getElementById("replay-config").textContent);
  const ids = pageProductIds(config);
  if (!ids.length || !config.heartbeatMs) return;
  const socket = liveSocket(`/ws/stock/?products=${ids.join(",")}`, {
    heartbeatMs: config.heartbeatMs,
    backoff: BACKOFF_MS,
    rateLimited: (delay) => delay * 4,
    onFrame: (frame) => {
      if (frame.type === "stock") {
        if (debug.socket !== "open") socket.resetBackoff(); // the snapshot: connected
        debug.socket = "open";
        debug.frames.push(frame);
      }
      Frames.dispatch(frame);
    },
    onRetry: () => { debug.socket = "reconnecting"; },
    onFatal: () => { debug.socket = "closed"; }, // none of the products is on sale any more
  });
}

connect();
