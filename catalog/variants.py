"""Variants in the catalogue's writes: the default variant every product has, and the rows of an
import file that name a variant (the optional ``variant``, ``variant_sku`` and ``variant_price``
columns). Used by catalog.services (import) and catalog.admin; nothing here checks permissions."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django import forms
from django.db import transaction

from catalog.exceptions import RowError
from catalog.models import Product, Variant

# Who hears of stock changes (events' stock push registers in EventsConfig.ready): catalog sits
# below the apps that deliver them, so it offers this slot rather than importing them.
_stock_listeners: list[Callable[[set[int]], None]] = []


def listen_to_stock_changes(listener: Callable[[set[int]], None]) -> None:
    """Call ``listener(product_ids)`` after each commit that changed those products' variants."""
    if listener not in _stock_listeners:
        _stock_listeners.append(listener)


def stock_changed_on_commit(product_ids: Iterable[int]) -> None:
    """Every writer of ``Variant.stock`` (commerce.stock, the admin, the import) calls this: the
    listeners hear of the products once the transaction commits, never after a rollback. A
    listener's failure is logged and never undoes the change (robust)."""
    ids = {int(pk) for pk in product_ids if pk is not None}
    for listener in _stock_listeners if ids else ():
        transaction.on_commit(functools.partial(listener, ids), robust=True)


# Import columns that describe a variant rather than its product; ``stock`` on a row with a
# variant is that variant's stock.
VARIANT_COLUMNS = {"variant": "label", "variant_sku": "sku", "variant_price": "price_override"}


@transaction.atomic
def ensure_default_variant(*, product: Product, stock: int | None = None) -> Variant:
    """The product's default variant, created with the product's SKU if missing (with ``stock``,
    else none); its SKU follows the product's (the one place that keeps ``Product.sku`` and the
    default variant's equal), and ``stock`` (when given) becomes its stock. Locks the variant row."""
    variant = Variant.objects.select_for_update().filter(product=product, is_default=True).first()
    if variant is None:
        variant = Variant(organization_id=product.organization_id, product=product, is_default=True)
        variant.stock = 0 if stock is None else stock
        variant.sku = product.sku
        variant.full_clean(exclude=["product", "organization"])
        variant.save()
        return variant
    changed = []
    if variant.sku != product.sku:
        variant.sku, changed = product.sku, [*changed, "sku"]
    if stock is not None and variant.stock != stock:
        variant.stock, changed = stock, [*changed, "stock"]
    if changed:
        variant.save(update_fields=changed)
    return variant


def variant_skus_taken(organization_id: int | None, skus: Iterable[str]) -> dict[str, Variant]:
    """Which of ``skus`` the brand's non-default variants hold: a product may not take one as its
    own SKU (its default variant's would clash; other products' defaults are products' SKUs,
    which the product's own uniqueness check catches)."""
    held = Variant.objects.select_related("product").filter(
        organization_id=organization_id, sku__in=list(skus), is_default=False
    )
    return {variant.sku: variant for variant in held}


class StockForm(forms.ModelForm):
    """A plain import row's stock (its product's default variant's)."""

    class Meta:
        model = Variant
        fields = ["stock"]


def default_variant_stock(line: int, row: Mapping[str, Any]) -> tuple[int | None, list[RowError]]:
    """The stock a row without a variant gives its product's default variant: None when its
    ``stock`` cell is missing or empty (the current stock stays), or the reasons it is not one."""
    cell = row.get("stock")
    if variant_label(row) or cell is None or str(cell).strip() == "":
        return None, []
    form = StockForm({"stock": str(cell).strip()})
    if not form.is_valid():
        return None, [RowError(line, f"stock: {message}") for message in form.errors["stock"]]
    return form.cleaned_data["stock"], []


class VariantImportForm(forms.ModelForm):
    """One import row's variant (its label, SKU, price override and stock)."""

    class Meta:
        model = Variant
        fields = ["label", "sku", "price_override", "stock"]


def variant_label(row: Mapping[str, Any]) -> str:
    value = row.get("variant")
    return "" if value is None else str(value).strip()


def variant_form(row: Mapping[str, Any], variant: Variant) -> VariantImportForm:
    """The row's variant form, bound over ``variant``'s current values (an empty stock keeps it)."""
    data = {"label": variant.label, "sku": variant.sku, "price_override": variant.price_override}
    data["stock"] = variant.stock
    for column, field in [*VARIANT_COLUMNS.items(), ("stock", "stock")]:
        cell = row.get(column)
        if cell is not None and str(cell).strip() != "":
            data[field] = str(cell).strip()
    return VariantImportForm(data, instance=variant)


def variant_errors(line: int, form: VariantImportForm) -> list[RowError]:
    names = {field: column for column, field in VARIANT_COLUMNS.items()} | {"stock": "stock"}
    return [
        RowError(line, f"{names.get(field, field)}: {message}" if field in names else message)
        for field, messages in form.errors.items()
        for message in messages
    ]


def find_variant(
    *, line: int, row: Mapping[str, Any], product: Product | None, held: Mapping[str, Variant]
) -> tuple[Variant | None, list[RowError]]:
    """The variant a row names (by ``variant_sku`` within the brand), a new one, or an error when
    the SKU is missing or belongs to another product."""
    sku = str(row.get("variant_sku") or "").strip()
    if not sku:
        return None, [RowError(line, "variant_sku: a row with a variant needs its own SKU.")]
    existing = held.get(sku)
    if existing is None:
        return Variant(organization_id=product.organization_id if product else None), []
    if product is None or existing.product_id != product.pk:
        return None, [
            RowError(
                line, f"variant_sku: “{sku}” belongs to {existing.product.name} ({existing.product.sku})."
            )
        ]
    return existing, []
