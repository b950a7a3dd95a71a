"""In-band product cues: a highlight's PutMetadata call, sent right after commit, kept under the
channel's rate limit by every process together, and coalesced so the video always carries the
newest product (an older cue still waiting when a newer highlight exists is marked superseded).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from events import realtime
from events.models import Highlight
from liveshop.video import ChannelNotLive, Throttled, VideoBackendError, get_video_backend

logger = logging.getLogger(__name__)

CUE_VERSION = 1
CALLS_PER_SECOND = 5  # IVS PutMetadata: 5 requests per second per channel
MAX_ATTEMPTS = 5

CueState = Highlight.CueState
_FINAL = {CueState.SENT, CueState.SUPERSEDED, CueState.FAILED, CueState.NOT_LIVE}


class Clock:
    """Wall time and sleeping, replaceable in tests by a fake clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock = Clock()


class LocalRateLimiter:
    """At most ``limit`` calls per channel in any one-second window, within this process (the
    demo without Redis)."""

    def __init__(self, limit: int = CALLS_PER_SECOND):
        self.limit = limit
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float) -> float:
        """0 when a call may go now (and counts it), else the seconds to wait."""
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - 1:
                calls.popleft()
            if len(calls) < self.limit:
                calls.append(now)
                return 0.0
            return calls[0] + 1 - now


class RedisRateLimiter:
    """The same window shared by every process through Redis (one atomic script per call).
    A sliding window rather than a token bucket refilled at 5/s: a full bucket plus a second of
    refill would allow 10 calls within one second, which IVS throttles.

    With Redis unreachable, cues still go out, through a local window of FALLBACK_LIMIT calls per
    second in each process: the processes cannot see each other's calls then, so each takes a
    share that keeps up to CALLS_PER_SECOND // FALLBACK_LIMIT of them under the channel's limit
    (and a Throttled answer is retried anyway)."""

    FALLBACK_LIMIT = 1

    SCRIPT = """
    local key, now, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 1000)
    if redis.call('ZCARD', key) < limit then
        redis.call('ZADD', key, now, ARGV[3])
        redis.call('PEXPIRE', key, 2000)
        return 0
    end
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + 1000 - now
    """

    def __init__(self, url: str, limit: int = CALLS_PER_SECOND):
        import redis

        self.limit = limit
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._script = self._redis.register_script(self.SCRIPT)
        self._seq = 0
        self._lock = threading.Lock()
        self._fallback = LocalRateLimiter(self.FALLBACK_LIMIT)

    def acquire(self, key: str, now: float) -> float:
        import redis

        with self._lock:
            self._seq += 1
            member = f"{now:.6f}-{threading.get_ident()}-{self._seq}"
        try:
            wait_ms = self._script(
                keys=[f"liveshop:cue-rate:{key}"], args=[int(now * 1000), self.limit, member]
            )
        except redis.RedisError as exc:
            logger.warning(
                "Cue rate limit without Redis (%s): %d call/s in this process", exc, self.FALLBACK_LIMIT
            )
            return self._fallback.acquire(key, now)
        return max(0.0, int(wait_ms) / 1000)


@functools.cache
def get_rate_limiter():
    return RedisRateLimiter(settings.REDIS_URL) if settings.REDIS_URL else LocalRateLimiter()


_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cues")


def cue_payload(highlight: Highlight) -> str:
    """The compact, versioned JSON carried in the video (ids only: well under 1 KB)."""
    data = {
        "v": CUE_VERSION,
        "type": "clear" if highlight.is_clear else "product",
        "eventId": highlight.event_id,
        "highlightId": highlight.pk,
    }
    if not highlight.is_clear:
        data["productId"] = highlight.product_id
    return json.dumps(data, separators=(",", ":"))


def send_cue_on_commit(highlight_id: int) -> None:
    """After commit, send the cue off the request thread (it is timing-critical: IVS stamps it
    into the video when the call arrives, so no queue hop)."""
    transaction.on_commit(lambda: dispatch(highlight_id))


def dispatch(highlight_id: int) -> None:
    if settings.LIVESHOP_CUES_INLINE:
        send_highlight_cue(highlight_id)
    else:
        _executor.submit(_send_in_thread, highlight_id)


def _send_in_thread(highlight_id: int) -> None:
    try:
        send_highlight_cue(highlight_id)
    except Exception:
        logger.exception("Sending a cue failed", extra={"highlight_id": highlight_id})
    finally:
        close_old_connections()


def send_highlight_cue(highlight_id: int) -> str:
    """Send one highlight's cue unless it is final or a newer highlight supersedes it; returns
    the cue state. Waits for the channel's rate limit through a retry (task or, in eager mode,
    a sleep). Idempotent: a sent cue is never sent again."""
    highlight = _claim(highlight_id)
    if highlight.cue_state in _FINAL:
        return highlight.cue_state
    wait = get_rate_limiter().acquire(highlight.event.channel_id, clock.now())
    if wait > 0:
        return _wait(highlight, wait)
    try:
        get_video_backend().put_metadata(highlight.event.channel_id, cue_payload(highlight))
    except Throttled:
        return _wait(highlight, 0.2 * (highlight.cue_attempts + 1))
    except ChannelNotLive:
        return _finish(highlight, CueState.NOT_LIVE, "The channel was not live.")
    except VideoBackendError as exc:
        if highlight.cue_attempts + 1 < MAX_ATTEMPTS:
            return _wait(highlight, 0.5 * (highlight.cue_attempts + 1), str(exc))
        return _finish(highlight, CueState.FAILED, str(exc))
    return _finish(highlight, CueState.SENT)


@transaction.atomic
def _claim(highlight_id: int) -> Highlight:
    highlight = Highlight.objects.select_for_update().select_related("event").get(pk=highlight_id)
    if highlight.cue_state in _FINAL:
        return highlight
    if Highlight.objects.filter(event_id=highlight.event_id, pk__gt=highlight.pk).exists():
        _set_state(highlight, CueState.SUPERSEDED, "A newer highlight replaced it before it was sent.")
    return highlight


def _finish(highlight: Highlight, state: str, error: str = "") -> str:
    with transaction.atomic():
        _set_state(highlight, state, error, sent=state == CueState.SENT)
    return state


def _wait(highlight: Highlight, delay: float, error: str = "") -> str:
    with transaction.atomic():
        highlight.cue_attempts += 1
        _set_state(highlight, CueState.WAITING, error)
    _retry_later(highlight.pk, delay)
    return CueState.WAITING


def _set_state(highlight: Highlight, state: str, error: str = "", *, sent: bool = False) -> None:
    highlight.cue_state = state
    highlight.cue_error = error[:300]
    highlight.cue_sent_at = timezone.now() if sent else highlight.cue_sent_at
    highlight.save(update_fields=["cue_state", "cue_error", "cue_sent_at", "cue_attempts"])
    payload = {"highlightId": highlight.pk, "cueState": state, "cueError": highlight.cue_error}
    transaction.on_commit(lambda: realtime.broadcast_to_studio(highlight.event_id, "cue.state", payload))


def _retry_later(highlight_id: int, delay: float) -> None:
    from events.tasks import send_highlight_cue_task

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            send_highlight_cue_task.apply_async((highlight_id,), countdown=delay)
            return
        except Exception as exc:  # the broker (Redis) is unreachable: retry on this thread instead
            logger.warning(
                "Cue retry not queued (%s); retrying here", exc, extra={"highlight_id": highlight_id}
            )
    # No worker (demo, tests) or no broker: wait here, on the cue thread, then try again.
    clock.sleep(delay)
    send_highlight_cue(highlight_id)
