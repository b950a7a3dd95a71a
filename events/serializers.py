"""The viewer API's JSON, documented for the OpenAPI schema. events.selectors.stream_details reads
it and events.payloads builds it from public fields only (the card and highlight shapes the
websocket sends); declaring every field here keeps anything undeclared out of the response."""

from __future__ import annotations

from rest_framework import serializers

from events.models import LiveEvent


class VariantSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="What the cart's lines name (variant_id).")
    label = serializers.CharField(
        allow_blank=True, help_text="e.g. “Red / M”; empty for a product without options."
    )
    options = serializers.DictField(child=serializers.CharField(), help_text='e.g. {"size": "M"}')
    sku = serializers.CharField()
    price = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="Its own price, else the product's."
    )
    inStock = serializers.BooleanField()
    left = serializers.IntegerField(
        allow_null=True, help_text="Units left when low (“only N left”); else null."
    )


class DealSerializer(serializers.Serializer):
    """A flash deal (commerce.deals): the host's show price for a while."""

    price = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="The product's price under the deal (a decimal string)."
    )
    percentOff = serializers.IntegerField(
        allow_null=True, help_text="1-90 for a percentage off; null for a set price."
    )
    endsAt = serializers.DateTimeField(
        help_text="When the normal price is back (ISO 8601); checkout follows it."
    )
    limitPerCustomer = serializers.IntegerField(
        allow_null=True, help_text="Units one buyer may buy at the deal's price; null when unlimited."
    )
    variantPrices = serializers.DictField(
        child=serializers.DecimalField(max_digits=10, decimal_places=2),
        help_text="Each active variant's price under the deal, by variant id (the option pickers show them).",
    )


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
    inStock = serializers.BooleanField(help_text="Whether any of its variants is in stock.")
    left = serializers.IntegerField(
        allow_null=True, help_text="Units left across its variants when low (“only N left”); else null."
    )
    variants = VariantSerializer(many=True, help_text="Its variants on sale, the default one first.")
    deal = DealSerializer(allow_null=True, help_text="The flash deal running on it; null when none.")


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
