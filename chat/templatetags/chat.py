"""``{% chat_panel %}``: the chat beside a live event's player (templates/events/watch/_chat.html)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from accounts.permissions import Action
from chat import selectors
from chat.gateway import get_chat_backend
from chat.models import BODY_MAX
from chat.reactions import EMOJI
from chat.realtime import person_tag

# What each reaction name (chat.reactions.EMOJI) looks like, and its accessible name.
REACTIONS = {
    "heart": ("❤️", _("Love it")),
    "fire": ("🔥", _("Fire")),
    "laugh": ("😂", _("Funny")),
    "clap": ("👏", _("Applause")),
    "wow": ("😮", _("Wow")),
}

register = template.Library()


@register.inclusion_tag("chat/panel.html", takes_context=True)
def chat_panel(context) -> dict:
    """The panel for the page's ``event``: a form for signed-in people, links to sign up or log in
    (and come back) for the others, moderation for the brand's people. Anonymous visitors all get
    the same panel, so the shared anonymous page (events.page_cache) stays shareable."""
    request, event = context["request"], context["event"]
    user = request.user
    back = urlencode({"next": request.get_full_path()})
    return {
        "event": event,
        "signed_in": user.is_authenticated,
        "person_tag": person_tag(user.pk) if user.is_authenticated else "",
        # CHAT_BACKEND=ivs: signed-in people's pages post through the event's IVS Chat room.
        "chat_service": user.is_authenticated and get_chat_backend().name != "local",
        "token_url": reverse("chat:token", args=[event.pk]),
        "chat_region": settings.IVS_REGION,
        "chat_url": getattr(settings, "IVS_CHAT_MESSAGING_URL", ""),  # tests: a local stand-in
        "moderator": user.is_authenticated and permissions.can(user, Action.MODERATE_CHAT, event),
        "export_url": reverse("chat:export", args=[event.pk])
        if user.is_authenticated and permissions.can(user, Action.EXPORT_CHAT, event)
        else "",
        "sign_up_url": f"{reverse('sign-up')}?{back}",
        "login_url": f"{reverse('login')}?{back}",
        "body_max": BODY_MAX,
        "slow_mode": selectors.slow_mode_seconds(event.pk),
        "slow_mode_choices": [
            (0, _("Off")),
            (5, "5 s"),
            (10, "10 s"),
            (30, "30 s"),
            (60, "1 min"),
            (120, "2 min"),
        ],
        "reactions": [(name, *REACTIONS[name]) for name in EMOJI],
    }


@register.inclusion_tag("chat/replay_panel.html", takes_context=True)
def chat_replay_panel(context) -> dict:
    """The replay's chat beside the recording: its messages, reactions and polls at their moments
    (static/js/viewer/chat_replay.js reads the messages a window at a time)."""
    from chat.replay import WINDOW_MS, replay_polls

    recording = context["recording"]
    if recording.event_id is None or recording.started_at is None:
        return {"recording": None}
    return {
        "recording": recording,
        "config": {
            "chatUrl": reverse("chat:replay-chat", args=[recording.pk]),
            "windowMs": WINDOW_MS,
            "polls": replay_polls(recording),
            "glyphs": {name: REACTIONS[name][0] for name in EMOJI},
        },
    }
