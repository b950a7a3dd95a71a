/* Liveshop product card, shared by the live page (viewer.js) and the replay and video page
 * (replay.js): price formatting, filling a card or lineup item from a product card's JSON, and
 * showing or hiding #product-card (with #slot-empty and the featured lineup item).
 *
 * A product card is the JSON the pages embed: {id, name, price, currency, image, buyUrl, inStock,
 * description}. `qrUrl` is the page's QR code URL pattern, with {id} for the product id.
 */
const formatters = new Map();

/** A price in the viewer's locale ("€12.50"), or "12.50 XYZ" for a currency Intl refuses. */
export function formatPrice(price, currency) {
  try {
    if (!formatters.has(currency)) {
      formatters.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
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
    if (buyUrl) buy.href = buyUrl;
    else buy.removeAttribute("href");
    // The card's Buy button hides without a link; a lineup item's link wraps the whole item.
    if (buy.classList.contains("buy")) buy.hidden = !buyUrl;
  }
  const stock = field("stock");
  if (stock) stock.hidden = card.inStock !== false;
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
}
