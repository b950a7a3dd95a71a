/* The host console's stock per lineup product and variant (templates/events/console/_stock.html):
 * the studio socket's stock_levels frames and the stock in its studio_snapshot keep it current.
 * A frame: {products: [{id, stock, inStock, left, variants: [{id, stock, inStock, left}]}]}. */

import { gettext, interpolate } from "../lib/i18n.js";

/** The chip's text and state, as the template renders them. */
export function stockText(variant) {
  if (variant.stock <= 0) return { text: gettext("Sold out"), state: "sold-out" };
  if (variant.left != null) return { text: interpolate(gettext("%(count)s left"), { count: variant.stock }), state: "low" };
  return { text: interpolate(gettext("%(count)s in stock"), { count: variant.stock }), state: "" };
}

/** Apply each product's levels to the chips on the page (products not in the lineup are skipped). */
export function applyStockLevels(products) {
  for (const product of products || []) {
    const line = document.querySelector(`.product-stock[data-stock-of="${product.id}"]`);
    if (!line) continue;
    for (const variant of product.variants || []) {
      const chip = line.querySelector(`[data-variant-id="${variant.id}"]`);
      if (!chip) continue;
      const { text, state } = stockText(variant);
      chip.textContent = chip.dataset.label ? `${chip.dataset.label}: ${text}` : text;
      chip.classList.toggle("is-sold-out", state === "sold-out");
      chip.classList.toggle("is-low", state === "low");
    }
  }
}
