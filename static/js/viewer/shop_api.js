/* The shop's requests to our JSON API (commerce/views.py): JSON in and out, the session's
 * cookies, never from a cache, and the CSRF token the cart API handed out on every POST (the
 * viewer pages are shared cached pages, so the token cannot be in them). Every answer is
 * {ok, status, data, fresh}; a network failure or a non-JSON answer becomes an error with a
 * reason. `fresh` is false when a request sent later has answered first: its cart (and cart token)
 * is older than the one already shown, and must not replace it. */
import { jsonBody } from "../lib/http.js";
import * as CartToken from "./cart_token.js";
import { gettext, interpolate } from "../lib/i18n.js";

const ZERO_TOKEN = "00000000-0000-0000-0000-000000000000";

export const api = {
  token: "", // from the cart API's csrfToken
  sent: 0,
  answered: 0,

  async call(url, body) {
    const request = ++this.sent;
    const init = { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      Object.assign(init, { method: "POST", body: JSON.stringify(body) });
      Object.assign(init.headers, { "Content-Type": "application/json", "X-CSRFToken": this.token });
    }
    let response;
    try {
      response = await CartToken.send(url, init); // in an embed frame: no cookies, the cart token
    } catch {
      return { ok: false, status: 0, data: { error: gettext("No connection: check your network and try again.") } };
    }
    const data = (await jsonBody(response)) || { error: interpolate(gettext("The shop did not answer (HTTP %(status)s). Try again."), { status: response.status }) };
    const fresh = request > this.answered;
    if (fresh) {
      this.answered = request;
      CartToken.keep(data);
    }
    return { ok: response.ok, status: response.status, data, fresh };
  },
};

/** An order's URL from the page's pattern (shop-config names them with a zero UUID). */
export function orderUrl(pattern, token) {
  return pattern.replace(ZERO_TOKEN, token);
}
