"""Concurrent buyers against real PostgreSQL: each thread has its own connection and transaction."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce import services
from commerce.exceptions import SoldOut
from commerce.models import Cart, Order, StockReservation

BUYERS = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_buyers_of_ten_in_stock_get_exactly_ten_reservations(brand, payment_backend):
    variant = Variant.objects.get(product=ProductFactory(organization=brand, stock=10, price=Decimal("5.00")))
    carts = [Cart.objects.create(organization=brand) for _ in range(BUYERS)]
    for cart in carts:
        services.add_to_cart(cart=cart, variant_id=variant.pk)
    start = threading.Barrier(BUYERS)
    results, lock = [], threading.Lock()

    def buy(cart):
        try:
            start.wait()
            services.start_checkout(cart=cart, email="buyer@example.com")
            outcome = "reserved"
        except SoldOut:
            outcome = "sold out"
        except Exception as exc:  # anything else is a bug the assertion shows
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=buy, args=(cart,)) for cart in carts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["reserved"] * 10 + ["sold out"] * 40
    variant.refresh_from_db()
    assert variant.stock == 0
    assert StockReservation.objects.filter(status="active").count() == 10
    assert Order.objects.count() == 10
