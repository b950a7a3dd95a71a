/* The chat through Amazon IVS Chat (CHAT_BACKEND=ivs), for signed-in people: templates/chat/
 * panel.html loads the amazon-ivs-chat-messaging SDK from our own static files (global IVSChat,
 * bundled by package.json's vendor:ivs-chat) and names the token endpoint; chat.js calls
 * connectIvs() and, once it is connected, posts through it instead of the page's socket.
 *
 * IVS Chat asks our review handler about every message (deploy/ivschat_review -> chat/hooks.py),
 * so what the room delivers is stored and carries our id, name and badge as attributes; it is
 * shown as the socket's chat_message would be (the page socket brings it too: ids dedupe). A
 * moderator's hide reaches the room as DeleteMessage (chat.rooms): messageDelete removes it here.
 * A denied message comes back as an error naming our reason. A ban or time-out disconnects the
 * person from the room (DisconnectUser); their page's socket says so (chat_removed) and carries
 * any later attempt, refused there. */
import * as Frames from "../lib/frames.js";
import { gettext } from "../lib/i18n.js";
import { jsonBody, post } from "../lib/http.js";

// What a denied message's reason (our post_message's, through the review) tells the person.
const REASONS = {
  rate_limited: gettext("You are sending messages too fast. Wait a few seconds."),
  slow_mode: gettext("Slow mode is on: wait a little before your next message."),
  blocked_word: gettext("Your message contains a word this chat does not allow."),
  held_for_review: gettext("Your message is held for a moderator to review."),
  banned: gettext("You were removed from chat by a moderator."),
  timed_out: gettext("You are timed out for a while."),
  too_long: gettext("That message is too long."),
  empty: gettext("Write a message first."),
  closed: gettext("This show is over: its chat is closed."),
  not_found: gettext("The message you reply to is not in this chat any more."),
};

/** The room's client, or null when this page chats over its socket (local backend, anonymous,
 * the SDK missing). `onState("ivs" | "socket")` hears which one carries this page's posts. */
export function connectIvs(root, { onState }) {
  const tokenUrl = root.dataset.tokenUrl;
  if (root.dataset.chatBackend !== "ivs" || !tokenUrl || !window.IVSChat) return null;
  const ourIds = new Map(); // IVS message id -> our message id
  let connected = false;

  async function tokenProvider() {
    const response = await post(tokenUrl, null, { headers: { "X-Requested-With": "fetch" } });
    const answer = await jsonBody(response);
    if (!response.ok || !answer || !answer.token) throw new Error((answer && answer.error) || `token ${response.status}`);
    return {
      token: answer.token,
      tokenExpirationTime: new Date(answer.tokenExpirationTime),
      sessionExpirationTime: new Date(answer.sessionExpirationTime),
    };
  }

  const room = new window.IVSChat.ChatRoom({ regionOrUrl: root.dataset.chatUrl || root.dataset.chatRegion, tokenProvider });
  room.addListener("connect", () => { connected = true; onState("ivs"); });
  room.addListener("disconnect", () => { connected = false; onState("socket"); });
  room.addListener("message", (message) => {
    const attributes = message.attributes || {};
    const id = Number(attributes.messageId);
    if (!id) return; // not reviewed by us: never shown
    ourIds.set(message.id, id);
    const frame = {
      type: "chat_message",
      id,
      body: message.content, // textContent in chat.js: never HTML
      author: { name: attributes.name || "", role: attributes.role || null },
      sentAt: message.sendTime.toISOString(),
      offsetMs: null,
    };
    if (attributes.replyTo) frame.replyTo = quoted(Number(attributes.replyTo));
    Frames.dispatch(frame);
  });
  room.addListener("messageDelete", (event) => {
    const id = ourIds.get(event.messageId);
    if (id) Frames.dispatch({ type: "chat_hidden", id });
  });
  room.connect();

  return {
    connected: () => connected,
    /** Send `body` (a reply to our message `replyTo`, if given); resolves with our id, or
     * rejects with the sentence to show. */
    async post(body, replyTo) {
      const attributes = replyTo ? { replyTo: String(replyTo) } : undefined;
      try {
        const message = await room.sendMessage(new window.IVSChat.SendMessageRequest(body, attributes));
        return Number((message.attributes || {}).messageId) || null;
      } catch (error) {
        const text = String((error && error.errorMessage) || "");
        const reason = Object.keys(REASONS).find((key) => text.includes(key));
        throw new Error(reason ? REASONS[reason] : gettext("Your message was not sent. Try again."));
      }
    },
  };
}

// A reply's quote, from the message on the page (the socket's frame, if it comes first, has it).
function quoted(id) {
  const li = document.querySelector(`#chat-messages li[data-id="${id}"]`);
  if (!li) return { removed: true };
  return { id, name: li.querySelector(".chat-author").textContent, body: li.querySelector(".chat-body").textContent.slice(0, 80) };
}
