from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("analytics/_beacon.html")
def analytics_beacon(target: str, pk: int) -> dict:
    """The player's beacon script for a live event (``"event"``) or a recording (``"recording"``)."""
    return {
        "beacon_target": target,
        "beacon_id": pk,
        "beacon_heartbeat_ms": settings.ANALYTICS_HEARTBEAT_SECONDS * 1000,
    }
