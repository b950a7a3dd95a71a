"""Publishing: the only part of events.realtime other apps use (through the package's names).

Services call ``broadcast_to_event_on_commit``; after commit the message is encoded once and
PUBLISHed to Redis (one round trip, no task). Without Redis (the one-process demo) it goes
straight to this process's hub. With Redis unreachable the change stands, and the topic is
remembered (``Undelivered``) so every hub resyncs its sockets as soon as Redis answers again.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# A published text that asks every hub to give the topic's sockets a fresh snapshot (sent when a
# publisher could not reach Redis for a while: what it published meanwhile is in the database).
RESYNC = '{"type":"resync"}'
# How long a publisher keeps trying to tell the hubs about broadcasts Redis did not take.
PUBLISH_RETRY_FIRST = 0.2
PUBLISH_RETRY_MAX = 2.0


def channel_prefix(redis_url: str) -> str:
    """Pub/sub channels are shared by all databases of a Redis server: naming the database in
    them keeps deployments on one server (say staging on db 1) from hearing each other."""
    database = urlparse(redis_url).path.strip("/") or "0"
    return f"liveshop:{database}:topic:"


def event_group_name(event_id: int) -> str:
    return f"event-{event_id}"


def studio_group_name(event_id: int) -> str:
    return f"studio-{event_id}"


def event_id_of(topic: str) -> int | None:
    """The event a viewers' topic (``event-<id>``) is about; None for any other topic."""
    return int(topic.removeprefix("event-")) if topic.startswith("event-") else None


def encode(message_type: str, payload: dict) -> str:
    """The frame clients receive: ``{"type": "product_featured", ...payload}``."""
    return json.dumps({"type": message_type.replace(".", "_"), **payload}, separators=(",", ":"))


@functools.cache
def _redis():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # One immediate retry: the first command after a Redis restart finds its pooled connection
    # closed, and a fresh one succeeds. Short timeouts: this runs after commit, in the request.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=1,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[redis.ConnectionError],
    )


def publish(topic: str, text: str) -> None:
    """Hand ``text`` to every process's hub. Best effort, after the change is committed: with
    Redis unreachable the change stands, is logged, and the topic is remembered so that, as soon
    as Redis answers again, every hub resyncs its sockets from the database (``_undelivered``).
    Then viewers' shared pages of the event are built anew (events.page_cache): after the
    message, which is the timing-critical part (the page versions cost Redis round trips)."""
    from events import page_cache

    if settings.REDIS_URL:
        import redis

        try:
            _redis().publish(channel_prefix(settings.REDIS_URL) + topic, text)
        except redis.RedisError as exc:
            logger.error("Broadcast not sent: Redis is unreachable (%s)", exc, extra={"topic": topic})
            _undelivered.add(topic, text)
    else:
        from events.realtime.hub import get_hub

        get_hub().deliver_threadsafe(topic, text)
    page_cache.changed_topic(topic)


class Undelivered:
    """Topics whose broadcasts Redis did not take, in this (publishing) process. A daemon thread
    retries with backoff; once Redis answers it publishes RESYNC to each topic, so the hubs send
    their sockets a snapshot (which holds the committed change), and tells the event's host
    consoles what was late (``delivery.restored``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._topics: dict[str, list[str]] = {}  # topic -> the message types that missed
        self._highlights: dict[str, list[int]] = {}  # topic -> the highlights among them
        self._since: float | None = None
        self._thread: threading.Thread | None = None

    def add(self, topic: str, text: str) -> None:
        message = json.loads(text)
        with self._lock:
            self._topics.setdefault(topic, []).append(message.get("type", ""))
            if isinstance(message.get("highlightId"), int):
                self._highlights.setdefault(topic, []).append(message["highlightId"])
            if self._since is None:
                self._since = time.time()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._retry, name="liveshop-republish", daemon=True)
                self._thread.start()

    def pending(self) -> dict[str, list[str]]:
        with self._lock:
            return {topic: list(types) for topic, types in self._topics.items()}

    def _retry(self) -> None:
        delay = PUBLISH_RETRY_FIRST
        while True:
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, PUBLISH_RETRY_MAX)
            if self.flush():
                return

    def flush(self) -> bool:
        """Publish RESYNC for every waiting topic; True once none is left (or Redis is gone from
        the settings), False while Redis still refuses."""
        import redis

        with self._lock:
            topics = {topic: list(types) for topic, types in self._topics.items()}
            highlights = {topic: list(ids) for topic, ids in self._highlights.items()}
            since = self._since
        if not topics or not settings.REDIS_URL:
            return True
        prefix = channel_prefix(settings.REDIS_URL)
        try:
            client = _redis()
            for topic, types in topics.items():
                client.publish(prefix + topic, RESYNC)
                event_id = event_id_of(topic)
                if event_id is not None:
                    missed = highlights.get(topic, [])
                    notice = {"since": since, "until": time.time(), "missed": types, "highlightIds": missed}
                    client.publish(prefix + studio_group_name(event_id), encode("delivery.restored", notice))
        except redis.RedisError:
            return False
        with self._lock:
            for topic, types in topics.items():
                if self._topics.get(topic) == types:
                    del self._topics[topic]
                    self._highlights.pop(topic, None)
            if not self._topics:
                self._since = None
                return True
        return False


_undelivered = Undelivered()


def broadcast_to_event(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the event's viewers now (``message_type`` is dotted, e.g. ``stream.state``)."""
    publish(event_group_name(event_id), encode(message_type, payload))


def broadcast_to_studio(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the event's host consoles (cue states)."""
    publish(studio_group_name(event_id), encode(message_type, payload))


def broadcast_to_event_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: broadcast_to_event(event_id, message_type, payload))


def broadcast_to_studio_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the host consoles once the current transaction commits."""
    transaction.on_commit(lambda: broadcast_to_studio(event_id, message_type, payload))
