"""The local detector's index: each product image's features, stored in ProductFeatures, and
one in-memory CatalogueIndex per brand and process, rebuilt when any of them changes."""

from __future__ import annotations

import hashlib
import logging
import threading

from django.db import transaction
from django.db.models import Count, Max

from catalog.models import Product
from discovery.detectors.base import DetectorError
from discovery.detectors.local import CatalogueIndex, Features, decode_image, extract
from discovery.models import ProductFeatures

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[int, tuple[tuple, CatalogueIndex]] = {}


@transaction.atomic
def index_product(*, product_id: int) -> ProductFeatures | None:
    """Build (or drop) the product's features from its current image. Idempotent: an entry
    already built from the same image (name and bytes) is left alone. Locks the product row so
    two rebuilds of one image change never race. None when the product has no readable image."""
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        return None
    existing = ProductFeatures.objects.filter(product=product).first()
    if not product.image:
        if existing:
            existing.delete()
        return None
    try:
        with product.image.open("rb") as handle:
            data = handle.read()
    except OSError:
        logger.warning("Product image unreadable", extra={"product_id": product.pk})
        return existing
    digest = hashlib.sha256(data).hexdigest()
    if existing and existing.source == product.image.name and existing.digest == digest:
        return existing
    try:
        features = extract(decode_image(data))
    except DetectorError:
        logger.warning("Product image not decodable", extra={"product_id": product.pk})
        return existing
    points, descriptors = features.to_bytes()
    values = {
        "organization_id": product.organization_id,
        "source": product.image.name,
        "digest": digest,
        "width": features.width,
        "height": features.height,
        "count": len(features.descriptors),
        "points": points,
        "descriptors": descriptors,
    }
    entry, _ = ProductFeatures.objects.update_or_create(product=product, defaults=values)
    return entry


def needs_index(product: Product) -> bool:
    """Whether the product's stored features are not from its current image (one query)."""
    stored = ProductFeatures.objects.filter(product=product).values_list("source", flat=True).first()
    return stored != (product.image.name or None)


def catalogue_index(organization_id: int) -> CatalogueIndex:
    """The brand's active products' features as one CatalogueIndex, cached in this process and
    rebuilt when an entry was added, changed or removed (one small query per call)."""
    rows = ProductFeatures.objects.filter(organization_id=organization_id, product__is_active=True)
    version = tuple(rows.aggregate(n=Count("id"), at=Max("built_at"), ids=Max("product_id")).values())
    cached = _cache.get(organization_id)
    if cached and cached[0] == version:
        return cached[1]
    with _lock:
        features = {
            row.product_id: Features.from_bytes(
                bytes(row.points), bytes(row.descriptors), width=row.width, height=row.height
            )
            for row in rows.only("product_id", "points", "descriptors", "width", "height")
        }
        index = CatalogueIndex(features)
        _cache[organization_id] = (version, index)
    return index


def clear_cache() -> None:
    _cache.clear()
