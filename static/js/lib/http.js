/* Requests to our own server: the CSRF token, JSON reads, form and JSON posts. */

import { gettext, interpolate } from "./i18n.js";

/** Django's CSRF token: from `form`'s hidden field, else the page's first one, else the cookie. */
export function csrfToken(form = document) {
  const field = form.querySelector("input[name=csrfmiddlewaretoken]")
    || document.querySelector("input[name=csrfmiddlewaretoken]");
  return field?.value || document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/)?.[1] || "";
}

/** Headers for a POST that wants JSON back, with the CSRF token (of `form`, if given). */
export function jsonHeaders(form, extra = {}) {
  return { Accept: "application/json", "X-CSRFToken": csrfToken(form), ...extra };
}

/** GET `url` as JSON, never from a cache, with the session's cookies. Returns the Response. */
export function getJson(url) {
  return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
}

/** POST `body` (FormData, or a JSON string with its Content-Type in `headers`). Returns the Response. */
export function post(url, body, { form, headers = {} } = {}) {
  return fetch(url, { method: "POST", body, credentials: "same-origin", headers: jsonHeaders(form, headers) });
}

/** The response's JSON body, or null when it is not JSON (a login page, a proxy's error page). */
export async function jsonBody(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** What to tell the person when `response` refused: the server's reason (`{"error": …}`), else
 * one from the status (not JSON: a login page after the session expired, a CSRF failure page, a
 * proxy's error page). */
export async function errorMessage(response) {
  const body = await jsonBody(response);
  if (body && body.error) return body.error;
  if (response.status === 403) return gettext("Not allowed: your session or role may have changed. Reload the page.");
  if (response.redirected || response.status === 401) return gettext("Your session has expired. Reload the page and log in.");
  return interpolate(gettext("The server could not do that (error %(status)s). Try again."), { status: response.status });
}

/** A console button's POST: one at a time (a double click sends once), the button busy until
 * `onOk(response)` has finished; a refusal or a lost connection goes to `onError(message)`. */
export async function postFromButton(button, url, body, { form, onOk, onError }) {
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  onError("");
  try {
    const response = await post(url, body, { form, headers: { "X-Requested-With": "fetch" } });
    if (response.ok) await onOk(response);
    else onError(await errorMessage(response));
  } catch {
    onError(gettext("Could not reach Liveshop. Check your connection and try again."));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
