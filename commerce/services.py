"""Writes of commerce: carts, checkout, payments' outcomes, cancel and refund. One function per
use case; a service that takes ``by`` checks it (accounts.permissions.require); the others are
the buyer's own (their cart, their order by its token) or the system's (webhooks, expiry)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from catalog.models import Variant
from commerce import carts, deals, payments, selectors, status_notes, stock
from commerce.exceptions import (
    CurrencyMismatch,
    EmptyCart,
    InvalidQuantity,
    OrderNotCancelable,
    SoldOut,
    VariantUnavailable,
)
from commerce.models import Cart, CartLine, Order, OrderLine, PaymentEvent, Source, StockReservation
from liveshop.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

MAX_QUANTITY = 99
Status = Order.Status
# The order's name and shipping address, as the checkout form cleans them.
ADDRESS_FIELDS = ("full_name", "address_line1", "address_line2", "city", "postal_code", "region", "country")
Address = dict[str, str]


@transaction.atomic
def add_to_cart(
    *,
    cart: Cart | carts.CartRef,
    variant_id: int,
    quantity: int = 1,
    event=None,
    recording=None,
    position_ms: int | None = None,
) -> CartLine:
    """Add ``quantity`` of the variant to the cart (to its line if it has one), attributed to the
    event (live, with the highlight on screen now) or the recording (replay, with the product cue
    on screen at ``position_ms`` of the video). Refuses a variant of another brand, not for sale,
    or priced in another currency than the cart's. Locks the cart (a CartRef naming none yet: a
    new one). The line's ``cart`` carries its lines and prices after the change for the answer
    (commerce.carts.priced_lines): one read of the lines and one of the deals serve both."""
    cart = carts.lock_cart(cart, create=True)
    variant = _variant_for_sale(cart, variant_id)
    lines = list(cart.lines.select_related("variant__product"))
    currency = lines[0].variant.product.currency if lines else ""
    if currency and currency != variant.product.currency:
        raise CurrencyMismatch(
            f"Your cart is in {currency} and {variant.product.name} is priced in "
            f"{variant.product.currency}: check out your cart first (one currency per order)."
        )
    line = next((line for line in lines if line.variant_id == variant.pk), None)
    total = quantity + (line.quantity if line else 0)
    if not 1 <= quantity <= MAX_QUANTITY or total > MAX_QUANTITY:
        raise InvalidQuantity(
            gettext("The quantity must be between 1 and %(max)s per item.") % {"max": MAX_QUANTITY}
        )
    existing = line
    if line is None:
        line = CartLine(
            cart=cart, variant=variant, quantity=quantity, **_attribution(event, recording, position_ms)
        )
        line.full_clean(exclude=["cart", "variant", "event", "recording", "highlight", "cue"])
        lines.append(line)
    line.quantity = total
    prices = carts.line_prices(lines)  # the server's, flash deals included: one query
    deals.check_cart_limit(
        cart=cart,
        variant=variant,
        quantity=total,
        line=existing,
        event=event,
        recording=recording,
        deal=prices[lines.index(line)].deal,
    )
    if existing is not None:
        line.save(update_fields=["quantity"])
    else:
        line.save()
    carts.remember_priced_lines(cart, lines, prices)
    return line


def _variant_for_sale(cart: Cart, variant_id: int) -> Variant:
    # One row by its id: no ordering (Variant's default sorts by product and brand name, which
    # joined accounts_organization into every add to cart for nothing).
    variant = (
        Variant.objects.select_related("product")
        .filter(pk=variant_id, organization_id=cart.organization_id, is_active=True, product__is_active=True)
        .order_by()
        .first()
    )
    if variant is None:
        raise VariantUnavailable(gettext("This product is not for sale here."))
    return variant


def _cart_currency(cart: Cart) -> str:
    """The currency of the cart's lines ("" for an empty cart)."""
    return cart.lines.values_list("variant__product__currency", flat=True).first() or ""


def _attribution(event, recording, position_ms: int | None) -> dict:
    if recording is not None:
        cue = selectors.cue_at(recording, position_ms) if position_ms is not None else None
        return {
            "recording": recording,
            "event": recording.event,
            "source": Source.REPLAY,
            "cue": cue,
            "highlight_id": cue.highlight_id if cue else None,
        }
    if event is not None:
        return {"event": event, "source": Source.LIVE, "highlight_id": _highlight_on_screen(event)}
    return {}


def _highlight_on_screen(event) -> int | None:
    """The id of the highlight on screen now (events.selectors.current_highlight: the newest,
    unless it cleared the card), without loading its product."""
    newest = event.highlights.values_list("pk", "product_id").first()
    return newest[0] if newest and newest[1] is not None else None


@transaction.atomic
def set_cart_line_quantity(*, cart: Cart | carts.CartRef, variant_id: int, quantity: int) -> CartLine | None:
    """Set the quantity of the cart's line of the variant; 0 removes the line (None). Locks the
    cart. VariantUnavailable when the cart has no such line."""
    cart = carts.lock_cart(cart, create=False)
    line = CartLine.objects.filter(cart=cart, variant_id=variant_id).first() if cart else None
    if line is None:
        raise VariantUnavailable(gettext("This item is not in your cart."))
    if quantity == 0:
        line.delete()
        return None
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(
            gettext("The quantity must be between 0 and %(max)s per item.") % {"max": MAX_QUANTITY}
        )
    if quantity > line.quantity:
        deals.check_cart_limit(
            cart=cart, variant=line.variant, quantity=quantity, line=line, event=None, recording=None
        )
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


@transaction.atomic
def adopt_cart(*, cart: Cart, user) -> Cart:
    """Move an anonymous cart's lines into ``user``'s cart at the same brand (quantities of the
    same variant add up, to MAX_QUANTITY); lines in another currency than the user's cart stay
    behind. Returns the user's cart. Idempotent: an adopted cart is left empty."""
    mine, _ = Cart.objects.get_or_create(organization_id=cart.organization_id, user=user)
    if mine.pk == cart.pk:
        return mine
    list(Cart.objects.select_for_update().filter(pk__in=[mine.pk, cart.pk]).order_by("pk"))
    currency = _cart_currency(mine)
    for line in cart.lines.select_related("variant__product"):
        if currency and line.variant.product.currency != currency:
            continue
        current = CartLine.objects.filter(cart=mine, variant_id=line.variant_id).first()
        if current is None:
            line.cart = mine
            line.save(update_fields=["cart"])
        else:
            current.quantity = min(MAX_QUANTITY, current.quantity + line.quantity)
            current.save(update_fields=["quantity"])
            line.delete()
    return mine


def start_checkout(
    *,
    cart: Cart | carts.CartRef,
    email: str = "",
    user=None,
    address: Address | None = None,
    viewer: str = "",
    language: str = "",
) -> tuple[Order, payments.Payment]:
    """Reserve the cart's stock for a new order at the server's prices (SoldOut, nothing
    reserved, when a line has too little left), then create its payment. A pending order of
    the same cart is released first. ``address`` (the buyer's name and shipping address, checked
    by the caller: commerce.forms.CheckoutForm) is copied to the order. The provider is called
    outside the reservation's transaction, so a slow provider never holds the variants' row locks.
    EmptyCart when a CartRef names no cart. The order carries its lines (no query to read them)
    and ``viewer``, the buyer's id as analytics counts viewers (liveshop.viewer_id.counting_id);
    ``language`` is the page's (the confirmation e-mail is written in it)."""
    order = _reserve_order(
        cart=cart, email=email, user=user, address=address or {}, viewer=viewer, language=language
    )
    backend = payments.get_payment_backend()
    request = payments.PaymentRequest(
        reference=str(order.token), amount=order.total, currency=order.currency, email=order.email
    )
    try:
        payment = backend.create_payment(request, idempotency_key=f"order-{order.token}")
    except payments.PaymentBackendError as exc:
        _end_pending(order.pk, Status.FAILED, status_notes.PAYMENT_FAILED, reason=str(exc))
        raise
    order.payment_id = payment.id
    # Its own autocommit UPDATE: the provider is called after the reservation's commit (above).
    Order.objects.filter(pk=order.pk).update(payment_id=payment.id)
    return order, payment


@transaction.atomic
def _reserve_order(
    *, cart: Cart | carts.CartRef, email: str, user, address: Address, viewer: str = "", language: str = ""
) -> Order:
    cart = carts.lock_cart(cart, create=False)
    if cart is None:
        raise EmptyCart(gettext("Your cart is empty."))
    for pending in Order.objects.filter(cart_id=cart.pk, status=Status.PENDING).values_list("pk", flat=True):
        _end_pending(pending, Status.CANCELED, status_notes.REPLACED)
    lines = list(cart.lines.select_related("variant__product").order_by("variant_id"))
    if not lines:
        raise EmptyCart(gettext("Your cart is empty."))
    for line in lines:
        if not (line.variant.is_active and line.variant.product.is_active):
            raise VariantUnavailable(
                gettext("%(name)s is no longer for sale.") % {"name": line.variant.product.name}
            )
        if line.variant.stock < line.quantity:  # gone already: no order to write (the UPDATE decides)
            raise SoldOut(line.variant.sku, line.variant.product.name)
    currency = lines[0].variant.product.currency
    if any(line.variant.product.currency != currency for line in lines):
        raise CurrencyMismatch(gettext("One order holds one currency; remove the items priced in another."))
    prices = carts.line_prices(lines)  # the server's, flash deals included
    deals.check_order_limits(lines, [price.deal for price in prices], user=user, email=email, cart=cart)
    order = Order.objects.create(
        organization_id=cart.organization_id,
        cart_id=cart.pk,
        user=user if getattr(user, "is_authenticated", False) else None,
        email=email,
        viewer=viewer,
        language=language,
        **{field: address.get(field, "") for field in ADDRESS_FIELDS},
        currency=currency,
        total=sum(
            (price.unit_price * line.quantity for line, price in zip(lines, prices, strict=True)), start=0
        ),
        payment_backend=payments.get_payment_backend().name,
    )
    expires_at = timezone.now() + timedelta(minutes=settings.COMMERCE_RESERVATION_MINUTES)
    order_lines = OrderLine.objects.bulk_create(
        [OrderLine(order=order, **_snapshot(line, price)) for line, price in zip(lines, prices, strict=True)]
    )
    StockReservation.objects.bulk_create(
        [
            StockReservation(
                order=order, variant_id=line.variant_id, quantity=line.quantity, expires_at=expires_at
            )
            for line in lines
        ]
    )
    _prefetched(order, "lines", order_lines)
    # The stock last, in variant id order (concurrent checkouts lock variants in one order): a
    # variant's row stays locked from its UPDATE to the commit, so nothing else may run in between
    # (a hot product's sales queue on that lock: bench/checkout.py --trace measures it).
    for line in lines:
        if not stock.take(line.variant_id, line.quantity):
            raise SoldOut(line.variant.sku, line.variant.product.name)
    return order


def _prefetched(instance, related: str, rows: list) -> None:
    """What prefetch_related("<related>") leaves on ``instance``, from rows in hand: its
    ``<related>.all()`` answers them without a query (other queries on it still run)."""
    rows_qs = getattr(instance, related).all()
    rows_qs._result_cache, rows_qs._prefetch_done = list(rows), True
    instance._prefetched_objects_cache = {
        **getattr(instance, "_prefetched_objects_cache", {}),
        related: rows_qs,
    }


def _snapshot(line: CartLine, price: carts.LinePrice) -> dict:
    variant = line.variant
    name = f"{variant.product.name} - {variant.label}" if variant.label else variant.product.name
    return {
        "variant": variant,
        "sku": variant.sku,
        "name": name,
        "unit_price": price.unit_price,
        "deal": price.deal,
        "regular_unit_price": price.regular if price.deal else None,
        "quantity": line.quantity,
        "currency": variant.product.currency,
        "event_id": line.event_id,
        "recording_id": line.recording_id,
        "source": line.source,
        "highlight_id": line.highlight_id,
        "cue_id": line.cue_id,
    }


@transaction.atomic
def _end_pending(order_id: int, status: str, note: str, **params) -> bool:
    """Release a pending order's reservations and give it ``status``; False when it was no longer
    pending (paid meanwhile). Locks the order."""
    order = Order.objects.select_for_update().filter(pk=order_id, status=Status.PENDING).first()
    if order is None:
        return False
    _release(order)
    order.status = status
    order.save(update_fields=["status", *status_notes.set_note(order, note, **params)])
    if order.payment_id:  # the provider calls its payment off: a late payment is refused, not taken
        enqueue_on_commit("commerce.tasks.cancel_payment_task", order.pk)
    return True


def _release(order: Order) -> None:
    active = order.reservations.filter(status=StockReservation.Status.ACTIVE).order_by("variant_id")
    for reservation in active:
        stock.give_back(reservation.variant_id, reservation.quantity)
    active.update(status=StockReservation.Status.RELEASED)


def handle_payment_webhook(*, body: bytes, headers) -> str:
    """Verify a payment provider's delivery and apply it to its order; returns what happened.
    Raises payments.InvalidWebhook (nothing changed) for an unverifiable one. Idempotent: an event
    seen before changes nothing; events in any order end in the same state (a failure after a
    success leaves the order paid; a success after a failure takes the stock again)."""
    return apply_payment_delivery(body=body, headers=headers)[0]


def apply_payment_delivery(*, body: bytes, headers) -> tuple[str, Order | None]:
    """handle_payment_webhook, also returning the order as the event left it (None when the
    event was ignored, a duplicate, or for no order of ours): the test provider's pay view
    answers with it without reading it again."""
    backend = payments.get_payment_backend()
    event = backend.parse_webhook(body, headers)
    if event.kind not in (payments.SUCCEEDED, payments.FAILED, payments.CANCELED, *payments.REFUND_KINDS):
        return "ignored", None
    with transaction.atomic():
        # Stored once by its id: a concurrent redelivery waits on the unique index until this
        # transaction ends, then inserts nothing and is a duplicate.
        record_id = _record_payment_event(backend.name, event)
        if record_id is None:
            return "duplicate", None
        outcome, order = _apply_payment_event(backend.name, event)
        PaymentEvent.objects.filter(pk=record_id).update(outcome=outcome)
        return outcome, order


_RECORD_EVENT = (
    "INSERT INTO commerce_paymentevent (backend, event_id, kind, payment_id, outcome, received_at) "
    "VALUES (%s, %s, %s, %s, '', %s) ON CONFLICT (backend, event_id) DO NOTHING RETURNING id"
)


def _record_payment_event(backend: str, event: payments.PaymentEvent) -> int | None:
    """Insert the event's row (commerce.PaymentEvent; its constraint payment_event_once) unless
    one with its id is there: its id, or None for a redelivery. One statement, no savepoint."""
    with connection.cursor() as cursor:
        received_at = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_RECORD_EVENT, [backend, event.id, event.kind, event.payment_id, received_at])
        row = cursor.fetchone()
    return row[0] if row else None


def _apply_payment_event(backend: str, event: payments.PaymentEvent) -> tuple[str, Order | None]:
    order = _order_for_event(backend, event)
    if order is None:
        return "unknown order", None
    if event.kind in payments.REFUND_KINDS:
        from commerce import refunds  # the provider's refunds build on these services

        return refunds.apply_refund_event(order, event), order
    if event.kind != payments.SUCCEEDED:
        if order.status != Status.PENDING:
            return f"already {order.status}", order
        _release(order)
        order.status = Status.FAILED
        noted = status_notes.set_note(order, status_notes.PAYMENT_FAILED, reason=event.reason or "")
        order.save(update_fields=["status", *noted])
        return "failed", order
    if (event.amount_minor, event.currency) != (
        payments.minor_units(order.total, order.currency),
        order.currency,
    ):
        logger.error("A payment's amount differs from its order", extra={"order": order.pk})
        return "amount mismatch", order
    outcome = _mark_paid(order)
    if outcome in ("paid", "needs refund") and 0 < order.total <= order.refunded_total:
        # Refunded at the provider before this success arrived (Stripe does not promise order):
        # the refund's event was recorded (commerce.refunds) but could not close an unpaid order.
        order = _close(order, Status.REFUNDED, allowed=(Status.PAID, Status.NEEDS_REFUND))
        order.refunded_at = timezone.now()
        order.save(update_fields=["refunded_at"])
        return "paid and refunded", order
    return outcome, order


def _order_for_event(backend: str, event: payments.PaymentEvent) -> Order | None:
    orders = Order.objects.select_for_update()
    order = orders.filter(payment_backend=backend, payment_id=event.payment_id).first()
    if order is None and event.reference:
        # The event may come before the checkout stored the payment's id.
        order = orders.filter(payment_backend=backend, token=event.reference, payment_id="").first()
    return order


def _mark_paid(order: Order) -> str:
    if order.status in (Status.PAID, Status.REFUNDED, Status.NEEDS_REFUND):
        return f"already {order.status}"
    if order.status != Status.PENDING and not _take_again(order):
        order.status = Status.NEEDS_REFUND
        order.save(update_fields=["status", *status_notes.set_note(order, status_notes.PAID_TOO_LATE)])
        return "needs refund"
    order.reservations.filter(status=StockReservation.Status.ACTIVE).update(
        status=StockReservation.Status.COMMITTED
    )
    order.status, order.paid_at = Status.PAID, timezone.now()
    order.save(update_fields=["status", "paid_at", *status_notes.set_note(order, "")])
    # Only this transition queues it: the confirmation (sent once: commerce.emails, so a
    # redelivered or reordered success event never mails the buyer twice) and the viewer's
    # purchases (analytics.ViewerInteraction), queued by the worker: one message from the request.
    enqueue_on_commit("commerce.tasks.order_paid_task", order.pk)
    if order.cart_id:
        CartLine.objects.filter(
            cart_id=order.cart_id, variant_id__in=order.lines.values_list("variant_id", flat=True)
        ).delete()
    return "paid"


def _take_again(order: Order) -> bool:
    """Reserve a released order's lines again (a payment that succeeded after failing or
    expiring); all or none."""
    lines = list(order.lines.exclude(variant=None).order_by("variant_id"))
    with transaction.atomic():
        for index, line in enumerate(lines):
            if not stock.take(line.variant_id, line.quantity):
                for taken in lines[:index]:
                    stock.give_back(taken.variant_id, taken.quantity)
                return False
    for line in lines:
        StockReservation.objects.create(
            order=order, variant_id=line.variant_id, quantity=line.quantity, expires_at=timezone.now()
        )
    return True


def release_expired_reservations(*, now=None) -> int:
    """Expire every pending order whose reservation has run out and put its stock back on sale;
    returns how many. Skips orders another transaction holds (a payment arriving): they are
    looked at again next run. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    due = (
        StockReservation.objects.filter(
            status=StockReservation.Status.ACTIVE, expires_at__lte=now, order__status=Status.PENDING
        )
        .values_list("order_id", flat=True)
        .distinct()
    )
    return sum(_end_pending(order_id, Status.EXPIRED, status_notes.EXPIRED) for order_id in due)


@transaction.atomic
def cancel_order(*, order: Order, by) -> Order:
    """Cancel an order from the studio: a pending one's reservation is released, a paid one's
    stock is put back (the provider's refund is separate). Locks the order."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    return _close(order, Status.CANCELED, allowed=(Status.PENDING, Status.PAID))


@transaction.atomic
def refund_order(*, order: Order, by) -> Order:
    """Mark a paid order refunded and put its stock back. Locks the order."""
    permissions.require(by, Action.MANAGE_ORDERS, order)
    return _close(order, Status.REFUNDED, allowed=(Status.PAID, Status.NEEDS_REFUND))


def _close(order: Order, status: str, *, allowed: tuple[str, ...]) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status not in allowed:
        refused = {
            Status.CANCELED: gettext("An order that is “%(status)s” cannot be canceled."),
            Status.REFUNDED: gettext("An order that is “%(status)s” cannot be refunded."),
        }[status]
        raise OrderNotCancelable(refused % {"status": order.get_status_display()})
    if order.status == Status.PENDING:
        _release(order)
    else:
        committed = order.reservations.filter(status=StockReservation.Status.COMMITTED).order_by("variant_id")
        for reservation in committed:
            stock.give_back(reservation.variant_id, reservation.quantity)
        committed.update(status=StockReservation.Status.RELEASED)
    order.status = status
    order.save(update_fields=["status"])
    return order
