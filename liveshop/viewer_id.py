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
    address = request.META.get("REMOTE_ADDR", "")
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:24]
    return [f"addr:{digest}", f"id:{request.new_viewer_id}"]


def remember_viewer(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Give a viewer without the cookie one (counted by it from the next visit on)."""
    new = getattr(request, "new_viewer_id", None)
    if new:
        response.set_signed_cookie(
            COOKIE, new, salt=SALT, max_age=MAX_AGE, httponly=True, samesite="Lax", secure=request.is_secure()
        )
    return response
