/* Flash deals on the viewer pages: the deal price, what it takes off and a countdown on the
 * product card and on the lineup item of a product with a running deal (the [data-field="deal"]
 * element each leaves for it; the normal price is struck through by CSS: .has-deal).
 *
 * A card's JSON carries its deal ({price, percentOff, endsAt, limitPerCustomer} or null:
 * events.payloads.card), so the page's data, the snapshot and every card the page fills bring it;
 * a "deal" frame on the event socket ({productId, deal, now}) starts, replaces or ends one at once
 * and outranks a card built before it.
 * The option pickers show each variant's deal price (the deal's variantPrices): the card's select
 * (lib/card.js fills it; its options' text is rewritten here) and the lineup's option sheet
 * (shop_render.js pickOption asks dealOf).
 * The end needs no message: at endsAt the countdown reaches zero and the normal price is back, as
 * it is at checkout, where the server prices every line (commerce.deals): nothing here is trusted.
 * Times are counted on the server's clock when a frame told it (`now`), else on this device's. */
import * as Card from "../lib/card.js";
import * as Frames from "../lib/frames.js";
import { gettext, interpolate } from "../lib/i18n.js";
import { streamClock } from "../lib/time.js";

const state = {
  skewMs: 0, // the server's clock minus this device's
  // Deals show while the show is live: one its host ended prices normally at checkout. (A dropped
  // stream reads as ended too, while the server still honours its deals: then the buyer pays less
  // than the page said, never more.)
  live: true,
};
// What "deal" frames (and snapshots) said, by product id: newer than a card the page built earlier
// and shows only now (a highlight waiting for its moment in the video), so it wins over the card's.
const told = new Map();

function now() {
  return Date.now() + state.skewMs;
}

/** The running deal of `productId` (the newest card or frame seen), or null. */
export function dealOf(productId) {
  const id = Number(productId);
  const deal = told.has(id) ? told.get(id) : Card.known(id)?.deal;
  return state.live && deal && Date.parse(deal.endsAt) > now() ? deal : null;
}

function timeLeft(deal) {
  return streamClock(Math.ceil(Math.max(0, Date.parse(deal.endsAt) - now()) / 1000) * 1000);
}

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

/** Fill the deal field of `el` (the card or a lineup item showing product `el.dataset.productId`). */
function fillDeal(el) {
  const field = el.querySelector('[data-field="deal"]');
  if (!field) return;
  const card = Card.known(el.dataset.productId);
  const deal = card ? dealOf(card.id) : null;
  if (card) fillPicker(el, card, deal);
  el.classList.toggle("has-deal", Boolean(deal));
  field.hidden = !deal;
  if (!deal) {
    if (field.childElementCount) field.replaceChildren();
    return;
  }
  const shown = field.querySelector(".deal-timer");
  if (shown && field.dataset.endsAt === deal.endsAt && field.dataset.price === deal.price) {
    shown.textContent = timeLeft(deal); // the same deal: only the countdown moves
    return;
  }
  field.dataset.endsAt = deal.endsAt;
  field.dataset.price = deal.price;
  const price = span("deal-price", Card.formatPrice(deal.price, card.currency));
  const badge = span("deal-badge", deal.percentOff ? `−${deal.percentOff}%` : gettext("Deal"));
  const timer = span("deal-timer", timeLeft(deal));
  const parts = field.tagName === "DIV" ? [badge, price, span("deal-ends", gettext("Ends in")), timer] : [price, timer];
  if (field.tagName === "DIV" && deal.limitPerCustomer) {
    parts.push(span("deal-limit", interpolate(gettext("Limit %(count)s per customer"), { count: deal.limitPerCustomer })));
  }
  field.setAttribute("aria-label", interpolate(gettext("Flash deal: %(price)s"), { price: price.textContent }));
  field.replaceChildren(...parts);
}

/** The card's option select: each option's price is its variant's deal price while the deal runs
 * ("M · €15.00 deal, was €20.00"), the text lib/card.js wrote otherwise. */
function fillPicker(el, card, deal) {
  const select = el.querySelector('select[data-field="variant"]');
  if (!select) return;
  const variants = new Map((card.variants || []).map((variant) => [String(variant.id), variant]));
  for (const option of select.options) {
    if (option.dataset.plain === undefined) option.dataset.plain = option.text; // as card.js made it
    const variant = variants.get(option.value);
    const price = deal?.variantPrices?.[option.value];
    let text = option.dataset.plain;
    if (variant && price && price !== variant.price) {
      const regular = Card.formatPrice(variant.price, card.currency);
      const dealText = interpolate(gettext("%(price)s deal, was %(regular)s"), { price: Card.formatPrice(price, card.currency), regular });
      text = text.replace(regular, dealText);
    }
    if (option.text !== text) option.text = text;
  }
}

export function render() {
  for (const el of document.querySelectorAll("#product-card, #lineup .lineup-item")) fillDeal(el);
}

/** A "deal" frame: the product's deal started, was replaced, or ended. */
function onDeal(frame) {
  if (typeof frame.now === "string") state.skewMs = Date.parse(frame.now) - Date.now();
  if (frame.productId == null) return;
  told.set(Number(frame.productId), frame.deal || null);
  render();
}

/** A snapshot (every (re)connect): its card is the server's word now, whatever was missed. */
function onSnapshot(snapshot) {
  if (snapshot.event && snapshot.event.status) state.live = snapshot.event.status === "live";
  const product = snapshot.highlight?.product;
  if (product && product.id != null) told.set(Number(product.id), product.deal || null);
  render();
}

function start() {
  const data = document.getElementById("watch-config") || document.getElementById("replay-config");
  if (data) {
    const config = JSON.parse(data.textContent);
    if (typeof config.status === "string") state.live = config.status === "live";
    for (const card of [...(config.lineup || []), ...(config.products || [])]) Card.remember(card);
    if (config.currentHighlight?.product) Card.remember(config.currentHighlight.product);
  }
  Frames.on("deal", onDeal);
  Frames.on("snapshot", onSnapshot);
  Frames.on("stream_state", (frame) => {
    state.live = frame.status === "live";
    render();
  });
  // A card shown or a lineup refilled by the page: fill its deal at once, not at the next tick.
  const observer = new MutationObserver(() => render());
  const cardEl = document.getElementById("product-card");
  if (cardEl) observer.observe(cardEl, { attributes: true, attributeFilter: ["data-product-id"] });
  const picker = cardEl?.querySelector('select[data-field="variant"]');
  if (picker) observer.observe(picker, { childList: true }); // card.js refilled the options
  const lineup = document.getElementById("lineup");
  if (lineup) observer.observe(lineup, { childList: true });
  render();
  setInterval(render, 1000);
}

start();
