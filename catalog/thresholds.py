"""The brand's low-stock default: the "only N left" threshold of every variant that sets none of
its own (Variant.low_stock_threshold empty).

Brands set it in their shop settings (commerce.ShopSettings.low_stock_threshold). catalog never
imports commerce, so commerce fills two slots at start (CommerceConfig.ready):
- ``expression``: the brand's default as a column; Variant's manager selects it with every variant
  it loads (``Variant.objects``, ``product.variants``, ``prefetch_related("variants")``): the
  query that loads a card's variants brings it along, no query per card;
- ``reader(organization_id)``: for a variant loaded some other way (``order_line.variant``), a
  read cached per process (commerce.selectors.brand_low_stock_threshold).
Unfilled (catalog alone), every brand has DEFAULT_LOW_STOCK_THRESHOLD."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Every brand's threshold until it chooses its own.
DEFAULT_LOW_STOCK_THRESHOLD = 10
# The attribute Variant's manager selects the brand's default into (None: not chosen).
ATTRIBUTE = "brand_low_stock_threshold"

_reader: Callable[[int], int] | None = None
_expression: Callable[[], Any] | None = None
_UNREAD = object()


def fill(*, reader: Callable[[int], int], expression: Callable[[], Any]) -> None:
    """Called from an AppConfig.ready(): ``reader(organization_id)`` returns the brand's default;
    ``expression()`` builds a query expression of it for a variant's row (its organization_id)."""
    global _reader, _expression
    _reader, _expression = reader, expression


def expression():
    """The column expression Variant's manager annotates, or None when nobody filled it."""
    return _expression() if _expression is not None else None


def brand_default_of(variant) -> int:
    """The low-stock default of ``variant``'s brand: the column selected with it, else a read."""
    chosen = getattr(variant, ATTRIBUTE, _UNREAD)
    if chosen is _UNREAD:
        return brand_default(variant.organization_id)
    return DEFAULT_LOW_STOCK_THRESHOLD if chosen is None else chosen


def brand_default(organization_id: int | None) -> int:
    """The brand's low-stock default (DEFAULT_LOW_STOCK_THRESHOLD for an unsaved variant)."""
    if organization_id is None or _reader is None:
        return DEFAULT_LOW_STOCK_THRESHOLD
    return _reader(organization_id)
