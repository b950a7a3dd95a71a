"""The cart API of a shop's embed frame (issue 16): the viewer's own cart API (commerce.views)
behind a cart token instead of the session and Django's CSRF cookie, neither of which reaches a
frame on another site (commerce.cart_tokens says why that is safe).

Each route checks, before the view runs: no cross-origin ``Origin`` (the frame calls its own
origin), then the ``X-Liveshop-Cart`` token for the route's brand (or the order's, and its
cart). A refusal is 403 with the reason, and ``"cartToken": "new"`` when the token itself is
refused (missing, forged, expired, another brand's): the frame then starts a new cart. The view
runs as an anonymous viewer whose cart is the token's: cookies that do arrive (a same-site shop)
are never used."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from commerce import selectors, views
from commerce.cart_tokens import HEADER, NEW, CartTokenRefused, read_token
from commerce.models import Order


def _refused(reason: str, status: int = 403, **extra) -> JsonResponse:
    return JsonResponse({"error": reason, **extra}, status=status)


def _cross_origin(request) -> bool:
    """Does the request say it comes from another origin than ours (or a trusted one)?"""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    return origin != own and origin not in settings.CSRF_TRUSTED_ORIGINS


def with_cart_token(owner):
    """Run the view with the request's cart token (``request.cart_token``) once ``owner(request,
    **kwargs)`` named the brand whose cart it must be (and the cart it must name, or None);
    ``owner`` answers None for a brand or order that does not exist (404)."""

    def decorator(view):
        @csrf_exempt  # instead: the token in a custom header, no cookie authority, the Origin
        @never_cache
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if _cross_origin(request):
                return _refused("Cross-origin requests are refused: the player calls its own site.")
            found = owner(request, **kwargs)
            if found is None:
                return _refused("Not found.", status=404)
            organization_id, cart_id = found
            try:
                token = read_token(request.headers.get(HEADER), organization_id=organization_id)
            except CartTokenRefused as exc:  # the frame starts a new cart ("new") and asks again
                return _refused(str(exc), cartToken=NEW)
            if cart_id is not None and token.cart_id != cart_id:
                return _refused("This order is not of your cart.")
            request.user = AnonymousUser()
            request.cart_token = token
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _shop_owner(request, brand_slug: str, **kwargs) -> tuple[int, None] | None:
    shop = selectors.shop(brand_slug)
    return (shop.organization.pk, None) if shop is not None else None


def _order_owner(request, token, **kwargs) -> tuple[int, int | None] | None:
    """The order's brand and cart: only the cart that checked out may pay for it here."""
    found = Order.objects.filter(token=token).values_list("organization_id", "cart_id").first()
    if found is None:
        return None
    organization_id, cart_id = found
    return organization_id, cart_id or 0  # an order without a cart matches no token


shop_api = with_cart_token(_shop_owner)

cart_view = shop_api(views.cart_view)
cart_add_view = shop_api(views.cart_add_view)
cart_line_view = shop_api(views.cart_line_view)
checkout_view = shop_api(views.checkout_view)
test_payment_view = with_cart_token(_order_owner)(views.test_payment_view)
