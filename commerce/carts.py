"""Which cart a request means: a signed-in user's cart at the brand, or the anonymous viewer's,
whose id their session keeps (under SESSION_KEY, by brand id). Session data survives the key
change of a sign-in, so the signal receiver below finds those carts and hands them to the user."""

from __future__ import annotations

from accounts.models import Organization
from commerce import services
from commerce.models import Cart

SESSION_KEY = "commerce_carts"


def cart_for_request(request, organization: Organization, *, create: bool) -> Cart | None:
    """The request's cart at ``organization`` (made when ``create``; None otherwise)."""
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


def adopt_session_carts_on_login(sender, request, user, **kwargs) -> None:
    """django.contrib.auth's user_logged_in: the session's carts become the user's."""
    if request is None or not hasattr(request, "session"):
        return
    for cart in Cart.objects.filter(pk__in=request.session.pop(SESSION_KEY, {}).values(), user=None):
        services.adopt_cart(cart=cart, user=user)
