"""The payment provider's side of ending an order: the studio's refund and cancel, and calling off
the payment of an order whose reservation ended unpaid.

The provider is called first and outside any transaction (never while the order's row is
locked), then commerce.services closes the order (stock released or put back). Each provider
call carries a key derived from the order, so a repeated click or a retried task never refunds
or cancels twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from commerce import payments, services, status_notes
from commerce.exceptions import OrderNotCancelable, RefundRefused
from commerce.models import Order, OrderRefund
from liveshop.display import format_price

logger = logging.getLogger(__name__)

Status = Order.Status
RefundStatus = OrderRefund.Status
REFUNDABLE = (Status.PAID, Status.NEEDS_REFUND)
# Orders that ended unpaid: their payment, if the buyer still tried it, must not succeed.
ENDED_UNPAID = (Status.EXPIRED, Status.CANCELED, Status.FAILED)
# The test provider settles a pending refund (its 4000 0000 0000 7726 card) once it has been
# pending this long, as Stripe settles its own later; older than a day it has forgotten it.
TEST_REFUNDS_SETTLE_AFTER = timedelta(minutes=1)
TEST_REFUNDS_FORGOTTEN_AFTER = timedelta(days=1)


def refund_order_with_provider(*, order: Order, by) -> Order:
    """Give a paid (or paid-but-sold-out) order's money back through its provider, then record
    the provider's refund (record_refund): once it has succeeded the order is refunded and its
    stock put back (services.refund_order's rules); a pending one (some payment methods, a bank
    that takes days) leaves the order as it is until the provider's event settles it. After
    partial refunds it gives back what is left. PaymentBackendError or OrderNotCancelable,
    nothing changed, when that cannot be done; a payment already refunded at the provider (its
    dashboard) is recorded as refunded. The provider's key names the order and its failed
    refunds before: a repeated click refunds once, a retry after a failed refund refunds again."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    if order.status not in REFUNDABLE:
        raise OrderNotCancelable(
            gettext("Only a paid order can be refunded; this one is “%(status)s”.")
            % {"status": _status(order)}
        )
    if order.payment_id:
        rows = list(order.refunds.all())
        left = order.total - order.refunded_total - _total(rows, RefundStatus.PENDING)
        if left <= 0:
            raise OrderNotCancelable(
                gettext("What is left of this order is being refunded: the provider has not settled it yet.")
            )
        failed = sum(row.status == RefundStatus.FAILED for row in rows)
        key = f"refund-{order.token}" + (f"-again-{failed}" if failed else "")
        try:
            refund = _backend_of(order).refund(order.payment_id, left, order.currency, idempotency_key=key)
        except payments.AlreadyRefunded:
            logger.info("Order refunded at the provider already", extra={"order": order.pk})
        else:
            return _record(order, refund)
    with transaction.atomic():
        order = services.refund_order(order=order, by=by)
        order.refunded_total, order.refunded_at = order.total, timezone.now()
        order.save(update_fields=["refunded_total", "refunded_at"])
    return order


def refund_part_with_provider(*, order: Order, amount: Decimal, by) -> Order:
    """Give ``amount`` of a paid order's money back through its provider (a goodwill gesture, an
    item returned) while the order stays paid and its items sold: ``refunded_total`` grows once
    the provider's refund has succeeded (a pending one waits for its event). The amount is above
    zero, in the currency's coins, and below what is left (pending refunds count; all of it is a
    full refund: refund_order_with_provider, which restocks): RefundRefused otherwise, nothing
    done. The provider's key names the order, what was refunded before and the amount, so a
    repeated click (the same page posted twice) refunds once and is recorded once."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    if order.status != Status.PAID:
        raise OrderNotCancelable(
            gettext("Only a paid order can be refunded in part; this one is “%(status)s”.")
            % {"status": _status(order)}
        )
    before = order.refunded_total
    left = order.total - before - _total(order.refunds.all(), RefundStatus.PENDING)
    if not amount.is_finite() or _coins(amount, order.currency) != amount:
        raise RefundRefused(
            gettext("%(amount)s is not an amount of %(currency)s (too many decimals).")
            % {"amount": amount, "currency": order.currency}
        )
    if not 0 < amount < left:
        raise RefundRefused(
            gettext(
                "A partial refund is more than 0 and less than the %(left)s left to refund "
                "(refund the order to give back all of it)."
            )
            % {"left": format_price(left, order.currency)}
        )
    minor = payments.minor_units(amount, order.currency)
    key = f"refund-{order.token}-{payments.minor_units(before, order.currency)}-{minor}"
    if order.payment_id:
        refund = _backend_of(order).refund(order.payment_id, amount, order.currency, idempotency_key=key)
    else:  # nothing was paid through a provider (a free order): recorded as given back
        refund = payments.Refund(id=key, payment_id="", amount_minor=minor, currency=order.currency)
    return _record(order, refund)


def _record(order: Order, refund: payments.Refund) -> Order:
    with transaction.atomic():
        record_refund(Order.objects.select_for_update().get(pk=order.pk), refund)
    return Order.objects.get(pk=order.pk)  # as the refund left it (refunded, restocked)


def _total(rows, status: str) -> Decimal:
    return sum((row.amount for row in rows if row.status == status), Decimal(0))


# A refund's statuses in the order they can follow each other (pending -> succeeded -> failed):
# an older word arriving late (events are not delivered in order) never undoes a newer one.
_RANK = {RefundStatus.PENDING: 0, RefundStatus.SUCCEEDED: 1, RefundStatus.FAILED: 2}


def record_refund(order: Order, refund: payments.Refund) -> str:
    """Record the provider's word on one refund of ``order`` (locked by the caller): a new
    refund, or a later status of a known one (by its id). Succeeded adds to ``refunded_total``
    and, once all is given back, refunds the order and puts its stock back as refund_order does;
    failed takes it off again and leaves the order needing a refund when it was for all that was
    left. Idempotent (the same word twice changes nothing); a refund that would take the refunds
    past what was paid, or in another currency, is not recorded. Returns what happened."""
    if refund.currency != order.currency or not refund.id:
        return "not this order's refund"
    amount = Decimal(refund.amount_minor) / payments.minor_units(Decimal(1), order.currency)
    row = order.refunds.filter(refund_id=refund.id).first()
    if row is None:
        rows = list(order.refunds.all())
        taken = order.refunded_total + _total(rows, RefundStatus.PENDING)
        if refund.status != RefundStatus.FAILED and taken + amount > order.total:
            logger.error(
                "A refund exceeds what is left of its order", extra={"order": order.pk, "refund": refund.id}
            )
            return "refund over the payment"
        row = OrderRefund.objects.create(
            order=order, refund_id=refund.id, amount=amount, status=refund.status, reason=refund.reason[:300]
        )
        if refund.status != RefundStatus.FAILED:
            return _apply(order, row, was=None)
        if refund.id != order.refund_id or order.status != Status.REFUNDED:
            return "refund failed before it was recorded"  # it never gave anything back
        # The refund that refunded the order before refunds had rows (migration 0007 adds them).
        return _apply(order, row, was=RefundStatus.SUCCEEDED)
    if _RANK[refund.status] <= _RANK[row.status]:
        return f"refund already {row.status}"
    was, row.status, row.reason = row.status, refund.status, refund.reason[:300] or row.reason
    row.save(update_fields=["status", "reason", "updated_at"])
    return _apply(order, row, was=was)


def _apply(order: Order, row: OrderRefund, *, was: str | None) -> str:
    if row.status == RefundStatus.PENDING:
        return "refund pending"
    if row.status == RefundStatus.SUCCEEDED:
        order.refunded_total = min(order.total, order.refunded_total + row.amount)
        order.save(update_fields=["refunded_total"])
        if order.refunded_total < order.total:
            return "refunded in part"
        if order.status not in REFUNDABLE:  # not paid yet here: its success event closes it
            return f"refunded ({order.status} order)"
        order = services._close(order, Status.REFUNDED, allowed=REFUNDABLE)  # restocks as refund_order
        order.refund_id, order.refunded_at = row.refund_id, timezone.now()
        order.save(update_fields=["refund_id", "refunded_at"])
        return "refunded"
    return _refund_failed(order, row, was=was)


def _refund_failed(order: Order, row: OrderRefund, *, was: str | None) -> str:
    if was == RefundStatus.SUCCEEDED:
        order.refunded_total = max(Decimal(0), order.refunded_total - row.amount)
    pending = _total(order.refunds.exclude(pk=row.pk), RefundStatus.PENDING)
    was_all_left = row.amount >= order.total - order.refunded_total - pending
    if order.status in (Status.REFUNDED, Status.NEEDS_REFUND) or (
        order.status == Status.PAID and was_all_left
    ):
        order.status, order.refund_id = Status.NEEDS_REFUND, ""
        noted = status_notes.set_note(order, status_notes.REFUND_FAILED, reason=row.reason)
    else:
        noted = status_notes.set_note(
            order,
            status_notes.PART_REFUND_FAILED,
            amount=str(row.amount),
            currency=order.currency,
            reason=row.reason,
        )
    order.save(update_fields=["status", "refund_id", "refunded_total", *noted])
    return "refund failed"


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
        refused = gettext("Only an order awaiting payment can be canceled; this one is “%(status)s”.") % {
            "status": _status(order)
        }
        hint = gettext("Refund it instead.") if order.status in REFUNDABLE else ""
        raise OrderNotCancelable(f"{refused} {hint}".strip())
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


def pending_test_refunds(*, settle_after: timedelta | None = None) -> list[str]:
    """The test provider's refunds still pending, oldest first: all of them, or those pending for
    at least ``settle_after`` (and for less than a day)."""
    rows = OrderRefund.objects.filter(status=RefundStatus.PENDING, order__payment_backend="test")
    if settle_after is not None:
        now = timezone.now()
        rows = rows.filter(
            created_at__lte=now - settle_after, created_at__gt=now - TEST_REFUNDS_FORGOTTEN_AFTER
        )
    return list(rows.order_by("created_at", "id").values_list("refund_id", flat=True))


def settle_test_refunds(refund_ids: list[str]) -> list[tuple[str, str]]:
    """The test provider's later word on each refund (PAYMENT_BACKEND=test): a pending one
    succeeds, one of a 4000 0000 0000 5126 payment fails; its event reaches the webhook code after
    commit, like Stripe's. Returns (refund id, status) pairs; PaymentBackendError when the site
    uses another provider or for a refund the test provider does not know."""
    backend = payments.get_payment_backend()
    if backend.name != "test":
        raise payments.PaymentBackendError(
            "Only the test provider settles refunds here: Stripe settles its own."
        )
    return [(refund_id, backend.settle_refund(refund_id).status) for refund_id in refund_ids]


def settle_due_test_refunds() -> int:
    """Celery beat's timer (commerce.tasks.settle_test_refunds_task): with the test provider, its
    refunds pending for TEST_REFUNDS_SETTLE_AFTER settle (make demo's refunds move on by
    themselves); with another provider, nothing. A refund the provider has forgotten (its memory
    is the process's own without Redis) is logged and left. Returns how many settled."""
    if payments.get_payment_backend().name != "test":
        return 0
    settled = 0
    for refund_id in pending_test_refunds(settle_after=TEST_REFUNDS_SETTLE_AFTER):
        try:
            settle_test_refunds([refund_id])
        except payments.PaymentBackendError as exc:
            logger.warning(
                "A pending test refund could not be settled", extra={"refund": refund_id, "reason": str(exc)}
            )
            continue
        settled += 1
    return settled


def apply_refund_event(order: Order, event: payments.PaymentEvent) -> str:
    """The provider's word on refunds of ``order``'s payment, from a verified webhook
    (commerce.services holds the order's lock): each refund it names is recorded (record_refund),
    whether made from Liveshop or the provider's dashboard. Returns what happened; idempotent."""
    outcomes = [record_refund(order, refund) for refund in event.refunds]
    return "; ".join(outcomes)[:100] or "no refund"


def _backend_of(order: Order) -> payments.PaymentBackend:
    backend = payments.get_payment_backend()
    if backend.name != order.payment_backend:
        raise payments.PaymentBackendError(
            gettext(
                "This order was paid through “%(provider)s”, which this site no longer uses: "
                "act on it in that provider's dashboard."
            )
            % {"provider": order.payment_backend}
        )
    return backend


def _status(order: Order) -> str:
    return order.get_status_display()  # quoted as the order's page shows it: "Awaiting payment"
