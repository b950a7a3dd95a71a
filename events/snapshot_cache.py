"""The viewers' snapshot of each event, built once and shared by every connect and resync in this
process for up to SNAPSHOT_TTL seconds, and dropped the moment the hub hears of a change to the
event (every committed change is published: see events.realtime). A burst of joins (a push
notification, a reconnect storm after a deploy) then costs one database read per event, not one
per viewer.

A generation number per event keeps a snapshot read before a change from being stored after the
change dropped the old one."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

SNAPSHOT_TTL = 1.0  # seconds: the longest a change that was not published can go unseen


@dataclass(frozen=True)
class Entry:
    event: Any  # the LiveEvent (its status, privacy and brand, for the watch rule)
    snapshot: dict
    expires: float


_lock = threading.Lock()
_entries: dict[int, Entry] = {}
_generations: dict[int, int] = {}


def get(event_id: int) -> Entry | None:
    entry = _entries.get(event_id)
    return entry if entry is not None and entry.expires > time.monotonic() else None


def generation(event_id: int) -> int:
    return _generations.get(event_id, 0)


def put(event_id: int, built_at_generation: int, event, snapshot: dict) -> None:
    """Keep ``snapshot`` unless the event changed since it was read."""
    with _lock:
        if _generations.get(event_id, 0) == built_at_generation:
            _entries[event_id] = Entry(event, snapshot, time.monotonic() + SNAPSHOT_TTL)


def invalidate(event_id: int) -> None:
    with _lock:
        _generations[event_id] = _generations.get(event_id, 0) + 1
        _entries.pop(event_id, None)


def invalidate_topic(topic: str) -> None:
    """For a published message: drop the snapshot of the event it is about (``event-<id>``)."""
    if topic.startswith("event-"):
        invalidate(int(topic.removeprefix("event-")))


def clear() -> None:
    with _lock:
        _entries.clear()
        _generations.clear()
