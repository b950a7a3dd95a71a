"""{% related_config %}: where the viewer page's related-products row (static/js/viewer/related.js)
asks for its cards. Nothing per viewer: the live page is a shared cached page."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import json_script

register = template.Library()


@register.simple_tag(takes_context=True)
def related_config(context) -> str:
    recording, event = context.get("recording"), context.get("event")
    brand = context.get("organization") or (event.organization if event else None)
    if brand is None:
        return ""
    url = reverse("recommendations:related", args=[brand.slug, 0]).replace("/0/", "/{id}/")
    medium = "replay" if recording else "live"
    campaign = getattr(event, "slug", "") or getattr(recording, "slug", "") or ""
    return json_script({"url": url, "medium": medium, "campaign": campaign}, "related-config")
