"""Login throttling: too many failed logins for one account, or from one address, lock further
attempts out for a cool-down, whatever the password. Counted in the cache (Redis in production,
so every web process shares the counts), at the authentication backend, so the site's login,
the admin's and any other ``authenticate()`` call are covered alike.

Settings: LIVESHOP_LOGIN_FAILURES_PER_ACCOUNT, LIVESHOP_LOGIN_FAILURES_PER_ADDRESS (failures
within LIVESHOP_LOGIN_COOLDOWN seconds that start a lock-out) and LIVESHOP_LOGIN_COOLDOWN (how
long it lasts). A successful login clears its account's count, not its address's: a valid
account of one's own must not reset the count of guesses at others."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import ngettext

PREFIX = "login-throttle"
THROTTLED_ATTRIBUTE = "login_throttled"  # set on the request when an attempt is refused


@dataclass(frozen=True)
class Throttled:
    """An attempt refused without checking the password; ``retry_after`` in whole seconds."""

    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "Too many failed login attempts for this account or from your network. "
            "For your security, logging in is paused: try again in %(minutes)s minute.",
            "Too many failed login attempts for this account or from your network. "
            "For your security, logging in is paused: try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}


def _keys(username: str | None, address: str | None) -> list[tuple[str, int]]:
    """(cache key stem, failure limit) for the account and the address the attempt names."""
    keys = []
    if username:
        digest = hashlib.sha256(username.strip().casefold().encode("utf-8", "surrogatepass")).hexdigest()
        keys.append((f"{PREFIX}:account:{digest}", settings.LIVESHOP_LOGIN_FAILURES_PER_ACCOUNT))
    if address:
        keys.append((f"{PREFIX}:address:{address}", settings.LIVESHOP_LOGIN_FAILURES_PER_ADDRESS))
    return keys


def check(*, username: str | None, address: str | None) -> Throttled | None:
    """The lock-out this attempt falls under, if any (the longest of account's and address's)."""
    now = time.time()
    locks = cache.get_many([f"{stem}:locked" for stem, _ in _keys(username, address)])
    until = max(locks.values(), default=0)
    return Throttled(retry_after=math.ceil(until - now)) if until > now else None


def record_failure(*, username: str | None, address: str | None) -> None:
    """Count a failed login; the failure that reaches a limit starts that key's cool-down."""
    cooldown = settings.LIVESHOP_LOGIN_COOLDOWN
    for stem, limit in _keys(username, address):
        cache.add(f"{stem}:failures", 0, timeout=cooldown)
        try:
            failures = cache.incr(f"{stem}:failures")
        except ValueError:  # expired between add and incr
            cache.set(f"{stem}:failures", failures := 1, timeout=cooldown)
        if failures >= limit:
            cache.set(f"{stem}:locked", time.time() + cooldown, timeout=cooldown)
            cache.delete(f"{stem}:failures")


def record_success(*, username: str | None) -> None:
    """Clear the account's failure count (the address's stays)."""
    for stem, _ in _keys(username, None):
        cache.delete(f"{stem}:failures")


def reset(*, username: str | None = None, address: str | None = None) -> None:
    """Forget the counts and lock-outs of an account and/or address (tests, support)."""
    cache.delete_many(
        [f"{stem}:{kind}" for stem, _ in _keys(username, address) for kind in ("failures", "locked")]
    )


def client_address(request) -> str | None:
    """The address a login comes from: REMOTE_ADDR, which the ASGI server sets from a trusted
    proxy's X-Forwarded-For only (see the server's forwarded-allow-ips)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def too_many_requests(view):
    """Wrap a login view: a page answering a throttled attempt gets 429 and Retry-After."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        refused = getattr(request, THROTTLED_ATTRIBUTE, None)
        if refused is not None:
            response.status_code = 429
            response["Retry-After"] = str(refused.retry_after)
        return response

    return wrapped
