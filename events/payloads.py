"""The JSON shapes viewers and host consoles receive (websocket messages, the stream_details API,
the console's answers). Pure builders: they read only the objects they are given (their selectors
load them: events.selectors). Public fields only in viewers' shapes: no stream key, ingest URL or
anything else private ever goes in here."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from catalog.models import DEFAULT_LOW_STOCK_THRESHOLD, Product, Variant, is_web_url
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


def _variants(product: Product) -> tuple[list[Variant], Variant | None]:
    """The product's active variants (default first) and its default variant, from its
    ``variants`` (prefetched by the selectors: ``prefetch_related("variants")``)."""
    every = list(product.variants.all())
    default = next((variant for variant in every if variant.is_default), None)
    return [variant for variant in every if variant.is_active], default


def stock_payload(product: Product, *, exact: bool = False) -> dict:
    """A product's stock as every viewer may see it (the card's, and the ``stock`` frame's):
    in stock when any active variant is; ``left`` is the units left across the active variants
    when that is at or under the default variant's threshold (not when sold out), else null.
    ``exact`` adds the counts themselves (``stock``), for the brand's host consoles only."""
    active, default = _variants(product)
    return _stock(product, active, default, exact=exact)


def _stock(product: Product, active: list[Variant], default: Variant | None, *, exact: bool = False) -> dict:
    total = sum(variant.stock for variant in active)
    threshold = default.threshold if default is not None else DEFAULT_LOW_STOCK_THRESHOLD
    payload = {"id": product.pk, "inStock": total > 0, "left": total if 0 < total <= threshold else None}
    payload["variants"] = [
        {"id": variant.pk, "inStock": variant.stock > 0, "left": variant.left} for variant in active
    ]
    if exact:
        payload["stock"] = total
        for entry, variant in zip(payload["variants"], active, strict=True):
            entry["stock"] = variant.stock
    return payload


def variant_payload(product: Product, variant: Variant) -> dict:
    price = product.price if variant.price_override is None else variant.price_override
    return {
        "id": variant.pk,
        "label": variant.label,
        "options": variant.options,
        "sku": variant.sku,
        "price": str(price),
        "inStock": variant.stock > 0,
        "left": variant.left,
    }


def card(product: Product, *, buy_url: str, deal: dict | None = None) -> dict:
    """A product card as every viewer page shows it (live, replay, video), with its stock and
    its active variants (default first) for the variant picker. ``deal`` is the flash deal on it
    (null when none): {price, percentOff, endsAt, limitPerCustomer} (commerce.deals.deal_card)."""
    image = product.thumbnail or product.image
    active, default = _variants(product)
    stock = _stock(product, active, default)
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
        "inStock": stock["inStock"],
        "left": stock["left"],
        "variants": [variant_payload(product, variant) for variant in active],
        "deal": deal,
    }


def product_card(product: Product, event: LiveEvent, deals: dict[int, dict] | None = None) -> dict:
    """The card in ``event``; ``deals`` the event's running flash deals by product id (the
    selectors read them: extensions.card_deals), none when not given (host consoles' history)."""
    return card(product, buy_url=buy_url(product, event), deal=(deals or {}).get(product.pk))


def highlight_payload(highlight: Highlight, *, deals: dict[int, dict] | None = None) -> dict:
    product = highlight.product
    return {
        "highlightId": highlight.pk,
        "eventId": highlight.event_id,
        "offsetMs": highlight.offset_ms,
        "at": highlight.created_at.isoformat(),
        "product": product_card(product, highlight.event, deals) if product else None,
    }


def studio_highlight_payload(highlight: Highlight, *, card: dict | None = None) -> dict:
    """A highlight as host consoles see it: the viewers' shape (``card`` when already built)
    plus its cue's state."""
    card = highlight_payload(highlight) if card is None else card
    return {**card, "cueState": highlight.cue_state, "cueError": highlight.cue_error}


def event_state_payload(
    event: LiveEvent,
    highlight: Highlight | None,
    *,
    deals: dict[int, dict] | None = None,
    lineup: Iterable[Product] = (),
) -> dict:
    """A viewer socket's snapshot: the event and the product on screen (``highlight``, or None)
    with its flash deal (``deals``: see product_card), and the stock of the ``lineup``'s products
    (the ``stock`` frame's entries: a reconnect catches up on the frames it missed)."""
    return {
        "type": "snapshot",
        "event": {
            "id": event.pk,
            "title": event.title,
            "status": event.status,
            "scheduledStart": event.scheduled_start.isoformat(),
        },
        "highlight": highlight_payload(highlight, deals=deals) if highlight else None,
        "stock": [stock_payload(product) for product in lineup],
    }


def stream_details_payload(
    event: LiveEvent,
    *,
    highlight: Highlight | None,
    lineup: Iterable[Product],
    playback_url: str,
    viewer_page: str,
    deals: dict[int, dict] | None = None,
) -> dict:
    """The stream_details JSON (events.serializers.StreamDetailsSerializer documents it)."""
    return {
        "id": event.pk,
        "title": event.title,
        "status": event.status,
        "scheduledStart": event.scheduled_start.isoformat(),
        "playbackUrl": playback_url,
        "lineup": [product_card(product, event, deals) for product in lineup],
        "currentHighlight": highlight_payload(highlight, deals=deals) if highlight else None,
        "viewerPage": viewer_page,
    }
