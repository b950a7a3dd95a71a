"""The console's Go live panel's HTTP side: the IVS stream key (POST only, hosts only, never
cached) and the QR code composited into the outgoing video (a PNG of the featured product's
buy link, with the event's attribution)."""

from __future__ import annotations

import io

import segno
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views import View

from accounts import permissions
from accounts.permissions import Action
from broadcast import services
from broadcast.exceptions import EventNotFound, NotAllowed, PublishRefused
from events.models import LiveEvent
from events.payloads import buy_url

QR_SCALE = 8  # pixels per module: sharp at the overlay's size, drawn without smoothing


def _event(request, event_id: int, action: Action) -> LiveEvent:
    """The user's event: 404 for another brand's (not revealed), 403 without ``action``."""
    return permissions.get_for_user_or_404(
        LiveEvent.objects.select_related("organization"), request.user, action, pk=event_id
    )


class IvsStreamKeyView(LoginRequiredMixin, View):
    """POST: ``{"streamKey", "ingestEndpoint"}`` for the IVS Web Broadcast SDK, asked just before
    the broadcast starts (never rendered into the page). 400 for a local event (its key stays on
    the server), 409 for an event that cannot go live."""

    def post(self, request, event_id: int):
        event = _event(request, event_id, Action.HOST_EVENT)
        try:
            target = services.ivs_broadcast_target(event=event, user=request.user)
        except (EventNotFound, NotAllowed):
            raise Http404("No such event.") from None
        except PublishRefused as exc:
            status = 400 if exc.code == 4422 else 409
            return _no_store(JsonResponse({"error": str(exc)}, status=status))
        return _no_store(
            JsonResponse({"streamKey": target.stream_key, "ingestEndpoint": target.ingest_endpoint})
        )


class OverlayQrView(LoginRequiredMixin, View):
    """A PNG QR code of a lineup product's buy link in ``event`` (the event's attribution), for
    the hosts' outgoing video. 404 for a product outside the lineup or without a web page."""

    def get(self, request, event_id: int, product_id: int):
        event = _event(request, event_id, Action.HOST_EVENT)
        entry = event.lineup.select_related("product").filter(product_id=product_id).first()
        url = buy_url(entry.product, event) if entry else ""
        if not url:
            raise Http404("No buy link for this product in this event.")
        out = io.BytesIO()
        segno.make(url, error="m").save(out, kind="png", scale=QR_SCALE, border=2, dark="#000", light="#fff")
        response = HttpResponse(out.getvalue(), content_type="image/png")
        patch_cache_control(response, private=True, max_age=300)
        return response


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True)
    return response
