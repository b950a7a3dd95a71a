from django import template

from accounts import permissions
from accounts.permissions import Action
from discovery.selectors import settings_of

register = template.Library()


@register.inclusion_tag("discovery/_console.html", takes_context=True)
def discovery_panel(context, event):
    """The host console's "On screen" panel: suggestions, the detector's status and switches."""
    user = context["request"].user
    return {
        "event": event,
        "settings": settings_of(event),
        "can_host": permissions.can(user, Action.HOST_EVENT, event),
        "csrf_token": context.get("csrf_token"),
    }
