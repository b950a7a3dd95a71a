"""Reads of commerce for the viewer's shop: the brand and where it ships, which cue a replay
showed."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from accounts.models import Organization
from catalog.models import Variant
from catalog.thresholds import DEFAULT_LOW_STOCK_THRESHOLD
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
    return _countries(chosen)


def _countries(chosen: list[str] | None) -> list[str]:
    codes = [code for code in chosen or () if code in COUNTRIES] or list(COUNTRIES)
    return sorted(codes, key=COUNTRIES.__getitem__)


@dataclass(frozen=True)
class Shop:
    """A brand as its shop's API needs it on every request: the brand and where it ships."""

    organization: Organization
    shipping_countries: tuple[str, ...]


# The shop API reads the brand and its shipping countries on every add to cart and checkout: each
# process keeps them for SHOP_CACHE_SECONDS. A change made in this process (a brand or its
# ShopSettings saved or deleted: commerce.apps connects forget_shop) applies at once; one made in
# another web process within SHOP_CACHE_SECONDS.
SHOP_CACHE_SECONDS = 30.0
_shops: dict[str, tuple[float, Shop]] = {}
_shops_lock = threading.Lock()


def shop(slug: str) -> Shop | None:
    """The brand with this slug and where it ships (None: no such brand); one query, then cached."""
    now = time.monotonic()
    cached = _shops.get(slug)
    if cached is not None and cached[0] > now:
        return cached[1]
    organization = Organization.objects.filter(slug=slug).select_related("shop_settings").first()
    if organization is None:
        return None
    settings_ = getattr(organization, "shop_settings", None)  # the reverse one-to-one, or None
    found = Shop(organization, tuple(_countries(settings_.shipping_countries if settings_ else None)))
    with _shops_lock:
        _shops[slug] = (now + SHOP_CACHE_SECONDS, found)
    return found


# Cards read their brand's low-stock default for every variant without a threshold: each process
# keeps it per brand for SHOP_CACHE_SECONDS, like the shop above (one query per brand, not per card).
_thresholds: dict[int, tuple[float, int]] = {}


def brand_low_stock_expression() -> Subquery:
    """A variant row's brand's low-stock default (NULL: not chosen), for Variant's manager."""
    chosen = ShopSettings.objects.filter(organization_id=OuterRef("organization_id"))
    return Subquery(chosen.values("low_stock_threshold")[:1])


def brand_low_stock_threshold(organization_id: int) -> int:
    """The brand's low-stock default (its ShopSettings', else DEFAULT_LOW_STOCK_THRESHOLD); one
    query per brand and process, then cached (catalog.thresholds reads it through this)."""
    now = time.monotonic()
    cached = _thresholds.get(organization_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    chosen = (
        ShopSettings.objects.filter(organization_id=organization_id)
        .values_list("low_stock_threshold", flat=True)
        .first()
    )
    threshold = DEFAULT_LOW_STOCK_THRESHOLD if chosen is None else chosen
    with _shops_lock:
        _thresholds[organization_id] = (now + SHOP_CACHE_SECONDS, threshold)
    return threshold


def forget_shop(sender=None, instance=None, **kwargs) -> None:
    """post_save/post_delete of Organization and ShopSettings: this process reads the brand again."""
    with _shops_lock:
        if instance is None:
            _shops.clear()
            _thresholds.clear()
            return
        organization_id = getattr(instance, "organization_id", instance.pk)
        _thresholds.pop(organization_id, None)
        for slug in [slug for slug, (_, s) in _shops.items() if s.organization.pk == organization_id]:
            del _shops[slug]
        _shops.pop(getattr(instance, "slug", None), None)


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


def get_order(token, *, with_lines: bool = True) -> Order:
    """The order its token names, with its brand and its lines (Order.DoesNotExist otherwise)."""
    if not with_lines:
        return Order.objects.get(token=token)
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
