"""The host console's flash deal controls (templates/events/console/_deals.html, deals.js): list the
show's running deals, start one, end one early. JSON in and out; a refused deal is a 400 with the
reason, someone who may not host the show a 403, another brand's show a 404 (never a 500)."""

from __future__ import annotations

import functools

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import permissions
from accounts.permissions import Action
from catalog.models import Product
from commerce import deals
from commerce.exceptions import CommerceError
from commerce.models import FlashDeal
from events.models import LiveEvent


class DealForm(forms.Form):
    """The console's deal: the types only; commerce.deals checks the rules and says why."""

    product_id = forms.IntegerField(label=gettext_lazy("Product"), min_value=1)
    kind = forms.ChoiceField(
        label=gettext_lazy("Deal"),
        choices=[("price", gettext_lazy("Deal price")), ("percent", gettext_lazy("Percent off"))],
    )
    price = forms.DecimalField(
        label=gettext_lazy("Deal price"), required=False, max_digits=10, decimal_places=2
    )
    percent_off = forms.IntegerField(label=gettext_lazy("Percent off"), required=False)
    minutes = forms.IntegerField(label=gettext_lazy("Minutes"))
    limit_per_customer = forms.IntegerField(label=gettext_lazy("Limit per customer"), required=False)

    def terms(self) -> deals.DealTerms:
        data = self.cleaned_data
        wanted = "price" if data["kind"] == "price" else "percent_off"
        if data[wanted] is None:
            raise CommerceError(
                gettext("Give the deal price.") if wanted == "price" else gettext("Give the percentage off.")
            )
        return deals.DealTerms(
            minutes=data["minutes"],
            limit_per_customer=data["limit_per_customer"],
            **{wanted: data[wanted]},
        )


def console_api(view):
    """Answer the view's expected failures as JSON with the reason."""

    @functools.wraps(view)
    def wrapper(request, event_id: int, *args, **kwargs):
        try:
            event = permissions.get_for_user_or_404(
                LiveEvent.objects.select_related("organization"), request.user, Action.HOST_EVENT, pk=event_id
            )
            return view(request, event, *args, **kwargs)
        except Http404:
            return JsonResponse({"error": gettext("No such event.")}, status=404)
        except PermissionDenied:
            return JsonResponse(
                {"error": gettext("Only the brand's hosts and owners can run flash deals.")}, status=403
            )
        except CommerceError as exc:
            return JsonResponse({"error": str(exc)}, status=400)

    return wrapper


@require_http_methods(["GET", "POST"])
@console_api
def deals_view(request, event: LiveEvent):
    """GET: the show's running deals. POST (form fields): start a deal; 201 with it."""
    if request.method == "GET":
        running = deals.event_deals(event.pk)
        return _answer({"deals": [deals.studio_deal(deal) for deal in running.values()]})
    form = DealForm(request.POST)
    if not form.is_valid():
        reasons = [
            f"{form.fields[name].label}: {error}" for name, errors in form.errors.items() for error in errors
        ]
        return JsonResponse({"error": " ".join(reasons)}, status=400)
    product = Product.objects.filter(
        pk=form.cleaned_data["product_id"], organization=event.organization
    ).first()
    if product is None:
        raise CommerceError(gettext("A flash deal is for a product of this show's lineup."))
    deal = deals.start_deal(event=event, product=product, terms=form.terms(), by=request.user)
    return _answer({"deal": deals.studio_deal(deal)}, status=201)


@require_POST
@console_api
def end_deal_view(request, event: LiveEvent, deal_id: int):
    """End a deal of the show now; 200 with it (an ended one answers as it is)."""
    deal = get_object_or_404(FlashDeal.objects.select_related("product"), pk=deal_id, event=event)
    deal = deals.end_deal(deal=deal, by=request.user)
    return _answer({"deal": {**deals.studio_deal(deal), "ended": True}})


def _answer(body: dict, status: int = 200) -> JsonResponse:
    """JSON with the server's clock (the console counts down to endsAt on it, not on the host's)."""
    return JsonResponse({**body, "serverNow": timezone.now().isoformat()}, status=status)
