/* The host console's flash deals (templates/events/console/_deals.html): start a price or a
 * percentage off on a lineup product for N minutes, watch the running deals count down, end one
 * early. The server decides (commerce/deal_views.py): a refused deal comes back as a 400 with the
 * reason, shown above the form; nothing here is trusted for a price.
 *
 * The list follows the studio socket: console.js passes each frame on as a "console:frame" event
 * on #console; a "deal" frame (this host's deal or another's) or a reconnect's snapshot reloads it.
 * A deal ends by itself at endsAt: its row goes when its countdown reaches zero. */
import { getJson, jsonBody } from "../lib/http.js";
import { gettext, interpolate, locale } from "../lib/i18n.js";
import { streamClock } from "../lib/time.js";
import { timedPanel } from "./timed_panel.js";

const panel = document.getElementById("deals");

const state = {
  deals: [], // the running deals, as the server answered (commerce.deals.studio_deal)
};

const { els, $, remember, msUntil, wire } = panel ? timedPanel(panel, "deal", { reload }) : {};

function msLeft(deal) {
  return msUntil(deal.endsAt);
}

function terms(deal) {
  const price = `${deal.price} ${deal.currency}`;
  const off = deal.percentOff
    ? interpolate(gettext("%(percent)s off: %(price)s"), {
      percent: new Intl.NumberFormat(locale(), { style: "percent" }).format(deal.percentOff / 100),
      price,
    })
    : interpolate(gettext("%(price)s (was %(regular)s)"), { price, regular: deal.regularPrice });
  if (!deal.limitPerCustomer) return off;
  return `${off} · ${interpolate(gettext("limit %(count)s per customer"), { count: deal.limitPerCustomer })}`;
}

function render() {
  state.deals = state.deals.filter((deal) => msLeft(deal) > 0);
  const rows = state.deals.map((deal) => {
    const row = els.template.content.firstElementChild.cloneNode(true);
    row.dataset.dealId = deal.id;
    row.querySelector('[data-field="name"]').textContent = deal.productName;
    row.querySelector('[data-field="terms"]').textContent = terms(deal);
    row.querySelector(".deal-end").dataset.dealId = deal.id;
    return row;
  });
  els.list.replaceChildren(...rows);
  tick();
}

function tick() {
  let expired = false;
  for (const row of els.list.children) {
    const deal = state.deals.find((d) => String(d.id) === row.dataset.dealId);
    const left = deal ? msLeft(deal) : 0;
    if (left <= 0) expired = true;
    row.querySelector('[data-field="countdown"]').textContent = streamClock(Math.ceil(left / 1000) * 1000);
  }
  if (expired) render();
}

async function reload() {
  try {
    const response = await getJson(panel.dataset.dealsUrl);
    const body = await jsonBody(response);
    if (!response.ok || !body) return;
    remember(body);
    state.deals = body.deals;
    render();
  } catch {
    // offline: the next frame or reconnect reloads
  }
}

/** Say when deals can run: the server refuses one while the show is not live (and says so). */
function showStatus(status) {
  if (!status) return;
  $("#deals-note").textContent = status === "live"
    ? gettext("Viewers see the deal price and a countdown on the card.")
    : gettext("Deals run while the show is live.");
}

function showKind() {
  const kind = els.form.querySelector("input[name=kind]:checked").value;
  for (const field of els.form.querySelectorAll("[data-kind]")) {
    field.hidden = field.dataset.kind !== kind;
    field.querySelector("input").disabled = field.hidden; // a hidden field is not sent
  }
}

function start() {
  els.form.addEventListener("change", (event) => {
    if (event.target.name === "kind") showKind();
  });
  wire(".deal-end", panel.dataset.endUrl, (button) => button.dataset.dealId);
  document.getElementById("console")?.addEventListener("console:frame", (event) => {
    const frame = event.detail || {};
    if (frame.type === "stream_state") showStatus(frame.status);
    if (frame.type === "studio_snapshot") showStatus(frame.event && frame.event.status);
    if (frame.type === "deal" || frame.type === "studio_snapshot") reload();
  });
  showKind();
  setInterval(tick, 1000);
  reload();
}

if (panel) start();
