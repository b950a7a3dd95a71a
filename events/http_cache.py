"""How shared caches (a CDN, a proxy) may keep viewers' responses: a private event's carry a signed
playback URL and are never stored; a QR code of a Buy link changes only with the product page or
the event slug."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.cache import patch_cache_control

from events.models import LiveEvent

QR_MAX_AGE = 300  # seconds


def no_store_if_private(response: HttpResponse, event: LiveEvent) -> HttpResponse:
    """A private event's responses carry a signed playback URL: no cache may keep them."""
    if event.is_private:
        patch_cache_control(response, private=True, no_store=True)
    return response
