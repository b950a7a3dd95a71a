"""Stripe's webhook signature scheme (``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``), for the
local test provider, which signs its events the way Stripe does so the webhook path is the same."""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The signature header for ``body``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(body: bytes, header: str, secret: str, *, now: float | None = None) -> str:
    """ "" when ``header`` signs ``body`` with ``secret`` within the tolerance, else the reason."""
    if not header:
        return "no signature header"
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    if not stamps or not stamps[0].isdigit() or not signatures:
        return "the signature header is not t=<time>,v1=<signature>"
    if int(stamps[0]) < (time.time() if now is None else now) - TOLERANCE_SECONDS:
        return "the signature is too old (more than 5 minutes)"
    expected = sign(body, secret, timestamp=int(stamps[0])).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        return "the signature does not match the body"
    return ""
