/* The viewer shop on the live, replay and video pages: Add to cart on the product card and the
 * lineup, the cart drawer, checkout, payment and confirmation in one panel over the player. The
 * page never navigates, so the video never stops.
 *
 * The page is shared and cached (events/page_cache.py): it holds no cart and no CSRF token. Both
 * come from the cart API after load (#shop-config names the URLs); every POST carries the token.
 * Money comes from the server as decimal strings in the cart's or order's currency and is only
 * formatted here (Intl): the server computes every price and total.
 *
 * Stock: "Only N left" / "Sold out" come with the cards (lib/card.js fills them) and with the
 * socket's stock frames ({"type": "stock", "products": [...]}) through lib/frames.js.
 */
import * as Card from "../lib/card.js";
import * as Frames from "../lib/frames.js";
import { gettext, interpolate, locale, ngettext } from "../lib/i18n.js";
import { dealOf } from "./deal.js";
import { api, orderUrl } from "./shop_api.js";
import { cartLine, money, pickOption, renderSummary, span } from "./shop_render.js";
import { payWithStripe } from "./shop_stripe.js";

const config = JSON.parse(document.getElementById("shop-config").textContent);
const pageConfig = JSON.parse(
  (document.getElementById("watch-config") || document.getElementById("replay-config"))?.textContent || "{}",
);
const $ = (id) => document.getElementById(id);
const panel = $("shop-panel");
const cartButton = $("cart-button");
const toastEl = $("shop-toast");
const video = $("video");
const field = (name, root = panel) => root.querySelector(`[data-field="${name}"]`);
const TITLES = {
  pick: gettext("Choose an option"),
  cart: gettext("Your cart"),
  details: gettext("Checkout"),
  pay: gettext("Payment"),
  done: gettext("Order confirmed"),
};
const BACK = { details: "cart", pay: "details" };

const state = { cart: null, order: null, details: null, picking: null, busy: false, dealTimer: null };

// The test and debugging hook.
window.liveshopShop = {
  get cart() { return state.cart; },
  get order() { return state.order; },
  get step() { return panel.dataset.step; },
  get cartAnswers() { return cartAnswers; },
};

// The server ------------------------------------------------------------------------------

/** Every answer that carries the cart goes through here; one older than the cart on screen (a
 * later request answered first) changes nothing. */
let cartAnswers = 0;
async function cartCall(url, body) {
  const answer = await api.call(url, body);
  cartAnswers += 1;
  if (answer.ok && answer.fresh) setCart(answer.data);
  return answer;
}

function loadCart() {
  return cartCall(config.cartUrl);
}

function setCart(cart) {
  if (cart.csrfToken) api.token = cart.csrfToken;
  state.cart = cart;
  cartButton.hidden = !cart.count && !cartButton.dataset.used;
  field("count", cartButton).textContent = String(cart.count);
  cartButton.setAttribute("aria-label", interpolate(ngettext("Cart, %(count)s item", "Cart, %(count)s items", cart.count), { count: cart.count }));
  renderCart();
  refreshWhenADealEnds(cart);
}

/** A line priced by a flash deal costs its normal price once the deal ends: ask the server for
 * the cart again then, so the drawer shows what checkout will charge. At least 2 s apart (a device
 * clock ahead of the server's must not ask in a loop). */
function refreshWhenADealEnds(cart) {
  clearTimeout(state.dealTimer);
  const ends = (cart.lines || []).filter((line) => line.deal).map((line) => Date.parse(line.deal.endsAt));
  if (!ends.length) return;
  const wait = Math.max(2000, Math.min(...ends) - Date.now() + 500);
  state.dealTimer = setTimeout(loadCart, Math.min(wait, 2 ** 31 - 1));
}

// Adding ----------------------------------------------------------------------------------

/** Where the viewer is: the live event, or the video and the position on screen (replays). */
function attribution() {
  if (config.recordingId) {
    return { recording_id: config.recordingId, position_ms: Math.max(0, Math.round((video?.currentTime || 0) * 1000)) };
  }
  return config.eventId ? { event_id: config.eventId } : {};
}

async function add(card, variantId, button) {
  if (button) {
    button.disabled = true;
    button.classList.add("is-busy");
  }
  // The page's first cart answer brings the CSRF token (or the frame's cart token): a viewer
  // quicker than a busy server waits for it rather than being refused.
  await firstCart;
  const body = { quantity: 1, ...attribution() };
  if (variantId) body.variant_id = Number(variantId);
  else body.product_id = card.id; // a card without its variants yet: the product's only one
  const answer = await cartCall(config.addUrl, body);
  if (button) {
    button.classList.remove("is-busy");
    Card.fillStock(button.closest("[data-product-id]"), Card.known(card.id) || card);
  }
  if (!answer.ok) {
    toast(answer.data.error || gettext("This could not be added."), { error: true });
    return false;
  }
  cartButton.dataset.used = "1";
  cartButton.hidden = false;
  cartButton.classList.remove("is-bumped");
  void cartButton.offsetWidth; // restart the bump animation
  cartButton.classList.add("is-bumped");
  toast(interpolate(gettext("%(name)s is in your cart."), { name: card.name }), { action: gettext("View cart") });
  // For the embed bridge (static/js/embed/bridge.js), which tells the shop's page.
  document.dispatchEvent(new CustomEvent("liveshop:cart-added", { detail: { product: card, variantId, quantity: 1 } }));
  return true;
}

function onAddClick(button) {
  const holder = button.closest("[data-product-id]");
  const card = Card.known(holder?.dataset.productId);
  if (!card) return toast(gettext("This product is not ready yet: try again in a moment."), { error: true });
  const variants = card.variants || [];
  const picker = field("variant", holder);
  if (picker && variants.length > 1) return add(card, picker.value, button);
  if (variants.length > 1) return openPick(card);
  return add(card, variants[0]?.id, button);
}

function openPick(card) {
  state.picking = card;
  field("pick-name").textContent = card.name;
  const list = field("pick-list");
  const deal = dealOf(card.id);
  list.replaceChildren(
    ...card.variants.map((variant) => {
      const item = document.createElement("li");
      item.append(pickOption(variant, card.currency, deal?.variantPrices?.[variant.id]));
      return item;
    }),
  );
  open("pick");
}

// The panel -------------------------------------------------------------------------------

const PHONE = window.matchMedia("(max-width: 699px)");

function open(step) {
  show(step);
  toastEl.hidden = true;
  if (panel.open) return;
  // On a phone the panel is a sheet from the bottom: the player goes to the top, in sight above it.
  if (PHONE.matches) document.getElementById("player")?.scrollIntoView({ block: "start" });
  panel.showModal();
}

function show(step) {
  panel.dataset.step = step;
  field("title").textContent = TITLES[step];
  panel.querySelector(".shop-back").hidden = !BACK[step];
  const first = panel.querySelector(`.shop-step[data-step="${step}"] :is(input, select, button):not([disabled])`);
  if (first && step !== "cart") first.focus({ preventScroll: true });
}

function close() {
  if (panel.open) panel.close();
  if (panel.dataset.step === "done") {
    state.order = null;
    show("cart");
  }
}

function renderCart() {
  const cart = state.cart;
  const lines = cart.lines || [];
  field("empty").hidden = lines.length > 0;
  field("cart-foot").hidden = lines.length === 0;
  field("total").textContent = lines.length ? money(cart.total, cart.currency) : "";
  field("lines").replaceChildren(...lines.map((line) => cartLine(line, cart.currency)));
}

async function setQuantity(variantId, quantity) {
  const answer = await cartCall(config.lineUrl.replace("{id}", variantId), { quantity });
  error("cart-error", answer.ok ? "" : answer.data.error);
  if (!answer.ok) await loadCart();
}

function error(name, message) {
  const el = field(name);
  el.textContent = message || "";
  el.hidden = !message;
}

// Checkout --------------------------------------------------------------------------------

const detailsForm = panel.querySelector(".checkout-form");
const payForm = panel.querySelector(".pay-form");

function toCheckout() {
  if (!state.cart?.lines.length) return;
  fillCountries();
  renderSummary(field("summary"), state.cart.lines, state.cart.total, state.cart.currency);
  error("details-error", "");
  open("details");
}

function fillCountries() {
  const select = detailsForm.elements.country;
  const codes = state.cart.shippingCountries || [];
  if (select.dataset.codes === codes.join()) return;
  select.dataset.codes = codes.join();
  let names;
  try {
    names = new Intl.DisplayNames([locale(), "en"], { type: "region" });
  } catch {
    names = { of: (code) => code };
  }
  const options = codes.map((code) => new Option(names.of(code) || code, code));
  options.sort((a, b) => a.text.localeCompare(b.text));
  const guess = (navigator.language.split("-")[1] || "").toUpperCase();
  select.replaceChildren(new Option(gettext("Choose your country"), ""), ...options);
  select.value = codes.includes(guess) ? guess : codes.length === 1 ? codes[0] : "";
}

function showFieldErrors(fields = {}) {
  for (const el of detailsForm.querySelectorAll("[data-error]")) {
    const message = fields[el.dataset.error] || "";
    el.textContent = message;
    const input = detailsForm.elements[el.dataset.error];
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  const first = detailsForm.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

/** Start (or start again) paying for the cart with the details: the server reserves the stock. */
async function startCheckout(details) {
  const answer = await api.call(config.checkoutUrl, details);
  if (answer.ok) {
    state.order = answer.data;
    return answer;
  }
  if (answer.status === 409) await loadCart(); // sold out meanwhile: the cart shows what is left
  return answer;
}

async function onDetails(event) {
  event.preventDefault();
  if (state.busy) return;
  const details = Object.fromEntries(new FormData(detailsForm));
  busy(field("details-submit"), gettext("Checking…"));
  const answer = await startCheckout(details);
  busy(field("details-submit"));
  const fields = answer.data.fields || {};
  showFieldErrors(fields);
  // Field by field when the details were refused (the first is focused); else the reason (sold out).
  if (!answer.ok) return error("details-error", Object.keys(fields).length ? "" : answer.data.error);
  error("details-error", "");
  state.details = details;
  toPay();
}

function busy(button, label) {
  state.busy = Boolean(label);
  button.disabled = Boolean(label);
  if (label) {
    button.dataset.label = button.textContent;
    button.textContent = label;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
}

// Payment ---------------------------------------------------------------------------------

function toPay() {
  const order = state.order;
  renderSummary(field("pay-summary"), order.lines.map(orderLine), order.total, order.currency);
  const stripe = order.payment.backend === "stripe";
  field("pay-test").hidden = stripe;
  field("pay-stripe").hidden = !stripe;
  field("pay-action").hidden = true;
  error("pay-error", "");
  field("pay-submit").textContent = interpolate(gettext("Pay %(total)s"), { total: money(order.total, order.currency) });
  open("pay");
  if (stripe) {
    payWithStripe.mount(field("stripe-element"), config.payment.publishableKey, order.payment.clientSecret)
      .catch((problem) => error("pay-error", problem.message));
  }
}

function orderLine(line) {
  return { name: line.name, variant: "", quantity: line.quantity, subtotal: line.subtotal };
}

async function onPay(event, authenticated = false) {
  event?.preventDefault();
  if (state.busy) return;
  const submit = field("pay-submit");
  busy(submit, gettext("Paying…"));
  try {
    if (state.order.status !== "pending") {
      // The last attempt failed (its stock went back on sale): a new checkout reserves again.
      const again = await startCheckout(state.details);
      if (!again.ok) return error("pay-error", again.data.error);
    }
    const order = state.order;
    const result = order.payment.backend === "stripe"
      ? await payWithStripe.confirm(orderUrl(config.orderUrl, order.token), absolute(orderUrl(config.orderPageUrl, order.token)))
      : await payWithTestCard(order, authenticated);
    onPayment(result);
  } finally {
    busy(submit);
  }
}

async function payWithTestCard(order, authenticated) {
  const body = {
    client_secret: order.payment.clientSecret,
    card_number: payForm.elements.card_number.value,
    authenticated,
  };
  const answer = await api.call(orderUrl(config.testPaymentUrl, order.token), body);
  if (!answer.ok) return { error: answer.data.error };
  return { order: answer.data, requiresAction: answer.data.payment?.status === "requires_action" };
}

function onPayment({ order, error: problem, requiresAction }) {
  if (problem) return error("pay-error", problem);
  // The answer's "payment" is the attempt's status: the order's payment (its client secret) stays.
  state.order = { ...state.order, ...order, payment: state.order.payment };
  field("pay-action").hidden = !requiresAction;
  if (requiresAction) return error("pay-error", "");
  if (order.status === "paid") return done(order);
  if (order.status === "failed") {
    return error("pay-error", `${order.reason || gettext("The payment failed.")} ${gettext("Nothing was charged. Try another card.")}`);
  }
  return error("pay-error", gettext("Your payment is being processed: we will e-mail you when it is confirmed."));
}

function absolute(path) {
  return new URL(path, window.location.href).href;
}

function done(order) {
  const name = state.details?.full_name?.split(" ")[0];
  field("done-title").textContent = name ? interpolate(gettext("Thank you, %(name)s!"), { name }) : gettext("Thank you!");
  field("done-text").textContent = interpolate(gettext("Your order is paid. A confirmation is on its way to %(email)s."), { email: order.email });
  renderSummary(field("done-summary"), order.lines.map(orderLine), order.total, order.currency);
  field("order-link").href = orderUrl(config.orderPageUrl, order.token);
  payForm.reset();
  open("done");
  document.dispatchEvent(new CustomEvent("liveshop:order-paid", { detail: { order } })); // the embed bridge
  loadCart(); // the paid lines left the cart
}

// Toast -----------------------------------------------------------------------------------

let toastTimer = 0;
function toast(message, { error: isError = false, action = "" } = {}) {
  clearTimeout(toastTimer);
  toastEl.replaceChildren(span("toast-text", message));
  toastEl.dataset.kind = isError ? "error" : "ok";
  if (action) {
    const button = document.createElement("button");
    Object.assign(button, { type: "button", className: "toast-action", textContent: action });
    button.addEventListener("click", () => {
      toastEl.hidden = true;
      open("cart");
    });
    toastEl.append(button);
  }
  toastEl.hidden = false;
  toastTimer = setTimeout(() => { toastEl.hidden = true; }, isError ? 6000 : 4000);
}

// Wiring ----------------------------------------------------------------------------------

document.addEventListener("click", (event) => {
  const button = event.target.closest('[data-action="add-to-cart"]');
  if (button && !button.disabled) onAddClick(button);
});
cartButton.addEventListener("click", () => open("cart"));
panel.addEventListener("click", (event) => {
  if (event.target === panel) return close(); // the backdrop
  const target = event.target.closest("button");
  if (!target) return;
  const action = target.dataset.action;
  if (action === "close") close();
  else if (action === "back") show(BACK[panel.dataset.step] || "cart");
  else if (action === "to-checkout") toCheckout();
  else if (action === "authenticate") onPay(null, true);
  else if (target.dataset.card) payForm.elements.card_number.value = target.dataset.card.replace(/(\d{4})(?=\d)/g, "$1 ");
  else if (target.dataset.quantity !== undefined && target.closest(".cart-line")) {
    setQuantity(target.closest(".cart-line").dataset.variantId, Number(target.dataset.quantity));
  } else if (target.dataset.variantId && state.picking) {
    const card = state.picking;
    add(card, target.dataset.variantId).then((added) => added && close());
  }
});
panel.addEventListener("close", () => {
  if (panel.dataset.step === "done") close();
});
detailsForm.addEventListener("submit", onDetails);
payForm.addEventListener("submit", (event) => onPay(event));
Frames.on("stock", (frame) => (frame.products || []).forEach(Card.updateStock));
// A deal started, replaced or ended early: the cart's lines of that product change price.
Frames.on("deal", (frame) => {
  if ((state.cart?.lines || []).some((line) => line.productId === Number(frame.productId))) loadCart();
});

// The cards the page came with (later ones arrive through Card.fill).
for (const card of [
  ...(config.products || []),
  ...(pageConfig.lineup || []),
  ...(pageConfig.products || []),
  ...(pageConfig.currentHighlight?.product ? [pageConfig.currentHighlight.product] : []),
]) {
  Card.remember(card);
}
for (const el of document.querySelectorAll(".product-card[data-product-id], .lineup-item[data-product-id]")) {
  const card = Card.known(el.dataset.productId);
  if (card) Card.fillStock(el, card);
}
const firstCart = loadCart();
