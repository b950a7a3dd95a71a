"""Rate limits, one module for the whole project: a sliding window of calls per key (the in-band
cue's IVS PutMetadata limit per second, a chatter's messages per ten seconds, shared by every
process through Redis) and a fixed window of connects per client address (the websocket connect
limit, counted in each process and shared through Redis only for an address busy enough to need
it).

Both keep working without Redis: nobody is refused, and nothing is sent too fast, because Redis
is down. Keys live under ``liveshop:<name>:`` in Redis.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import defaultdict, deque

from django.conf import settings

logger = logging.getLogger(__name__)


class LocalRateLimiter:
    """At most ``limit`` calls per key in any ``window``-second window, within this process."""

    def __init__(self, limit: int, window: float = 1.0):
        self.limit = limit
        self.window = window
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float) -> float:
        """0 when a call may go now (and counts it), else the seconds to wait."""
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) < self.limit:
                calls.append(now)
                return 0.0
            return calls[0] + self.window - now


class RedisRateLimiter:
    """The same window shared by every process through Redis (one atomic script per call).
    A sliding window rather than a token bucket refilled at ``limit``/s: a full bucket plus a
    second of refill would allow twice the limit within one second, which IVS throttles.

    With Redis unreachable, calls still go out, through a local window of FALLBACK_LIMIT calls
    per second in each process: the processes cannot see each other's calls then, so each takes
    a share that keeps up to ``limit // FALLBACK_LIMIT`` of them under the limit."""

    FALLBACK_LIMIT = 1

    SCRIPT = """
    local key, now, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) < limit then
        redis.call('ZADD', key, now, ARGV[3])
        redis.call('PEXPIRE', key, 2 * window)
        return 0
    end
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window - now
    """

    def __init__(
        self, url: str, limit: int, name: str = "rate", window: float = 1.0, fallback_limit: int = 0
    ):
        import redis

        self.limit = limit
        self.name = name
        self.window = window
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._script = self._redis.register_script(self.SCRIPT)
        self._seq = 0
        self._lock = threading.Lock()
        self._fallback = LocalRateLimiter(fallback_limit or self.FALLBACK_LIMIT, window)

    def acquire(self, key: str, now: float) -> float:
        import redis

        with self._lock:
            self._seq += 1
            member = f"{now:.6f}-{threading.get_ident()}-{self._seq}"
        try:
            wait_ms = self._script(
                keys=[f"liveshop:{self.name}:{key}"],
                args=[int(now * 1000), self.limit, member, int(self.window * 1000)],
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limit %s without Redis (%s): %d call(s) per %g s in this process",
                self.name,
                exc,
                self._fallback.limit,
                self.window,
            )
            return self._fallback.acquire(key, now)
        return max(0.0, int(wait_ms) / 1000)


@functools.cache
def get_rate_limiter(
    name: str, limit: int, window: float = 1.0, fallback_limit: int = 0
) -> LocalRateLimiter | RedisRateLimiter:
    """This process's limiter ``name`` (``limit`` calls per key in any ``window`` seconds): shared
    through Redis when there is one (``REDIS_URL``), else in this process (the one-process demo).
    ``fallback_limit``: each process's share while Redis is unreachable (default FALLBACK_LIMIT)."""
    if settings.REDIS_URL:
        return RedisRateLimiter(settings.REDIS_URL, limit, name, window, fallback_limit)
    return LocalRateLimiter(limit, window)


class ConnectLimiter:
    """At most ``limit`` connects per key (a client address) in each ``window`` of seconds.

    Counted in this process: an address's first ``limit // 2`` connects in a window are let in
    with no Redis command at all (a viewer opening a page, a reconnect storm after a deploy).
    Past that share the address is counted in Redis too (its local count carried over once), so
    a client spreading connects over several processes is refused once the shared total passes
    the limit. Redis unreachable: the local count decides, so no viewer is refused because Redis
    is down. Only the current window is kept: the table never outgrows one window's addresses."""

    __slots__ = ("_bucket", "_counts")

    def __init__(self):
        self._bucket = -1
        self._counts: dict[str, int] = {}

    async def allow(self, key: str, limit: int, window: int, redis=None) -> bool:
        """``redis``: an asyncio Redis client, or None to count in this process only."""
        bucket = int(time.time() // window)
        if bucket != self._bucket:
            self._bucket, self._counts = bucket, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count > limit:  # over the limit in this process alone: no need to ask anyone
            return False
        share = limit // 2
        if redis is None or count <= share:
            return True
        try:
            async with redis.pipeline(transaction=False) as pipe:
                shared_key = f"liveshop:ws-rate:{key}:{bucket}"
                pipe.incrby(shared_key, count if count == share + 1 else 1)
                pipe.expire(shared_key, window * 2)
                total, _ = await pipe.execute()
            return total <= limit
        except Exception as exc:
            logger.warning("Connection limit counted locally: Redis did not answer (%s)", exc)
            return True
