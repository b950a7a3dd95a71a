"""The beacon buffer between the players and PostgreSQL: Redis (one list of records, sealed into
named batches for flushing, plus the few keys that keep counting honest), or, without
``REDIS_URL`` (the one-process demo), the same operations in this process's memory.

Every operation is one Redis round trip; nothing here touches the database or the channel layer,
so beacons never reach the card fan-out's path."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass

from django.conf import settings

PREFIX = "liveshop:analytics:"
BUFFER = PREFIX + "buffer"
BATCHES = PREFIX + "batches"

# One beacon batch in one round trip: refuse a batch seen before (pushing its duplicate record);
# else, for its heartbeat, refuse one closer than the gap to the viewer's last (pushing the
# too-frequent record) or credit at most the time since that one (the first: at most the cap)
# into its record's "ms"; push every record. Atomic, so two tabs cannot both pass.
_SUBMIT = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then
  redis.call('RPUSH', KEYS[3], ARGV[9])
  return 'duplicate'
end
local records, status = {}, 'ok'
for i = 10, #ARGV do records[#records + 1] = ARGV[i] end
if ARGV[7] ~= '' then
  local now = tonumber(ARGV[2])
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
  if prev > 0 and now - prev < tonumber(ARGV[3]) then
    status = 'too_frequent'
    records[#records + 1] = ARGV[8]
  else
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
    local cap = tonumber(ARGV[6])
    if prev > 0 then cap = now - prev end
    local credited = math.min(tonumber(ARGV[5]), cap)
    local ms = '"ms":' .. string.format('%d', credited) .. ','
    records[#records + 1] = (string.gsub(ARGV[7], '"ms":0,', ms, 1))
  end
end
if #records > 0 then redis.call('RPUSH', KEYS[3], unpack(records)) end
return status
"""
# Move what the buffer holds to a named batch (new records start a fresh buffer meanwhile).
_SEAL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Heartbeat:
    """A batch's heartbeat: its record with ``"ms":0,`` for the credited time, and the rule's terms."""

    key: str
    now_ms: int
    min_gap_ms: int
    ttl: int
    played_ms: int
    first_cap_ms: int
    template: str
    refused_record: str

    def args(self) -> list:
        return [
            self.now_ms,
            self.min_gap_ms,
            self.ttl,
            self.played_ms,
            self.first_cap_ms,
            self.template,
            self.refused_record,
        ]


@dataclass(frozen=True)
class Submission:
    seen_key: str
    seen_ttl: int
    records: list[str]
    duplicate_record: str
    heartbeat: Heartbeat | None = None


class RedisBuffer:
    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._submit = self.redis.register_script(_SUBMIT)
        self._seal = self.redis.register_script(_SEAL)

    def first_time(self, key: str, ttl: int) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds."""
        return bool(self.redis.set(PREFIX + key, 1, nx=True, ex=ttl))

    def submit(self, batch: Submission) -> str:
        """One batch (see _SUBMIT): "duplicate", "too_frequent" (its heartbeat) or "ok"."""
        hb = batch.heartbeat
        args = [batch.seen_ttl, *(hb.args() if hb else ["", "", "", "", "", "", ""]), batch.duplicate_record]
        result = self._submit(
            keys=[PREFIX + batch.seen_key, PREFIX + (hb.key if hb else "none"), BUFFER],
            args=[*args, *batch.records],
        )
        return result.decode() if isinstance(result, bytes) else result

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

    def submit(self, batch: Submission) -> str:
        with self.lock:
            if self._get(batch.seen_key) is not None:
                self.buffer.append(batch.duplicate_record)
                return "duplicate"
            self.keys[batch.seen_key] = (time.monotonic() + batch.seen_ttl, 1)
            records, status, hb = list(batch.records), "ok", batch.heartbeat
            if hb:
                prev = self._get(hb.key) or 0
                if prev and hb.now_ms - prev < hb.min_gap_ms:
                    status = "too_frequent"
                    records.append(hb.refused_record)
                else:
                    self.keys[hb.key] = (time.monotonic() + hb.ttl, hb.now_ms)
                    credited = min(hb.played_ms, hb.now_ms - prev if prev else hb.first_cap_ms)
                    records.append(hb.template.replace('"ms":0,', f'"ms":{credited},', 1))
            self.buffer.extend(records)
            return status

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
