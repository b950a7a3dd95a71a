"""The viewer API's JSON: ``stream_details`` builds it from public fields only (the same card and
highlight shapes the websocket sends, events.payloads); the serializers document it for the
OpenAPI schema and, by declaring every field, keep anything undeclared out of the response."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from events.models import LiveEvent
from events.payloads import current_highlight, highlight_payload, may_watch, product_card
from liveshop.video import get_video_backend


class ProductCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    externalId = serializers.CharField(
        allow_blank=True, help_text="The product's id in another system (e.g. a UUID); empty when none."
    )
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="A decimal string.")
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")
    image = serializers.CharField(allow_blank=True, help_text="Image URL; empty when the product has none.")
    buyUrl = serializers.CharField(
        allow_blank=True, help_text="The product page, tagged with the event for attribution."
    )
    inStock = serializers.BooleanField()


class HighlightSerializer(serializers.Serializer):
    highlightId = serializers.IntegerField(help_text="Increases with every highlight of an event.")
    eventId = serializers.IntegerField()
    offsetMs = serializers.IntegerField(
        allow_null=True, help_text="Position in the live stream; null when featured off air."
    )
    at = serializers.DateTimeField(help_text="When the host featured it (server time).")
    product = ProductCardSerializer(allow_null=True, help_text="Null when the card was cleared.")


class StreamDetailsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=LiveEvent.Status.choices)
    scheduledStart = serializers.DateTimeField()
    playbackUrl = serializers.CharField(
        allow_blank=True, help_text="HLS URL to play; signed for this viewer when the event is private."
    )
    lineup = ProductCardSerializer(many=True)
    currentHighlight = HighlightSerializer(allow_null=True, help_text="The product on screen now, or null.")
    viewerPage = serializers.URLField()


def viewer_id(user) -> str | None:
    """An id for IVS viewer-session revocation: no personal data, only the user's primary key."""
    return f"user-{user.pk}" if getattr(user, "is_authenticated", False) else None


def playback_url(event: LiveEvent, user) -> str:
    """The URL this viewer plays (signed by the video backend when the event is private). Empty
    for a user who may not watch: a private channel's token is signed only for those who may."""
    if not event.playback_url or not may_watch(user, event):
        return ""
    return get_video_backend().playback_url_for(
        channel_id=event.channel_id,
        playback_url=event.playback_url,
        private=event.is_private,
        viewer_id=viewer_id(user) if event.is_private else None,
    )


def stream_details(event: LiveEvent, *, request) -> dict:
    """What a viewer needs to watch ``event``: status, playback URL, lineup, the current card.
    Reads only; call it for events the requester may watch (selectors.get_watchable_event)."""
    highlight = current_highlight(event)
    lineup = event.lineup.select_related("product").filter(product__is_active=True)
    page = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    return {
        "id": event.pk,
        "title": event.title,
        "status": event.status,
        "scheduledStart": event.scheduled_start.isoformat(),
        "playbackUrl": playback_url(event, request.user),
        "lineup": [product_card(entry.product, event) for entry in lineup],
        "currentHighlight": highlight_payload(highlight) if highlight else None,
        "viewerPage": request.build_absolute_uri(page),
    }
