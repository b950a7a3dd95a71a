"""The provider's side of the studio's refund and cancel, and of expiry (commerce.refunds and
commerce.tasks.cancel_payment_task), against the test provider and real PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from commerce import payments, refunds, services, tasks
from commerce.exceptions import OrderNotCancelable
from commerce.models import Order, StockReservation
from commerce.payments.test import TestPaymentBackend
from commerce.tests.orders import pay, place_order, start_order

pytestmark = pytest.mark.django_db
Status = Order.Status


def expire(order):
    StockReservation.objects.filter(order=order).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_a_refund_gives_the_money_back_through_the_provider_and_restocks(payment_backend, make_variant, host):
    variant = make_variant(stock=5, price="12.50")
    order = place_order(variant, quantity=2)

    refunded = refunds.refund_order_with_provider(order=order, by=host)

    variant.refresh_from_db()
    assert (refunded.status, variant.stock) == (Status.REFUNDED, 5)
    assert refunded.refund_id.startswith("tpre_") and refunded.refunded_at is not None
    with pytest.raises(payments.AlreadyRefunded):  # the provider gave back all of it
        payment_backend.refund(order.payment_id, Decimal("0.01"), "USD", idempotency_key="more")
    with pytest.raises(OrderNotCancelable, match="this one is “Refunded”"):
        refunds.refund_order_with_provider(order=refunded, by=host)


def test_a_refund_the_provider_refuses_changes_nothing(payment_backend, make_variant, host):
    variant = make_variant(stock=5)
    order, _ = start_order(variant)
    # Paid here but never at the provider: it refuses, and the order stays as it was.
    Order.objects.filter(pk=order.pk).update(status=Status.PAID)
    order.refresh_from_db()

    with pytest.raises(payments.PaymentBackendError, match="succeeded"):
        refunds.refund_order_with_provider(order=order, by=host)

    order.refresh_from_db()
    variant.refresh_from_db()
    assert (order.status, order.refund_id, variant.stock) == (Status.PAID, "", 4)


def test_an_order_refunded_from_the_providers_dashboard_is_recorded_as_refunded(
    payment_backend, make_variant, host
):
    order = place_order(make_variant())
    payment_backend.refund(order.payment_id, order.total, order.currency, idempotency_key="dashboard")

    order = refunds.refund_order_with_provider(order=order, by=host)

    assert (order.status, order.refund_id) == (Status.REFUNDED, "")


def test_refund_and_cancel_are_refused_to_moderators_and_other_brands(
    payment_backend, make_variant, moderator, other_brand
):
    paid, (pending, _) = place_order(make_variant()), start_order(make_variant())
    stranger = member(other_brand, role=Membership.Role.OWNER)

    for user in (moderator, stranger):
        with pytest.raises(PermissionDenied):
            refunds.refund_order_with_provider(order=paid, by=user)
        with pytest.raises(PermissionDenied):
            refunds.cancel_order_with_provider(order=pending, by=user)

    assert payment_backend.refund(
        paid.payment_id, paid.total, "USD", idempotency_key="still-paid"
    ).amount_minor
    assert Order.objects.get(pk=pending.pk).status == Status.PENDING


def test_cancel_calls_off_the_payment_so_the_buyer_cannot_pay_it_late(payment_backend, make_variant, host):
    variant = make_variant(stock=3)
    order, payment = start_order(variant)

    canceled = refunds.cancel_order_with_provider(order=order, by=host)

    variant.refresh_from_db()
    assert (canceled.status, variant.stock) == (Status.CANCELED, 3)
    with pytest.raises(payments.PaymentBackendError, match="canceled"):
        pay(order, payment)


def test_a_paid_order_is_refunded_not_canceled(payment_backend, make_variant, host):
    order = place_order(make_variant())

    with pytest.raises(OrderNotCancelable, match="Refund it instead"):
        refunds.cancel_order_with_provider(order=order, by=host)
    assert Order.objects.get(pk=order.pk).status == Status.PAID


def test_an_expired_reservation_cancels_the_payment_after_commit(
    payment_backend, make_variant, django_capture_on_commit_callbacks
):
    variant = make_variant(stock=1)
    order, payment = start_order(variant)
    expire(order)

    with django_capture_on_commit_callbacks(execute=True):  # the task runs once the release commits
        assert services.release_expired_reservations() == 1

    with pytest.raises(payments.PaymentBackendError, match="canceled"):
        pay(order, payment)
    variant.refresh_from_db()
    assert (Order.objects.get(pk=order.pk).status, variant.stock) == (Status.EXPIRED, 1)


def test_a_payment_that_won_the_race_with_expiry_still_ends_paid_or_needing_a_refund(
    payment_backend, make_variant, django_capture_on_commit_callbacks
):
    variant = make_variant(stock=1)
    order, payment = start_order(variant)
    expire(order)
    services.release_expired_reservations()  # the cancel task is not run yet
    place_order(variant)  # another buyer takes the released unit

    assert pay(order, payment) == "needs refund"  # the late payment landed before the cancel
    assert tasks.cancel_payment_task.apply(args=[order.pk]).get() == "nothing to cancel"
    assert Order.objects.get(pk=order.pk).status == Status.NEEDS_REFUND


def test_an_order_paid_after_its_stock_was_gone_is_refunded_without_restocking(
    payment_backend, make_variant, host
):
    variant = make_variant(stock=1)
    order, payment = start_order(variant)
    expire(order)
    services.release_expired_reservations()
    place_order(variant)
    pay(order, payment)

    refunded = refunds.refund_order_with_provider(order=Order.objects.get(pk=order.pk), by=host)

    variant.refresh_from_db()
    assert (refunded.status, variant.stock) == (Status.REFUNDED, 0)  # the unit is the other buyer's
    assert refunded.refund_id.startswith("tpre_")


def test_cancel_task_leaves_a_payment_that_succeeded_meanwhile_to_its_webhook(payment_backend, make_variant):
    order, payment = start_order(make_variant())
    expire(order)
    services.release_expired_reservations()
    payment_backend.confirm(  # paid at the provider; its webhook has not arrived yet
        client_secret=payment.client_secret,
        reference=str(order.token),
        amount_minor=2000,
        currency="USD",
        card_number="4242424242424242",
    )

    assert tasks.cancel_payment_task.apply(args=[order.pk]).get() == "succeeded meanwhile"


class UnreachableProvider(TestPaymentBackend):
    calls = 0

    def cancel(self, payment_id):
        type(self).calls += 1
        raise payments.ProviderUnavailable("The payment provider is unavailable; try again.")


def test_cancel_task_retries_while_the_provider_is_unreachable(payment_backend, make_variant, settings):
    order, _ = start_order(make_variant())
    expire(order)
    services.release_expired_reservations()
    settings.PAYMENT_BACKEND = f"{__name__}.UnreachableProvider"
    payments.get_payment_backend.cache_clear()

    with pytest.raises(Retry) as retry:
        tasks.cancel_payment_task.apply(args=[order.pk]).get()

    assert (retry.value.when, UnreachableProvider.calls) == (30, 1)
    assert isinstance(retry.value.exc, payments.ProviderUnavailable)


@pytest.fixture
def stripe_webhooks(settings):
    """deliver(event_type, data, event_id): sign an event as Stripe would POST it and hand it to
    the webhook handler, with PAYMENT_BACKEND=stripe from then on (orders are placed before, with
    the test provider)."""
    import json
    import time

    import stripe

    def deliver(event_type, data, event_id):
        settings.PAYMENT_BACKEND, settings.STRIPE_WEBHOOK_SECRET = "stripe", "whsec_test"
        payments.get_payment_backend.cache_clear()
        body = json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": data}})
        header = stripe.WebhookSignature.generate_signature_header(
            body, "whsec_test", timestamp=int(time.time())
        )
        return services.handle_payment_webhook(body=body.encode(), headers={"Stripe-Signature": header})

    yield deliver
    payments.get_payment_backend.cache_clear()


def as_stripe_order(order, payment_id):
    Order.objects.filter(pk=order.pk).update(payment_backend="stripe", payment_id=payment_id)


def test_a_refund_from_stripes_dashboard_refunds_the_order_once_and_restocks(
    payment_backend, make_variant, stripe_webhooks
):
    variant = make_variant(stock=3, price="25.99", currency="EUR")
    order = place_order(variant)
    as_stripe_order(order, "pi_dash")
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": "pi_dash",
        "currency": "eur",
        "refunded": True,
        "refunds": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": "re_d",
                    "amount": 2599,
                    "currency": "eur",
                    "status": "succeeded",
                    "payment_intent": "pi_dash",
                }
            ],
        },
    }

    outcomes = [
        stripe_webhooks("charge.refunded", {**charge, "amount_refunded": 2599}, "evt_d1") for _ in range(3)
    ]

    order.refresh_from_db()
    variant.refresh_from_db()
    assert outcomes == ["refunded", "duplicate", "duplicate"]
    assert (order.status, variant.stock) == (Status.REFUNDED, 3) and order.refunded_at is not None
    assert (
        stripe_webhooks("charge.refunded", {**charge, "amount_refunded": 2599}, "evt_d2")
        == "refund already succeeded"
    )


def test_a_failed_refund_leaves_the_order_needing_a_refund(
    payment_backend, make_variant, host, stripe_webhooks
):
    payments.get_payment_backend.cache_clear()
    order = place_order(make_variant(stock=2))
    Order.objects.filter(pk=order.pk).update(
        status=Status.REFUNDED, refund_id="re_9", payment_backend="stripe", payment_id="pi_f"
    )
    refund = {"id": "re_9", "object": "refund", "payment_intent": "pi_f", "amount": 2000, "currency": "usd"}

    other = stripe_webhooks("refund.failed", {**refund, "id": "re_other", "status": "failed"}, "evt_f0")
    outcome = stripe_webhooks(
        "refund.failed", {**refund, "status": "failed", "failure_reason": "lost_or_stolen_card"}, "evt_f1"
    )

    order.refresh_from_db()
    assert (other, outcome, order.status) == (
        "refund failed before it was recorded",
        "refund failed",
        Status.NEEDS_REFUND,
    )
    assert (
        order.status_reason
        == "The refund failed at the payment provider (lost or stolen card): refund it again."
    )


def test_the_release_command_cancels_the_released_payments_too(
    payment_backend, make_variant, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    order, payment = start_order(make_variant())
    expire(order)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("release_expired_reservations", stdout=out)

    assert out.getvalue().startswith("1 order(s) expired")
    with pytest.raises(payments.PaymentBackendError, match="canceled"):
        pay(order, payment)


def test_a_partial_refund_gives_part_back_once_and_the_rest_comes_with_the_full_refund(
    payment_backend, make_variant, host
):
    variant = make_variant(stock=5, price="12.50")
    order = place_order(variant, quantity=2)  # 25.00 USD, stock 3

    part = refunds.refund_part_with_provider(order=order, amount=Decimal("5.00"), by=host)
    again = refunds.refund_part_with_provider(order=order, amount=Decimal("5.00"), by=host)  # the same post

    variant.refresh_from_db()
    assert (part.status, part.refunded_total, variant.stock) == (Status.PAID, Decimal("5.00"), 3)
    assert again.refunded_total == Decimal("5.00")  # recorded once, and the provider refunded once:
    payment_backend.refund(order.payment_id, Decimal("20.00"), "USD", idempotency_key="probe")  # 20 left
    with pytest.raises(payments.AlreadyRefunded):
        payment_backend.refund(order.payment_id, Decimal("0.01"), "USD", idempotency_key="more")

    fresh = make_variant(stock=5, price="12.50")
    other = place_order(fresh, quantity=2)
    refunds.refund_part_with_provider(order=other, amount=Decimal("5.00"), by=host)
    other.refresh_from_db()
    refunded = refunds.refund_order_with_provider(order=other, by=host)  # the 20.00 left, restocked
    fresh.refresh_from_db()
    assert (refunded.status, fresh.stock) == (Status.REFUNDED, 5)
    with pytest.raises(payments.AlreadyRefunded):
        payment_backend.refund(other.payment_id, Decimal("0.01"), "USD", idempotency_key="more")


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "more than 0"),
        ("-1", "more than 0"),
        ("25.00", r"less than the \$25\.00 left"),
        ("30", "less than the"),
        ("1.005", "too many decimals"),
        ("NaN", "not an amount"),
    ],
)
def test_a_partial_refund_of_nothing_all_too_much_or_fractions_of_a_cent_is_refused(
    payment_backend, make_variant, host, amount, reason
):
    from commerce.exceptions import RefundRefused

    order = place_order(make_variant(stock=5, price="12.50"), quantity=2)

    with pytest.raises(RefundRefused, match=reason):
        refunds.refund_part_with_provider(order=order, amount=Decimal(amount), by=host)

    order.refresh_from_db()
    assert order.refunded_total == 0
    # All of it is still there to refund.
    payment_backend.refund(order.payment_id, Decimal("25.00"), "USD", idempotency_key="all")


def test_partial_refunds_are_for_paid_orders_and_the_brands_managers(
    payment_backend, make_variant, host, brand
):
    order = place_order(make_variant(stock=5), quantity=1)
    moderator = member(brand, Membership.Role.MODERATOR)

    with pytest.raises(PermissionDenied):
        refunds.refund_part_with_provider(order=order, amount=Decimal("1.00"), by=moderator)
    pending, _ = start_order(make_variant(stock=5), quantity=1)
    with pytest.raises(OrderNotCancelable, match="Only a paid order"):
        refunds.refund_part_with_provider(order=pending, amount=Decimal("1.00"), by=host)
