"""Reads of commerce for the viewer's shop: where a brand ships, which cue a replay showed."""

from __future__ import annotations

from accounts.models import Organization
from catalog.models import Variant
from commerce.countries import COUNTRIES
from commerce.models import Order, ShopSettings
from recordings.models import ProductCue, Recording


def shipping_countries(organization: Organization) -> list[str]:
    """The ISO codes of the countries the brand ships to, sorted by name; every country when the
    brand has not chosen (no ShopSettings, or an empty list)."""
    chosen = (
        ShopSettings.objects.filter(organization=organization)
        .values_list("shipping_countries", flat=True)
        .first()
    )
    codes = [code for code in chosen or () if code in COUNTRIES] or list(COUNTRIES)
    return sorted(codes, key=COUNTRIES.__getitem__)


def cue_at(recording: Recording, position_ms: int) -> ProductCue | None:
    """The product cue on screen at ``position_ms`` of the video, as the replay page shows it
    (static/js/replay.js activeCue): a cue covers [start, end), or without an end until the next
    one starts; where cues overlap, the one that started last wins."""
    cues = list(
        ProductCue.objects.filter(recording=recording, start_ms__lte=position_ms)
        .select_related("highlight")
        .order_by("start_ms", "id")
    )
    later = (
        ProductCue.objects.filter(recording=recording, start_ms__gt=position_ms)
        .order_by("start_ms", "id")
        .values_list("start_ms", flat=True)
        .first()
    )
    active = None
    for index, cue in enumerate(cues):
        following = cues[index + 1].start_ms if index + 1 < len(cues) else later
        end = cue.end_ms if cue.end_ms is not None else following
        if end is None or position_ms < end:
            active = cue
    return active


def get_order(token) -> Order:
    """The order its token names, with its lines (Order.DoesNotExist otherwise)."""
    return Order.objects.select_related("organization").prefetch_related("lines").get(token=token)


def only_variant_id(organization: Organization, product_id: int) -> int | None:
    """The id of the product's one active variant (a product without options), or None when it
    has several (the buyer must choose) or none."""
    ids = list(
        Variant.objects.filter(
            organization=organization, product_id=product_id, is_active=True, product__is_active=True
        ).values_list("pk", flat=True)[:2]
    )
    return ids[0] if len(ids) == 1 else None
