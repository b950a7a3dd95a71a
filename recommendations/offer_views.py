"""The viewer's personal offer: ``GET /api/recommendations/<brand>/offer/?campaign=<show>``
answers the offer (recommendations.offers.offer_for) on the show's lineup for this viewer, in the
product card's shape with ``offer`` {price, regularPrice, percentOff, expiresAt}; null when none.
Never shared or cached: it is this viewer's. An anonymous viewer's offer is their session's
cart's (made here when the brand offers discounts)."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from accounts import permissions
from accounts.models import Organization
from catalog.models import Product
from commerce.carts import cart_for_request
from events.models import EventProduct, LiveEvent
from events.payloads import card, tagged_buy_url
from recommendations import offers
from recommendations.views import CAMPAIGN, MEDIUMS
from recordings.models import ProductCue, Recording


@require_GET
def offer_view(request, brand_slug: str):
    medium, campaign = request.GET.get("medium", "live"), request.GET.get("campaign", "")
    if medium not in MEDIUMS:
        return JsonResponse({"error": "medium must be live or replay."}, status=400)
    if not CAMPAIGN.match(campaign):
        return JsonResponse({"error": "campaign must be an event's or video's slug."}, status=400)
    brand = get_object_or_404(Organization, slug=brand_slug)
    answer = JsonResponse({"offer": None})
    lineup = _lineup(brand, campaign, request.user) if offers.get_offer_settings(brand.pk).max_percent else []
    if lineup:  # an anonymous viewer's cart is made only when there is something to offer
        offer = offers.offer_for(organization=brand, products=lineup, **_viewer(request, brand))
        if offer is not None:
            answer = JsonResponse({"offer": _payload(offer, medium=medium, campaign=campaign)})
    answer["Cache-Control"] = "private, no-store"
    return answer


def _viewer(request, brand) -> dict:
    if request.user.is_authenticated:
        return {"user": request.user}
    return {"cart": cart_for_request(request, brand, create=True)}


def _lineup(brand, campaign: str, user) -> list[Product]:
    """The show's products: the event's lineup, else the video's cued products."""
    products = Product.objects.filter(organization=brand, is_active=True).prefetch_related("variants")
    event = LiveEvent.objects.filter(organization=brand, slug=campaign).first()
    if event is not None:
        if not permissions.may_watch(user, event):
            return []
        return list(products.filter(pk__in=EventProduct.objects.filter(event=event).values("product_id")))
    video = Recording.objects.filter(organization=brand, slug=campaign).first()
    if video is not None:
        cued = ProductCue.objects.filter(recording=video).values("product_id")
        return list(products.filter(pk__in=cued))
    return []


def _payload(offer, *, medium: str, campaign: str) -> dict:
    product = offer.product
    payload = card(product, buy_url=tagged_buy_url(product, medium=medium, campaign=campaign or "offer"))
    payload["offer"] = {
        "price": str(offers.offer_price(offer, product.price, product.currency)),
        "regularPrice": str(product.price),
        "percentOff": offer.percent_off,
        "expiresAt": offer.expires_at.isoformat(),
    }
    return payload
