"""``{% golive_panel %}``: the host console's "Go live from this browser" panel (the event page
includes templates/broadcast/_golive.html, which calls it). Empty for anyone but the brand's
hosts and owners, and for an event that cannot go live."""

from django import template
from django.urls import reverse

from accounts import permissions
from accounts.permissions import Action
from broadcast import services
from liveshop import csp

register = template.Library()


@register.inclusion_tag("broadcast/golive_panel.html", takes_context=True)
def golive_panel(context) -> dict:
    event, request = context.get("event"), context.get("request")
    user = getattr(request, "user", None)
    if event is None or user is None or not permissions.can(user, Action.HOST_EVENT, event):
        return {"golive": None}
    if not event.has_channel or not event.may_go_live or event.status == event.Status.NEEDS_CHANNEL:
        return {"golive": None}
    if event.backend == "ivs":
        csp.allow_ivs_broadcast(request)  # the SDK's worker and its ingest, on this page only
    return {"golive": golive_config(event)}


def golive_config(event) -> dict:
    """What static/js/console/golive.js reads: no stream key, ever (the relay reads it on the
    server; IVS asks ``ivsKeyUrl`` by POST just before starting)."""
    ivs = event.backend == "ivs"
    qr = reverse("broadcast:qr", kwargs={"event_id": event.pk, "product_id": 0})
    return {
        "eventId": event.pk,
        "mode": "ivs" if ivs else "local",
        "socketPath": f"/ws/studio/events/{event.pk}/publish/",
        "ivsKeyUrl": reverse("broadcast:ivs-key", kwargs={"event_id": event.pk}) if ivs else "",
        "qrUrl": qr.replace("/0.png", "/{id}.png"),
        "presets": list(services.ivs_presets()) if ivs else list(services.LOCAL_PRESETS),
    }
