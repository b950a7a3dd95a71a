/* "Goes well with …": when the featured card changes (lib/card.js's liveshop:card event), fetch the
 * products related to it for this viewer (recommendations.views.related_view) and show them as
 * lineup items, so Add to cart works on them (viewer/shop.js). Answers for a card no longer shown
 * are dropped; each product's answer is kept for a while (the card comes back in a show).
 *
 * Every viewer's per-card request is the shared one. A signed-in viewer's page fetches what they
 * bought once (again after they pay) and leaves it out of the shared answer's cards (with its
 * spares: `shared=1`, sent without cookies); only when that leaves too few does it ask for its
 * own row. With a backend whose related products differ per viewer (Personalize: `perViewer`),
 * the page asks for its own row each time. */
import * as Card from "../lib/card.js";
import { gettext, interpolate } from "../lib/i18n.js";

const configEl = document.getElementById("related-config");
const section = document.getElementById("related");
const KEEP_MS = 60_000;
// Every viewer's card changes at the same moment: spread their fetches over this long.
const SPREAD_MS = 1500;

if (configEl && section) {
  const config = JSON.parse(configEl.textContent);
  const list = document.getElementById("related-list");
  const template = document.getElementById("related-item-template");
  const answers = new Map(); // product id -> {at, cards}
  let current = null;

  const render = (card, cards) => {
    if (current !== card.id) return;
    section.querySelector('[data-field="for"]').textContent = card.name;
    list.replaceChildren(
      ...cards.map((related) => {
        const item = template.content.firstElementChild.cloneNode(true);
        item.dataset.productId = String(related.id);
        Card.fill(item, related);
        return item;
      }),
    );
    section.hidden = cards.length === 0;
  };

  // What a signed-in viewer bought (product ids), asked once per page and after each payment.
  let bought = null;
  const boughtIds = () => {
    bought ??= fetchJSON(new URL(config.boughtUrl, location.origin), "same-origin")
      .then(({ productIds }) => new Set(productIds))
      .catch((error) => {
        bought = null; // asked again with the next card
        throw error;
      });
    return bought;
  };
  document.addEventListener("liveshop:order-paid", () => {
    bought = null;
    answers.clear();
  });
  const filterShared = config.signedIn && !config.perViewer;

  const ask = async (card) => {
    const url = new URL(config.url.replace("{id}", card.id), location.origin);
    url.searchParams.set("medium", config.medium);
    if (config.campaign) url.searchParams.set("campaign", config.campaign);
    if (!filterShared) return (await fetchJSON(url, "same-origin")).products;
    const shared = new URL(url);
    shared.searchParams.set("shared", "1");
    const [answer, mine] = await Promise.all([fetchJSON(shared, "omit"), boughtIds()]);
    const left = answer.products.filter((related) => !mine.has(related.id));
    if (left.length >= answer.size || !answer.more) return left.slice(0, answer.size);
    return (await fetchJSON(url, "same-origin")).products; // bought most of them: the server looks further
  };

  const load = async (card) => {
    const kept = answers.get(card.id);
    if (kept && Date.now() - kept.at < KEEP_MS) return render(card, kept.cards);
    try {
      const products = await ask(card);
      answers.set(card.id, { at: Date.now(), cards: products });
      render(card, products);
    } catch (error) {
      console.warn(error); // the row is a suggestion: the show goes on without it
      if (current === card.id) section.hidden = true;
    }
  };

  loadOffer(config, template);

  document.addEventListener("liveshop:card", (event) => {
    const card = event.detail;
    current = card ? card.id : null;
    if (card) setTimeout(() => current === card.id && load(card), Math.random() * SPREAD_MS);
    // Between products the row stays (the viewer may still be browsing it).
  });
}

async function fetchJSON(url, credentials) {
  const response = await fetch(url, { credentials, headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response.json();
}

/** The viewer's personal offer (recommendations.offer_views): one lineup product at "your price",
 * with its end; hidden when it ends. The price shown is the server's: checkout charges the offer
 * only to this viewer, while it runs (recommendations.offers.apply_offers). */
async function loadOffer(config, template) {
  const section = document.getElementById("offer");
  if (!section || !config.offerUrl || !config.campaign) return;
  const url = new URL(config.offerUrl, location.origin);
  url.searchParams.set("medium", config.medium);
  url.searchParams.set("campaign", config.campaign);
  try {
    const { offer } = await fetchJSON(url, "same-origin");
    const left = offer ? Date.parse(offer.offer.expiresAt) - Date.now() : 0;
    if (left <= 0) return;
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.productId = String(offer.id);
    Card.fill(item, offer);
    const price = item.querySelector('[data-field="price"]');
    const regular = document.createElement("s");
    regular.textContent = Card.formatPrice(offer.offer.regularPrice, offer.currency);
    delete price.dataset.price; // not the card's price: localisePrices must leave it alone
    const yours = interpolate(gettext("Your price %(price)s"), { price: Card.formatPrice(offer.offer.price, offer.currency) });
    price.replaceChildren(`${yours} `, regular);
    const ends = new Date(offer.offer.expiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    section.querySelector('[data-field="terms"]').textContent =
      `${offer.offer.percentOff}% off ${offer.name}, for you only, until ${ends}.`;
    document.getElementById("offer-list").replaceChildren(item);
    section.hidden = false;
    setTimeout(() => { section.hidden = true; }, Math.min(left, 2 ** 31 - 1));
  } catch (error) {
    console.warn(error); // an offer is a bonus: the show goes on without it
  }
}
