"""Reactions: a few emoji viewers tap freely, counted in each process and sent once a second.

A tap costs nothing but a count in this process (no database, Redis or frame): every second each
process with taps adds them to the second's counts and the show's totals (one Redis pipeline), and
the first process of that second publishes the one ``chat_reactions`` frame {counts: the second's
taps, every process's; totals: the show's so far} on the chat's topic a moment after the second
ends: 5,000 tapping viewers over any number of processes cost one frame a second, not 5,000. Each
socket counts at most TAPS_PER_SECOND a second; more taps are dropped without a word. Each
second's taps are kept for the replay too (ReactionSecond).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from events.realtime import encode, publish

logger = logging.getLogger(__name__)

EMOJI = ("heart", "fire", "laugh", "clap", "wow")  # the names pages send; they draw the emoji
TAPS_PER_SECOND = 10
FLUSH_INTERVAL = 1.0
SETTLE = 0.25  # seconds after a second ends before its frame goes (every process has added to it)
TOTALS_TTL = 7 * 24 * 3600  # seconds the show's totals stay in Redis after its last tap


class Tally:
    """This process's taps since the last flush, by event."""

    def __init__(self):
        self.counts: dict[int, Counter] = {}
        self._task: asyncio.Task | None = None

    def tap(self, event_id: int, name: str) -> None:
        self.counts.setdefault(event_id, Counter())[name] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.counts:
            await asyncio.sleep(FLUSH_INTERVAL)
            counts, self.counts = self.counts, {}
            for event_id, counter in counts.items():
                try:
                    await asyncio.to_thread(flush, event_id, dict(counter))
                except Exception:
                    logger.warning("Reactions of event %s not sent", event_id, exc_info=True)


_tallies: dict[int, Tally] = {}  # by event loop (tests run several)


def tally() -> Tally:
    loop = asyncio.get_running_loop()
    found = _tallies.get(id(loop))
    if found is None or (found._task is not None and found._task.get_loop() is not loop):
        found = _tallies[id(loop)] = Tally()
    return found


def tap(consumer, name) -> None:
    """A viewer's tap on ``consumer``'s socket: counted unless unknown or over the socket's rate."""
    if name not in EMOJI:
        return
    now = time.monotonic()
    second, count = getattr(consumer, "_reaction_second", (0, 0))
    if int(now) != second:
        second, count = int(now), 0
    if count >= TAPS_PER_SECOND:
        return
    consumer._reaction_second = (second, count + 1)
    tally().tap(consumer.event_id, name)


def flush(event_id: int, counts: dict[str, int]) -> None:
    """Add this process's taps of one second to the show's (sync: a thread). Without Redis (one
    process) the frame goes now; with it, every process adds to the second's counts and the
    show's totals in Redis, and the first of them that second sends the one frame, SETTLE after
    the second ends, so P processes with tapping viewers still make one frame a second."""
    if not settings.REDIS_URL:
        totals = add_to_totals(event_id, counts)
        _publish(event_id, counts, totals)
    else:
        second = int(time.time())
        if _add_to_second(event_id, second, counts):
            delay = max(0.0, second + 1 + SETTLE - time.time())
            timer = threading.Timer(delay, _send_second, [event_id, second])
            timer.daemon = True
            timer.start()
    try:
        at = timezone.now().replace(microsecond=0)
        record_second(event_id, counts, at=at, position=_stream_position(event_id, at))
    except Exception:  # the replay misses a second; the live show does not wait for it
        logger.warning("Reactions of event %s not kept for the replay", event_id, exc_info=True)
    finally:
        close_old_connections()


def record_second(
    event_id: int,
    counts: dict[str, int],
    at: datetime | None = None,
    position: tuple[int | None, int | None] = (None, None),
) -> None:
    """Add this process's taps of one second to the show's ReactionSecond row (one upsert: every
    process adds its own), for the replay. ``position``: the stream session and the second's
    offset into it (chat.services.stream_position); the first process that knows it stamps the
    row."""
    from chat.models import ReactionSecond

    at = (at or timezone.now()).replace(microsecond=0)
    if not any(counts.get(name) for name in EMOJI):
        return
    table = ReactionSecond._meta.db_table
    columns = ", ".join(EMOJI)
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in EMOJI)
    stamp = ", ".join(
        f"{name} = COALESCE({table}.{name}, EXCLUDED.{name})" for name in ("session_id", "offset_ms")
    )
    placeholders = ", ".join(["%s"] * (len(EMOJI) + 4))
    # Table and column names from the model and EMOJI; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (event_id, at, session_id, offset_ms, {columns})"  # noqa: S608
        f" VALUES ({placeholders}) ON CONFLICT (event_id, at) DO UPDATE SET {updates}, {stamp}"
    )
    session_id, offset_ms = position  # both None, or both known
    with connection.cursor() as cursor:
        at_value = connection.ops.adapt_datetimefield_value(at)
        cursor.execute(
            sql, [event_id, at_value, session_id, offset_ms, *(int(counts.get(name, 0)) for name in EMOJI)]
        )


def _stream_position(event_id: int, at: datetime) -> tuple[int | None, int | None]:
    """Where the second ``at`` was in the event's live stream (chat.services.stream_position)."""
    from chat.services import stream_position
    from events.models import LiveEvent

    event = LiveEvent.objects.filter(pk=event_id).first()
    return (None, None) if event is None else stream_position(event, now=at)


def _publish(event_id: int, counts: dict[str, int], totals: dict[str, int]) -> None:
    from chat.realtime import chat_topic

    publish(chat_topic(event_id), encode("chat.reactions", {"counts": counts, "totals": totals}))


def _add_to_second(event_id: int, second: int, counts: dict[str, int]) -> bool:
    """Add ``counts`` to the second's and the show's counts in Redis; True for the first process
    that second (it sends the frame)."""
    second_key = f"liveshop:reactions:{event_id}:{second}"
    with _redis().pipeline(transaction=False) as pipe:
        for name, count in counts.items():
            pipe.hincrby(second_key, name, count)
            pipe.hincrby(f"liveshop:reactions:{event_id}", name, count)
        pipe.expire(second_key, 60)
        pipe.expire(f"liveshop:reactions:{event_id}", TOTALS_TTL)
        pipe.set(f"liveshop:reactions-sender:{event_id}:{second}", 1, nx=True, ex=60)
        *_, first = pipe.execute()
    return bool(first)


def _send_second(event_id: int, second: int) -> None:
    """The one frame of a second: every process's taps in it, and the show's totals."""
    try:
        with _redis().pipeline(transaction=False) as pipe:
            pipe.hgetall(f"liveshop:reactions:{event_id}:{second}")
            pipe.hgetall(f"liveshop:reactions:{event_id}")
            counts, totals = pipe.execute()
        decode = lambda found: {name.decode(): int(value) for name, value in found.items()}  # noqa: E731
        _publish(event_id, decode(counts), decode(totals))
    except Exception:
        logger.warning("Reactions of event %s not sent", event_id, exc_info=True)


_local_totals: dict[int, Counter] = {}  # without Redis (the one-process demo)


def add_to_totals(event_id: int, counts: dict[str, int]) -> dict[str, int]:
    if not settings.REDIS_URL:
        totals = _local_totals.setdefault(event_id, Counter())
        totals.update(counts)
        return dict(totals)
    key = f"liveshop:reactions:{event_id}"
    with _redis().pipeline(transaction=False) as pipe:
        for name, count in counts.items():
            pipe.hincrby(key, name, count)
        pipe.expire(key, TOTALS_TTL)
        pipe.hgetall(key)
        *_, totals = pipe.execute()
    return {name.decode(): int(value) for name, value in totals.items()}


@functools.cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
