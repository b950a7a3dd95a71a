"""Timed metadata: each highlight travels inside the video as an in-band cue (IVS PutMetadata;
the local media server's equivalent), sent right after commit, kept under the channel's rate
limit by every process together, and coalesced so the video always carries the newest product
(an older cue still waiting when a newer highlight exists is marked superseded). A highlight's
``cue_state`` is this cue's. Product cues on a video's timeline are recordings' (product_cues).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from events import realtime
from events.models import Highlight
from liveshop import ratelimit, tasks, video
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


def get_rate_limiter():
    """The channels' PutMetadata limit, shared by every process (liveshop.ratelimit)."""
    return ratelimit.get_rate_limiter("cue-rate", CALLS_PER_SECOND)


_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cues")
RETRY_TASK = "events.tasks.send_highlight_cue_task"
SUPERSEDED = "A newer highlight replaced it before it was sent."


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


@dataclass(frozen=True)
class Cue:
    """What sending one highlight's cue needs, taken from the highlight (and its event) in memory."""

    highlight_id: int
    event_id: int
    channel_id: str
    payload: str

    @classmethod
    def of(cls, highlight: Highlight) -> Cue:
        return cls(highlight.pk, highlight.event_id, highlight.event.channel_id, cue_payload(highlight))


class _SendOrder:
    """This process's newest highlight per event, and one lock per event held from the check
    against it to PutMetadata's answer: this process never sends an older cue after a newer one,
    without asking the database (processes race as before: a cue goes ~1 ms after its commit)."""

    def __init__(self):
        self._newest: dict[int, int] = {}
        self._locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def note(self, cue: Cue) -> None:
        with self._guard:
            self._newest[cue.event_id] = max(cue.highlight_id, self._newest.get(cue.event_id, 0))

    def superseded(self, cue: Cue) -> bool:
        return self._newest.get(cue.event_id, 0) > cue.highlight_id

    def lock(self, event_id: int) -> threading.Lock:
        with self._guard:
            return self._locks[event_id]


_order = _SendOrder()


class _ConsoleOrder:
    """Consoles hear of a highlight before any cue.state frame about it. ``feature_product`` sends
    the cue before it builds the consoles' frame (the card's reads are off the cue's path), so a
    cue.state frame the cue thread has ready before that frame has gone is held, and published
    by ``console_frame_sent``. Highlights nobody announces (retries, other processes) pass."""

    def __init__(self):
        self._held: dict[int, list] = {}
        self._guard = threading.Lock()

    def expect(self, highlight_id: int) -> None:
        with self._guard:
            self._held.setdefault(highlight_id, [])

    def publish(self, highlight_id: int, send) -> None:
        with self._guard:
            held = self._held.get(highlight_id)
            if held is not None:
                held.append(send)
                return
        send()

    def frame_sent(self, highlight_id: int) -> None:
        with self._guard:
            held = self._held.pop(highlight_id, [])
        for send in held:
            send()


_console_order = _ConsoleOrder()


def send_cue_on_commit(highlight: Highlight, *, console_frame_follows: bool = False) -> None:
    """After commit, send ``highlight``'s cue off the request thread (it is timing-critical: IVS
    stamps it into the video when the call arrives, so no queue hop). Call it in the transaction
    that writes the highlight, with its event loaded: the cue is built now, so its first attempt
    reads and locks nothing in the database. ``console_frame_follows``: the caller publishes the
    consoles' frame about the highlight after this hook and then calls ``console_frame_sent``
    (cue.state frames about it wait for that)."""
    cue = Cue.of(highlight)

    def hook():
        if console_frame_follows:
            _console_order.expect(cue.highlight_id)
        dispatch(cue)

    transaction.on_commit(hook)


def console_frame_sent(highlight_id: int) -> None:
    """The consoles' frame about this highlight has been published (or failed): its held
    cue.state frames go now. Call it in a ``finally``."""
    _console_order.frame_sent(highlight_id)


def dispatch(cue: Cue) -> None:
    _order.note(cue)
    if settings.LIVESHOP_CUES_INLINE:
        send_cue(cue)
    else:
        _executor.submit(_send_in_thread, cue)


def _send_in_thread(cue: Cue) -> None:
    try:
        send_cue(cue)
    except Exception:
        logger.exception("Sending a cue failed", extra={"highlight_id": cue.highlight_id})
    finally:
        close_old_connections()


def send_cue(cue: Cue, attempts: int = 0) -> str:
    """One attempt at a cue; returns its state, recorded on the highlight after the call. At most
    once: a highlight's first attempt is dispatched once, after its commit, and each retry is
    queued by the attempt before it (one at a time). Waits for the rate limit through a retry."""
    state, error, retry_in = _attempt(cue, attempts)
    if _record(cue, state, error) and state == CueState.WAITING:
        _retry_later(cue.highlight_id, retry_in)
    return state


def _attempt(cue: Cue, attempts: int) -> tuple[str, str, float]:
    """(state, error, seconds before a retry): skipped when superseded, else the channel's rate
    limit (5 calls/s, shared by every process) and PutMetadata."""
    with _order.lock(cue.event_id):
        if _order.superseded(cue):
            return CueState.SUPERSEDED, SUPERSEDED, 0
        wait = get_rate_limiter().acquire(cue.channel_id, clock.now())
        if wait > 0:
            return CueState.WAITING, "", wait
        try:
            get_video_backend().put_metadata(cue.channel_id, cue.payload)
        except Throttled:
            return CueState.WAITING, "", 0.2 * (attempts + 1)
        except ChannelNotLive:
            return CueState.NOT_LIVE, "The channel was not live.", 0
        except VideoBackendError as exc:
            if attempts + 1 < MAX_ATTEMPTS:
                return CueState.WAITING, str(exc), 0.5 * (attempts + 1)
            return CueState.FAILED, str(exc), 0
    return CueState.SENT, "", 0


def _record(cue: Cue, state: str, error: str = "") -> bool:
    """Write the attempt's outcome unless the cue is already final (then False), and tell the
    event's consoles after commit. A wait counts an attempt."""
    fields = {"cue_state": state, "cue_error": error[:300]}
    if state == CueState.SENT:
        fields["cue_sent_at"] = timezone.now()
    if state == CueState.WAITING:
        fields["cue_attempts"] = F("cue_attempts") + 1
    open_states = (CueState.PENDING, CueState.WAITING)
    if not Highlight.objects.filter(pk=cue.highlight_id, cue_state__in=open_states).update(**fields):
        return False
    payload = {"highlightId": cue.highlight_id, "cueState": state, "cueError": fields["cue_error"]}
    transaction.on_commit(
        lambda: _console_order.publish(
            cue.highlight_id, lambda: realtime.broadcast_to_studio(cue.event_id, "cue.state", payload)
        )
    )
    return True


def send_highlight_cue(highlight_id: int) -> str:
    """A retry of a waiting cue (send_highlight_cue_task): returns the cue state. Sends unless the
    cue is final or a newer highlight of the event exists (then marks it superseded)."""
    highlight = _claim(highlight_id)
    if highlight.cue_state in _FINAL:
        return highlight.cue_state
    return send_cue(Cue.of(highlight), highlight.cue_attempts)


@transaction.atomic
def _claim(highlight_id: int) -> Highlight:
    highlight = Highlight.objects.select_for_update().select_related("event").get(pk=highlight_id)
    if highlight.cue_state in _FINAL:
        return highlight
    if Highlight.objects.filter(event_id=highlight.event_id, pk__gt=highlight.pk).exists():
        _record(Cue.of(highlight), CueState.SUPERSEDED, SUPERSEDED)
        highlight.cue_state = CueState.SUPERSEDED
    return highlight


def _retry_later(highlight_id: int, delay: float) -> None:
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            tasks.enqueue(RETRY_TASK, highlight_id, countdown=delay)
            return
        except Exception as exc:  # the broker (Redis) is unreachable: retry on this thread instead
            logger.warning(
                "Cue retry not queued (%s); retrying here", exc, extra={"highlight_id": highlight_id}
            )
    # No worker (demo, tests) or no broker: wait here, on the cue thread, then try again; unless
    # the process is stopping (the cue threads are joined at exit: retries would hold it up).
    if not _stopping.is_set():
        clock.sleep(delay)
    if _stopping.is_set():
        _give_up(highlight_id)
        return
    send_highlight_cue(highlight_id)


# Set by stop_retrying(): the process is stopping.
_stopping = threading.Event()
STOPPED = "The process stopped before the cue could be sent again."


def stop_retrying() -> None:
    """The process is stopping (a streaming command's Ctrl-C or SIGTERM): a cue waiting for a
    retry on its thread (no worker, or the broker gone with the rest of the stack) gives up,
    recorded as failed, so the process exits at once. First attempts still go out."""
    _stopping.set()


def _give_up(highlight_id: int) -> None:
    highlight = Highlight.objects.select_related("event").get(pk=highlight_id)
    _record(Cue.of(highlight), CueState.FAILED, STOPPED)
    logger.info("Cue not retried: the process is stopping", extra={"highlight_id": highlight_id})


def warm_up(*, task_registry: bool = True) -> None:
    """Build now what a process's first cue would otherwise build (call it at start-up: web,
    worker, the pre-recorded streamer): the video backend and its cloud client (~0.6 s for
    boto3's IVS model), the rate limiter (and its Redis connection) and the task registry. A
    Celery worker has loaded its tasks already (``task_registry=False``): loading them again in a
    pool process would set Django up a second time and replace the worker's log handlers."""
    video.warm_up()
    get_rate_limiter().acquire("warm-up", clock.now())
    if task_registry:
        tasks.load_tasks()
