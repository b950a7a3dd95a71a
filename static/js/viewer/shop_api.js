/* The shop's requests to our JSON API (commerce/views.py): JSON in and out, the session's
 * cookies, never from a cache, and the CSRF token the cart API handed out on every POST (the
 * viewer pages are shared cached pages, so the token cannot be in them). Every answer is
 * {ok, status, data}; a network failure or a non-JSON answer becomes an error with a reason. */
import { jsonBody } from "../lib/http.js";

const ZERO_TOKEN = "00000000-0000-0000-0000-000000000000";

export const api = {
  token: "", // from the cart API's csrfToken

  async call(url, body) {
    const init = { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      Object.assign(init, { method: "POST", body: JSON.stringify(body) });
      Object.assign(init.headers, { "Content-Type": "application/json", "X-CSRFToken": this.token });
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      return { ok: false, status: 0, data: { error: "No connection: check your network and try again." } };
    }
    const data = (await jsonBody(response)) || { error: `The shop did not answer (HTTP ${response.status}). Try again.` };
    return { ok: response.ok, status: response.status, data };
  },
};

/** An order's URL from the page's pattern (shop-config names them with a zero UUID). */
export function orderUrl(pattern, token) {
  return pattern.replace(ZERO_TOKEN, token);
}
