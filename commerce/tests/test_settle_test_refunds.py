"""The test provider's pending refunds settle by themselves, as Stripe's do later: Celery beat's
commerce-settle-test-refunds entry (and make demo: demo/tests/test_beat.py) settles each refund
pending for a minute; a refund the provider has forgotten is logged and left."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from commerce import refunds, tasks
from commerce.models import Order, OrderRefund
from commerce.payments.test import PENDING_REFUND_CARD, STATE_KEY
from commerce.tests.orders import pay, start_order
from liveshop.celery import app

pytestmark = pytest.mark.django_db


def pending_refund(variant, host, capture) -> OrderRefund:
    """A paid order refunded through the test provider with its pending-refund card."""
    order, payment = start_order(variant)
    pay(order, payment, card=PENDING_REFUND_CARD)
    order.refresh_from_db()
    with capture(execute=True):
        refunds.refund_order_with_provider(order=order, by=host)
    return OrderRefund.objects.get(order=order)


def made_ago(row: OrderRefund, seconds: float) -> None:
    OrderRefund.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


def test_beat_settles_a_pending_refund_once_it_has_waited_a_minute(
    payment_backend, make_variant, host, django_capture_on_commit_callbacks
):
    entry = settings.CELERY_BEAT_SCHEDULE["commerce-settle-test-refunds"]
    assert entry["task"] in app.tasks and entry["schedule"] <= 60
    variant = make_variant(stock=3, price="20.00")
    row = pending_refund(variant, host, django_capture_on_commit_callbacks)
    assert (row.order.status, variant.__class__.objects.get(pk=variant.pk).stock) == (Order.Status.PAID, 2)

    made_ago(row, 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.settle_test_refunds_task.apply().get() == 0  # not yet: half a minute
    row.refresh_from_db()
    assert row.status == OrderRefund.Status.PENDING

    made_ago(row, 61)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.settle_test_refunds_task.apply().get() == 1
    row.refresh_from_db()
    row.order.refresh_from_db()
    variant.refresh_from_db()
    assert row.status == OrderRefund.Status.SUCCEEDED
    assert (row.order.status, row.order.refunded_total, variant.stock) == (
        Order.Status.REFUNDED,
        Decimal("20.00"),
        3,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.settle_test_refunds_task.apply().get() == 0  # settled once


def test_a_refund_the_provider_forgot_is_left_and_the_others_settle(
    payment_backend, make_variant, host, django_capture_on_commit_callbacks, caplog
):
    variant = make_variant(stock=5, price="20.00")
    forgotten, remembered = (
        pending_refund(variant, host, django_capture_on_commit_callbacks) for _ in range(2)
    )
    made_ago(forgotten, 120)
    made_ago(remembered, 90)
    # Without Redis the provider's memory is the web process's own: a restart forgets it.
    cache.delete(STATE_KEY.format(f"re:{forgotten.refund_id}"))

    with django_capture_on_commit_callbacks(execute=True):
        assert refunds.settle_due_test_refunds() == 1

    forgotten.refresh_from_db()
    remembered.refresh_from_db()
    assert (forgotten.status, remembered.status) == (OrderRefund.Status.PENDING, OrderRefund.Status.SUCCEEDED)
    assert "could not be settled" in caplog.text
