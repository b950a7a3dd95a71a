"""The beacon buffer between the players and PostgreSQL: Redis (one list of records, sealed into
named batches for flushing, plus the few keys that keep counting honest), or, without
``REDIS_URL`` (the one-process demo), the same operations in this process's memory.

Every operation is one Redis round trip; nothing here touches the database or the channel layer,
so beacons never reach the card fan-out's path."""

from __future__ import annotations

import functools
import threading
import time

from django.conf import settings

PREFIX = "liveshop:analytics:"
BUFFER = PREFIX + "buffer"
BATCHES = PREFIX + "batches"

# Accept a heartbeat only if the viewer's last one on the stream is at least min_gap old; return
# the previous one's time (0: none), or -1 when refused. Atomic, so two tabs cannot both pass.
_HEARTBEAT = """
local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
if prev > 0 and tonumber(ARGV[1]) - prev < tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return prev
"""
# Move what the buffer holds to a named batch (new records start a fresh buffer meanwhile).
_SEAL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""


class RedisBuffer:
    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._heartbeat = self.redis.register_script(_HEARTBEAT)
        self._seal = self.redis.register_script(_SEAL)

    def first_time(self, key: str, ttl: int) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds."""
        return bool(self.redis.set(PREFIX + key, 1, nx=True, ex=ttl))

    def accept_heartbeat(self, key: str, now_ms: int, min_gap_ms: int, ttl: int) -> int:
        return int(self._heartbeat(keys=[PREFIX + key], args=[now_ms, min_gap_ms, ttl]))

    def push(self, records: list[str]) -> None:
        if records:
            self.redis.rpush(BUFFER, *records)

    def seal(self, batch_id: str) -> bool:
        return bool(self._seal(keys=[BUFFER, PREFIX + "batch:" + batch_id, BATCHES], args=[batch_id]))

    def batches(self) -> list[str]:
        return sorted(member.decode() for member in self.redis.smembers(BATCHES))

    def read(self, batch_id: str) -> list[str]:
        return [item.decode() for item in self.redis.lrange(PREFIX + "batch:" + batch_id, 0, -1)]

    def forget(self, batch_id: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.delete(PREFIX + "batch:" + batch_id).srem(BATCHES, batch_id).execute()

    def pending(self) -> int:
        return int(self.redis.llen(BUFFER))

    def clear(self) -> None:
        """Forget everything (tests)."""
        keys = list(self.redis.scan_iter(PREFIX + "*", count=1000))
        if keys:
            self.redis.delete(*keys)


class MemoryBuffer:
    """The same operations in this process (the demo without Redis runs everything in one)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.keys: dict[str, tuple[float, object]] = {}
        self.buffer: list[str] = []
        self.sealed: dict[str, list[str]] = {}

    def _get(self, key: str):
        expires, value = self.keys.get(key, (0.0, None))
        return value if expires > time.monotonic() else None

    def first_time(self, key: str, ttl: int) -> bool:
        with self.lock:
            if self._get(key) is not None:
                return False
            self.keys[key] = (time.monotonic() + ttl, 1)
            return True

    def accept_heartbeat(self, key: str, now_ms: int, min_gap_ms: int, ttl: int) -> int:
        with self.lock:
            prev = self._get(key) or 0
            if prev and now_ms - prev < min_gap_ms:
                return -1
            self.keys[key] = (time.monotonic() + ttl, now_ms)
            return prev

    def push(self, records: list[str]) -> None:
        with self.lock:
            self.buffer.extend(records)

    def seal(self, batch_id: str) -> bool:
        with self.lock:
            if not self.buffer:
                return False
            self.sealed[batch_id], self.buffer = self.buffer, []
            return True

    def batches(self) -> list[str]:
        return sorted(self.sealed)

    def read(self, batch_id: str) -> list[str]:
        return list(self.sealed.get(batch_id, []))

    def forget(self, batch_id: str) -> None:
        with self.lock:
            self.sealed.pop(batch_id, None)

    def pending(self) -> int:
        return len(self.buffer)


@functools.cache
def get_buffer() -> RedisBuffer | MemoryBuffer:
    """Redis when ``REDIS_URL`` is set, else this process's memory (tests clear the cache)."""
    return RedisBuffer(settings.REDIS_URL) if settings.REDIS_URL else MemoryBuffer()
