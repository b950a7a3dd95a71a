/* Requests to our own server: the CSRF token, JSON reads, form and JSON posts. */

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
