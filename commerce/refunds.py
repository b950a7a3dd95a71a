"""The payment provider's side of ending an order: the studio's refund and cancel, and calling off
the payment of an order whose reservation ended unpaid.

The provider is called first and outside any transaction (never while the order's row is
locked), then commerce.services closes the order (stock released or put back). Each provider
call carries a key derived from the order, so a repeated click or a retried task never refunds
or cancels twice."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import permissions
from accounts.permissions import Action
from commerce import payments, services
from commerce.exceptions import OrderNotCancelable, RefundRefused
from commerce.models import Order

logger = logging.getLogger(__name__)

Status = Order.Status
REFUNDABLE = (Status.PAID, Status.NEEDS_REFUND)
# Orders that ended unpaid: their payment, if the buyer still tried it, must not succeed.
ENDED_UNPAID = (Status.EXPIRED, Status.CANCELED, Status.FAILED)


def refund_order_with_provider(*, order: Order, by) -> Order:
    """Give a paid (or paid-but-sold-out) order's money back through its provider, then mark it
    refunded with the provider's refund id and put its stock back (services.refund_order). After
    partial refunds (refund_part_with_provider) it gives back what is left.
    PaymentBackendError or OrderNotCancelable, nothing changed, when that cannot be done; a
    payment already refunded at the provider (its dashboard) is recorded as refunded."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    if order.status not in REFUNDABLE:
        raise OrderNotCancelable(f"Only a paid order can be refunded; this one is {_status(order)}.")
    refund_id = ""
    if order.payment_id:
        backend = _backend_of(order)
        left = order.total - order.refunded_total
        try:
            refund = backend.refund(
                order.payment_id, left, order.currency, idempotency_key=f"refund-{order.token}"
            )
            refund_id = refund.id
        except payments.AlreadyRefunded:
            logger.info("Order refunded at the provider already", extra={"order": order.pk})
    with transaction.atomic():
        order = services.refund_order(order=order, by=by)
        order.refund_id, order.refunded_at = refund_id, timezone.now()
        order.save(update_fields=["refund_id", "refunded_at"])
    return order


def refund_part_with_provider(*, order: Order, amount: Decimal, by) -> Order:
    """Give ``amount`` of a paid order's money back through its provider (a goodwill gesture, an
    item returned) while the order stays paid and its items sold: ``refunded_total`` grows. The
    amount is above zero, in the currency's coins, and below what is left (all of it is a full
    refund: refund_order_with_provider, which restocks): RefundRefused otherwise, nothing done.
    The provider's key names the order, what was refunded before and the amount, so a repeated
    click (the same page posted twice) refunds once and is recorded once."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    if order.status != Status.PAID:
        raise OrderNotCancelable(f"Only a paid order can be refunded in part; this one is {_status(order)}.")
    before, left = order.refunded_total, order.total - order.refunded_total
    if not amount.is_finite() or _coins(amount, order.currency) != amount:
        raise RefundRefused(f"{amount} is not an amount of {order.currency} (too many decimals).")
    if not 0 < amount < left:
        raise RefundRefused(
            f"A partial refund is more than 0 and less than the {left} {order.currency} left to refund "
            "(refund the order to give back all of it)."
        )
    minor = payments.minor_units(amount, order.currency)
    if order.payment_id:
        key = f"refund-{order.token}-{payments.minor_units(before, order.currency)}-{minor}"
        _backend_of(order).refund(order.payment_id, amount, order.currency, idempotency_key=key)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.refunded_total == before:  # else a repeated click recorded this refund already
            order.refunded_total = before + amount
            order.save(update_fields=["refunded_total"])
    return order


def _coins(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to the currency's smallest coin (what minor units can express)."""
    minor = payments.minor_units(amount, currency)
    return Decimal(minor) / (payments.minor_units(Decimal(1), currency))


def cancel_order_with_provider(*, order: Order, by) -> Order:
    """Cancel an order awaiting payment: its provider payment first (so the buyer can no longer
    pay it), then the order, whose reservation goes back on sale (services.cancel_order). A paid
    order is refunded instead (OrderNotCancelable); PaymentNotCancelable when the buyer's payment
    has just succeeded (the order is left alone: it turns paid when the provider's event arrives)."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    if order.status != Status.PENDING:
        hint = " Refund it instead." if order.status in REFUNDABLE else ""
        raise OrderNotCancelable(
            f"Only an order awaiting payment can be canceled; this one is {_status(order)}.{hint}"
        )
    if order.payment_id:
        _backend_of(order).cancel(order.payment_id)
    return services.cancel_order(order=order, by=by)


def cancel_payment_as_operator(*, order_id: int) -> str:
    """Call off the provider's payment of an order that ended unpaid (its reservation expired, a
    new checkout replaced it), so a late payment is refused rather than taken; returns what
    happened. A payment that succeeded meanwhile is left to its webhook (paid again, or
    needs_refund when the stock is gone). Raises ProviderUnavailable only (worth a retry)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or not order.payment_id or order.status not in ENDED_UNPAID:
        return "nothing to cancel"
    try:
        return _backend_of(order).cancel(order.payment_id)
    except payments.ProviderUnavailable:
        raise
    except payments.PaymentNotCancelable as exc:
        logger.info(
            "A payment succeeded after its order ended", extra={"order": order.pk, "reason": str(exc)}
        )
        return "succeeded meanwhile"
    except payments.PaymentBackendError as exc:
        logger.warning(
            "The provider refused to cancel a payment", extra={"order": order.pk, "reason": str(exc)}
        )
        return f"refused: {exc}"


def apply_refund_event(order: Order, event: payments.PaymentEvent) -> str:
    """The provider's word on a refund, from a verified webhook (commerce.services holds the
    order's lock): a full refund made outside Liveshop (the provider's dashboard) marks a paid
    order refunded and puts its stock back; a refund that failed leaves the order needing one
    again. Returns what happened; idempotent (a refunded order stays refunded)."""
    if event.kind == payments.REFUND_FAILED:
        return _refund_failed(order, event)
    if order.status not in REFUNDABLE:
        return f"already {order.status}"
    if (event.amount_minor, event.currency) != (
        payments.minor_units(order.total, order.currency),
        order.currency,
    ):
        return "partial refund: left to the studio"
    order = services._close(order, Status.REFUNDED, allowed=REFUNDABLE)  # restocks, as refund_order does
    order.refunded_at = timezone.now()
    order.save(update_fields=["refunded_at"])
    return "refunded"


def _refund_failed(order: Order, event: payments.PaymentEvent) -> str:
    if order.status != Status.REFUNDED or event.refund_id not in ("", order.refund_id):
        return "not this order's refund"
    order.status, order.refund_id = Status.NEEDS_REFUND, ""
    reason = event.reason or "no reason given"
    order.status_reason = f"The refund failed at the payment provider ({reason}): refund it again."[:300]
    order.save(update_fields=["status", "refund_id", "status_reason"])
    return "refund failed"


def _backend_of(order: Order) -> payments.PaymentBackend:
    backend = payments.get_payment_backend()
    if backend.name != order.payment_backend:
        raise payments.PaymentBackendError(
            f"This order was paid through “{order.payment_backend}”, which this site no longer uses: "
            "act on it in that provider's dashboard."
        )
    return backend


def _status(order: Order) -> str:
    return order.get_status_display().lower()
