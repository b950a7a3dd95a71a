"""Taking and giving back a variant's stock: the only code that writes ``Variant.stock`` for
orders. Each change is one conditional UPDATE, so concurrent buyers never take more than there is
(PostgreSQL re-checks ``stock >= n`` on the row's newest version after waiting for its lock).
Callers hold a transaction and go through variants in id order, so two orders never deadlock.

The UPDATE returns the variant's product, so that after commit the product's viewers hear of it
(catalog.variants.stock_changed_on_commit: events' stock push) without another query; a rolled
back change tells nobody."""

from __future__ import annotations

from django.db import connection

from catalog.variants import stock_changed_on_commit

# Fixed statements on catalog.Variant's table (checked against the model by the tests).
_TAKE = "UPDATE catalog_variant SET stock = stock - %s WHERE id = %s AND stock >= %s RETURNING product_id"
_GIVE_BACK = "UPDATE catalog_variant SET stock = stock + %s WHERE id = %s RETURNING product_id"


def take(variant_id: int, quantity: int) -> bool:
    """Take ``quantity`` if that many are left; False (nothing taken) otherwise."""
    return _update(_TAKE, [quantity, variant_id, quantity])


def give_back(variant_id: int, quantity: int) -> None:
    _update(_GIVE_BACK, [quantity, variant_id])


def _update(sql: str, params: list[int]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is not None:
        stock_changed_on_commit([row[0]])
    return row is not None
