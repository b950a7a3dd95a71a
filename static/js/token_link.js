// One-time sign-in links and invite links carry their secret after "#": browsers never send a
// fragment to a server, so no access log, error log or Referer header holds it. This moves it
// into the page's form (and out of the address bar and history); a form marked
// data-token-autosubmit is posted at once, others wait for the visitor's click.
function takeSecret(form, secret) {
  history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.token.value = decodeURIComponent(secret);
  const field = form.querySelector("[data-token-field]");
  if (field) field.hidden = true;
  if (form.hasAttribute("data-token-autosubmit")) form.submit();
}

const form = document.querySelector("form[data-token-form]");
const secret = window.location.hash.slice(1);
if (form && secret) takeSecret(form, secret);
