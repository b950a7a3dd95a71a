/* The live chat beside the player (templates/chat/panel.html; frames: chat/realtime.py).
 *
 * It rides the page's socket (lib/frames.js): the recent messages follow every snapshot
 * (chat_history; none while the chat is empty), then chat_message / chat_hidden (several at once
 * in a chat_batch when the chat is busy), chat_reactions and chat_settings; what this page
 * sends (chat_post, and the brand's people's chat_hide / chat_timeout / chat_ban) is answered on
 * this socket alone (chat_sent, chat_moderated, chat_error naming the reason). A signed-in page
 * names its person after each snapshot (chat_hello {tag}: opaque, no user id), so a ban or
 * time-out reaches its composer at once (chat_removed; chat_restored when lifted).
 * Every body is text (textContent): only the brand's people's links become links.
 */
import * as Frames from "../lib/frames.js";
import { gettext, interpolate, locale } from "../lib/i18n.js";
import { connectIvs } from "./chat_ivs.js";

const MAX_SHOWN = 200; // messages kept on the page; older ones scroll away
const NEAR_BOTTOM_PX = 48; // closer than this to the end: new messages scroll into view
const ROLE_LABELS = { owner: gettext("Owner"), host: gettext("Host"), moderator: gettext("Moderator") };
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

const panel = document.getElementById("chat");
if (panel) start(panel);

function start(root) {
  const $ = (id) => document.getElementById(id);
  const list = $("chat-messages");
  const empty = $("chat-empty");
  const more = $("chat-more");
  const errorBox = $("chat-error");
  const notice = $("chat-notice");
  const stateEl = $("chat-state");
  const form = $("chat-form");
  const input = $("chat-input");
  const sendButton = $("chat-send");
  const count = $("chat-count");
  const moderator = root.dataset.moderator === "true";
  const bodyMax = Number(root.dataset.bodyMax) || 500;
  const items = new Map(); // message id -> <li>
  const timeFormat = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
  let sending = false;
  let noticeTimer = 0;

  // The test and debugging hook: the messages shown, in order.
  window.liveshopChat = {
    messages: () => [...list.children].map((li) => ({ id: Number(li.dataset.id), text: li.querySelector(".chat-body").textContent })),
  };

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
  }

  function toBottom() {
    list.scrollTop = list.scrollHeight;
    more.hidden = true;
  }

  function bodyNode(text, linkify) {
    const span = document.createElement("span");
    span.className = "chat-body";
    if (!linkify) {
      span.textContent = text;
      return span;
    }
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      span.append(text.slice(last, match.index));
      const link = document.createElement("a");
      link.href = match[0];
      link.textContent = match[0];
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      span.append(link);
      last = match.index + match[0].length;
    }
    span.append(text.slice(last));
    return span;
  }

  function moderationMenu(message) {
    const details = document.createElement("details");
    details.className = "chat-mod";
    const summary = document.createElement("summary");
    summary.textContent = "⋯";
    summary.setAttribute("aria-label", interpolate(gettext("Moderate the message from %(name)s"), { name: message.author.name }));
    const menu = document.createElement("div");
    menu.className = "chat-mod-menu";
    const actions = [[gettext("Hide message"), { type: "chat_hide" }], [gettext("Pin to the top"), { type: "chat_pin" }]];
    if (!message.author.role) {
      actions.push(
        [gettext("Time out 5 minutes"), { type: "chat_timeout", minutes: 5 }],
        [gettext("Time out 1 hour"), { type: "chat_timeout", minutes: 60 }],
        [gettext("Ban from the brand's chats"), { type: "chat_ban" }],
      );
    }
    for (const [label, frame] of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => {
        details.open = false;
        if (frame.type === "chat_ban" && !window.confirm(interpolate(gettext("Ban %(name)s from all of this brand's chats?"), { name: message.author.name }))) return;
        send({ ...frame, id: message.id });
      });
      menu.append(button);
    }
    details.append(summary, menu);
    return details;
  }

  function quoteNode(quoted) {
    const quote = document.createElement("span");
    quote.className = "chat-quote";
    quote.textContent = quoted.removed ? gettext("(message removed)") : `${quoted.name}: ${quoted.body}`; // text, never HTML
    return quote;
  }

  function replyButton(message) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chat-reply";
    button.textContent = gettext("Reply");
    button.setAttribute("aria-label", interpolate(gettext("Reply to %(name)s"), { name: message.author.name }));
    button.addEventListener("click", () => setReply(message));
    return button;
  }

  let replyTo = null;
  const replying = $("chat-replying");
  function setReply(message) {
    replyTo = message ? message.id : null;
    if (!replying) return;
    replying.hidden = !message;
    if (message) {
      replying.querySelector('[data-field="name"]').textContent = message.author.name;
      input.focus();
    }
  }
  $("chat-reply-cancel")?.addEventListener("click", () => setReply(null));

  // The pinned message: every page shows it (chat_pinned {message | null}).
  const pinnedBox = $("chat-pinned");
  Frames.on("chat_pinned", (frame) => {
    const message = frame.message;
    pinnedBox.hidden = !message;
    if (!message) return;
    pinnedBox.dataset.id = String(message.id);
    pinnedBox.querySelector('[data-field="author"]').textContent = message.author.name;
    const body = bodyNode(message.body, Boolean(message.author.role)); // staff links stay links
    body.dataset.field = "body";
    pinnedBox.querySelector('[data-field="body"]').replaceWith(body);
  });
  $("chat-unpin")?.addEventListener("click", () => send({ type: "chat_unpin" }));

  function render(message) {
    const li = document.createElement("li");
    li.className = "chat-message";
    li.dataset.id = String(message.id);
    const staff = Boolean(message.author.role);
    if (staff) li.classList.add("is-staff");
    const time = document.createElement("time");
    time.className = "chat-time";
    time.dateTime = message.sentAt;
    time.textContent = timeFormat.format(new Date(message.sentAt));
    const author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = message.author.name;
    li.append(time, author);
    if (staff) {
      const badge = document.createElement("span");
      badge.className = `badge badge-${message.author.role}`;
      badge.textContent = ROLE_LABELS[message.author.role] || message.author.role;
      li.append(badge);
    }
    if (message.replyTo) li.append(quoteNode(message.replyTo));
    li.append(bodyNode(message.body, staff));
    if (form) li.append(replyButton(message));
    if (moderator) li.append(moderationMenu(message));
    return li;
  }

  function add(message, fresh) {
    if (items.has(message.id)) return;
    const li = render(message);
    if (fresh) li.classList.add("is-new");
    // Ids grow with time: a message from another process may come a little out of order.
    let before = null;
    for (let node = list.lastElementChild; node && Number(node.dataset.id) > message.id; node = node.previousElementSibling) before = node;
    list.insertBefore(li, before);
    items.set(message.id, li);
    while (items.size > MAX_SHOWN) remove(Number(list.firstElementChild.dataset.id));
  }

  function remove(id) {
    const li = items.get(id);
    if (!li) return;
    li.remove();
    items.delete(id);
  }

  function updateEmpty() {
    empty.hidden = items.size > 0;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function showNotice(text) {
    clearTimeout(noticeTimer);
    notice.textContent = text;
    notice.hidden = false;
    noticeTimer = setTimeout(() => { notice.hidden = true; }, 4000);
  }

  function send(frame) {
    if (!Frames.send(frame)) {
      showError(gettext("Not connected: wait a moment and try again."));
      return false;
    }
    return true;
  }

  function setSending(value) {
    sending = value;
    if (sendButton) sendButton.disabled = value;
  }

  function updateCount() {
    const left = bodyMax - [...input.value.trim()].length;
    count.textContent = left < 50 ? interpolate(gettext("%(count)s characters left"), { count: left }) : "";
    count.classList.toggle("is-over", left < 0);
  }

  // A ban or time-out: the composer says so at once (the draft stays, to send later); an attempt
  // meanwhile is refused by the socket itself, with the same sentence.
  let removedTimer = 0;
  function setRemoved(frame) {
    clearTimeout(removedTimer);
    root.dataset.removed = frame ? frame.reason : "";
    if (!frame) {
      errorBox.hidden = true;
      return;
    }
    showError(frame.message);
    if (frame.retryAfter) removedTimer = setTimeout(() => setRemoved(null), frame.retryAfter * 1000);
  }
  Frames.on("chat_removed", (frame) => { setSending(false); setRemoved(frame); });
  Frames.on("chat_restored", () => setRemoved(null));

  Frames.on("snapshot", () => {
    if (root.dataset.person) Frames.send({ type: "chat_hello", tag: root.dataset.person });
    stateEl.dataset.state = "open";
    stateEl.textContent = gettext("Connected");
    setSending(false); // a post whose answer was lost with the old socket may be sent again
    // The history follows (when the chat has messages) and brings back what was missed.
    for (const id of [...items.keys()]) remove(id);
    updateEmpty();
  });
  Frames.on("heartbeat", (frame) => {
    const down = frame.feed === "reconnecting";
    stateEl.dataset.state = down ? "connecting" : "open";
    stateEl.textContent = down ? gettext("Reconnecting…") : gettext("Connected");
  });
  // Frames close together come as one (chat/realtime.py: a busy chat writes each socket at most
  // ten times a second): each is handled as if it had come alone.
  Frames.on("chat_batch", (frame) => {
    for (const inner of frame.frames || []) Frames.dispatch(inner);
  });
  Frames.on("chat_history", (frame) => {
    for (const message of frame.messages) add(message, false);
    updateEmpty();
    toBottom();
  });
  Frames.on("chat_message", (frame) => {
    const follow = nearBottom();
    add(frame, true);
    updateEmpty();
    if (follow) toBottom();
    else more.hidden = false;
  });
  Frames.on("chat_hidden", (frame) => {
    remove(frame.id);
    updateEmpty();
  });
  Frames.on("chat_sent", (frame) => {
    setSending(false);
    setReply(null);
    if (frame.held) showNotice(gettext("Your message is held for a moderator to review."));
    if (input) {
      input.value = "";
      updateCount();
    }
    errorBox.hidden = true;
    toBottom();
  });
  Frames.on("chat_error", (frame) => {
    setSending(false);
    if (frame.reason === "banned" || frame.reason === "timed_out") setRemoved(frame);
    else showError(frame.message || gettext("That did not work."));
  });
  const MODERATED = {
    ban: () => gettext("Banned from the brand's chats."),
    timeout: (frame) => interpolate(gettext("Timed out for %(minutes)s minutes."), { minutes: frame.minutes }),
    slow_mode: (frame) =>
      frame.seconds ? interpolate(gettext("Slow mode on: one message every %(seconds)s s."), { seconds: frame.seconds }) : gettext("Slow mode off."),
  };
  Frames.on("chat_moderated", (frame) => {
    const text = MODERATED[frame.action];
    if (text) showNotice(text(frame));
  });

  // Slow mode: shown to everyone; the brand's people set it from the header.
  const slowNote = $("chat-slow");
  const slowSelect = $("chat-slow-select");
  Frames.on("chat_settings", (frame) => {
    const seconds = frame.slowModeSeconds || 0;
    slowNote.dataset.seconds = String(seconds);
    slowNote.querySelector('[data-field="seconds"]').textContent = String(seconds);
    slowNote.hidden = seconds === 0;
    if (slowSelect) slowSelect.value = String(seconds);
  });
  if (slowSelect) {
    slowSelect.addEventListener("change", () => send({ type: "chat_slow_mode", seconds: Number(slowSelect.value) }));
  }

  // Reactions: a tap floats at once here; everyone's come back once a second (chat_reactions),
  // this page's own taps already shown taken off.
  const burst = $("chat-burst");
  const glyphs = new Map([...root.querySelectorAll(".chat-react")].map((button) => [button.dataset.emoji, button.dataset.glyph]));
  const ownTaps = new Map();
  const compact = new Intl.NumberFormat(locale(), { notation: "compact" });
  const MAX_FLOATS = 30;

  function float(name, delayMs = 0) {
    if (!burst || burst.childElementCount >= MAX_FLOATS || !glyphs.has(name)) return;
    const span = document.createElement("span");
    span.className = "chat-float";
    span.textContent = glyphs.get(name);
    span.style.left = `${8 + Math.random() * 80}%`;
    span.style.setProperty("--drift", `${Math.round((Math.random() - 0.5) * 60)}px`);
    span.style.animationDelay = `${delayMs}ms`;
    span.addEventListener("animationend", () => span.remove());
    burst.append(span);
  }

  for (const button of root.querySelectorAll(".chat-react")) {
    button.addEventListener("click", () => {
      const name = button.dataset.emoji;
      if (!Frames.send({ type: "reaction", emoji: name })) return;
      ownTaps.set(name, (ownTaps.get(name) || 0) + 1);
      float(name);
    });
  }

  Frames.on("chat_reactions", (frame) => {
    for (const [name, count] of Object.entries(frame.counts || {})) {
      const others = Math.max(0, count - (ownTaps.get(name) || 0));
      for (let i = 0; i < Math.min(others, 8); i++) float(name, Math.random() * 900);
    }
    ownTaps.clear();
    for (const [name, total] of Object.entries(frame.totals || {})) {
      const el = root.querySelector(`[data-total="${name}"]`);
      if (el) el.textContent = compact.format(total);
    }
  });

  more.addEventListener("click", toBottom);
  list.addEventListener("scroll", () => { if (nearBottom()) more.hidden = true; });

  if (form) {
    input.addEventListener("input", () => {
      updateCount();
      errorBox.hidden = true;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body || sending) return;
      if ([...body].length > bodyMax) {
        showError(interpolate(gettext("Messages are at most %(count)s characters."), { count: bodyMax }));
        return;
      }
      if (ivs && ivs.connected() && !root.dataset.removed) {
        postThroughIvs(body);
        return;
      }
      if (send(replyTo ? { type: "chat_post", body, replyTo } : { type: "chat_post", body })) setSending(true);
    });
  }

  // CHAT_BACKEND=ivs: posts go through the IVS Chat room once it is connected (chat_ivs.js).
  const ivs = form ? connectIvs(root, { onState: (via) => { root.dataset.chatVia = via; } }) : null;
  async function postThroughIvs(body) {
    setSending(true);
    try {
      await ivs.post(body, replyTo);
      Frames.dispatch({ type: "chat_sent" });
    } catch (error) {
      Frames.dispatch({ type: "chat_error", message: error.message });
    }
  }
}
