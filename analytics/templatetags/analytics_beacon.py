from django import template
from django.conf import settings
from django.utils.translation import gettext

register = template.Library()


@register.inclusion_tag("analytics/_beacon.html")
def analytics_beacon(target: str, pk: int) -> dict:
    """The player's beacon script for a live event (``"event"``) or a recording (``"recording"``)."""
    return {
        "beacon_target": target,
        "beacon_id": pk,
        "beacon_heartbeat_ms": settings.ANALYTICS_HEARTBEAT_SECONDS * 1000,
    }


@register.filter
def watch_time(seconds) -> str:
    """Seconds as "45s", "15m 11s" or "2h 5m" (short: it sits in a headline card)."""
    seconds = int(seconds or 0)
    if seconds < 60:
        return gettext("%(seconds)ss") % {"seconds": seconds}
    if seconds < 3600:
        return gettext("%(minutes)sm %(seconds)ss") % {
            "minutes": seconds // 60,
            "seconds": f"{seconds % 60:02d}",
        }
    return gettext("%(hours)sh %(minutes)sm") % {
        "hours": seconds // 3600,
        "minutes": f"{seconds % 3600 // 60:02d}",
    }
