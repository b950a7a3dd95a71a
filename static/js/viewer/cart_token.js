/* The cart token of a shop's embed frame (commerce/cart_tokens.py): in a frame on another site no
 * cookie of ours arrives, so the page's shop-config names the embed cart API ("cartToken": true)
 * and every request of the shop (shop_api.js) sends no cookie and carries the token in
 * X-Liveshop-Cart ("new" until an answer gives one).
 *
 * Where it is kept: in the frame's URL fragment (`#parent=…&cart-<brand>=…`; a fragment is never
 * sent to a server nor in a Referer, and the shop's page cannot read a cross-origin frame's URL),
 * so a reload keeps it and so does the next show in the frame (bridge.js carries the fragment
 * along); and in sessionStorage where the browser lets a frame on another site have any (most
 * block it with third-party cookies). A token the server refuses (expired) answers "new": the
 * request is sent again with a new cart. */
const HEADER = "X-Liveshop-Cart";
const config = JSON.parse(document.getElementById("shop-config")?.textContent || "{}");
const key = config.cartToken ? `cart-${config.brand}` : "";

let value = key ? fromFragment() || fromStorage() : "";

function fromFragment() {
  return new URLSearchParams(window.location.hash.slice(1)).get(key) || "";
}

function fromStorage() {
  try {
    return window.sessionStorage.getItem(`liveshop-${key}`) || "";
  } catch {
    return ""; // storage refused to a frame on another site
  }
}

function store(token) {
  value = token;
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  if (token) fragment.set(key, token);
  else fragment.delete(key);
  window.history.replaceState(window.history.state, "", `#${fragment}`);
  try {
    window.sessionStorage.setItem(`liveshop-${key}`, token);
  } catch {
    // the fragment keeps it
  }
}

/** Make `init` (a fetch's) a cart-token request, in an embed frame; otherwise leave it. */
export function sign(init) {
  if (!key) return init;
  init.credentials = "omit";
  init.headers = { ...init.headers, [HEADER]: value || "new" };
  return init;
}

/** fetch(url, init) as the shop sends it: in an embed frame with the cart token, sent once more
 * with a new cart when the server refused the token (its answer then says "cartToken": "new"). */
export async function send(url, init) {
  if (!key) return fetch(url, init);
  const response = await fetch(url, sign(init));
  if (response.status !== 403 || !value) return response;
  const body = await response.clone().json().catch(() => null);
  if (body?.cartToken !== "new") return response;
  store("");
  return fetch(url, sign(init));
}

/** Keep the token an answer of the cart API gave (`data.cartToken`). */
export function keep(data) {
  if (!key || !data || typeof data.cartToken !== "string") return;
  const token = data.cartToken === "new" ? "" : data.cartToken;
  if (token !== value) store(token);
}
