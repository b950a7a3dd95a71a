"""A viewer's identity for counting, without a session row: a random id in a signed, first-party
cookie (no fingerprinting). A client that keeps no cookies is known by a keyed hash of its address
instead, so a loop of cookieless requests is one viewer, not one per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse

COOKIE = "liveshop_vid"
SALT = "liveshop.viewer-id"
MAX_AGE = 365 * 24 * 3600


def viewer_keys(request: HttpRequest) -> list[str]:
    """The ids to count ``request``'s viewer by: the cookie's; or, for a client that sent none,
    its address's and the new id's (made now, set on the response by ``remember_viewer``)."""
    known = request.get_signed_cookie(COOKIE, default=None, salt=SALT, max_age=MAX_AGE)
    if known:
        return [f"id:{known}"]
    request.new_viewer_id = secrets.token_urlsafe(16)
    return [address_key(request), f"id:{request.new_viewer_id}"]


def address_key(request: HttpRequest) -> str:
    """A client that keeps no cookie, known by a keyed hash of its address (never the address)."""
    address = request.META.get("REMOTE_ADDR", "")
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:24]
    return f"addr:{digest}"


def counting_id(key: str) -> str:
    """The id a viewer is counted by (analytics' roll-ups, an order's ``viewer``): a keyed hash of
    ``key`` ("u:<user id>", "id:<cookie id>" or "addr:<keyed address>"), so no cookie value or
    address is stored and the same viewer gets the same id wherever it is counted."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"analytics:{key}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def counting_id_of(request: HttpRequest, *, keeps_no_cookie: bool = False) -> str:
    """``request``'s viewer as the player's beacon counts it: the signed-in user, else the signed
    cookie's id; for a client without the cookie, "" (none is made here), or, when it
    ``keeps_no_cookie`` (a shop's embed frame: our cookie never reaches it, so its beacons count it
    by its address: analytics.views.viewer_of), its address's id."""
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return counting_id(f"u:{user.pk}")
    known = request.get_signed_cookie(COOKIE, default=None, salt=SALT, max_age=MAX_AGE)
    if known:
        return counting_id(f"id:{known}")
    return counting_id(address_key(request)) if keeps_no_cookie else ""


def remember_viewer(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Give a viewer without the cookie one (counted by it from the next visit on)."""
    new = getattr(request, "new_viewer_id", None)
    if new:
        response.set_signed_cookie(
            COOKIE, new, salt=SALT, max_age=MAX_AGE, httponly=True, samesite="Lax", secure=request.is_secure()
        )
    return response
