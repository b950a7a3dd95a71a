"""Who is watching: this process's viewer count per topic (kept as sockets join and leave, never
counted by walking them), the total across processes (each process writes its count to a Redis
hash and reads everyone's, once a second), and the live session's peak viewers.

Host consoles follow the event's topic too, but are nobody's audience: a sink whose class says
``counts_as_viewer = False`` is not counted.
"""

from __future__ import annotations

import logging
import time

from channels.db import database_sync_to_async

from events.models import LiveEvent, StreamSession
from events.realtime.publishing import event_id_of

logger = logging.getLogger(__name__)

REPORT_TTL = 30  # seconds the Redis hash of one event's per-process counts outlives its last write
STALE_AFTER = 5  # a process whose count is older than this no longer counts (it stopped reporting)


def counts_as_viewer(sink) -> bool:
    return getattr(sink, "counts_as_viewer", True)


class Presence:
    def __init__(self, process_id: str):
        self.process_id = process_id
        self._local: dict[str, int] = {}  # topic -> viewers here
        self._sent: dict[int, int] = {}  # event id -> the last total sent to its sockets
        # event id -> the highest total this process has recorded for the live session
        # (forgotten at each stream_state message: a new session starts from zero).
        self._peaks: dict[int, int] = {}

    def joined(self, topic: str, sink) -> None:
        if counts_as_viewer(sink):
            self._local[topic] = self._local.get(topic, 0) + 1

    def left(self, topic: str, sink) -> None:
        if counts_as_viewer(sink) and topic in self._local:
            remaining = self._local[topic] - 1
            if remaining > 0:
                self._local[topic] = remaining
            else:
                del self._local[topic]

    def local_count(self, topic: str) -> int:
        return self._local.get(topic, 0)

    def viewer_count(self, event_id: int) -> int:
        """The last total sent for the event (this process's own count before the first)."""
        return self._sent.get(event_id, self._local.get(f"event-{event_id}", 0))

    def session_changed(self, event_id: int | None = None) -> None:
        """A stream started or ended (or, with no id, a message may have been missed): the next
        total is the new session's first peak."""
        if event_id is None:
            self._peaks.clear()
        else:
            self._peaks.pop(event_id, None)

    async def changed_totals(self, topics, redis) -> list[tuple[int, int]]:
        """(event id, total) for each viewers' topic whose total changed since it was last sent;
        records a new peak on the way."""
        changed = []
        for topic in topics:
            event_id = event_id_of(topic)
            if event_id is None:
                continue
            total = await self._total(event_id, self.local_count(topic), redis)
            if total > self._peaks.get(event_id, 0):
                await self._record_peak(event_id, total)
            if self._sent.get(event_id) != total:
                self._sent[event_id] = total
                changed.append((event_id, total))
        return changed

    async def _total(self, event_id: int, local: int, redis) -> int:
        if redis is None:
            return local
        key = f"liveshop:viewers:{event_id}"
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.process_id, f"{local}:{int(time.time())}")
            pipe.expire(key, REPORT_TTL)
            pipe.hgetall(key)
            *_, counts = await pipe.execute()
        now = int(time.time())
        total = 0
        for value in counts.values():
            count, _, stamp = value.decode().partition(":")
            if now - int(stamp or 0) <= STALE_AFTER:
                total += int(count)
        return total

    async def _record_peak(self, event_id: int, total: int) -> None:
        """Keep the live session's peak_viewers: one UPDATE each time this process sees a new
        high, not one per connect (every process does it; the UPDATE keeps the highest)."""
        try:
            await database_sync_to_async(record_peak_viewers)(event_id=event_id, count=total)
        except Exception:
            logger.warning("Could not record the peak viewer count", exc_info=True)
            return
        self._peaks[event_id] = total


def record_peak_viewers(*, event_id: int, count: int) -> bool:
    """Raise the live stream session's ``peak_viewers`` to ``count`` if it is higher; True when
    it was. One conditional UPDATE, no lock: processes reporting different totals at once leave
    the highest (PostgreSQL re-checks the condition after waiting for the row)."""
    session = (
        StreamSession.objects.filter(
            event_id=event_id, event__status=LiveEvent.Status.LIVE, ended_at=None, started_at__isnull=False
        )
        .order_by("-started_at")
        .values_list("pk", flat=True)[:1]
    )
    return bool(
        StreamSession.objects.filter(pk__in=session, peak_viewers__lt=count).update(peak_viewers=count)
    )
