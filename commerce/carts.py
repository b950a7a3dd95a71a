"""Which cart a request means: a signed-in user's cart at the brand, or the anonymous viewer's,
whose id their session keeps (under SESSION_KEY, by brand id). Session data survives the key
change of a sign-in, so the signal receiver below finds those carts and hands them to the user.
A request of the embed cart API (commerce.embed_api) carries ``request.cart_token`` instead
(commerce.cart_tokens): its cart is the token's, checked the same way, and its session unused."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.middleware.csrf import get_token
from django.utils import timezone

from accounts.models import Organization
from commerce import deals, services
from commerce.cart_tokens import CartToken
from commerce.models import Cart, CartLine, FlashDeal, Source

SESSION_KEY = "commerce_carts"


def cart_for_request(request, organization: Organization, *, create: bool) -> Cart | None:
    """The request's cart at ``organization`` (made when ``create``; None otherwise)."""
    token = getattr(request, "cart_token", None)
    if token is not None:
        return _token_cart(request, token, organization, create=create)
    user = request.user
    if user.is_authenticated:
        if create:
            return Cart.objects.get_or_create(organization=organization, user=user)[0]
        return Cart.objects.filter(organization=organization, user=user).first()
    carts = request.session.get(SESSION_KEY, {})
    cart = Cart.objects.filter(
        pk=carts.get(str(organization.pk)), user=None, organization=organization
    ).first()
    if cart is None and create:
        cart = Cart.objects.create(organization=organization)
        request.session[SESSION_KEY] = {**carts, str(organization.pk): cart.pk}
    return cart


def _token_cart(request, token: CartToken, organization: Organization, *, create: bool) -> Cart | None:
    """The anonymous cart ``token`` names (read_token checked its brand), as a session's is."""
    cart = None
    if token.cart_id is not None:
        cart = Cart.objects.filter(pk=token.cart_id, user=None, organization=organization).first()
    if cart is None and create:
        cart = Cart.objects.create(organization=organization)
        request.cart_token = CartToken(organization.pk, cart.pk)
    return cart


def cart_credentials(request, cart: Cart | None) -> dict[str, str]:
    """What the shop's next requests carry, for the cart API's answer: the embed frame's cart
    token (for ``cart``, or "new"), else the CSRF token of the session's POSTs."""
    token = getattr(request, "cart_token", None)
    if token is not None:
        return {"cartToken": CartToken(token.organization_id, cart.pk if cart else None).encode()}
    return {"csrfToken": get_token(request)}


@dataclass(frozen=True)
class CartRef:
    """Which cart a request means, read from the request alone (no query): the signed-in user's
    at the brand, or the anonymous viewer's whose id their session keeps (None: none yet). The
    services that change a cart read and lock it in one statement (lock_cart)."""

    organization_id: int
    user: Any = None  # an authenticated user, or None
    cart_id: int | None = None


def cart_ref(request, organization: Organization) -> CartRef:
    token = getattr(request, "cart_token", None)
    if token is not None:
        return CartRef(organization.pk, cart_id=token.cart_id)
    if request.user.is_authenticated:
        return CartRef(organization.pk, user=request.user)
    return CartRef(organization.pk, cart_id=request.session.get(SESSION_KEY, {}).get(str(organization.pk)))


def remember_cart(request, cart: Cart) -> None:
    """Keep an anonymous viewer's (new) cart's id in their session (or their cart token)."""
    if getattr(request, "cart_token", None) is not None:
        request.cart_token = CartToken(cart.organization_id, cart.pk)
        return
    if request.user.is_authenticated:
        return
    carts = request.session.get(SESSION_KEY, {})
    if carts.get(str(cart.organization_id)) != cart.pk:
        request.session[SESSION_KEY] = {**carts, str(cart.organization_id): cart.pk}


def lock_cart(ref: CartRef | Cart, *, create: bool) -> Cart | None:
    """The cart ``ref`` means, read and locked (FOR UPDATE) in one statement, for the rest of the
    caller's transaction; made when missing and ``create`` (None otherwise)."""
    carts = Cart.objects.select_for_update()
    if isinstance(ref, Cart):
        return carts.get(pk=ref.pk)
    if ref.user is not None:
        cart = carts.filter(organization_id=ref.organization_id, user=ref.user).first()
        if cart is None and create:
            cart, made = Cart.objects.get_or_create(organization_id=ref.organization_id, user=ref.user)
            if not made:  # another request made it meanwhile
                cart = carts.get(pk=cart.pk)
        return cart
    cart = None
    if ref.cart_id is not None:
        cart = carts.filter(pk=ref.cart_id, user=None, organization_id=ref.organization_id).first()
    if cart is None and create:
        cart = Cart.objects.create(organization_id=ref.organization_id)  # new: nobody else knows it
    return cart


def adopt_session_carts_on_login(sender, request, user, **kwargs) -> None:
    """django.contrib.auth's user_logged_in: the session's carts become the user's."""
    if request is None or not hasattr(request, "session"):
        return
    for cart in Cart.objects.filter(pk__in=request.session.pop(SESSION_KEY, {}).values(), user=None):
        services.adopt_cart(cart=cart, user=user)


@dataclass(frozen=True)
class LinePrice:
    """What one unit of a cart line costs, and the flash deal it comes from (None: the normal price).
    ``note`` tells the viewer why a price hook's price applies or not (a personal offer's end)."""

    unit_price: Decimal
    regular: Decimal
    deal: FlashDeal | None
    note: str = ""


# Price rules of apps commerce does not import (recommendations' personal offers), added by their
# AppConfig.ready: each takes the lines, their prices so far and the time, and answers the prices
# (never above the regular one). They run wherever line_prices does: cart, add to cart, checkout.
PRICE_HOOKS: list[Callable[[list[CartLine], list[LinePrice], datetime], list[LinePrice]]] = []


def line_prices(lines: Iterable[CartLine], *, now: datetime | None = None) -> list[LinePrice]:
    """The server's price of each line at ``now``: the running flash deal's price for a line added
    on the live show (commerce.deals), the variant's price otherwise, then PRICE_HOOKS'; never a
    price a page sent. One query for the deals; the lines need ``variant__product`` loaded."""
    lines = list(lines)
    now = now or timezone.now()
    keys = [_deal_key(line) for line in lines]
    running = deals.running_deals(filter(None, keys), now=now)
    prices = []
    for line, key in zip(lines, keys, strict=True):
        regular = line.variant.price
        deal = running.get(key)
        price = deals.deal_price(deal, regular, line.variant.product.currency) if deal else regular
        prices.append(LinePrice(price, regular, deal))
    for hook in PRICE_HOOKS:
        prices = hook(lines, prices, now) if lines else prices
    return prices


def remember_priced_lines(cart: Cart, lines: list[CartLine], prices: list[LinePrice]) -> None:
    """A service that just read (and changed) the cart's lines leaves them on it for the answer
    (priced_lines), so the view does not read them again."""
    cart._priced_lines = (lines, prices)


def priced_lines(cart: Cart | None) -> tuple[list[CartLine], list[LinePrice]]:
    """The cart's lines (variant and product loaded) and their prices now: those a service left
    on it (remember_priced_lines), else read (two queries; none without a cart)."""
    if cart is None:
        return [], []
    known = getattr(cart, "_priced_lines", None)
    if known is not None:
        return known
    lines = list(cart.lines.select_related("variant__product"))
    return lines, line_prices(lines)


def _deal_key(line: CartLine) -> tuple[int, int] | None:
    if line.source != Source.LIVE or line.event_id is None:
        return None
    return (line.event_id, line.variant.product_id)
