"""{% related_config %}: where the viewer page's related-products row (static/js/viewer/related.js)
asks for its cards. Nothing per viewer on an anonymous page (the live page is a shared cached
page); a signed-in viewer's own page says so."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import json_script

from recommendations.services import related_depends_on_viewer

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
    offer_url = reverse("recommendations:offer", args=[brand.slug])
    request = context.get("request")
    config = {
        "url": url,
        "offerUrl": offer_url,
        "medium": medium,
        "campaign": campaign,
        # A signed-in viewer's page (never a shared one) leaves what they bought out of the
        # shared row itself; with Personalize (related per viewer) it asks for its own row.
        "signedIn": bool(request and request.user.is_authenticated),
        "boughtUrl": reverse("recommendations:bought", args=[brand.slug]),
        "perViewer": related_depends_on_viewer(),
    }
    return json_script(config, "related-config")
