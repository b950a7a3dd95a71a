from django import template
from django.conf import settings as django_settings
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.permissions import Action
from discovery.selectors import settings_of

register = template.Library()


def stall_message(seconds: int) -> str:
    """What the console says when no frame came from the detector for ``seconds`` while the show
    is live: nothing samples it (eager Celery without ``discovery_sampler``, or no worker on the
    ``discovery`` queue)."""
    if getattr(django_settings, "CELERY_TASK_ALWAYS_EAGER", False):
        where = _("this server has no Celery worker: run manage.py discovery_sampler")
    else:
        where = _("is the '%(queue)s' worker (docker/start-discovery-worker) running?") % {
            "queue": django_settings.DISCOVERY_QUEUE
        }
    return _("The detector is not running: no frame for %(seconds)s s (%(where)s).") % {
        "seconds": seconds,
        "where": where,
    }


@register.inclusion_tag("discovery/_console.html", takes_context=True)
def discovery_panel(context, event):
    """The host console's "On screen" panel: suggestions, the detector's status and switches."""
    user = context["request"].user
    stall_seconds = django_settings.DISCOVERY_STALL_SECONDS
    return {
        "event": event,
        "settings": settings_of(event),
        "can_host": permissions.can(user, Action.HOST_EVENT, event),
        "csrf_token": context.get("csrf_token"),
        "stall_seconds": stall_seconds,
        "stall_message": stall_message(stall_seconds),
    }
