"""Migration commerce 0010: orders' English status_reason read into a note code and parameters
(commerce.status_notes), worded in the reader's language; backwards, nothing is lost."""

from decimal import Decimal

import pytest
from django.utils import translation

from commerce.models import Order
from tests.migrations import leaf, migrate

BEFORE = [("commerce", "0009_order_language")]


@pytest.mark.django_db(transaction=True)
def test_older_orders_reasons_become_notes_worded_for_the_reader_and_survive_going_back():
    old = migrate(BEFORE)
    try:
        brand = old.get_model("accounts", "Organization").objects.create(name="Old", slug="old-shop")
        OldOrder = old.get_model("commerce", "Order")
        reasons = {
            "expired": ("expired", "The reservation expired before payment."),
            "refund": (
                "needs_refund",
                "The refund failed at the payment provider (no reason given): refund it again.",
            ),
            "part": ("paid", "A refund of 15.00 EUR failed at the payment provider (lost or stolen card)."),
            "declined": ("failed", "Your card was declined."),
            "odd": ("canceled", "Canceled by hand."),
        }
        made = {
            name: OldOrder.objects.create(
                organization=brand,
                email=f"{name}@example.com",
                currency="EUR",
                total=Decimal("40.00"),
                status=status,
                status_reason=reason,
                payment_backend="test",
            ).pk
            for name, (status, reason) in reasons.items()
        }

        migrate(leaf())

        orders = {name: Order.objects.get(pk=pk) for name, pk in made.items()}
        assert (orders["part"].status_note, orders["part"].status_params) == (
            "part_refund_failed",
            {"amount": "15.00", "currency": "EUR", "reason": "lost or stolen card"},
        )
        assert (orders["refund"].status_note, orders["refund"].status_params) == (
            "refund_failed",
            {"reason": ""},
        )
        assert orders["odd"].status_note == "" and orders["odd"].status_note_text == "Canceled by hand."
        with translation.override("de"):
            assert orders["expired"].status_note_text == "Die Reservierung ist vor der Zahlung abgelaufen."
            assert orders["part"].status_note_text == (
                "Eine Erstattung von 15,00\u00a0€ ist beim Zahlungsanbieter fehlgeschlagen"
                " (lost or stolen card)."
            )
            assert orders["refund"].status_note_text.endswith(
                "(ohne Angabe von Gründen): Erstatten Sie sie erneut."
            )
            assert orders["declined"].status_note_text == "Your card was declined."  # the provider's words

        back = migrate(BEFORE)
        kept = back.get_model("commerce", "Order").objects.filter(pk__in=made.values())
        assert sorted(kept.values_list("status_reason", flat=True)) == sorted(r for _, r in reasons.values())
    finally:
        migrate(leaf())
