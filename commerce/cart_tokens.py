"""Cart tokens: the cart of a viewer in a shop's embed frame (issue 16), where our cookies do not
arrive. A shop on another site frames the player; the browser keeps the frame's SameSite=Lax
session and CSRF cookies out of its requests (and third-party cookie blocking may drop any
cookie), so the session cart and Django's CSRF check cannot work there.

The frame's shop instead calls the embed cart API (commerce.embed_api) with the header
``X-Liveshop-Cart``: ``new`` until it has a cart, then the token the last answer gave, a value
signed with the secret key naming the brand and the cart (``django.core.signing``, expiring
like a session). Those requests carry no cookie authority at all (the view runs as an
anonymous viewer and never reads the session), so there is nothing ambient for a forged request
to use; and a custom header makes every cross-origin request non-simple (a CORS preflight we
never grant). The token lives in the frame's own script (static/js/viewer/cart_token.js: its
URL fragment, never sent to a server, and sessionStorage where the browser allows a frame on
another site any). Normal pages keep the session cart and Django's CSRF check."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

HEADER = "X-Liveshop-Cart"
NEW = "new"  # the header's value before the frame has a cart
SALT = "commerce.cart-token"


class CartTokenRefused(Exception):
    """The request's cart token cannot be used; the message is the reason (a 403's)."""


@dataclass(frozen=True)
class CartToken:
    """The cart a token names at the brand (``cart_id`` None: none yet)."""

    organization_id: int
    cart_id: int | None = None

    def encode(self) -> str:
        if self.cart_id is None:
            return NEW
        return signing.dumps({"o": self.organization_id, "c": self.cart_id}, salt=SALT)


def read_token(value: str | None, *, organization_id: int) -> CartToken:
    """The cart ``value`` (the header) names at ``organization_id``; CartTokenRefused with the
    reason for a missing, forged, expired or malformed token, or one for another brand's cart."""
    value = (value or "").strip()
    if not value:
        raise CartTokenRefused(f"This request carries no cart token (the {HEADER} header).")
    if value == NEW:
        return CartToken(organization_id)
    try:
        data = signing.loads(value, salt=SALT, max_age=settings.SESSION_COOKIE_AGE)
    except signing.SignatureExpired:
        raise CartTokenRefused("This cart token has expired: a new cart starts.") from None
    except signing.BadSignature:
        raise CartTokenRefused("This cart token is not valid.") from None
    if not (isinstance(data, dict) and _is_id(data.get("o")) and _is_id(data.get("c"))):
        raise CartTokenRefused("This cart token is not valid.")
    if data["o"] != organization_id:
        raise CartTokenRefused("This cart token is for another shop's cart.")
    return CartToken(organization_id, data["c"])


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
