"""{% shop_config %}: the viewer shop's page data (templates/events/watch/_shop.html) as a
json_script. The live page is a shared cached page (events.page_cache), so this holds nothing
per viewer: the brand, where the API is, the page's event or video, which payment provider, and
the products the page shows (their variants, stock and deals as the cards carry them). The cart
and the CSRF token come from the cart API after load. In a shop's embed frame (the embed pages
put ``embed`` in the context) the shop calls the embed cart API with a cart token instead
(commerce.cart_tokens): no cookie of ours reaches a frame on another site."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import json_script

from commerce import payments

register = template.Library()

CARD_FIELDS = ("id", "name", "price", "currency", "image", "inStock", "left", "variants", "deal")


@register.simple_tag(takes_context=True)
def shop_config(context) -> str:
    recording, event = context.get("recording"), context.get("event")
    brand = context.get("organization") or (event.organization if event else None)
    if brand is None:
        return ""
    # The lineup's products and the card's (featured, or the replay's opening cue), each once.
    cards = {card["id"]: card for card in [*context.get("lineup", ()), context.get("card")] if card}
    backend = payments.get_payment_backend().name
    api = "commerce:embed-" if context.get("embed") else "commerce:"  # cart token, or session + CSRF
    config = {
        "brand": brand.slug,
        "brandName": brand.name,
        "cartToken": bool(context.get("embed")),
        "cartUrl": reverse(f"{api}cart", args=[brand.slug]),
        "addUrl": reverse(f"{api}cart-add", args=[brand.slug]),
        "lineUrl": reverse(f"{api}cart-line", args=[brand.slug, 0]).replace("/0/", "/{id}/"),
        "checkoutUrl": reverse(f"{api}checkout", args=[brand.slug]),
        "orderUrl": reverse("commerce:order", args=["00000000-0000-0000-0000-000000000000"]),
        "orderPageUrl": reverse("commerce:order-page", args=["00000000-0000-0000-0000-000000000000"]),
        "testPaymentUrl": reverse(f"{api}test-payment", args=["00000000-0000-0000-0000-000000000000"]),
        "eventId": None if recording else getattr(event, "pk", None),
        "recordingId": recording.pk if recording else None,
        "payment": {
            "backend": backend,
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY if backend == "stripe" else "",
        },
        "products": [{key: card[key] for key in CARD_FIELDS if key in card} for card in cards.values()],
    }
    return json_script(config, "shop-config")
