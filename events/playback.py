"""The URL each viewer plays: a public channel's as it is, a private channel's signed for one
viewer by the video backend (an IVS playback token). The one place the viewer side asks the video
gateway for anything."""

from __future__ import annotations

from accounts.permissions import may_watch
from events.models import LiveEvent
from liveshop.video import get_video_backend


def viewer_id(user) -> str | None:
    """An id for IVS viewer-session revocation: no personal data, only the user's primary key."""
    return f"user-{user.pk}" if getattr(user, "is_authenticated", False) else None


def playback_url(event: LiveEvent, user) -> str:
    """The URL this viewer plays (signed by the video backend when the event is private). Empty
    for a user who may not watch: a private channel's token is signed only for those who may."""
    if not event.playback_url or not may_watch(user, event):
        return ""
    return get_video_backend().playback_url_for(
        channel_id=event.channel_id,
        playback_url=event.playback_url,
        private=event.is_private,
        viewer_id=viewer_id(user) if event.is_private else None,
    )
