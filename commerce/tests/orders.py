"""Orders as buyers make them, for the studio's tests: through the cart, the checkout and the test
provider's card payment delivered to the webhook handler (no rows written by hand)."""

from __future__ import annotations

from commerce import payments, services
from commerce.models import Cart, Order
from commerce.payments.test import SUCCEED_CARD


def start_order(
    variant, *, quantity=1, email="buyer@example.com", **attribution
) -> tuple[Order, payments.Payment]:
    """A new buyer's pending order of ``quantity`` x ``variant`` (attributed to ``event=`` or
    ``recording=``) and its payment."""
    cart = Cart.objects.create(organization_id=variant.organization_id)
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=quantity, **attribution)
    return services.start_checkout(cart=cart, email=email)


def place_order(variant, **order) -> Order:
    """start_order(), paid with the test provider's success card."""
    order, payment = start_order(variant, **order)
    pay(order, payment)
    order.refresh_from_db()
    return order


def pay(order: Order, payment: payments.Payment, card: str = SUCCEED_CARD) -> str:
    """Pay ``order`` with ``card`` at the test provider and hand the delivery to the webhook."""
    backend = payments.get_payment_backend()
    delivery = backend.confirm(
        client_secret=payment.client_secret,
        reference=str(order.token),
        amount_minor=payments.minor_units(order.total, order.currency),
        currency=order.currency,
        card_number=card,
    )
    return services.handle_payment_webhook(body=delivery.body, headers=delivery.headers)
