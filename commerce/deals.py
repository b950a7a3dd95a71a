"""Flash deals ("show price"): from the console, the host sets a price or a percentage off for one
product of a live event, for 1-120 minutes, optionally at most N units per customer.

Rules (each refused with DealRefused and its reason): a product of the event's lineup (every
variant of it), only while the event is live; a price above 0 and below the product's price, or
1-90 % off; 1-120 minutes; a limit of 1-99 units. One deal per product and event at a time: a new
one ends the running one. Only the brand's owners and hosts (Action.HOST_EVENT) set or end deals.

Prices (commerce.carts.line_prices). A cart line added on the live show (source "live") costs the
deal's price while that event's deal for the product runs: the percentage off the variant's own
price (to the cent), or the deal's price (the variant's own when lower). The server prices a line
when the order is made, never from what a page sent: a deal that ended before checkout means the
normal price, which the order summary shows before the buyer pays. The order keeps its prices, so
a deal that ends while the buyer pays changes nothing. A deal runs while starts_at <= now <
ends_at and its show has not been ended by its host (or cancelled; a dropped stream does not end
it): no task ends it, and viewers' cards count down to ends_at by themselves.

The limit per customer counts the units of the buyer's paid and pending orders at this deal (by
user, or by e-mail: a guest has only that) plus the line; a line over it is refused with
DealLimitReached (HTTP 409) and the reason."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from catalog.models import Product, Variant
from commerce.exceptions import DealLimitReached, DealRefused
from commerce.models import Cart, CartLine, FlashDeal, Order, Source
from commerce.payments.base import ZERO_DECIMAL_CURRENCIES
from events.models import EventProduct, LiveEvent
from events.realtime import broadcast_to_event_on_commit, broadcast_to_studio_on_commit
from liveshop.display import format_price

MAX_MINUTES = 120
MAX_PERCENT_OFF = 90
MAX_LIMIT = 99  # commerce.services.MAX_QUANTITY: a larger limit limits nothing
CENT = Decimal("0.01")
COUNTED = (Order.Status.PAID, Order.Status.PENDING)


@dataclass(frozen=True)
class DealTerms:
    """What the console asks for: exactly one of ``price`` and ``percent_off``."""

    minutes: int
    price: Decimal | None = None
    percent_off: int | None = None
    limit_per_customer: int | None = None


def running(now: datetime) -> Q:
    """The deals that price lines at ``now``."""
    return (
        Q(starts_at__lte=now, ends_at__gt=now)
        & Q(event__ended_by_host_at=None)
        & ~Q(event__status=LiveEvent.Status.CANCELLED)
    )


def deal_price(deal: FlashDeal, regular: Decimal, currency: str) -> Decimal:
    """What one unit priced ``regular`` costs under ``deal``: a percentage off is rounded to the
    currency's smallest coin (the cent; the yen for a zero-decimal currency)."""
    if deal.percent_off:
        coin = Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else CENT
        return (regular * (100 - deal.percent_off) / 100).quantize(coin, rounding=ROUND_HALF_UP)
    return min(deal.price, regular)


def running_deals(pairs: Iterable[tuple[int, int]], *, now: datetime) -> dict[tuple[int, int], FlashDeal]:
    """The deal running at ``now`` for each (event id, product id) that has one: one query."""
    pairs = set(pairs)
    if not pairs:
        return {}
    wanted = Q()
    for event_id, product_id in pairs:
        wanted |= Q(event_id=event_id, product_id=product_id)
    deals = FlashDeal.objects.filter(wanted & running(now)).order_by("starts_at", "id")
    return {(deal.event_id, deal.product_id): deal for deal in deals}  # the newest wins


def event_deals(event_id: int, *, now: datetime | None = None) -> dict[int, FlashDeal]:
    """The event's running deals by product id, their products' variants loaded (one query; two
    when it has some)."""
    deals = FlashDeal.objects.filter(running(now or timezone.now()), event_id=event_id)
    deals = deals.select_related("product").prefetch_related("product__variants").order_by("starts_at", "id")
    return {deal.product_id: deal for deal in deals}


def deal_card(deal: FlashDeal | None, product: Product) -> dict | None:
    """The product card's "deal" (events.payloads.card): the product's price under it, and each
    active variant's (``variantPrices`` by variant id: the option pickers show them)."""
    if deal is None:
        return None
    return {
        "price": str(deal_price(deal, product.price, product.currency)),
        "percentOff": deal.percent_off,
        "endsAt": deal.ends_at.isoformat(),
        "limitPerCustomer": deal.limit_per_customer,
        "variantPrices": {
            str(variant.pk): str(deal_price(deal, variant.price, product.currency))
            for variant in product.variants.all()
            if variant.is_active
        },
    }


def card_deal_probe(event_id: int, now: datetime) -> tuple[str, list]:
    """Whether a deal of the event runs at ``now``, as an SQL expression for featuring's own
    state query (events.services._feature_state; a fixed statement, no ORM): when false, its card
    asks card_deals nothing. Only the times: the event is open while a product is featured."""
    return _PROBE_SQL, [event_id, now, now]


# The table's name from the model; every value a parameter.
_PROBE_SQL = (
    f"EXISTS(SELECT 1 FROM {FlashDeal._meta.db_table}"  # noqa: S608
    " WHERE event_id = %s AND starts_at <= %s AND ends_at > %s)"
)


def card_deals(event_id: int) -> dict[int, dict]:
    """Every running deal of the event as its cards show it, by product id (one query): what
    events' card builders ask for through events.extensions.event_deals."""
    return {pid: deal_card(deal, deal.product) for pid, deal in event_deals(event_id).items()}


def studio_deal(deal: FlashDeal) -> dict:
    """A deal as the console lists it: the card's shape plus what it needs to end it."""
    return {
        **deal_card(deal, deal.product),
        "id": deal.pk,
        "productId": deal.product_id,
        "productName": deal.product.name,
        "regularPrice": str(deal.product.price),
        "currency": deal.product.currency,
        "startsAt": deal.starts_at.isoformat(),
    }


# Writes -------------------------------------------------------------------------------------


@transaction.atomic
def start_deal(*, event: LiveEvent, product: Product, terms: DealTerms, by) -> FlashDeal:
    """Start a deal on ``product`` now, for ``terms.minutes``, ending the product's running deal.
    Locks the event (so two hosts' deals never both run); tells viewers and consoles after commit."""
    permissions.require(by, Action.HOST_EVENT, event)
    event = LiveEvent.objects.select_for_update().get(pk=event.pk)
    _check(event, product, terms)
    now = timezone.now()
    _end_running(event, product.pk, now)
    deal = FlashDeal.objects.create(
        event=event,
        product=product,
        price=terms.price,
        percent_off=terms.percent_off,
        limit_per_customer=terms.limit_per_customer,
        starts_at=now,
        ends_at=now + timedelta(minutes=terms.minutes),
        created_by=by,
    )
    _announce(event.pk, product, deal)
    return deal


@transaction.atomic
def end_deal(*, deal: FlashDeal, by) -> FlashDeal:
    """End a running deal now (the product's normal price again); an ended one stays as it was.
    Locks the event; tells viewers and consoles after commit."""
    permissions.require(by, Action.HOST_EVENT, deal)
    event = LiveEvent.objects.select_for_update().get(pk=deal.event_id)
    deal = FlashDeal.objects.select_related("product").get(pk=deal.pk)
    if _end_running(event, deal.product_id, timezone.now(), only=deal.pk):
        _announce(event.pk, deal.product, None)
        deal.refresh_from_db()
    return deal


def _end_running(event: LiveEvent, product_id: int, now: datetime, *, only: int | None = None) -> int:
    deals = FlashDeal.objects.filter(event=event, product_id=product_id, starts_at__lte=now, ends_at__gt=now)
    if only is not None:
        deals = deals.filter(pk=only)
    return deals.update(ends_at=now, ended_early=True)


def _announce(event_id: int, product: Product, deal: FlashDeal | None) -> None:
    # ``now``: the pages count down on the server's clock, not on a device's that may be off.
    viewers = {
        "eventId": event_id,
        "productId": product.pk,
        "deal": deal_card(deal, product),
        "now": timezone.now().isoformat(),
    }
    broadcast_to_event_on_commit(event_id, "deal", viewers)
    broadcast_to_studio_on_commit(event_id, "deal", {**viewers, "deal": studio_deal(deal) if deal else None})


def _check(event: LiveEvent, product: Product, terms: DealTerms) -> None:
    if not event.is_live:
        raise DealRefused(gettext("A flash deal runs only while the show is live."))
    if product.organization_id != event.organization_id or not (
        product.is_active and EventProduct.objects.filter(event=event, product=product).exists()
    ):
        raise DealRefused(gettext("A flash deal is for a product of this show's lineup."))
    if not 1 <= terms.minutes <= MAX_MINUTES:
        raise DealRefused(gettext("A flash deal lasts 1 to %(max)s minutes.") % {"max": MAX_MINUTES})
    if (terms.price is None) == (terms.percent_off is None):
        raise DealRefused(gettext("Give either a deal price or a percentage off."))
    if terms.percent_off is not None:
        _check_percent(terms.percent_off, product)
    else:
        _check_price(terms.price, product)
    if terms.limit_per_customer is not None and not 1 <= terms.limit_per_customer <= MAX_LIMIT:
        raise DealRefused(
            gettext("The limit per customer is 1 to %(max)s units (or none).") % {"max": MAX_LIMIT}
        )


def _check_percent(percent_off: int, product: Product) -> None:
    if not 1 <= percent_off <= MAX_PERCENT_OFF:
        raise DealRefused(gettext("The percentage off is 1 to %(max)s.") % {"max": MAX_PERCENT_OFF})
    if deal_price(FlashDeal(percent_off=percent_off), product.price, product.currency) <= 0:
        raise DealRefused(gettext("That percentage leaves nothing to pay: give a deal price instead."))


def _check_price(price: Decimal, product: Product) -> None:
    if price != price.quantize(CENT) or not 0 < price < product.price:
        raise DealRefused(
            gettext("The deal price must be above 0 and below the normal price (%(price)s), in whole cents.")
            % {"price": format_price(product.price, product.currency)}
        )


# The limit per customer -----------------------------------------------------------------------


_LOOK_UP = object()


def check_cart_limit(
    *,
    cart: Cart,
    variant: Variant,
    quantity: int,
    line: CartLine | None,
    event,
    recording,
    deal: FlashDeal | object | None = _LOOK_UP,
) -> None:
    """Adding to the cart: would ``quantity`` of the variant (its line's new quantity; ``line``
    the line it has, else ``event``/``recording`` the new one's attribution) with the signed-in
    buyer's orders at the running deal go past the deal's limit? DealLimitReached then. A guest's
    orders are counted at checkout, by e-mail. ``deal``: the line's running deal when the caller
    priced it already (commerce.carts.line_prices), else looked up."""
    live = _live_event_id(line, event, recording)
    if live is None:
        return
    if deal is _LOOK_UP:
        key = (live, variant.product_id)
        deal = running_deals([key], now=timezone.now()).get(key)
    if deal is None or deal.limit_per_customer is None:
        return
    others = CartLine.objects.filter(
        cart=cart, variant__product_id=variant.product_id, event_id=live, source=Source.LIVE
    ).exclude(variant=variant)
    units = quantity + sum(others.values_list("quantity", flat=True))
    ordered = _ordered(deal, user=cart.user, email="", exclude_cart=cart.pk) if cart.user_id else 0
    _refuse_over(deal, units, ordered)


def _live_event_id(line: CartLine | None, event, recording) -> int | None:
    """The live show a cart line was (or is being) added on; None for a replay or elsewhere."""
    if line is not None:
        return line.event_id if line.source == Source.LIVE else None
    return event.pk if event is not None and recording is None else None


def check_order_limits(
    lines: Iterable[CartLine], deals: Iterable[FlashDeal | None], *, user, email: str, cart: Cart
) -> None:
    """Checkout: refuse (DealLimitReached) when the lines at each deal, with the buyer's paid and
    pending orders at it (by user or e-mail; the cart's own pending order is being replaced),
    go past its limit. Call it inside the order's transaction: it holds a lock per deal and buyer
    until commit, so the same buyer's concurrent checkouts are counted one after the other."""
    units: dict[int, int] = {}
    limited: dict[int, FlashDeal] = {}
    for line, deal in zip(lines, deals, strict=True):
        if deal is not None and deal.limit_per_customer is not None:
            units[deal.pk] = units.get(deal.pk, 0) + line.quantity
            limited[deal.pk] = deal
    user = user if getattr(user, "is_authenticated", False) else None
    for pk in sorted(limited):
        _lock_buyer(pk, user, email)
        ordered = _ordered(limited[pk], user=user, email=email, exclude_cart=cart.pk)
        _refuse_over(limited[pk], units[pk], ordered)


def _ordered(deal: FlashDeal, *, user, email: str, exclude_cart: int | None) -> int:
    """Units of the buyer's paid and pending orders at ``deal``."""
    buyer = Q(order__user=user) if user is not None else Q(pk__in=[])
    if email:
        buyer |= Q(order__email__iexact=email)
    lines = deal.order_lines.filter(buyer, order__status__in=COUNTED)
    if exclude_cart is not None:
        lines = lines.exclude(order__status=Order.Status.PENDING, order__cart_id=exclude_cart)
    return lines.aggregate(units=Sum("quantity"))["units"] or 0


def _refuse_over(deal: FlashDeal, units: int, ordered: int) -> None:
    limit = deal.limit_per_customer
    if units + ordered > limit:
        limited = gettext("The flash deal is limited to %(limit)s per customer.") % {"limit": limit}
        already = (
            gettext("You have %(ordered)s at this price already.") % {"ordered": ordered} if ordered else ""
        )
        lower = gettext("Lower the quantity to %(left)s to get the deal price.") % {
            "left": max(0, limit - ordered)
        }
        raise DealLimitReached(" ".join(part for part in (limited, already, lower) if part))


def _lock_buyer(deal_id: int, user, email: str) -> None:
    """A transaction lock on (deal, buyer): PostgreSQL's advisory lock, released at commit."""
    if connection.vendor != "postgresql":
        return  # SQLite (the one-process demo) writes one transaction at a time anyway
    buyer = f"user:{user.pk}" if user is not None else f"email:{email.lower()}"
    digest = hashlib.blake2b(f"flash-deal:{deal_id}:{buyer}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
