/* The host console's polls (templates/chat/console_polls.html): open a poll (question, 2-4
 * answers, how long), watch its results live, close it early. The server decides
 * (chat/poll_views.py): a refused poll comes back as a 4xx with the reason, shown above the
 * form. While a poll is open the list is read again every POLL_MS (the results are aggregated
 * on the server: one read a second costs the same whatever the number of votes). */
import { getJson, jsonBody, postFromButton } from "../lib/http.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { streamClock } from "../lib/time.js";

const POLL_MS = 1500;
const panel = document.getElementById("polls");

const state = { polls: [], skewMs: 0, timer: 0 };

const $ = (selector) => panel.querySelector(selector);
const els = panel && {
  form: $("#poll-form"),
  list: $("#poll-list"),
  alert: $("#polls-alert"),
  template: $("#poll-row-template"),
  button: $(".poll-start"),
};

function showAlert(message) {
  els.alert.textContent = message;
  els.alert.hidden = !message;
}

function remember(answer) {
  if (answer && answer.serverNow) state.skewMs = Date.parse(answer.serverNow) - Date.now();
}

function msLeft(poll) {
  return Date.parse(poll.closesAt) - (Date.now() + state.skewMs);
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

/** POST the form or a row's button (a double click opens one poll); the server's reason shows above the form. */
function send(url, body, button) {
  return postFromButton(button, url, body, {
    form: els.form,
    onError: showAlert,
    async onOk(response) {
      remember(await jsonBody(response));
      if (url === els.form.action) els.form.reset();
      await reload();
    },
  });
}

function start() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(els.form.action, new FormData(els.form), els.button);
  });
  els.list.addEventListener("click", (event) => {
    const button = event.target.closest(".poll-close");
    if (!button) return;
    const url = panel.dataset.closeUrl.replace(/\/0\/close\/$/, `/${button.dataset.pollId}/close/`);
    send(url, new FormData(), button);
  });
  setInterval(tick, 1000);
  reload();
}

if (panel) start();
