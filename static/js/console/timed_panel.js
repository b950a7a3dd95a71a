/* What the console's deals and polls panels share: rows that run out at a time the server set
 * (a deal's endsAt, a poll's closesAt), read on the server's clock (its answers' serverNow), a
 * form and a per-row button posted with the server's reason shown above the form.
 *
 * `name` is the panel's word in its template's ids and classes: #<name>-form, #<name>-list,
 * #<name>s-alert, #<name>-row-template and the .<name>-start button. */
import { jsonBody, postFromButton } from "../lib/http.js";

export function timedPanel(panel, name, { reload, resetAfterSubmit = false }) {
  const $ = (selector) => panel.querySelector(selector);
  const els = {
    form: $(`#${name}-form`),
    list: $(`#${name}-list`),
    alert: $(`#${name}s-alert`),
    template: $(`#${name}-row-template`),
    button: $(`.${name}-start`),
  };
  let skewMs = 0; // the server's clock minus this page's

  function showAlert(message) {
    els.alert.textContent = message;
    els.alert.hidden = !message;
  }

  /** Keep the server's clock from an answer that carries it. */
  function remember(answer) {
    if (answer && answer.serverNow) skewMs = Date.parse(answer.serverNow) - Date.now();
  }

  /** Milliseconds until `iso` on the server's clock. */
  function msUntil(iso) {
    return Date.parse(iso) - (Date.now() + skewMs);
  }

  /** POST the form or a row's button (a double click sends once); the server's reason shows above the form. */
  function send(url, body, button) {
    return postFromButton(button, url, body, {
      form: els.form,
      onError: showAlert,
      async onOk(response) {
        remember(await jsonBody(response));
        if (resetAfterSubmit && url === els.form.action) els.form.reset();
        await reload();
      },
    });
  }

  /** Post the form on submit, and a row's `selector` button to `urlTemplate` with the row's id
   * (`idOf(button)`) in place of its 0 (`/deals/0/end/` -> `/deals/7/end/`). The form's button
   * comes disabled with the page: a click before this script ran would post the form itself
   * and leave the console for the endpoint's JSON. */
  function wire(selector, urlTemplate, idOf) {
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(els.form.action, new FormData(els.form), els.button);
    });
    els.button.disabled = false;
    els.list.addEventListener("click", (event) => {
      const button = event.target.closest(selector);
      if (!button) return;
      send(urlTemplate.replace(/\/0\/(\w+)\/$/, `/${idOf(button)}/$1/`), new FormData(), button);
    });
  }

  return { els, $, showAlert, remember, msUntil, wire };
}
