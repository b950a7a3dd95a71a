"""The studio's product edit (catalog.studio): a product and its variants saved together, in one
transaction, by someone who may edit the brand's catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from catalog import variants as variant_rules
from catalog.exceptions import CatalogError
from catalog.models import Product, Variant

# What the studio's variant rows edit; ``stock`` is written as a change (VariantChange).
VARIANT_FIELDS = ["label", "options", "sku", "price_override", "low_stock_threshold", "is_active"]


class SkuTaken(CatalogError):
    """Another product or variant of the brand took the SKU meanwhile (the form checks first)."""


@dataclass(frozen=True)
class VariantChange:
    """A variant row as edited (``variant`` carries the new values, unsaved; a new one has no pk)
    and the units to add to its stock (negative: take away), as the row's stock field moved from
    what the page showed: units sold while the page was open stay sold."""

    variant: Variant
    stock_change: int = 0


def save_product_with_variants(
    *, product: Product, changes: list[VariantChange], deleted: list[Variant], by
) -> Product:
    """Save the product's fields, its variants' rows and deletions (never its default variant's),
    then keep the default variant's SKU equal to the product's. All or nothing; SkuTaken when a
    concurrent edit took a SKU first. Viewers hear of stock changes after commit."""
    permissions.require(by, Action.EDIT_CATALOG, product)
    try:
        with transaction.atomic():
            product.save()
            for variant in deleted:
                if not variant.is_default and variant.product_id == product.pk:
                    variant.delete()
            for change in changes:
                _save_variant(product, change)
            variant_rules.ensure_default_variant(product=product)
            variant_rules.stock_changed_on_commit([product.pk])
    except IntegrityError as exc:
        raise SkuTaken(gettext("Another product or variant of this brand has just taken this SKU.")) from exc
    return product


def _save_variant(product: Product, change: VariantChange) -> None:
    variant = change.variant
    if variant.pk is None:
        variant.product, variant.organization_id = product, product.organization_id
        variant.stock = max(0, change.stock_change)
        last = product.variants.aggregate(last=Max("position"))["last"]
        variant.position = 0 if last is None else last + 1
        variant.save()
        return
    fields = [field for field in VARIANT_FIELDS if not (field == "sku" and variant.is_default)]
    variant.save(update_fields=fields)
    if change.stock_change:
        Variant.objects.filter(pk=variant.pk).update(stock=Greatest(F("stock") + change.stock_change, 0))
