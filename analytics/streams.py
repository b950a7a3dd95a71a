"""What a beacon names: a live event or a recording (replay or uploaded video), resolved to a
small, cached description, and whether this viewer may report on it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts import permissions
from accounts.permissions import may_watch
from analytics.models import Source
from events.models import LiveEvent
from recordings.models import Recording
from recordings.selectors import may_watch_recording

CACHE_SECONDS = 5.0  # a stream's description is read at most this often per process
ENDED_GRACE = timedelta(minutes=2)  # a live show's last beacons (sent on leaving) still count


@dataclass(frozen=True)
class Stream:
    key: str  # "live:<event id>" or "replay:<recording id>"
    organization_id: int
    event_id: int | None
    recording_id: int | None
    source: str
    target: LiveEvent | Recording

    def fields(self) -> dict:
        return {"s": self.key, "o": self.organization_id, "e": self.event_id, "r": self.recording_id}

    @property
    def is_live(self) -> bool:
        return self.source == Source.LIVE

    def accepting(self) -> bool:
        """Live: the show is live, or ended moments ago; replay: the recording plays."""
        if not self.is_live:
            return self.target.is_ready
        event = self.target
        if event.status == LiveEvent.Status.LIVE:
            return True
        changed = event.status_changed_at
        return event.status == LiveEvent.Status.ENDED and changed and timezone.now() - changed < ENDED_GRACE

    def watchable_by(self, user) -> bool:
        """The page's own rule: may ``user`` watch this stream?"""
        return may_watch(user, self.target) if self.is_live else may_watch_recording(user, self.target)

    def is_brands(self, user) -> bool:
        """One of the brand's own people (previews, checks): never counted, as replay views."""
        return permissions.can(user, permissions.Action.VIEW, self.target)


_cache: dict[str, tuple[float, Stream | None]] = {}


def resolve(kind: str, pk: int) -> Stream | None:
    """The live event (``kind`` "event") or recording ("recording") ``pk`` as a Stream, or None
    when there is none; read from the database at most every CACHE_SECONDS per process."""
    key = f"{kind}:{pk}"
    now = time.monotonic()
    hit = _cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    stream = _load(kind, pk)
    _cache[key] = (now + CACHE_SECONDS, stream)
    return stream


def _load(kind: str, pk: int) -> Stream | None:
    if kind == "event":
        event = LiveEvent.objects.select_related("organization").filter(pk=pk).first()
        if event is None:
            return None
        return Stream(f"live:{pk}", event.organization_id, pk, None, Source.LIVE, event)
    recording = Recording.objects.select_related("organization", "event").filter(pk=pk).first()
    if recording is None:
        return None
    return Stream(f"replay:{pk}", recording.organization_id, recording.event_id, pk, Source.REPLAY, recording)


def clear_cache() -> None:
    _cache.clear()
