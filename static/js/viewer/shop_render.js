/* The shop panel's pieces (pure DOM builders: data in, elements out): cart lines, order
 * summaries, option buttons. Money arrives as the server's decimal strings and is only formatted
 * here, in the viewer's locale (Intl, lib/card.js formatPrice). */
import { formatPrice } from "../lib/card.js";
import { gettext, interpolate, locale } from "../lib/i18n.js";

export function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

export function money(value, currency) {
  return formatPrice(value, currency);
}

export function cartLine(line, currency) {
  const item = document.createElement("li");
  item.className = "cart-line";
  item.dataset.variantId = String(line.variantId);
  const thumb = document.createElement("span");
  thumb.className = "cart-thumb";
  if (line.image) {
    const img = document.createElement("img");
    Object.assign(img, { src: line.image, alt: "", width: 64, height: 64, loading: "lazy" });
    thumb.append(img);
  }
  const info = document.createElement("div");
  info.className = "cart-info";
  info.append(span("cart-name", line.name));
  if (line.variant) info.append(span("cart-variant", line.variant));
  const unit = span("cart-unit", interpolate(gettext("%(price)s each"), { price: money(line.unitPrice, currency) }));
  if (line.deal) {
    // A flash deal's price, until it ends (the server charges the price it holds at checkout).
    const regular = document.createElement("s");
    regular.textContent = money(line.deal.regularPrice, currency);
    const ends = new Date(line.deal.endsAt).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
    unit.append(" ", regular, span("cart-deal", ` · ${interpolate(gettext("show price until %(time)s"), { time: ends })}`));
  }
  info.append(unit);
  if (line.note) info.append(span("cart-note", line.note)); // a personal offer's price, or why not
  const qty = document.createElement("div");
  qty.className = "qty";
  qty.append(
    qtyButton("−", line.quantity - 1, interpolate(gettext("One %(name)s less"), { name: line.name })),
    span("qty-value", String(line.quantity)),
    qtyButton("+", line.quantity + 1, interpolate(gettext("One %(name)s more"), { name: line.name }), line.quantity >= 99),
  );
  const remove = document.createElement("button");
  Object.assign(remove, { type: "button", className: "link cart-remove", textContent: gettext("Remove") });
  remove.dataset.quantity = "0";
  remove.setAttribute("aria-label", interpolate(gettext("Remove %(name)s from the cart"), { name: line.name }));
  info.append(qty);
  const end = document.createElement("div");
  end.className = "cart-end";
  end.append(span("cart-subtotal", money(line.subtotal, currency)), remove);
  item.append(thumb, info, end);
  return item;
}

function qtyButton(text, quantity, label, disabled = false) {
  const button = document.createElement("button");
  Object.assign(button, { type: "button", className: "qty-button", textContent: text, disabled });
  button.dataset.quantity = String(quantity);
  button.setAttribute("aria-label", label);
  return button;
}

export function renderSummary(el, lines, total, currency) {
  const list = document.createElement("ul");
  list.className = "summary-lines";
  for (const line of lines) {
    const item = document.createElement("li");
    const name = line.variant ? `${line.name} · ${line.variant}` : line.name;
    item.append(span("summary-name", `${line.quantity} × ${name}`), span("summary-price", money(line.subtotal, currency)));
    list.append(item);
  }
  const sum = document.createElement("p");
  sum.className = "summary-total";
  sum.append(span("", gettext("Total")), span("", money(total, currency)));
  el.replaceChildren(list, sum);
}


/** An option of the "Choose an option" sheet (disabled when sold out). */
export function pickOption(variant, currency, dealPrice = null) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "pick-option";
  button.dataset.variantId = String(variant.id);
  button.disabled = variant.inStock === false;
  const hint = variant.inStock === false ? gettext("Sold out") : variant.left ? interpolate(gettext("Only %(count)s left"), { count: variant.left }) : "";
  const price = span("pick-price", money(dealPrice || variant.price, currency));
  if (dealPrice && dealPrice !== variant.price) {
    // The flash deal's price for this option, the normal one struck through (the server prices
    // the line at checkout: commerce.deals).
    const regular = document.createElement("s");
    regular.className = "pick-regular";
    regular.textContent = money(variant.price, currency);
    price.append(" ", regular);
    button.classList.add("has-deal");
  }
  button.append(span("pick-label", variant.label || gettext("Standard")), price, span("pick-hint", hint));
  return button;
}
