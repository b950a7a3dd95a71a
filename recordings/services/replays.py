"""Replay view counting: replays count their views apart from live viewers."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import F

from accounts import permissions
from recordings.models import Recording

SESSION_KEY = "liveshop_replays_viewed"
SESSION_MEMORY = 200  # recordings remembered per browser session (the oldest are forgotten)


def count_replay_view(*, recording: Recording, viewer, session: SessionBase) -> bool:
    """Add one to ``recording.replay_views`` (one UPDATE ... SET replay_views = replay_views + 1,
    no lock) the first time this browser session opens it. The brand's own people (previews,
    checks) do not count. Returns whether the view counted; idempotent within a session."""
    if not recording.is_ready or permissions.can(viewer, permissions.Action.VIEW, recording):
        return False
    seen = session.get(SESSION_KEY, [])
    if recording.pk in seen:
        return False
    Recording.objects.filter(pk=recording.pk).update(replay_views=F("replay_views") + 1)
    session[SESSION_KEY] = [*seen[-(SESSION_MEMORY - 1) :], recording.pk]
    return True
