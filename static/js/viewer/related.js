/* "Goes well with …": when the featured card changes (lib/card.js's liveshop:card event), fetch the
 * products related to it for this viewer (recommendations.views.related_view) and show them as
 * lineup items, so Add to cart works on them (viewer/shop.js). Answers for a card no longer shown
 * are dropped; each product's answer is kept for a while (the card comes back in a show). */
import * as Card from "../lib/card.js";

const configEl = document.getElementById("related-config");
const section = document.getElementById("related");
const KEEP_MS = 60_000;

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

  const load = async (card) => {
    const kept = answers.get(card.id);
    if (kept && Date.now() - kept.at < KEEP_MS) return render(card, kept.cards);
    const url = new URL(config.url.replace("{id}", card.id), location.origin);
    url.searchParams.set("medium", config.medium);
    if (config.campaign) url.searchParams.set("campaign", config.campaign);
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`related products: HTTP ${response.status}`);
      const { products } = await response.json();
      answers.set(card.id, { at: Date.now(), cards: products });
      render(card, products);
    } catch (error) {
      console.warn(error); // the row is a suggestion: the show goes on without it
      if (current === card.id) section.hidden = true;
    }
  };

  document.addEventListener("liveshop:card", (event) => {
    const card = event.detail;
    current = card ? card.id : null;
    if (card) load(card);
    // Between products the row stays (the viewer may still be browsing it).
  });
}
