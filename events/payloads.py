"""The JSON shapes viewers and host consoles receive (websocket messages, the stream_details API,
the console's answers). Pure builders: they read only the objects they are given (their selectors
load them: events.selectors). Public fields only in viewers' shapes: no stream key, ingest URL or
anything else private ever goes in here."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from catalog.models import Product, is_web_url
from events.models import Highlight, LiveEvent


def tagged_buy_url(product: Product, *, medium: str, campaign: str) -> str:
    """The product page tagged for attribution ("live" or "replay", and the event or video). Empty
    unless the page is an http(s) URL: a row saved without validation (an old row, a raw query)
    never becomes a javascript: or data: link, in a page, a payload or a QR code."""
    if not is_web_url(product.external_url):
        return ""
    separator = "&" if "?" in product.external_url else "?"
    query = urlencode({"utm_source": "liveshop", "utm_medium": medium, "utm_campaign": campaign})
    return f"{product.external_url}{separator}{query}"


def buy_url(product: Product, event: LiveEvent) -> str:
    """The product page with the event for attribution."""
    return tagged_buy_url(product, medium="live", campaign=event.slug)


def card(product: Product, *, buy_url: str) -> dict:
    """A product card as every viewer page shows it (live, replay, video)."""
    image = product.thumbnail or product.image
    return {
        "id": product.pk,
        "sku": product.sku,
        "externalId": product.external_id,  # the id in another system (SRT cues may use it), or ""
        "name": product.name,
        "description": product.description,
        "price": str(product.price),
        "currency": product.currency,
        "image": image.url if image else "",
        "buyUrl": buy_url,
        "inStock": product.stock > 0,
    }


def product_card(product: Product, event: LiveEvent) -> dict:
    return card(product, buy_url=buy_url(product, event))


def highlight_payload(highlight: Highlight) -> dict:
    return {
        "highlightId": highlight.pk,
        "eventId": highlight.event_id,
        "offsetMs": highlight.offset_ms,
        "at": highlight.created_at.isoformat(),
        "product": product_card(highlight.product, highlight.event) if highlight.product else None,
    }


def studio_highlight_payload(highlight: Highlight, *, card: dict | None = None) -> dict:
    """A highlight as host consoles see it: the viewers' shape (``card`` when already built)
    plus its cue's state."""
    card = highlight_payload(highlight) if card is None else card
    return {**card, "cueState": highlight.cue_state, "cueError": highlight.cue_error}


def event_state_payload(event: LiveEvent, highlight: Highlight | None) -> dict:
    """A viewer socket's snapshot: the event and the product on screen (``highlight``, or None)."""
    return {
        "type": "snapshot",
        "event": {
            "id": event.pk,
            "title": event.title,
            "status": event.status,
            "scheduledStart": event.scheduled_start.isoformat(),
        },
        "highlight": highlight_payload(highlight) if highlight else None,
    }


def stream_details_payload(
    event: LiveEvent,
    *,
    highlight: Highlight | None,
    lineup: Iterable[Product],
    playback_url: str,
    viewer_page: str,
) -> dict:
    """The stream_details JSON (events.serializers.StreamDetailsSerializer documents it)."""
    return {
        "id": event.pk,
        "title": event.title,
        "status": event.status,
        "scheduledStart": event.scheduled_start.isoformat(),
        "playbackUrl": playback_url,
        "lineup": [product_card(product, event) for product in lineup],
        "currentHighlight": highlight_payload(highlight) if highlight else None,
        "viewerPage": viewer_page,
    }
