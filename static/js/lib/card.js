/* Liveshop product card, shared by the live page (viewer.js) and the replay and video page
 * (replay.js): price formatting, filling a card or lineup item from a product card's JSON, and
 * showing or hiding #product-card (with #slot-empty and the featured lineup item).
 *
 * A product card is the JSON the pages embed: {id, name, price, currency, image, buyUrl, inStock,
 * left, variants, deal, description}. `qrUrl` is the page's QR code URL pattern, with {id} for the
 * product id. `left` is the units left when at or under the brand's low-stock threshold (else
 * null); `variants` [{id, label, price, inStock, left}] are what a buyer picks from.
 *
 * show() dispatches "liveshop:card" (bubbling, detail: the card or null) each time the featured card
 * changes, so features that follow it (related products, analytics) need no hook in the pages.
 *
 * Every card filled or remembered here is kept by id (known()), so the shop (viewer/shop.js) has
 * the variants of whatever the card or the lineup shows, and stock pushes can update it
 * (updateStock()), whichever page filled it.
 */
import { gettext, interpolate, locale } from "./i18n.js";

const formatters = new Map();
const cards = new Map(); // product id -> the newest card seen

/** Keep `card` as the newest known state of its product (its stock kept when it has none). */
export function remember(card) {
  if (!card || card.id == null) return null;
  const merged = { ...(cards.get(card.id) || {}), ...card };
  cards.set(card.id, merged);
  return merged;
}

/** The newest card of `productId`, or undefined. */
export function known(productId) {
  return cards.get(Number(productId));
}

/** Apply a stock push ({id, inStock, left, variants: [{id, inStock, left}]}) to the known card
 * and to every card and lineup item showing it. */
export function updateStock(update) {
  const card = cards.get(update.id);
  if (!card) return;
  const variants = new Map((update.variants || []).map((variant) => [variant.id, variant]));
  card.inStock = update.inStock;
  card.left = update.left ?? null;
  if (card.variants) card.variants = card.variants.map((variant) => ({ ...variant, ...(variants.get(variant.id) || {}) }));
  for (const el of document.querySelectorAll(`[data-product-id="${card.id}"]`)) fillStock(el, card);
}

/** "Sold out" / "Only N left", the Add to cart button and the option picker of `el`. */
export function fillStock(el, card) {
  const field = (name) => el.querySelector(`[data-field="${name}"]`);
  const soldOut = card.inStock === false;
  const stock = field("stock");
  if (stock) {
    stock.hidden = !soldOut && !card.left;
    stock.dataset.state = soldOut ? "sold-out" : "low";
    stock.textContent = soldOut ? gettext("Sold out") : card.left ? interpolate(gettext("Only %(count)s left"), { count: card.left }) : "";
  }
  const add = el.querySelector('[data-action="add-to-cart"]');
  if (add) {
    add.disabled = soldOut;
    const addLabel = soldOut ? gettext("Sold out: %(name)s") : gettext("Add to cart: %(name)s");
    add.setAttribute("aria-label", interpolate(addLabel, { name: card.name }));
    const label = add.querySelector('[data-field="add-label"]');
    if (label) label.textContent = soldOut ? gettext("Sold out") : gettext("Add to cart");
  }
  const picker = field("variant");
  if (picker) fillPicker(picker, card);
}

function fillPicker(select, card) {
  const variants = card.variants || [];
  select.closest('[data-field="variant-field"]').hidden = variants.length < 2;
  if (variants.length < 2) return select.replaceChildren();
  const chosen = select.value;
  select.replaceChildren(
    ...variants.map((variant) => {
      const sold = variant.inStock === false;
      const hint = sold ? gettext("sold out") : variant.left ? interpolate(gettext("%(count)s left"), { count: variant.left }) : "";
      const parts = [variant.label || gettext("Standard"), formatPrice(variant.price, card.currency), hint];
      const option = new Option(parts.filter(Boolean).join(" · "), variant.id);
      option.disabled = sold;
      return option;
    }),
  );
  const first = variants.find((variant) => variant.inStock !== false);
  select.value = variants.some((variant) => String(variant.id) === chosen && variant.inStock !== false)
    ? chosen : String(first ? first.id : variants[0].id);
}

/** A price in the viewer's locale (the page's language, in the browser's variant of it:
 * "€12.50", "12,50 €") in the product's own currency, or "12.50 XYZ" for a currency Intl refuses. */
export function formatPrice(price, currency) {
  try {
    if (!formatters.has(currency)) {
      formatters.set(currency, new Intl.NumberFormat(locale(), { style: "currency", currency }));
    }
    return formatters.get(currency).format(Number(price));
  } catch {
    return `${price} ${currency}`;
  }
}

/** Whether `url` may be a link: an absolute http(s) URL (never javascript:, data: and the like). */
export function isWebUrl(url) {
  if (typeof url !== "string" || /[\u0000-\u0020\u007f]/.test(url)) return false;
  try {
    const parsed = new URL(url);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && Boolean(parsed.host);
  } catch {
    return false;
  }
}

/** Reformat the server-rendered prices (the elements with data-price and data-currency). */
export function localisePrices(root = document) {
  for (const el of root.querySelectorAll("[data-price][data-currency]")) {
    if (el.dataset.price && el.dataset.currency) {
      el.textContent = formatPrice(el.dataset.price, el.dataset.currency);
    }
  }
}

/** Fill the [data-field] elements of `el` (the card, or a lineup item: fields it lacks are
 * skipped) from `card`. */
export function fill(el, card, { qrUrl } = {}) {
  card = remember(card);
  const field = (name) => el.querySelector(`[data-field="${name}"]`);
  const name = field("name");
  if (name) name.textContent = card.name;
  const price = field("price");
  if (price) {
    price.dataset.price = card.price;
    price.dataset.currency = card.currency;
    price.textContent = formatPrice(card.price, card.currency);
  }
  const image = field("image");
  if (image) {
    if (card.image) image.src = card.image;
    else image.removeAttribute("src");
    image.hidden = !card.image;
  }
  // Only an http(s) link is ever rendered (the server sends nothing else; this holds even if it did).
  const buyUrl = isWebUrl(card.buyUrl) ? card.buyUrl : "";
  const buy = field("buy");
  if (buy) {
    const link = linkOrPlaceholder(buy, buyUrl);
    // The card's Buy button hides without a link; a lineup item's link wraps the whole item.
    if (link.classList.contains("buy")) link.hidden = !buyUrl;
  }
  fillStock(el, card);
  const description = field("description");
  if (description) description.textContent = card.description || "";
  const qr = field("qr");
  if (qr) {
    qr.hidden = !buyUrl;
    const img = qr.querySelector("img");
    if (buyUrl) img.src = qrUrl.replace("{id}", card.id);
    else img.removeAttribute("src");
  }
}

/** `el` as a link to `url` (a new tab), or without a URL as a <span>: an <a> without href is no
 * link (crawlers count it as a dead one: Lighthouse's crawlable-anchors). The templates render the
 * same (events/watch/lineup_item.html, product_card.html). Returns the element now in place. */
function linkOrPlaceholder(el, url) {
  const tag = url ? "A" : "SPAN";
  if (el.tagName !== tag) {
    const other = document.createElement(tag.toLowerCase());
    for (const { name, value } of el.attributes) {
      if (!["href", "target", "rel"].includes(name)) other.setAttribute(name, value);
    }
    other.append(...el.childNodes);
    el.replaceWith(other);
    el = other;
  }
  if (url) {
    el.href = url;
    el.target = "_blank";
    el.rel = "noopener";
  }
  return el;
}

/** Mark the lineup item of `productId` (null: none) as the one on screen. */
export function markFeatured(productId) {
  for (const item of document.querySelectorAll("#lineup .lineup-item")) {
    item.classList.toggle("is-featured", productId != null && item.dataset.productId === String(productId));
  }
}

/** Show `card` in `cardEl` (#product-card), restarting its entrance animation, or hide it when
 * `card` is null; #slot-empty shows instead. The caller sets its own data-* id beforehand. */
export function show(cardEl, card, { qrUrl } = {}) {
  cardEl.dataset.productId = card ? String(card.id) : "";
  document.getElementById("slot-empty").hidden = Boolean(card);
  if (card) {
    fill(cardEl, card, { qrUrl });
    cardEl.hidden = false;
    cardEl.classList.remove("is-new");
    void cardEl.offsetWidth; // restart the entrance animation
    cardEl.classList.add("is-new");
  } else {
    cardEl.hidden = true;
  }
  markFeatured(card ? card.id : null);
  // For the features that follow the card (related products, analytics): detail is the card or null.
  cardEl.dispatchEvent(new CustomEvent("liveshop:card", { detail: card || null, bubbles: true }));
}
