"""Refunds as the payment provider reports them (commerce.refunds.record_refund): partial refunds
made in Stripe's dashboard, pending refunds that settle later or fail, the test provider's refund
events (the same path, locally and in `make demo`). Real PostgreSQL; Stripe's events signed as
Stripe signs them and handed to the webhook handler; the test provider's delivered after commit."""

import json
import time
from decimal import Decimal

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from commerce import payments, refunds, services
from commerce.models import Order, OrderRefund
from commerce.payments.test import FAILING_REFUND_CARD, PENDING_REFUND_CARD
from commerce.tests.orders import pay, start_order

pytestmark = pytest.mark.django_db
Status = Order.Status


@pytest.fixture
def stripe_events(settings, payment_backend):
    """deliver(event_type, data, event_id): an event signed as Stripe POSTs it, handed to the
    webhook handler with PAYMENT_BACKEND=stripe (orders are placed before, with the test provider,
    then made Stripe's: stripe_order)."""

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


def stripe_order(variant, payment_id, quantity=1):
    """A paid order of ``variant`` whose payment is the PaymentIntent ``payment_id``."""
    order, payment = start_order(variant, quantity=quantity)
    pay(order, payment)
    Order.objects.filter(pk=order.pk).update(payment_backend="stripe", payment_id=payment_id)
    return Order.objects.get(pk=order.pk)


def refund(refund_id, amount, status="succeeded", payment_id="pi_1", **extra):
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "eur",
        "payment_intent": payment_id,
        "status": status,
        **extra,
    }


def charge(*refunds_, payment_id="pi_1", amount=5000):
    refunded = sum(r["amount"] for r in refunds_)
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded == amount,
        "currency": "eur",
        "payment_intent": payment_id,
        "refunds": {"object": "list", "has_more": False, "data": list(refunds_)},
    }


def state(order, variant):
    order.refresh_from_db()
    variant.refresh_from_db()
    return order.status, order.refunded_total, variant.stock


def test_a_partial_refund_made_in_stripes_dashboard_is_recorded_once(make_variant, stripe_events):
    variant = make_variant(stock=5, price="25.00", currency="EUR")
    order = stripe_order(variant, "pi_1", quantity=2)  # 50.00 EUR, stock 3
    first = refund("re_a", 1000)

    outcomes = [stripe_events("charge.refunded", charge(first), "evt_1") for _ in range(3)]
    again = stripe_events("refund.updated", first, "evt_2")  # the same refund, told again

    assert outcomes == ["refunded in part", "duplicate", "duplicate"]
    assert again == "refund already succeeded"
    assert state(order, variant) == (Status.PAID, Decimal("10.00"), 3)  # items stay sold

    rest = refund("re_b", 4000)
    assert stripe_events("charge.refunded", charge(first, rest), "evt_3") == (
        "refund already succeeded; refunded"
    )
    assert state(order, variant) == (Status.REFUNDED, Decimal("50.00"), 5)  # all back: restocked
    assert list(order.refunds.values_list("refund_id", "amount", "status")) == [
        ("re_a", Decimal("10.00"), "succeeded"),
        ("re_b", Decimal("40.00"), "succeeded"),
    ]


def test_a_pending_stripe_refund_is_not_refunded_until_it_succeeds(make_variant, stripe_events, host):
    variant = make_variant(stock=5, price="50.00", currency="EUR")
    order = stripe_order(variant, "pi_1")
    pending = refund("re_p", 5000, status="pending")

    assert stripe_events("refund.created", pending, "evt_1") == "refund pending"
    assert stripe_events("charge.refunded", charge(pending), "evt_2") == "refund already pending"
    assert state(order, variant) == (Status.PAID, Decimal("0.00"), 4)
    client = Client()
    client.force_login(host)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "Pending" in page and "re_p" in page
    assert reverse("orders:refund", args=[order.pk]) not in page  # nothing left to refund meanwhile

    assert stripe_events("charge.refund.updated", {**pending, "status": "succeeded"}, "evt_3") == "refunded"
    late = stripe_events("refund.updated", pending, "evt_4")  # an older event delivered late

    assert late == "refund already succeeded"
    assert state(order, variant) == (Status.REFUNDED, Decimal("50.00"), 5)


def test_a_pending_refund_that_fails_leaves_the_order_to_refund_again(make_variant, stripe_events):
    variant = make_variant(stock=5, price="50.00", currency="EUR")
    order = stripe_order(variant, "pi_1")
    stripe_events("refund.created", refund("re_p", 5000, status="pending"), "evt_1")

    failed = refund("re_p", 5000, status="failed", failure_reason="lost_or_stolen_card")
    assert stripe_events("refund.failed", failed, "evt_2") == "refund failed"
    assert stripe_events("refund.updated", refund("re_p", 5000, status="pending"), "evt_3") == (
        "refund already failed"
    )

    assert state(order, variant) == (Status.NEEDS_REFUND, Decimal("0.00"), 4)  # still sold
    assert "lost or stolen card" in order.status_reason
    assert stripe_events("refund.created", refund("re_q", 5000), "evt_4") == "refunded"
    assert state(order, variant) == (Status.REFUNDED, Decimal("50.00"), 5)


def test_a_failed_partial_refund_is_taken_off_and_the_order_stays_paid(make_variant, stripe_events):
    variant = make_variant(stock=5, price="50.00", currency="EUR")
    order = stripe_order(variant, "pi_1")
    stripe_events("refund.created", refund("re_a", 1500), "evt_1")

    assert stripe_events("refund.failed", refund("re_a", 1500, status="failed"), "evt_2") == "refund failed"

    assert state(order, variant) == (Status.PAID, Decimal("0.00"), 4)
    assert order.status_reason.startswith("A refund of €15.00 failed")  # English, for the admin and logs


def test_refunds_never_add_up_to_more_than_was_paid(make_variant, stripe_events):
    variant = make_variant(stock=5, price="50.00", currency="EUR")
    order = stripe_order(variant, "pi_1")
    stripe_events("refund.created", refund("re_a", 3000, status="pending"), "evt_1")

    over = stripe_events("refund.created", refund("re_b", 2001), "evt_2")  # 30 pending + 20.01 > 50
    other_currency = stripe_events("refund.created", {**refund("re_c", 100), "currency": "usd"}, "evt_3")
    not_ours = stripe_events("refund.created", refund("re_d", 100, payment_id="pi_other"), "evt_4")

    assert (over, other_currency, not_ours) == (
        "refund over the payment",
        "not this order's refund",
        "unknown order",
    )
    assert state(order, variant) == (Status.PAID, Decimal("0.00"), 4)
    assert list(order.refunds.values_list("refund_id", flat=True)) == ["re_a"]


def test_the_webhook_answers_503_when_stripe_cannot_say_which_refunds_a_charge_had(
    make_variant, settings, payment_backend, monkeypatch
):
    order = stripe_order(make_variant(stock=5, price="50.00", currency="EUR"), "pi_1")
    settings.PAYMENT_BACKEND, settings.STRIPE_WEBHOOK_SECRET = "stripe", "whsec_test"
    payments.get_payment_backend.cache_clear()
    backend = payments.get_payment_backend()

    def unreachable(*args, **kwargs):
        raise stripe.APIConnectionError("no network")

    monkeypatch.setattr(backend.client.v1.refunds, "list", unreachable)
    data = {**charge(refund("re_a", 1000)), "refunds": None}  # not listed: Stripe must be asked
    body = json.dumps({"id": "evt_x", "object": "event", "type": "charge.refunded", "data": {"object": data}})
    header = stripe.WebhookSignature.generate_signature_header(body, "whsec_test", timestamp=int(time.time()))

    response = Client().post(
        reverse("commerce:payment-webhook"),
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )

    assert response.status_code == 503 and "unavailable" in response.json()["error"]
    order.refresh_from_db()
    assert order.refunded_total == 0  # and the event was not stored: Stripe's redelivery is applied
    payments.get_payment_backend.cache_clear()


# The test provider: the same events, delivered after commit (commerce.tasks.deliver_test_webhook_task).


def test_the_test_provider_reports_a_pending_refund_and_its_settling_like_stripe(
    payment_backend, make_variant, host, django_capture_on_commit_callbacks
):
    variant = make_variant(stock=3, price="20.00")
    order, payment = start_order(variant)
    pay(order, payment, card=PENDING_REFUND_CARD)
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True) as delivered:
        pending = refunds.refund_order_with_provider(order=order, by=host)

    assert len(delivered) == 1  # refund.created, pending
    assert (pending.status, pending.refunded_total) == (Status.PAID, Decimal("0.00"))
    [row] = pending.refunds.all()
    assert row.status == OrderRefund.Status.PENDING
    with pytest.raises(Exception, match="being refunded"):  # a second click refunds nothing more
        refunds.refund_order_with_provider(order=pending, by=host)

    with django_capture_on_commit_callbacks(execute=True):
        payment_backend.settle_refund(row.refund_id)

    assert state(order, variant) == (Status.REFUNDED, Decimal("20.00"), 3)


def test_the_test_provider_reports_a_refund_made_at_the_provider(
    payment_backend, make_variant, django_capture_on_commit_callbacks
):
    variant = make_variant(stock=3, price="20.00")
    order, payment = start_order(variant)
    pay(order, payment)

    with django_capture_on_commit_callbacks(execute=True):  # as Stripe's dashboard would
        for _ in range(2):  # the provider's cache outlives a test: a key of this order's
            payment_backend.refund(
                order.payment_id, Decimal("5.00"), "USD", idempotency_key=f"d-{order.token}"
            )

    assert state(order, variant) == (Status.PAID, Decimal("5.00"), 2)
    assert order.refunds.get().status == OrderRefund.Status.SUCCEEDED


def test_a_refund_that_fails_after_succeeding_can_be_made_again_without_restocking_twice(
    payment_backend, make_variant, host, django_capture_on_commit_callbacks
):
    variant = make_variant(stock=3, price="20.00")
    order, payment = start_order(variant)
    pay(order, payment, card=FAILING_REFUND_CARD)
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        refunded = refunds.refund_order_with_provider(order=order, by=host)
    assert state(refunded, variant) == (Status.REFUNDED, Decimal("20.00"), 3)

    with django_capture_on_commit_callbacks(execute=True):  # the bank sends the money back
        payment_backend.settle_refund(refunded.refund_id)
    assert state(order, variant) == (Status.NEEDS_REFUND, Decimal("0.00"), 3)
    assert "expired or canceled card" in order.status_reason

    with django_capture_on_commit_callbacks(execute=True):
        again = refunds.refund_order_with_provider(order=order, by=host)  # a new refund, not a replay

    assert state(again, variant) == (Status.REFUNDED, Decimal("20.00"), 3)
    assert [row.status for row in again.refunds.all()] == ["failed", "succeeded"]


def test_the_settle_command_settles_the_test_providers_pending_refunds(
    payment_backend, make_variant, host, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import CommandError, call_command

    variant = make_variant(stock=3, price="20.00")
    order, payment = start_order(variant)
    pay(order, payment, card=PENDING_REFUND_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        refunds.refund_order_with_provider(order=Order.objects.get(pk=order.pk), by=host)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("settle_test_refunds", stdout=out)

    assert out.getvalue().endswith("1 refund(s) settled.\n")
    assert state(order, variant) == (Status.REFUNDED, Decimal("20.00"), 3)
    with pytest.raises(CommandError, match="No such refund"):
        call_command("settle_test_refunds", "tpre_unknown")


def test_a_refund_reported_before_its_payments_success_refunds_the_order_once_it_is_paid(
    make_variant, stripe_events
):
    variant = make_variant(stock=5, price="50.00", currency="EUR")
    order, _ = start_order(variant)
    Order.objects.filter(pk=order.pk).update(payment_backend="stripe", payment_id="pi_1")
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 5000,
        "currency": "eur",
        "status": "succeeded",
        "metadata": {"order": str(order.token)},
    }

    early = stripe_events("refund.created", refund("re_a", 5000), "evt_1")  # delivered first
    assert state(order, variant) == (Status.PENDING, Decimal("50.00"), 4)
    paid = stripe_events("payment_intent.succeeded", intent, "evt_2")

    assert (early, paid) == ("refunded (pending order)", "paid and refunded")
    assert state(order, variant) == (Status.REFUNDED, Decimal("50.00"), 5)


def test_the_admin_shows_an_orders_refunds_as_the_provider_reported_them(
    client, owner, make_variant, stripe_events
):
    order = stripe_order(make_variant(stock=5, price="50.00", currency="EUR"), "pi_1")
    stripe_events("refund.created", refund("re_a", 1000, status="pending"), "evt_1")
    client.force_login(owner)

    page = client.get(reverse("admin:commerce_order_change", args=[order.pk])).content.decode()

    assert "re_a" in page and "Pending" in page


def test_orders_refunded_before_refund_rows_get_theirs(payment_backend, make_variant):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("commerce.migrations.0007_order_refunds")
    order, _ = start_order(make_variant(stock=5, price="50.00", currency="EUR"))
    Order.objects.filter(pk=order.pk).update(status=Status.REFUNDED, refund_id="re_old", refunded_total=10)

    migration.record_earlier_refunds(apps, None)

    order.refresh_from_db()
    assert order.refunded_total == Decimal("50.00")
    assert list(order.refunds.values_list("refund_id", "amount", "status")) == [
        ("re_old", Decimal("40.00"), "succeeded")  # what the full refund gave after 10.00 in part
    ]
