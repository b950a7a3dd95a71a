/* The viewer's event socket, shared with the features that plug into the page (the shop, chat,
 * reactions, polls): each registers the frame types it handles with on(); the page passes every
 * frame it receives to dispatch() and its socket's send to setSender(), so a feature can send()
 * without owning the connection. */
const handlers = new Map();
let sender = null;

/** Call `handler(frame)` for each frame of `type` ("snapshot" too: it follows every reconnect). */
export function on(type, handler) {
  if (!handlers.has(type)) handlers.set(type, []);
  handlers.get(type).push(handler);
}

export function dispatch(frame) {
  for (const handler of handlers.get(frame.type) || []) {
    try {
      handler(frame);
    } catch (error) {
      console.error(error); // one feature's bug never stops the page's own handling
    }
  }
}

export function setSender(send) {
  sender = send;
}

/** Send a JSON frame on the page's socket; false when there is none (replay pages without one). */
export function send(frame) {
  if (!sender) return false;
  return sender(JSON.stringify(frame)) !== false;
}

let playbackSource = null;

/** The live page's player clock, for features shown in step with the video (polls): an object
 * with live(), active(), latency() (seconds, or null) and hasCues(). Set by viewer.js. */
export function setPlayback(source) {
  playbackSource = source;
}

/** The player clock, or null on pages without a live player. */
export function playback() {
  return playbackSource;
}
