"""The public viewer page (``/e/<brand>/<event>/``) and its Buy-link QR codes.

Both show public fields only (events.payloads, events.serializers): never a stream key, an
ingest URL or a channel id beyond what the playback URL itself carries."""

from __future__ import annotations

import io
from decimal import Decimal

import segno
from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views import View

from catalog.models import Product
from events import invitations
from events.models import WATCHABLE_STATUSES, LiveEvent
from events.payloads import buy_url, may_watch
from events.serializers import stream_details
from recordings.selectors import event_replay_url

Status = LiveEvent.Status
STATUS_LABELS = {Status.SCHEDULED: "Upcoming", Status.LIVE: "Live", Status.ENDED: "Ended"}
QR_MAX_AGE = 300  # seconds: a Buy link changes only with the product page or the event slug
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX", "XAF", "XOF"}


def get_watchable_event(user, **lookup) -> LiveEvent:
    """The event matching ``lookup`` if ``user`` may watch it; Http404 otherwise (a private event
    looks the same as a missing one to people outside its brand)."""
    queryset = LiveEvent.objects.select_related("organization").filter(status__in=WATCHABLE_STATUSES)
    event = get_object_or_404(queryset, **lookup)
    if not may_watch(user, event):
        raise Http404("No such event.")
    return event


def format_price(price: str | Decimal, currency: str) -> str:
    """A readable price for the first paint (the page's script re-formats it in the viewer's locale)."""
    amount = Decimal(price)
    text = f"{amount:,.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def no_store_if_private(response: HttpResponse, event: LiveEvent) -> HttpResponse:
    """A private event's responses carry a signed playback URL: no cache may keep them."""
    if event.is_private:
        patch_cache_control(response, private=True, no_store=True)
    return response


class EventWatchView(View):
    """The viewer page: player, product card, lineup; viewer.js keeps them live."""

    def get(self, request, brand: str, slug: str):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        if event.is_private:
            invitations.record_visit(event=event, user=request.user)  # the studio's "who joined"
        details = stream_details(event, request=request)
        highlight = details["currentHighlight"]
        card = with_display(highlight["product"], event) if highlight else None
        context = {
            "event": event,
            "status_label": STATUS_LABELS.get(event.status, event.get_status_display()),
            "screen": first_screen(event),
            "lineup": [with_display(item, event) for item in details["lineup"]],
            "card": card,
            "featured_id": card["id"] if card else None,
            "highlight": highlight,
            "config": page_config(event, details),
            "replay_url": event_replay_url(event),
        }
        return no_store_if_private(render(request, "events/watch.html", context), event)


def first_screen(event: LiveEvent) -> str:
    """What the player area shows before the script runs (viewer.js takes over from there)."""
    if event.status == Status.LIVE:
        return "connecting"
    if event.status == Status.ENDED:
        return "ended"
    return "scheduled" if event.scheduled_start > timezone.now() else "waiting"


def page_config(event: LiveEvent, details: dict) -> dict:
    """The page's data for viewer.js: the stream details plus where to connect and fetch."""
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "product_id": 0}
    config = {
        **details,
        # Compared with incoming highlight ids, so no older highlight replaces a newer one even
        # when the newest one cleared the card (current_highlight is None then).
        "latestHighlightId": event.highlights.values_list("pk", flat=True).first(),
        "player": "ivs" if settings.VIDEO_BACKEND == "ivs" else "hls",
        "socketPath": f"/ws/events/{event.pk}/",
        "heartbeatMs": int(settings.LIVESHOP_WS_HEARTBEAT_SECONDS * 1000),
        "detailsUrl": reverse("viewer:stream-details", kwargs={"pk": event.pk}),
        "qrUrl": reverse("viewer:qr", kwargs=kwargs).replace("/0.svg", "/{id}.svg"),
    }
    if config["player"] == "ivs":
        # Served from our origin so the player starts a same-origin worker (no CDN, no blob: CSP).
        config["ivsWorker"] = static("vendor/ivs/amazon-ivs-wasmworker.min.js")
        config["ivsWasm"] = static("vendor/ivs/amazon-ivs-wasmworker.min.wasm")
    return config


def with_display(card: dict | None, event: LiveEvent) -> dict | None:
    """A product card plus what the template shows: the formatted price and the QR code's URL."""
    if card is None:
        return None
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "product_id": card["id"]}
    qr = reverse("viewer:qr", kwargs=kwargs) if card["buyUrl"] else ""
    return {**card, "priceText": format_price(card["price"], card["currency"]), "qrUrl": qr}


class ProductQrCodeView(View):
    """An SVG QR code of a product's Buy link, for buying on a second screen. Only for products
    in the event's lineup or featured in it."""

    def get(self, request, brand: str, slug: str, product_id: int):
        event = get_watchable_event(request.user, organization__slug=brand, slug=slug)
        in_event = Q(pk__in=event.lineup.values("product")) | Q(pk__in=event.highlights.values("product"))
        product = get_object_or_404(
            Product.objects.filter(in_event, organization=event.organization), pk=product_id
        )
        url = buy_url(product, event)
        if not url:
            raise Http404("This product has no Buy link.")
        response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        patch_cache_control(response, max_age=QR_MAX_AGE, public=not event.is_private)
        return no_store_if_private(response, event)


def qr_svg(text: str) -> bytes:
    """A scalable SVG QR code (dark on white, so it scans on any background)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=1, border=2, omitsize=True, xmldecl=False, dark="#1d1b22", light="#fff"
    )
    return out.getvalue()
