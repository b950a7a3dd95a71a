/* The host console's polls (templates/chat/console_polls.html): open a poll (question, 2-4
 * answers, how long), watch its results live, close it early. The server decides
 * (chat/poll_views.py): a refused poll comes back as a 4xx with the reason, shown above the
 * form. While a poll is open the list is read again every POLL_MS (the results are aggregated
 * on the server: one read a second costs the same whatever the number of votes). */
import { getJson, jsonBody } from "../lib/http.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { streamClock } from "../lib/time.js";
import { timedPanel } from "./timed_panel.js";

const POLL_MS = 1500;
const panel = document.getElementById("polls");

const state = { polls: [], timer: 0 };

const { els, remember, msUntil, wire } = panel ? timedPanel(panel, "poll", { reload, resetAfterSubmit: true }) : {};

function msLeft(poll) {
  return msUntil(poll.closesAt);
}

function results(poll) {
  const parts = poll.options.map((option, i) => {
    const share = poll.total ? Math.round((100 * poll.counts[i]) / poll.total) : 0;
    return `${option}: ${poll.counts[i]} (${share}%)`;
  });
  const votes = interpolate(ngettext("%(count)s vote", "%(count)s votes", poll.total), { count: poll.total });
  return `${parts.join(" · ")} — ${votes}`;
}

function render() {
  const rows = state.polls.slice(0, 5).map((poll) => {
    const row = els.template.content.firstElementChild.cloneNode(true);
    row.dataset.pollId = poll.pollId;
    row.classList.toggle("is-open", poll.open);
    row.querySelector('[data-field="question"]').textContent = poll.question;
    row.querySelector('[data-field="results"]').textContent = results(poll);
    const close = row.querySelector(".poll-close");
    close.dataset.pollId = poll.pollId;
    close.hidden = !poll.open;
    return row;
  });
  els.list.replaceChildren(...rows);
  tick();
}

function tick() {
  for (const row of els.list.children) {
    const poll = state.polls.find((p) => String(p.pollId) === row.dataset.pollId);
    const left = poll && poll.open ? msLeft(poll) : 0;
    row.querySelector('[data-field="countdown"]').textContent = left > 0 ? streamClock(Math.ceil(left / 1000) * 1000) : gettext("Closed");
  }
}

async function reload() {
  clearTimeout(state.timer);
  try {
    const response = await getJson(panel.dataset.pollsUrl);
    const body = await jsonBody(response);
    if (response.ok && body) {
      remember(body);
      state.polls = body.polls;
      render();
    }
  } catch {
    // offline: the next round tries again
  }
  if (state.polls.some((poll) => poll.open)) state.timer = setTimeout(reload, POLL_MS);
}

function start() {
  wire(".poll-close", panel.dataset.closeUrl, (button) => button.dataset.pollId);
  setInterval(tick, 1000);
  reload();
}

if (panel) start();
