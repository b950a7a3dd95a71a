/* The header's language switcher (templates/_language_switcher.html): it posts to Django's
 * set_language, which is CSRF-protected. A page shared between signed-out viewers carries no
 * token, so fetch one (it sets the CSRF cookie) just before posting. */
for (const form of document.querySelectorAll("form[data-language-form]")) {
  form.addEventListener("submit", async (event) => {
    if (form.querySelector('input[name="csrfmiddlewaretoken"]')) return;
    event.preventDefault();
    try {
      const response = await fetch(form.dataset.tokenUrl, { credentials: "same-origin", cache: "no-store" });
      const { csrfToken } = await response.json();
      const input = Object.assign(document.createElement("input"), { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken });
      form.append(input);
    } catch {
      // No token: post anyway, Django answers with its CSRF page.
    }
    form.submit();
  });
}
