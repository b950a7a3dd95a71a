"""The JSON shapes viewers receive (websocket messages, the stream_details API). Public fields
only: no stream key, ingest URL or anything else private ever goes in here."""

from __future__ import annotations

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


def studio_highlight_payload(highlight: Highlight) -> dict:
    """A highlight as host consoles see it: the viewers' shape plus its cue's state."""
    return {**highlight_payload(highlight), "cueState": highlight.cue_state, "cueError": highlight.cue_error}


def current_highlight(event: LiveEvent) -> Highlight | None:
    """The highlight on screen now: the newest one, unless it cleared the card."""
    latest = event.highlights.select_related("product", "event").first()
    return None if latest is None or latest.is_clear else latest


def may_watch(user, event: LiveEvent) -> bool:
    """The one watchability rule of the page, the API, the socket and the replay: the event has a
    viewer page (not cancelled, not waiting for a channel), and it is public, or the user is one
    of the brand's people or invited (events.invitations)."""
    from accounts import permissions
    from events.invitations import is_invited

    if not event.is_watchable:
        return False
    if not event.is_private or permissions.can(user, permissions.Action.VIEW, event):
        return True
    return is_invited(user, event)


def event_state_snapshot(*, event_id: int, user, shared: dict | None = None) -> dict | None:
    """What a viewer's socket gets on (re)connect, or None when the event does not exist or the
    user may not watch it. With ``shared`` (a dict kept for one wave of resyncs) the event and its
    snapshot are read once per event and only the permission is checked per user; across connects
    they come from events.snapshot_cache for up to a second, until the event's next change."""
    from events import snapshot_cache

    cached = shared.get(("viewer", event_id)) if shared is not None else None
    if cached is None:
        entry = snapshot_cache.get(event_id)
        if entry is not None:
            cached = (entry.event, entry.snapshot)
        else:
            generation = snapshot_cache.generation(event_id)
            event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
            cached = (event, _event_state(event) if event is not None else None)
            if event is not None:
                snapshot_cache.put(event_id, generation, event, cached[1])
        if shared is not None:
            shared[("viewer", event_id)] = cached
    event, snapshot = cached
    if event is None or not may_watch(user, event):
        return None
    return {**snapshot}  # a copy: the consumer adds the viewer count


def _event_state(event: LiveEvent) -> dict:
    highlight = current_highlight(event)
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


def highlight_history(event: LiveEvent, limit: int = 50) -> list[dict]:
    """The console's history: newest first, with each cue's state."""
    rows = event.highlights.select_related("product", "event")[:limit]
    return [studio_highlight_payload(h) for h in rows]


def studio_snapshot(*, event_id: int, user) -> dict | None:
    """A host console's (re)connect state: the viewers' snapshot plus the highlight history and
    the stream's health (asked of the video service). None unless the user is one of the brand's
    people."""
    from accounts import permissions

    event = LiveEvent.objects.filter(pk=event_id).first()
    if event is None or not permissions.can(user, permissions.Action.VIEW, event):
        return None
    from events.stream_state import stream_health

    snapshot = _event_state(event)  # the brand's people follow even a cancelled event
    snapshot["type"] = "studio_snapshot"
    snapshot["history"] = highlight_history(event)
    snapshot["streamHealth"] = stream_health(event)
    return snapshot
