"""Why an order is in its status (failed, expired, refund due...), kept as a code and its
parameters (``Order.status_note``, ``Order.status_params``) and worded when shown, in the reader's
language: the buyer's order page, the studio's order, the order API. ``Order.status_reason``
keeps the English wording for the admin, logs and older readers.

A payment provider's own words (a decline message, a refund's failure reason) are passed on as
the provider wrote them: they come in its language, not ours."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import translation
from django.utils.translation import gettext

from liveshop.display import format_price

REPLACED = "replaced"  # a new checkout of the same cart
EXPIRED = "expired"  # the reservation ran out before the payment
PAYMENT_FAILED = "payment_failed"  # {reason}: the provider's words, or ""
PAID_TOO_LATE = "paid_too_late"  # paid after the reservation ended, the stock gone
REFUND_FAILED = "refund_failed"  # {reason}: the order needs its refund again
PART_REFUND_FAILED = "part_refund_failed"  # {amount, currency, reason}: the order stays paid

FIELDS = ["status_note", "status_params", "status_reason"]


def set_note(order, code: str, **params) -> list[str]:
    """Give ``order`` the note ``code`` with ``params`` (its English wording in status_reason);
    returns the fields to save. An empty code clears it."""
    order.status_note, order.status_params = code, params
    with translation.override("en"):
        order.status_reason = wording(code, params)[:300]
    return FIELDS


def wording(code: str, params: dict, fallback: str = "") -> str:
    """The note in the active language; ``fallback`` (the stored text) for no or an unknown code."""
    reason = str(params.get("reason") or "")
    if code == REPLACED:
        return gettext("Replaced by a new checkout.")
    if code == EXPIRED:
        return gettext("The reservation expired before payment.")
    if code == PAYMENT_FAILED:
        return reason or gettext("The payment failed.")
    if code == PAID_TOO_LATE:
        return gettext("Paid after its reservation ended, and the stock was gone: refund it.")
    if code == REFUND_FAILED:
        return gettext("The refund failed at the payment provider (%(reason)s): refund it again.") % {
            "reason": reason or gettext("no reason given")
        }
    if code == PART_REFUND_FAILED:
        return gettext("A refund of %(amount)s failed at the payment provider (%(reason)s).") % {
            "amount": _amount(params),
            "reason": reason or gettext("no reason given"),
        }
    return fallback


def _amount(params: dict) -> str:
    try:
        return format_price(Decimal(str(params.get("amount"))), str(params.get("currency") or "EUR"))
    except (InvalidOperation, ValueError, TypeError):
        return f"{params.get('amount')} {params.get('currency', '')}".strip()
