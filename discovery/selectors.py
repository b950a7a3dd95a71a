"""Reads for discovery: what a frame is matched against, an event's settings."""

from __future__ import annotations

from catalog.models import Product
from discovery.detectors.base import Candidate
from discovery.models import EventDiscovery
from events.models import EventProduct, LiveEvent


def candidates_for(event: LiveEvent) -> list[Candidate]:
    """The event's lineup (in order), then the brand's other active products: two queries."""
    lineup = list(
        EventProduct.objects.filter(event=event)
        .order_by("position", "id")
        .values_list("product_id", "product__sku")
    )
    in_lineup = {pid for pid, _ in lineup}
    rest = (
        Product.objects.filter(organization_id=event.organization_id, is_active=True)
        .exclude(pk__in=in_lineup)
        .values_list("pk", "sku")
    )
    return [Candidate(pid, sku, True) for pid, sku in lineup] + [
        Candidate(pid, sku, False) for pid, sku in rest
    ]


def settings_of(event: LiveEvent) -> EventDiscovery:
    """The event's detector settings (the defaults, unsaved, when nobody changed them)."""
    return EventDiscovery.objects.filter(event=event).first() or EventDiscovery(event=event)


def products_by_id(ids) -> dict[int, Product]:
    return {p.pk: p for p in Product.objects.filter(pk__in=list(ids))}
