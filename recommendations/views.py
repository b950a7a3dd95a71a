"""The viewer's related-products row: ``GET /api/recommendations/<brand>/<product>/`` answers the
cards (the product card's shape, so the shop's Add to cart works on them) of ``recommend_for``.
Anonymous viewers share one answer per product for ``SHARED_SECONDS`` (no identity in it; keyed
by the product only, so the free-text campaign cannot grow it); a signed-in viewer's answer
leaves out what they bought and is never shared: with the local model (the same related products
for everyone) it is the shared answer less what they bought (one query; the shared answer holds
SHARED_SIZE products so that some may go), with Personalize (related per viewer) its own.

A signed-in viewer's page asks neither per card: it fetches what they bought once
(``GET /api/recommendations/<brand>/bought/``) and, per card, the shared answer with its spares
(``?shared=1``, sent without cookies), which it filters itself. So every viewer's per-card request
is the shared one; the per-viewer query runs once per page, not once per featured product."""

from __future__ import annotations

import re
import threading
import time

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from catalog.models import Product
from events.payloads import card, tagged_buy_url
from recommendations.services import (
    RELATED,
    bought_product_ids,
    recommend_for,
    related_depends_on_viewer,
    without_bought,
)

SHARED_SECONDS = 15.0
SHARED_SIZE = 2 * RELATED
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
    if request.GET.get("shared") == "1":  # the shared answer and its spares, for anyone
        shared = _shared_answer(brand_slug, product_id)  # "more": the backend may have more
        return _answer(shared, product_id, medium, campaign, personal=False, more=len(shared) == SHARED_SIZE)
    signed_in = request.user.is_authenticated
    if signed_in and related_depends_on_viewer():
        related = recommend_for(user=request.user, product=_product(brand_slug, product_id))
    else:
        shared = _shared_answer(brand_slug, product_id)
        related = without_bought(user=request.user, products=shared) if signed_in else shared
        if len(related) < RELATED and len(shared) == SHARED_SIZE:  # bought many: look further
            related = recommend_for(user=request.user, product=_product(brand_slug, product_id))
        related = related[:RELATED]
    return _answer(related, product_id, medium, campaign, personal=signed_in)


def _answer(related: list[Product], product_id: int, medium: str, campaign: str, *, personal: bool, **fields):
    """The cards of ``related``; ``size``: how many the row shows."""
    tag = campaign or "related"
    cards = [card(other, buy_url=tagged_buy_url(other, medium=medium, campaign=tag)) for other in related]
    response = JsonResponse({"productId": product_id, "products": cards, "size": RELATED, **fields})
    response["Cache-Control"] = "private, no-store" if personal else f"private, max-age={int(SHARED_SECONDS)}"
    response["Vary"] = "Cookie"
    return response


@require_GET
def bought_view(request, brand_slug: str):
    """The brand's products the signed-in viewer bought (none for anyone else): what their page
    leaves out of the shared related row."""
    ids = []
    if request.user.is_authenticated:
        ids = bought_product_ids(user=request.user, brand_slug=brand_slug)
    response = JsonResponse({"productIds": ids})
    response["Cache-Control"] = "private, no-store"
    return response


def _shared_answer(brand_slug: str, product_id: int) -> list[Product]:
    """Up to SHARED_SIZE related products for anyone (no purchases left out), kept SHARED_SECONDS."""
    key = (brand_slug, product_id)
    cached = _shared.get(key)
    if cached and time.monotonic() - cached[0] < SHARED_SECONDS:
        return cached[1]
    related = recommend_for(user=None, product=_product(brand_slug, product_id), n=SHARED_SIZE)
    with _lock:
        _shared[key] = (time.monotonic(), related)
    return related


def _product(brand_slug: str, product_id: int) -> Product:
    return get_object_or_404(
        Product.objects.select_related("organization"),
        pk=product_id,
        organization__slug=brand_slug,
        is_active=True,
    )


def forget_shared() -> None:
    with _lock:
        _shared.clear()
