/* The poll on the viewer page (templates/chat/panel.html #poll; chat/polls.py, poll_views.py).
 *
 * A poll is shown in step with the video, as the product card is: the host opens it at wall time
 * T and its frame (poll_opened) reaches this page at once, but the picture of T comes later, by
 * the player's live latency. So a page playing the live stream holds the poll back: until the
 * in-band cue (IVS: poll_cue, passed on by viewer.js) or the latency (plus a grace while a cue
 * may still come) has passed; a page not playing shows it at once, as does a joining page
 * (poll_state: the poll as it is now). Its countdown starts when it is shown, so every viewer
 * gets the whole duration (the server takes votes for a few seconds more: VOTE_GRACE_SECONDS).
 * Results come aggregated (poll_results, at most one a second) and finally with poll_closed.
 * Voting is a POST (one per person: the server's answer decides, 409 naming a second vote). */
import * as Frames from "../lib/frames.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { getJson, jsonBody, post } from "../lib/http.js";

const DEFAULT_LATENCY_S = 3;
const CUE_GRACE_S = 2;
const SHOWN_AFTER_CLOSE_MS = 60000;

const box = document.getElementById("poll");
if (box) start(box);

function start(root) {
  const $ = (name) => root.querySelector(`[data-poll="${name}"]`);
  const signedIn = root.dataset.signedIn === "true";
  const state = { poll: null, shownAt: 0, myVote: null, token: "", pending: null, timer: 0, hideTimer: 0, busy: false };

  // The test and debugging hook.
  window.liveshopPoll = {
    get poll() { return state.poll; },
    get shown() { return !root.hidden; },
    get myVote() { return state.myVote; },
    get pending() { return state.pending ? state.pending.pollId : null; },
  };

  function url(poll, suffix = "") {
    return root.dataset.pollUrl.replace(/\/0\/$/, `/${poll.pollId}/${suffix}`);
  }

  function secondsLeft() {
    const poll = state.poll;
    if (!poll || poll.closed) return 0;
    const fromShown = poll.durationS - (Date.now() - state.shownAt) / 1000;
    return Math.max(0, Math.ceil(fromShown));
  }

  function render() {
    const poll = state.poll;
    if (!poll) {
      root.hidden = true;
      return;
    }
    root.hidden = false;
    root.dataset.pollId = String(poll.pollId);
    const left = secondsLeft();
    const open = left > 0;
    root.dataset.state = open ? "open" : "closed";
    $("question").textContent = poll.question;
    const options = $("options");
    options.replaceChildren(
      ...poll.options.map((text, index) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "poll-option";
        button.dataset.index = String(index);
        const share = poll.total ? Math.round((100 * (poll.counts[index] || 0)) / poll.total) : 0;
        button.style.setProperty("--share", `${share}%`);
        const label = document.createElement("span");
        label.className = "poll-label";
        label.textContent = text;
        const value = document.createElement("span");
        value.className = "poll-share";
        value.textContent = `${share}%`;
        button.append(label, value);
        const chosen = state.myVote === index;
        button.setAttribute("aria-pressed", String(chosen));
        button.disabled = !open || !signedIn || state.myVote !== null || state.busy;
        li.append(button);
        return li;
      }),
    );
    const total = interpolate(ngettext("%(count)s vote", "%(count)s votes", poll.total), { count: poll.total });
    const when = open ? interpolate(gettext("%(seconds)s s left"), { seconds: left }) : gettext("Final results");
    $("meta").textContent = `${total} · ${when}`;
    $("signin").hidden = signedIn || !open;
  }

  function showError(text) {
    const el = $("error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function show(poll, { late = false } = {}) {
    clearTimeout(state.pending?.timer);
    state.pending = null;
    const fresh = !state.poll || state.poll.pollId !== poll.pollId;
    state.poll = { ...poll };
    if (fresh) {
      state.myVote = null;
      showError("");
      // A joining page: the time left is the server's (this page's clock may be off a little).
      state.shownAt = late ? Date.now() - (poll.durationS * 1000 - Math.max(0, Date.parse(poll.closesAt) - Date.now())) : Date.now();
      if (signedIn) readMine(poll);
    }
    clearInterval(state.timer);
    state.timer = setInterval(() => {
      render();
      if (!secondsLeft()) {
        clearInterval(state.timer);
        clearTimeout(state.hideTimer);
        state.hideTimer = setTimeout(() => { state.poll = null; render(); }, SHOWN_AFTER_CLOSE_MS);
      }
    }, 1000);
    render();
  }

  async function readMine(poll) {
    try {
      const response = await getJson(url(poll));
      const body = await jsonBody(response);
      if (!response.ok || !body || state.poll?.pollId !== poll.pollId) return;
      state.token = body.csrfToken || state.token;
      state.myVote = body.myVote ?? null;
      update(body.poll);
    } catch {
      // offline: voting says so
    }
  }

  function update(results) {
    const poll = state.poll;
    if (!poll || poll.pollId !== results.pollId) {
      if (state.pending && state.pending.pollId === results.pollId) Object.assign(state.pending.poll, results);
      return;
    }
    poll.counts = results.counts;
    poll.total = results.total;
    if (results.closed) poll.closed = true;
    render();
  }

  async function vote(index) {
    const poll = state.poll;
    if (!poll || state.busy || state.myVote !== null) return;
    state.busy = true;
    render();
    try {
      const response = await post(url(poll, "vote/"), JSON.stringify({ option: index }), {
        headers: { "Content-Type": "application/json", ...(state.token ? { "X-CSRFToken": state.token } : {}) },
      });
      const body = await jsonBody(response);
      if (response.ok) {
        state.myVote = index;
        showError("");
        if (body) update({ ...body, pollId: poll.pollId });
      } else {
        showError(body?.error || interpolate(gettext("Your vote was not counted (error %(status)s)."), { status: response.status }));
        if (body?.reason === "already_voted") readMine(poll);
      }
    } catch {
      showError(gettext("Could not reach Liveshop. Check your connection and try again."));
    } finally {
      state.busy = false;
      render();
    }
  }

  /** A new poll from the socket: now, or when the picture of its moment is on screen. */
  function onOpened(frame) {
    if (state.poll?.pollId === frame.pollId || state.pending?.pollId === frame.pollId) return;
    const playback = Frames.playback();
    if (!playback || !playback.live() || !playback.active()) {
      show(frame);
      return;
    }
    const delayS = (playback.latency() ?? DEFAULT_LATENCY_S) + (playback.hasCues() ? CUE_GRACE_S : 0);
    const pending = { pollId: frame.pollId, poll: { ...frame } };
    pending.timer = setTimeout(() => show(pending.poll), delayS * 1000);
    clearTimeout(state.pending?.timer);
    state.pending = pending;
  }

  Frames.on("poll_opened", onOpened);
  Frames.on("poll_cue", (frame) => {
    if (state.pending && state.pending.pollId === frame.pollId) show(state.pending.poll);
  });
  Frames.on("poll_state", (frame) => {
    const poll = frame.poll;
    if (!poll) return;
    if (state.poll?.pollId === poll.pollId) update(poll);
    else if (state.pending?.pollId !== poll.pollId) show(poll, { late: true });
  });
  Frames.on("poll_results", update);
  Frames.on("poll_closed", (frame) => update({ ...frame, closed: true }));

  root.addEventListener("click", (event) => {
    const button = event.target.closest(".poll-option");
    if (button && !button.disabled) vote(Number(button.dataset.index));
  });
}
