"""The players' beacon endpoint: ``POST /api/analytics/beacon/`` (JSON, sent by fetch or
navigator.sendBeacon, so no CSRF header: the Origin must be ours instead; a beacon only counts).

The viewer is the signed-in user, else the first-party cookie's random id (liveshop.viewer_id).
A browser without the cookie gets one with a ``{"retry": true}`` answer and sends the batch again;
a client that still has none (it keeps no cookies) is counted by its keyed address. A cookie whose
signature is not ours is refused."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from analytics import ingest
from analytics.exceptions import BeaconRejected
from liveshop import viewer_id


def same_origin(request) -> bool:
    """The browser says the request comes from one of our pages (Origin, else Sec-Fetch-Site)."""
    origin = request.headers.get("Origin")
    if origin:
        return origin == f"{request.scheme}://{request.get_host()}"
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def viewer_of(request, payload: dict) -> ingest.Viewer | None:
    """The reporting viewer, or None when the browser should retry with the cookie it now has."""
    if request.user.is_authenticated:
        return ingest.Viewer(f"u:{request.user.pk}", request.user)
    if viewer_id.COOKIE in request.COOKIES:
        known = request.get_signed_cookie(
            viewer_id.COOKIE, default=None, salt=viewer_id.SALT, max_age=viewer_id.MAX_AGE
        )
        if not known:
            raise BeaconRejected("The viewer id is not one of ours.")
        return ingest.Viewer(f"id:{known}", request.user)
    keys = viewer_id.viewer_keys(request)  # makes a new id for remember_viewer to set
    return ingest.Viewer(keys[0], request.user) if payload.get("retry") is True else None


@method_decorator(csrf_exempt, name="dispatch")
class BeaconView(View):
    def post(self, request):
        if not same_origin(request):
            return JsonResponse({"error": "Beacons come from our own pages."}, status=403)
        try:
            payload = ingest.parse_body(request.body)
            ingest.parse_batch(payload)  # its shape first: a malformed batch never sets a cookie
            viewer = viewer_of(request, payload)
            if viewer is None:
                return viewer_id.remember_viewer(request, JsonResponse({"stored": 0, "retry": True}))
            outcome = ingest.ingest_beacon(payload=payload, viewer=viewer)
        except BeaconRejected as error:
            return JsonResponse({"error": str(error)}, status=400)
        body = {"stored": outcome.stored, "dropped": dict(outcome.dropped)}
        return viewer_id.remember_viewer(request, JsonResponse(body))
