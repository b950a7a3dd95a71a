"""Personalised offers (issue 18): a viewer's top-ranked lineup product (the recommender's
``rank`` for them) at the brand's discount (OfferSettings) for a while, as a PersonalOffer row the
server alone writes, so the viewer can change neither the price, the product nor the end. The
price hook (``apply_offers``, in commerce.carts.PRICE_HOOKS) honours it wherever the shop prices a
cart (the cart, add to cart, checkout: the order stores the price charged) for that viewer only:
a signed-in viewer's carts at the brand, or the anonymous cart the offer was made for."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from catalog.models import Product
from commerce.carts import LinePrice
from commerce.deals import CENT, ZERO_DECIMAL_CURRENCIES
from commerce.models import Cart, CartLine, Order, OrderLine
from recommendations.backends import get_recommender
from recommendations.exceptions import RecommenderUnavailable
from recommendations.models import OfferSettings, PersonalOffer

logger = logging.getLogger(__name__)

# One offer per viewer and brand in this long: reloading the page never extends or renews it.
COOLDOWN = timedelta(hours=12)
# How long after its end the cart still says why the offer's price no longer applies.
NOTE_AFTER = timedelta(hours=12)
# Cache key: until when the brand may have offers in carts (so carts of brands without any cost
# no query; a lost key only means the normal price).
HINT_KEY = "recommendations:offers-until:{}"


def get_offer_settings(organization_id: int) -> OfferSettings:
    """The brand's offer settings (unsaved defaults, offers off, when it has none)."""
    found = OfferSettings.objects.filter(organization_id=organization_id).first()
    return found or OfferSettings(organization_id=organization_id)


@transaction.atomic
def update_offer_settings(*, organization: Organization, max_percent: int, minutes: int, by) -> OfferSettings:
    """Set the brand's maximum discount (0: off) and how long an offer lasts. Owners only
    (MANAGE_MEMBERS). Offers already made keep their price and end."""
    permissions.require(by, Action.MANAGE_MEMBERS, organization)
    offer_settings = get_offer_settings(organization.pk)
    offer_settings.max_percent, offer_settings.minutes = max_percent, minutes
    offer_settings.full_clean()
    offer_settings.save()
    return offer_settings


def offer_for(*, organization: Organization, user=None, cart: Cart | None = None, products, now=None):
    """The viewer's (``user`` signed in, else the anonymous ``cart``) current offer at
    ``organization``, made now when the brand offers discounts and none was made for them within
    COOLDOWN: their top-ranked product among ``products`` (the lineup) that is for sale, in stock
    and not bought by them. None when there is none (or it has ended). Ranks first (the backend
    may be a network call), then locks the brand's settings row only to check and write, so two
    requests make one offer."""
    now = now or timezone.now()
    who = {"user": user} if user is not None else {"cart": cart}
    recent = _recent(organization, who, now)
    if recent is not None or not products:
        return recent if recent and recent.expires_at > now else None
    product = _top_ranked(organization, products, user=user, cart=cart)
    if product is None:
        return None
    with transaction.atomic():
        offer_settings = OfferSettings.objects.select_for_update().filter(organization=organization).first()
        if offer_settings is None or not offer_settings.max_percent:
            return None
        recent = _recent(organization, who, now)
        if recent is None:
            recent = PersonalOffer.objects.create(
                organization=organization,
                product=product,
                percent_off=offer_settings.max_percent,
                created_at=now,
                expires_at=now + timedelta(minutes=offer_settings.minutes),
                **who,
            )
            _hint(organization.pk, recent.expires_at + NOTE_AFTER)
    return recent if recent.expires_at > now else None


def _recent(organization, who: dict, now: datetime) -> PersonalOffer | None:
    return (
        PersonalOffer.objects.filter(organization=organization, created_at__gt=now - COOLDOWN, **who)
        .select_related("product")
        .order_by("-created_at")
        .first()
    )


def _top_ranked(organization, products, *, user, cart) -> Product | None:
    """The recommender's first choice for this viewer among ``products`` they may buy (the local
    model's popularity order when the backend cannot answer)."""
    from recommendations.services import _available, _fallback

    ids = [product.pk for product in products]
    available = _available(organization.pk, ids, user=user, exclude=None)
    if cart is not None:
        bought = OrderLine.objects.filter(order__cart=cart, order__status=Order.Status.PAID)
        sold = set(bought.values_list("variant__product_id", flat=True))
        available = [product for product in available if product.pk not in sold]
    if not available:
        return None
    viewer = f"user:{user.pk}" if user is not None else f"cart:{cart.pk}"
    candidates = [str(product.pk) for product in available]
    try:
        ranked = get_recommender().rank(
            organization_id=organization.pk, viewer=viewer, product_ids=candidates
        )
    except RecommenderUnavailable as exc:
        logger.warning("Recommender unavailable, offer by popularity instead: %s", exc)
        ranked = _fallback().rank(organization_id=organization.pk, viewer=viewer, product_ids=candidates)
    by_id = {str(product.pk): product for product in available}
    return next((by_id[item] for item in ranked if item in by_id), available[0])


def offer_price(offer: PersonalOffer, regular: Decimal, currency: str) -> Decimal:
    """One unit at the offer's price, rounded to the currency's smallest coin (as flash deals)."""
    coin = Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else CENT
    return (regular * (100 - offer.percent_off) / 100).quantize(coin, rounding=ROUND_HALF_UP)


def _hint(organization_id: int, until: datetime) -> None:
    """Remember that the brand may have offers in carts until ``until``. Runs in offer_for's
    transaction: an unreachable cache rolls the offer back (never one that carts would miss)."""
    key = HINT_KEY.format(organization_id)
    known = cache.get(key) or 0
    until_ts = max(until.timestamp(), known)
    cache.set(key, until_ts, timeout=max(1, int(until_ts - timezone.now().timestamp()) + 1))


def apply_offers(lines: list[CartLine], prices: list[LinePrice], now: datetime) -> list[LinePrice]:
    """commerce.carts.PRICE_HOOKS: each line of a product the cart's viewer has an offer on costs
    the offer's price while it runs (a lower flash deal stays), with a note saying so or why not
    (ended, used on a paid order). One query, none at brands without recent offers."""
    if not _may_have_offers({line.variant.product.organization_id for line in lines}, now):
        return prices
    offers = _offers_of(lines, now)
    if not offers:
        return prices
    return [
        _priced(line, price, offers.get(line.variant.product_id), now)
        for line, price in zip(lines, prices, strict=True)
    ]


def _may_have_offers(organization_ids: set[int], now: datetime) -> bool:
    try:
        hints = cache.get_many([HINT_KEY.format(pk) for pk in organization_ids])
    except Exception:  # the cache (Redis) unreachable: ask the database rather than fail a checkout
        logger.warning("Offer hints unavailable: looking offers up", exc_info=True)
        return True
    return any(until > now.timestamp() for until in hints.values())


def _offers_of(lines: list[CartLine], now: datetime) -> dict[int, PersonalOffer]:
    """The newest offer per product for the viewer of the lines' cart, with ``used`` (bought
    since on a paid order of theirs)."""
    cart_ids = {line.cart_id for line in lines}
    users = Cart.objects.filter(pk__in=cart_ids, user__isnull=False).values("user_id")
    used = OrderLine.objects.filter(
        Q(order__user_id=OuterRef("user_id"), order__user__isnull=False)
        | Q(order__cart_id=OuterRef("cart_id")),
        order__status=Order.Status.PAID,
        order__created_at__gte=OuterRef("created_at"),
        variant__product_id=OuterRef("product_id"),
    )
    rows = (
        PersonalOffer.objects.filter(
            Q(cart_id__in=cart_ids) | Q(user_id__in=users),
            product_id__in={line.variant.product_id for line in lines},
            created_at__lte=now,
            expires_at__gt=now - NOTE_AFTER,
        )
        .annotate(used=Exists(used))
        .order_by("created_at")
    )
    return {offer.product_id: offer for offer in rows}


def _priced(line: CartLine, price: LinePrice, offer: PersonalOffer | None, now: datetime) -> LinePrice:
    if offer is None:
        return price
    ends = timezone.localtime(offer.expires_at).strftime("%H:%M %Z")
    if offer.used:
        return replace(price, note="Your personal price was used on an earlier order: the normal price.")
    if offer.expires_at <= now:
        return replace(price, note=f"Your personal price ended at {ends}: the normal price.")
    mine = offer_price(offer, price.regular, line.variant.product.currency)
    if mine >= price.unit_price:
        return replace(price, note="The show's deal is lower than your personal price.")
    return LinePrice(mine, price.regular, None, note=f"Your price: {offer.percent_off}% off until {ends}.")
