"""Languages (issue 16): what the pages need beyond Django's own i18n.

- ``js_catalog``: the current language's ``djangojs`` translations (locale/<lang>/LC_MESSAGES/
  djangojs.po), which ``{% js_catalog %}`` renders into the page as JSON for static/js/lib/i18n.js:
  no extra request before the page's scripts can draw a word, and the page cache (keyed by
  language: events.page_cache.key_of) keeps one copy per language. English, the source language,
  renders none.
- ``language_of_scope``: a websocket's language, as LocaleMiddleware would pick it for a page
  (the language cookie, else Accept-Language): the viewer socket answers chat frames in it.
- ``language_token``: a CSRF token for the language switcher of a page that carries none (pages
  shared between signed-out viewers never hold a token: it would name a visitor, and setting its
  cookie would keep the page out of the shared cache). Django's ``set_language`` stays
  CSRF-protected; static/js/lib/language.js fetches a token just before it posts the form.
"""

from __future__ import annotations

import functools
import gettext as gettext_module

from django.conf import settings
from django.http import JsonResponse
from django.http.cookie import parse_cookie
from django.middleware.csrf import get_token
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import trans_real
from django.views.decorators.http import require_GET

JS_DOMAIN = "djangojs"


@functools.cache
def js_catalog(language: str) -> dict[str, str | list[str]]:
    """``{msgid: msgstr}`` (``{msgid: [forms]}`` for plurals) of ``language``'s djangojs
    catalogue in LOCALE_PATHS; empty for the source language or a language without one."""
    if not language or language.split("-")[0] == "en":
        return {}
    found = gettext_module.translation(
        JS_DOMAIN,
        localedir=str(settings.LOCALE_PATHS[0]),
        languages=[translation.to_locale(language)],
        fallback=True,
    )
    catalog: dict = {}
    for key, text in getattr(found, "_catalog", {}).items():
        if isinstance(key, tuple):  # (msgid, plural form index)
            forms = catalog.setdefault(key[0], [])
            forms.extend([""] * (key[1] + 1 - len(forms)))
            forms[key[1]] = text
        elif key:  # "" is the header
            catalog[key] = text
    return catalog


def language_of_scope(scope) -> str:
    """The language a websocket's page is in: the switcher's cookie, else the browser's
    Accept-Language (their first supported language), else the default."""
    headers = {name.lower(): value for name, value in scope.get("headers") or ()}
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    candidates = [cookies.get(settings.LANGUAGE_COOKIE_NAME, "")]
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _ in trans_real.parse_accept_lang_header(accept) if code != "*"]
    for code in candidates:
        if code:
            try:
                return translation.get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


@require_GET
def language_token(request):
    """A CSRF token for the language switcher's form (its cookie is set with it); never cached."""
    response = JsonResponse({"csrfToken": get_token(request)})
    add_never_cache_headers(response)
    return response
