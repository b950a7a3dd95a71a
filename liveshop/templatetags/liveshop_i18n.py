"""``{% load liveshop_i18n %}`` (registered in TEMPLATES' libraries: liveshop is no app): the
pages' script catalogue and the language switcher (liveshop.i18n)."""

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import json_script

from liveshop.i18n import js_catalog as catalog_of

register = template.Library()


@register.simple_tag
def js_catalog():
    """The current language's script translations as a JSON script element ``#js-catalog`` (nothing
    for English: static/js/lib/i18n.js then shows the source strings)."""
    catalog = catalog_of(translation.get_language())
    return json_script(catalog, "js-catalog") if catalog else ""


@register.inclusion_tag("_language_switcher.html", takes_context=True)
def language_switcher(context):
    """The header's language form (posts to Django's set_language). Only a signed-in person's
    page (their own, never shared) carries a CSRF token; static/js/lib/language.js fetches one
    for the others."""
    request = context.get("request")
    current = translation.get_language()
    languages = [
        {"code": code, "name": translation.get_language_info(code)["name_local"], "current": code == current}
        for code, _ in settings.LANGUAGES
    ]
    user = context.get("user")
    return {
        "languages": languages,
        "next": request.get_full_path() if request else "/",
        "with_token": bool(user and user.is_authenticated),
        "csrf_token": context.get("csrf_token"),
    }
