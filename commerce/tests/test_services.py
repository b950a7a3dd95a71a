from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.models import Variant
from commerce import services
from commerce.exceptions import CurrencyMismatch, SoldOut, VariantUnavailable
from commerce.models import Cart, Order, StockReservation
from commerce.payments.test import DECLINE_CARD, SUCCEED_CARD

pytestmark = pytest.mark.django_db


def pay(backend, order, payment, card=SUCCEED_CARD):
    """The test provider's delivery for paying ``order`` with ``card``, as the webhook gets it."""
    return backend.confirm(
        client_secret=payment.client_secret,
        reference=str(order.token),
        amount_minor=int(order.total * 100),
        currency=order.currency,
        card_number=card,
    )


def checkout(cart, variant, quantity=1):
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=quantity)
    return services.start_checkout(cart=cart, email="buyer@example.com")


def test_add_to_cart_refuses_another_brands_variant_and_an_unknown_one(cart, make_variant, other_brand):
    theirs = make_variant(organization=other_brand)

    with pytest.raises(VariantUnavailable):
        services.add_to_cart(cart=cart, variant_id=theirs.pk)
    with pytest.raises(VariantUnavailable):
        services.add_to_cart(cart=cart, variant_id=theirs.pk + 1000)
    assert not cart.lines.exists()


def test_add_to_cart_refuses_mixing_currencies_with_a_clear_error(cart, make_variant):
    services.add_to_cart(cart=cart, variant_id=make_variant(currency="EUR").pk)

    with pytest.raises(CurrencyMismatch, match=r"Your cart is in EUR .* priced in USD"):
        services.add_to_cart(cart=cart, variant_id=make_variant(currency="USD").pk)
    assert cart.lines.count() == 1


def test_add_to_cart_attributes_a_live_line_to_the_highlight_on_screen(cart, event, host, broadcasts):
    from events import services as event_services

    product = event.lineup.get().product
    highlight = event_services.feature_product(event=event, product=product, by=host)

    line = services.add_to_cart(cart=cart, variant_id=product.variants.get().pk, event=event)

    assert (line.event, line.source, line.highlight) == (event, "live", highlight)


def test_checkout_snapshots_server_prices_and_reserves_stock(payment_backend, cart, make_variant):
    variant = make_variant(stock=5, price="12.50")
    Variant.objects.filter(pk=variant.pk).update(price_override=Decimal("9.99"))

    order, payment = checkout(cart, variant, quantity=2)

    assert (order.total, order.currency, order.status) == (Decimal("19.98"), "USD", Order.Status.PENDING)
    line = order.lines.get()
    assert (line.unit_price, line.quantity, line.sku) == (Decimal("9.99"), 2, variant.sku)
    assert order.payment_id == payment.id
    variant.refresh_from_db()
    assert variant.stock == 3
    assert order.reservations.get().status == StockReservation.Status.ACTIVE


def test_checkout_beyond_the_stock_is_sold_out_and_reserves_nothing(payment_backend, cart, make_variant):
    plenty, scarce = make_variant(stock=5), make_variant(stock=1)
    services.add_to_cart(cart=cart, variant_id=plenty.pk, quantity=2)

    with pytest.raises(SoldOut):
        checkout(cart, scarce, quantity=2)

    assert [v.stock for v in Variant.objects.filter(pk__in=[plenty.pk, scarce.pk]).order_by("pk")] == [5, 1]
    assert not Order.objects.exists()


def test_a_successful_payment_marks_the_order_paid_commits_stock_and_empties_the_cart(
    payment_backend, cart, make_variant
):
    variant = make_variant(stock=3)
    order, payment = checkout(cart, variant)
    delivery = pay(payment_backend, order, payment)

    assert services.handle_payment_webhook(body=delivery.body, headers=delivery.headers) == "paid"

    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at is not None
    assert order.reservations.get().status == StockReservation.Status.COMMITTED
    assert not cart.lines.exists()
    variant.refresh_from_db()
    assert variant.stock == 2


def test_webhooks_duplicated_ten_times_and_reordered_are_idempotent(payment_backend, cart, make_variant):
    variant = make_variant(stock=3)
    order, payment = checkout(cart, variant)
    succeeded = pay(payment_backend, order, payment)
    failed = pay(payment_backend, order, payment, card=DECLINE_CARD)

    outcomes = [
        services.handle_payment_webhook(body=succeeded.body, headers=succeeded.headers) for _ in range(10)
    ]
    outcomes += [services.handle_payment_webhook(body=failed.body, headers=failed.headers) for _ in range(10)]

    assert outcomes == ["paid"] + ["duplicate"] * 9 + ["already paid"] + ["duplicate"] * 9
    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, variant.stock) == (Order.Status.PAID, 2)


def test_a_success_after_a_failure_takes_the_stock_again(payment_backend, cart, make_variant):
    variant = make_variant(stock=1)
    order, payment = checkout(cart, variant)
    failed, succeeded = (
        pay(payment_backend, order, payment, DECLINE_CARD),
        pay(payment_backend, order, payment),
    )

    assert services.handle_payment_webhook(body=failed.body, headers=failed.headers) == "failed"
    variant.refresh_from_db()
    assert variant.stock == 1
    assert services.handle_payment_webhook(body=succeeded.body, headers=succeeded.headers) == "paid"

    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, variant.stock) == (Order.Status.PAID, 0)


def test_a_success_after_expiry_with_the_stock_gone_needs_a_refund(payment_backend, brand, make_variant):
    variant = make_variant(stock=1)
    first, second = Cart.objects.create(organization=brand), Cart.objects.create(organization=brand)
    order, payment = checkout(first, variant)
    services.release_expired_reservations(now=timezone.now() + timedelta(minutes=11))
    checkout(second, variant)
    delivery = pay(payment_backend, order, payment)

    assert services.handle_payment_webhook(body=delivery.body, headers=delivery.headers) == "needs refund"
    variant.refresh_from_db()
    assert variant.stock == 0


def test_expired_reservations_are_released_and_fresh_ones_kept(payment_backend, brand, make_variant):
    variant = make_variant(stock=4)
    old, _ = checkout(Cart.objects.create(organization=brand), variant)
    StockReservation.objects.filter(order=old).update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh, _ = checkout(Cart.objects.create(organization=brand), variant)

    assert services.release_expired_reservations() == 1
    assert services.release_expired_reservations() == 0

    old.refresh_from_db()
    fresh.refresh_from_db()
    variant.refresh_from_db()
    assert (old.status, fresh.status, variant.stock) == (Order.Status.EXPIRED, Order.Status.PENDING, 3)


def test_a_payment_for_another_amount_is_not_accepted(payment_backend, cart, make_variant):
    order, payment = checkout(cart, make_variant(price="20.00"))
    delivery = payment_backend.confirm(
        client_secret=payment.client_secret,
        reference=str(order.token),
        amount_minor=100,
        currency="USD",
        card_number=SUCCEED_CARD,
    )

    assert services.handle_payment_webhook(body=delivery.body, headers=delivery.headers) == "amount mismatch"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_cancel_and_refund_are_for_the_brands_people_and_put_stock_back(
    payment_backend, cart, make_variant, host, other_brand
):
    variant = make_variant(stock=2)
    order, payment = checkout(cart, variant)
    delivery = pay(payment_backend, order, payment)
    services.handle_payment_webhook(body=delivery.body, headers=delivery.headers)
    stranger = member(other_brand, role=Membership.Role.OWNER)

    with pytest.raises(PermissionDenied):
        services.refund_order(order=order, by=stranger)
    services.refund_order(order=order, by=host)

    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, variant.stock) == (Order.Status.REFUNDED, 2)


def test_cancel_of_a_pending_order_releases_its_reservation(payment_backend, cart, make_variant, host):
    variant = make_variant(stock=2)
    order, _ = checkout(cart, variant)

    services.cancel_order(order=order, by=host)

    variant.refresh_from_db()
    assert (variant.stock, order.reservations.get().status) == (2, StockReservation.Status.RELEASED)
