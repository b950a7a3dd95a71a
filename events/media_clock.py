"""Where a host's click falls in the stream: its media time where the media server knows it.

A highlight's offset places its card in the replay, which is cut from the encoder's clock (the
media the encoder sent), not the wall clock. They agree while the encoder keeps up; an encoder
slower than real time (an overloaded laptop, ffmpeg -readrate 0.8) sends less media than time
passes, so a wall-clock offset lands later and later in the replay, past its end at last. The
local media server knows the stream's media time (liveshop.video.KnowsMediaTime: the
publisher's timestamp in nginx-rtmp's /stat), so clicks are stamped with it; IVS says nothing
of it (its recordings' program date-times follow its own clock), so there the wall clock stays.
A replay still keeps a highlight that falls past its end, clamped to the end with a warning
(recordings.services.product_cues)."""

from __future__ import annotations

import logging

from events.models import LiveEvent
from liveshop.video import KnowsMediaTime, VideoBackendError, get_video_backend

logger = logging.getLogger(__name__)

# The click does not wait longer than this for the media server (loopback: it answers in ~1 ms).
TIMEOUT_SECONDS = 0.3
# A media time ahead of the wall clock by more than this is not the open session's (a publisher
# whose clock did not start at 0, or a reconnect the session has not caught up with): ignored.
AHEAD_SLACK_MS = 2_000


def media_time_ms(event: LiveEvent) -> int | None:
    """The live stream's media time now, where the video backend knows it; None otherwise
    (not live, no channel, a backend that cannot tell, or a media server that did not answer)."""
    if not (event.is_live and event.has_channel):
        return None
    backend = get_video_backend()
    if not isinstance(backend, KnowsMediaTime):
        return None
    try:
        return backend.media_time_ms(event.channel_id, timeout=TIMEOUT_SECONDS)
    except VideoBackendError as exc:
        logger.info(
            "Media time unknown: the click is stamped with the wall clock",
            extra={"event_id": event.pk, "reason": str(exc)},
        )
        return None


def stamp_ms(*, media_ms: int | None, wall_ms: int) -> int:
    """The highlight's offset into its session: the media time when there is a plausible one,
    else the wall clock's time since the session started."""
    if media_ms is None or media_ms < 0 or media_ms > wall_ms + AHEAD_SLACK_MS:
        return wall_ms
    return media_ms
