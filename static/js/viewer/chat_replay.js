/* The chat of a show's replay (templates/chat/replay_panel.html; chat/replay.py): the messages,
 * reactions and polls of the live show, each at the moment of the video it happened at.
 *
 * What is shown is a function of the video's position alone, re-evaluated on every timeupdate,
 * seek and animation frame while playing: the newest MAX_SHOWN messages sent up to the position
 * (seeking back takes the later ones away, seeking forward brings them), the poll open at that
 * moment with its final results. Reactions float as the playback passes their second (not on a
 * seek). Messages come from the server a window (config.windowMs) at a time: the window of the
 * position and the one before it, the next one fetched ahead. */
import { gettext, interpolate, locale, ngettext } from "../lib/i18n.js";

const MAX_SHOWN = 50;
const SHOWN_AFTER_CLOSE_MS = 30000;
const MAX_FLOATS = 30;

const root = document.getElementById("chat-replay");
const video = document.getElementById("video");
if (root && video) start(root);

function start(panel) {
  const config = JSON.parse(document.getElementById("chat-replay-config").textContent);
  const $ = (id) => document.getElementById(id);
  const list = $("chat-replay-messages");
  const empty = $("chat-replay-empty");
  const burst = $("chat-replay-burst");
  const pollBox = $("replay-poll");
  const windows = new Map(); // window index -> {messages, reactions} (or a pending Promise)
  const timeFormat = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
  let shownKey = "";
  let shownPollKey = "";
  let lastMs = null;

  window.liveshopChatReplay = {
    messages: () => [...list.children].map((li) => ({ id: Number(li.dataset.id), text: li.querySelector(".chat-body").textContent })),
    poll: () => (pollBox.hidden ? null : { pollId: Number(pollBox.dataset.pollId) }),
    floats: 0,
  };

  function load(index) {
    if (index < 0 || windows.has(index)) return;
    const url = `${config.chatUrl}?from_ms=${index * config.windowMs}`;
    windows.set(index, null);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        windows.set(index, data);
        update(true);
      })
      .catch(() => windows.delete(index)); // tried again at the next update
  }

  function render(message) {
    const li = document.createElement("li");
    li.className = "chat-message";
    li.dataset.id = String(message.id);
    if (message.author.role) li.classList.add("is-staff");
    const time = document.createElement("time");
    time.className = "chat-time";
    time.dateTime = message.sentAt;
    time.textContent = timeFormat.format(new Date(message.sentAt));
    const author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = message.author.name;
    li.append(time, author);
    if (message.author.role) {
      const badge = document.createElement("span");
      badge.className = `badge badge-${message.author.role}`;
      badge.textContent = message.author.role[0].toUpperCase() + message.author.role.slice(1);
      li.append(badge);
    }
    const body = document.createElement("span");
    body.className = "chat-body";
    body.textContent = message.body; // text, never HTML
    li.append(body);
    return li;
  }

  function messagesUpTo(ms) {
    const index = Math.floor(ms / config.windowMs);
    const shown = [];
    for (const i of [index - 1, index]) {
      const data = windows.get(i);
      if (data) shown.push(...data.messages.filter((m) => m.atMs <= ms));
    }
    return shown.slice(-MAX_SHOWN);
  }

  function float(name, delayMs) {
    const glyph = config.glyphs[name];
    if (!glyph || burst.childElementCount >= MAX_FLOATS) return;
    const span = document.createElement("span");
    span.className = "chat-float";
    span.textContent = glyph;
    span.style.left = `${8 + Math.random() * 80}%`;
    span.style.setProperty("--drift", `${Math.round((Math.random() - 0.5) * 60)}px`);
    span.style.animationDelay = `${delayMs}ms`;
    span.addEventListener("animationend", () => span.remove());
    burst.append(span);
    window.liveshopChatReplay.floats += 1;
  }

  function reactionsBetween(fromMs, toMs) {
    for (const i of new Set([Math.floor(fromMs / config.windowMs), Math.floor(toMs / config.windowMs)])) {
      const data = windows.get(i);
      if (!data) continue;
      for (const second of data.reactions) {
        if (second.atMs > fromMs && second.atMs <= toMs) {
          for (const [name, count] of Object.entries(second.counts)) {
            for (let n = 0; n < Math.min(count, 8); n++) float(name, Math.random() * 900);
          }
        }
      }
    }
  }

  function showPoll(ms) {
    const poll = config.polls.filter((p) => p.atMs <= ms && ms < p.atMs + p.durationS * 1000 + SHOWN_AFTER_CLOSE_MS).pop();
    const open = poll && ms < poll.atMs + poll.durationS * 1000;
    const key = poll ? `${poll.pollId}:${open}` : "";
    if (key === shownPollKey) return;
    shownPollKey = key;
    pollBox.hidden = !poll;
    if (!poll) return;
    pollBox.dataset.pollId = String(poll.pollId);
    pollBox.querySelector('[data-poll="question"]').textContent = poll.question;
    pollBox.querySelector('[data-poll="options"]').replaceChildren(
      ...poll.options.map((text, index) => {
        const li = document.createElement("li");
        const row = document.createElement("span");
        row.className = "poll-option";
        const share = poll.total ? Math.round((100 * poll.counts[index]) / poll.total) : 0;
        row.style.setProperty("--share", `${share}%`);
        const label = document.createElement("span");
        label.textContent = text;
        const value = document.createElement("span");
        value.className = "poll-share";
        value.textContent = `${share}%`;
        row.append(label, value);
        li.append(row);
        return li;
      }),
    );
    const total = interpolate(ngettext("%(count)s vote", "%(count)s votes", poll.total), { count: poll.total });
    const meta = open ? interpolate(gettext("%(total)s in the end · voting was open"), { total }) : `${total} · ${gettext("Final results")}`;
    pollBox.querySelector('[data-poll="meta"]').textContent = meta;
  }

  function update(loaded = false) {
    const ms = Math.round(video.currentTime * 1000);
    const index = Math.floor(ms / config.windowMs);
    load(index - 1);
    load(index);
    load(index + 1);
    const messages = messagesUpTo(ms);
    const key = messages.map((m) => m.id).join(",");
    if (key !== shownKey) {
      const follow = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
      shownKey = key;
      list.replaceChildren(...messages.map(render));
      empty.hidden = messages.length > 0;
      if (follow) list.scrollTop = list.scrollHeight;
    }
    showPoll(ms);
    if (!loaded && lastMs !== null && !video.paused && ms > lastMs && ms - lastMs < 1500) reactionsBetween(lastMs, ms);
    if (!loaded) lastMs = ms;
  }

  let frame = 0;
  function tick() {
    update();
    frame = video.paused || video.ended ? 0 : requestAnimationFrame(tick);
  }
  video.addEventListener("play", () => {
    if (!frame) frame = requestAnimationFrame(tick);
  });
  video.addEventListener("seeking", () => { lastMs = null; });
  for (const type of ["seeked", "timeupdate", "loadedmetadata", "pause"]) video.addEventListener(type, () => update());
  update();
}
