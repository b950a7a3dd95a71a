/* The embed pages' side of the postMessage protocol (docs/embed.md), loaded only by the embed
 * templates (templates/embed/: an event's page, its replay, an uploaded video, a brand's show
 * list) beside the
 * page's own scripts, which it watches
 * rather than changes: the card (#product-card), the lineup, the <video>, and the shop's
 * "liveshop:cart-added" / "liveshop:order-paid" DOM events (viewer/shop.js).
 *
 * The parent's origin is the one the loader names (#parent=<origin>), or else the one the browser
 * reports (location.ancestorOrigins, document.referrer); it must be on the brand's allow-list
 * (#embed-config, the same list the frame-ancestors header carries) and agree with what the
 * browser reports. Messages go to that origin only, and commands are taken only from the parent
 * window at that origin: anything else is counted and ignored.
 *
 * The button it adds is worded in the page's language (lib/i18n.js); the protocol's error
 * reasons, read by the shop's developers, stay English.
 */
import * as Card from "../lib/card.js";
import { gettext } from "../lib/i18n.js";

const config = JSON.parse(document.getElementById("embed-config").textContent);
const NAMESPACE = "embed";
const PHONE = window.matchMedia("(max-width: 699px)");
const video = document.getElementById("video");
const cardEl = document.getElementById("product-card");
const framed = window.parent !== window;

/** Whether `origin` is `allowed`: the same origin, or a subdomain of a "https://*.example.com". */
export function matches(allowed, origin) {
  if (!allowed.includes("://*.")) return allowed === origin;
  const [scheme, suffix] = allowed.split("://*");
  return origin.startsWith(`${scheme}://`) && origin.endsWith(suffix) && origin.length > scheme.length + 3 + suffix.length;
}

function reportedParentOrigin() {
  if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) return window.location.ancestorOrigins[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : "";
  } catch {
    return "";
  }
}

function namedParentOrigin() {
  const named = new URLSearchParams(window.location.hash.slice(1)).get("parent");
  return named || reportedParentOrigin();
}

const reported = reportedParentOrigin();
const parentOrigin = framed ? namedParentOrigin() : "";
const trusted = Boolean(
  parentOrigin &&
    (!reported || reported === parentOrigin) &&
    config.allowedOrigins.some((allowed) => matches(allowed, parentOrigin)),
);

// The test and debugging hook.
const debug = (window.liveshopEmbed = { parentOrigin, trusted, commands: [], ignored: 0, sent: [] });

function send(type, data = {}) {
  if (!trusted) return;
  const message = { liveshop: NAMESPACE, v: config.v, type, ...data };
  window.parent.postMessage(message, parentOrigin); // delivered only if the parent is still there
  if (type !== "resize") debug.sent.push(type);
}

/** What the host page learns of a product: public card fields, never our internal state. */
function summary(card) {
  if (!card) return null;
  return {
    id: card.id,
    sku: card.sku,
    externalId: card.externalId || "",
    name: card.name,
    price: card.price,
    currency: card.currency,
    image: card.image ? new URL(card.image, window.location.href).href : "",
    url: card.buyUrl || "",
    inStock: card.inStock !== false,
    variants: (card.variants || []).map((variant) => ({ id: variant.id, sku: variant.sku, label: variant.label, price: variant.price, inStock: variant.inStock !== false })),
  };
}

function productOf(el) {
  const holder = el && el.closest("[data-product-id]");
  return holder && holder.dataset.productId ? Card.known(holder.dataset.productId) : null;
}

// Events to the host page ------------------------------------------------------------------

let shownId = null;
function onCardChange() {
  if (!cardEl) return; // a brand's show list: no card
  const id = cardEl.hidden ? null : cardEl.dataset.productId || null;
  if (id === shownId) return;
  shownId = id;
  if (id) send("product.shown", { product: summary(Card.known(id)) });
}

function onClick(event) {
  const link = event.target.closest("a[href]");
  const product = productOf(event.target);
  if (product && !event.target.closest('[data-action="add-to-cart"]') && event.target.closest(".lineup-link, .card-thumb, .card-name, [data-field='buy']")) {
    send("product.clicked", { product: summary(product), from: event.target.closest(".lineup-item") ? "lineup" : "card" });
  }
  if (link) keepInFrame(link);
}

const SHOW_PAGE = /^\/e\/[\w-]+\/[\w-]+\/(replay\/(\d+\/)?)?$/; // a show's page or its replay's
const VIDEO_PAGE = /^\/v\/[\w-]+\/[\w-]+\/$/; // an uploaded video's page (/embed/v/... frames it)

/** A link to another show, a replay or a video plays it here; any other page opens in a new tab
 * (Liveshop's own pages refuse to be framed). */
function keepInFrame(link) {
  const url = new URL(link.href, window.location.href);
  if (url.origin === window.location.origin && (SHOW_PAGE.test(url.pathname) || VIDEO_PAGE.test(url.pathname))) {
    link.href = `/embed${url.pathname}${window.location.hash}`;
    link.removeAttribute("target");
  } else if (!link.target) {
    link.target = "_blank";
    link.rel = "noopener";
  }
}

/** "My own cart": Add to cart hands the SKU to the shop's page instead of Liveshop's cart. */
function onOwnCartAdd(event) {
  const button = event.target.closest('[data-action="add-to-cart"]');
  if (!button || button.disabled) return;
  event.preventDefault();
  event.stopImmediatePropagation(); // viewer/shop.js never sees it
  const card = productOf(button);
  if (!card) return;
  const variants = card.variants || [];
  const picker = button.closest("[data-product-id]").querySelector('[data-field="variant"]');
  const variant = variants.find((v) => String(v.id) === picker?.value) || variants.find((v) => v.inStock !== false) || variants[0];
  send("cart.add", { ownCart: true, product: summary(card), sku: variant?.sku || card.sku, variantId: variant?.id ?? null, quantity: 1 });
}

function onLiveshopCartAdded(event) {
  const { product, variantId, quantity } = event.detail;
  const card = summary(Card.known(product.id) || product);
  const variant = card.variants.find((v) => v.id === Number(variantId)) || card.variants[0];
  send("cart.add", { ownCart: false, product: card, sku: variant?.sku || card.sku, variantId: variant?.id ?? null, quantity });
}

function onOrderPaid(event) {
  const { order } = event.detail;
  send("checkout.done", {
    order: {
      status: order.status,
      currency: order.currency,
      total: order.total,
      lines: order.lines.map((line) => ({ sku: line.sku, name: line.name, quantity: line.quantity, unitPrice: line.unitPrice })),
    },
  });
}

let lastHeight = 0;
function reportHeight() {
  const height = Math.ceil(document.body.getBoundingClientRect().height); // content, not the frame
  if (Math.abs(height - lastHeight) < 2) return;
  lastHeight = height;
  send("resize", { height, layout: document.documentElement.dataset.embedLayout || "inline" });
}

// Commands from the host page --------------------------------------------------------------

const COMMANDS = {
  play: () => video?.play().catch(() => send("error", { reason: "The browser refused to start the video: the shopper must tap it." })),
  pause: () => video?.pause(),
  openProduct: (message) => openProduct(message),
  layout: (message) => setLayout(message.layout),
};

function onMessage(event) {
  const data = event.data;
  if (event.source !== window.parent || event.origin !== parentOrigin || !trusted) {
    if (data && data.liveshop === NAMESPACE) debug.ignored += 1;
    return;
  }
  if (!data || data.liveshop !== NAMESPACE || data.v !== config.v || data.type !== "command") return;
  const handler = Object.hasOwn(COMMANDS, data.command) ? COMMANDS[data.command] : null;
  if (!handler) return send("error", { reason: `Unknown command: ${String(data.command).slice(0, 40)}` });
  debug.commands.push(data.command);
  handler(data);
}

function openProduct({ productId, sku }) {
  const items = [...document.querySelectorAll("#lineup .lineup-item[data-product-id], #product-card[data-product-id]")];
  const item = items.find((el) => {
    const card = Card.known(el.dataset.productId);
    return card && (card.id === Number(productId) || (sku && (card.sku === sku || (card.variants || []).some((v) => v.sku === sku))));
  });
  if (!item) return send("error", { reason: `No such product in this ${config.video ? "video" : "show"}.` });
  for (const el of document.querySelectorAll(".is-opened")) el.classList.remove("is-opened");
  item.classList.add("is-opened");
  // No scrollIntoView: the frame is as tall as its content, so it would scroll the shop's page,
  // which is the shop's to do (product.opened tells it).
  (item.querySelector("a[href], button:not([disabled])") || item).focus({ preventScroll: true });
  send("product.opened", { product: summary(Card.known(item.dataset.productId)) });
}

function setLayout(layout) {
  if (!["inline", "mini", "full"].includes(layout)) return;
  document.documentElement.dataset.embedLayout = layout;
  expandButton.setAttribute("aria-pressed", String(layout === "full"));
  expandButton.setAttribute("aria-label", layout === "full" ? gettext("Leave full screen") : gettext("Full screen"));
  lastHeight = 0;
  reportHeight();
}

// Full screen: the loader gives the frame the whole screen (a phone's, on the first tap too) --

const expandButton = document.createElement("button");
expandButton.type = "button";
expandButton.className = "player-button embed-expand";
expandButton.setAttribute("aria-label", gettext("Full screen"));
expandButton.setAttribute("aria-pressed", "false");
expandButton.innerHTML = '<svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
expandButton.addEventListener("click", (event) => {
  event.stopPropagation();
  send("ui.expand");
});

let tappedOnPhone = false;
function onPlayerTap() {
  if (!PHONE.matches || tappedOnPhone || document.documentElement.dataset.embedLayout === "full") return;
  tappedOnPhone = true;
  send("ui.expand");
}

// Start ------------------------------------------------------------------------------------

if (framed && !trusted) {
  console.warn(`Liveshop embed: ${parentOrigin || "this page"} is not on the brand's embed list; the player talks to no one.`);
}
document.documentElement.dataset.embedLayout = "inline";
const playerBox = document.getElementById("player"); // none on a brand's show list
playerBox?.append(expandButton);
playerBox?.addEventListener("pointerup", onPlayerTap);
if (cardEl) new MutationObserver(onCardChange).observe(cardEl, { attributes: true, attributeFilter: ["hidden", "data-product-id"] });
document.addEventListener("click", onClick, true);
if (config.ownCart) window.addEventListener("click", onOwnCartAdd, true);
document.addEventListener("liveshop:cart-added", onLiveshopCartAdded);
document.addEventListener("liveshop:order-paid", onOrderPaid);
window.addEventListener("message", onMessage);
for (const type of video ? ["playing", "pause", "ended"] : []) {
  video.addEventListener(type, () => send("player.state", { state: type === "playing" ? "playing" : "paused" }));
}
new ResizeObserver(reportHeight).observe(document.body);
// After the page's own modules ran (they fill the cards this reads): module scripts all run
// before DOMContentLoaded.
/** An ended show whose replay is ready plays the replay here (the ended screen links it, from
 * the server or, once it is ready, from the socket: viewer/replay_ready.js). */
function followReplay() {
  const replay = document.querySelector('#watch[data-status="ended"] .replay-link[href]');
  if (!replay || !SHOW_PAGE.test(new URL(replay.href).pathname)) return false;
  send("navigating"); // the loader waits for the replay's "ready" instead of taking us for refused
  window.location.replace(`/embed${new URL(replay.href).pathname}${window.location.hash}`);
  return true;
}

document.addEventListener("DOMContentLoaded", () => {
  if (followReplay()) return;
  const replayLink = document.getElementById("replay-link");
  if (replayLink) new MutationObserver(followReplay).observe(replayLink, { attributes: true, attributeFilter: ["href"] });
  send("ready", {
    event: config.event,
    eventId: config.eventId,
    video: config.video,
    videoId: config.videoId,
    title: config.title,
    brand: config.brand,
    ownCart: config.ownCart,
  });
  onCardChange();
  reportHeight();
});
