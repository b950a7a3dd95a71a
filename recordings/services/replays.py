"""Replay view counting (replays count their views apart from live viewers), and telling an
ended show's open pages that its replay is ready."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import F
from django.urls import reverse

from accounts import permissions
from events.realtime import broadcast_to_event_on_commit
from recordings.models import Recording

SEEN_FOR = 30 * 24 * 3600  # seconds a viewer's view of a recording is remembered
# ... and a cookieless address's: long enough to fold a loop of requests into one view, short
# enough that people sharing an address (an office, a phone network) soon count apart again.
ADDRESS_SEEN_FOR = 10 * 60


def count_replay_view(*, recording: Recording, viewer, viewer_keys: list[str]) -> bool:
    """Add one to ``recording.replay_views`` (one UPDATE ... SET replay_views = replay_views + 1,
    no lock) the first time the viewer known by ``viewer_keys`` (liveshop.viewer_id) opens it:
    each key is remembered in the cache (atomic add: two tabs at once count once) and the view
    counts only if none was there. No session is created. The brand's own people (previews,
    checks) do not count. Returns whether the view counted."""
    if not recording.is_ready or permissions.can(viewer, permissions.Action.VIEW, recording):
        return False
    # The creation time keeps keys apart when a database is recreated under the same cache.
    prefix = f"liveshop:replay-seen:{recording.pk}:{recording.created_at.timestamp():.6f}"
    added = [
        cache.add(f"{prefix}:{key}", 1, timeout=ADDRESS_SEEN_FOR if key.startswith("addr:") else SEEN_FOR)
        for key in viewer_keys
    ]
    if not all(added):
        return False
    Recording.objects.filter(pk=recording.pk).update(replay_views=F("replay_views") + 1)
    return True


def announce_replay_on_commit(recording: Recording) -> None:
    """After commit, tell the pages of ``recording``'s show that its replay is ready
    (``replay_ready`` with the replay page's path): the ended screen offers it without a reload.
    Nothing for an uploaded video (no show)."""
    event = recording.event
    if event is None:
        return
    url = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    broadcast_to_event_on_commit(event.pk, "replay.ready", {"eventId": event.pk, "replayUrl": url})
