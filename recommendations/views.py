"""The viewer's related-products row: ``GET /api/recommendations/<brand>/<product>/`` answers the
cards (the product card's shape, so the shop's Add to cart works on them) of ``recommend_for``.
Anonymous viewers share one answer per product for ``SHARED_SECONDS`` (no identity in it); a
signed-in viewer's answer leaves out what they bought and is never shared."""

from __future__ import annotations

import re
import threading
import time

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from catalog.models import Product
from events.payloads import card, tagged_buy_url
from recommendations.services import recommend_for

SHARED_SECONDS = 15.0
MEDIUMS = ("live", "replay")
CAMPAIGN = re.compile(r"^[-\w]{1,100}$")

_shared: dict[tuple, tuple[float, list[dict]]] = {}
_lock = threading.Lock()


@require_GET
def related_view(request, brand_slug: str, product_id: int):
    medium = request.GET.get("medium", "live")
    campaign = request.GET.get("campaign", "")
    if medium not in MEDIUMS:
        return JsonResponse({"error": "medium must be live or replay."}, status=400)
    if campaign and not CAMPAIGN.match(campaign):
        return JsonResponse({"error": "campaign must be an event's or video's slug."}, status=400)
    signed_in = request.user.is_authenticated
    key = (brand_slug, product_id, medium, campaign)
    cached = None if signed_in else _shared.get(key)
    if cached and time.monotonic() - cached[0] < SHARED_SECONDS:
        cards = cached[1]
    else:
        product = get_object_or_404(
            Product.objects.select_related("organization"),
            pk=product_id,
            organization__slug=brand_slug,
            is_active=True,
        )
        cards = [
            card(other, buy_url=tagged_buy_url(other, medium=medium, campaign=campaign or "related"))
            for other in recommend_for(user=request.user, product=product)
        ]
        if not signed_in:
            with _lock:
                _shared[key] = (time.monotonic(), cards)
    response = JsonResponse({"productId": product_id, "products": cards})
    response["Cache-Control"] = (
        "private, no-store" if signed_in else f"private, max-age={int(SHARED_SECONDS)}"
    )
    response["Vary"] = "Cookie"
    return response


def forget_shared() -> None:
    with _lock:
        _shared.clear()
