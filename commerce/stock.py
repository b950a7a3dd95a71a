"""Taking and giving back a variant's stock: the only code that writes ``Variant.stock`` for
orders. Each change is one conditional UPDATE, so concurrent buyers never take more than there is
(PostgreSQL re-checks ``stock >= n`` on the row's newest version after waiting for its lock).
Callers hold a transaction and go through variants in id order, so two orders never deadlock."""

from __future__ import annotations

from django.db.models import F

from catalog.models import Variant


def take(variant_id: int, quantity: int) -> bool:
    """Take ``quantity`` if that many are left; False (nothing taken) otherwise."""
    return bool(
        Variant.objects.filter(pk=variant_id, stock__gte=quantity).update(stock=F("stock") - quantity)
    )


def give_back(variant_id: int, quantity: int) -> None:
    Variant.objects.filter(pk=variant_id).update(stock=F("stock") + quantity)
