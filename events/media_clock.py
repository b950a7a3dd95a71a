"""Where a host's click, a chat message or a poll falls in the stream: its media time where the
media server knows it.

A highlight's offset places its card in the replay, which is cut from the encoder's clock (the
media the encoder sent), not the wall clock. They agree while the encoder keeps up; an encoder
slower than real time (an overloaded laptop, ffmpeg -readrate 0.8) sends less media than time
passes, so a wall-clock offset lands later and later in the replay, past its end at last. The
local media server knows the stream's media time (liveshop.video.KnowsMediaTime: the
publisher's timestamp in nginx-rtmp's /stat), so clicks are stamped with it; IVS says nothing
of it (its recordings' program date-times follow its own clock), so there the wall clock stays.
A replay still keeps a highlight that falls past its end, clamped to the end with a warning
(recordings.services.product_cues).

An encoder's clock need not start at 0 (OBS after a reconnect, ffmpeg -output_ts_offset or
-copyts). A session's origin is the encoder's clock at its first frame, which is where its
recording starts: when the local media server accepts a publish, ``watch_session_start`` reads
/stat every START_POLL_SECONDS from a thread of its own (the callback does not wait) until the
first frames are there, and fixes the origin from that reading (0 when it is within
START_SLACK_MS of 0), kept in the cache for every process. Where that did not happen (no frame
before START_DEADLINE_SECONDS, a media server that did not answer, a restart of the web
process), the session's first reading fixes it as before (0 when plausible as it is, else that
reading minus the wall clock's time into the session: an encoder read late that was already
slow then counts its lag as origin), until the start's reading replaces it.

Chat messages and polls stand on the same clock. A poll asks, as a click does; a chat message
(many a second at show scale) does not: ``position_ms`` applies the difference between media time
and wall clock found by this process's last reading for the session, read again at most every
REFRESH_SECONDS, and stamps with the wall clock while none is known. A message is then off by at
most what the encoder fell behind in REFRESH_SECONDS (0.4 s at ffmpeg -readrate 0.8)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache

from events.models import LiveEvent
from liveshop.video import KnowsMediaTime, VideoBackendError, get_video_backend

logger = logging.getLogger(__name__)

# The click does not wait longer than this for the media server (loopback: it answers in ~1 ms).
TIMEOUT_SECONDS = 0.3
# A media time (from the session's origin) ahead of the wall clock by more than this is not the
# session's clock: the wall clock stamps instead. A session's first reading this far ahead is a
# clock that did not start at 0: it fixes the origin.
AHEAD_SLACK_MS = 2_000
# A chat message uses the last reading this long (seconds) before the media server is asked again.
REFRESH_SECONDS = 2.0
# The session's start: /stat read this often until the first frames are there (0.3 ms a read on
# loopback), for at most START_DEADLINE_SECONDS; a first reading within START_SLACK_MS of 0 is a
# clock that started at 0 (what an encoder sends in a poll interval, and its start-up burst); a
# reading more than START_GAP_SECONDS after the last one without frames fixes nothing (it cannot
# tell how much media came before it: the thread was held up).
START_POLL_SECONDS = 0.025
START_DEADLINE_SECONDS = 20.0
START_SLACK_MS = 500
START_GAP_SECONDS = 0.5
START_ERROR_WAIT_SECONDS = 0.5  # after the media server did not answer
ORIGIN_TTL = 2 * 24 * 3600  # seconds the cache keeps a session's origin (longer than any show)


def media_time_ms(event: LiveEvent) -> int | None:
    """The live stream's media time now, where the video backend knows it; None otherwise
    (not live, no channel, a backend that cannot tell, or a media server that did not answer)."""
    if not (event.is_live and event.has_channel):
        return None
    backend = get_video_backend()
    if not isinstance(backend, KnowsMediaTime):
        return None
    try:
        return backend.media_time_ms(event.channel_id, timeout=TIMEOUT_SECONDS)
    except VideoBackendError as exc:
        logger.info(
            "Media time unknown: stamped with the wall clock",
            extra={"event_id": event.pk, "reason": str(exc)},
        )
        return None


def stamp_ms(*, media_ms: int | None, wall_ms: int, origin_ms: int = 0) -> int:
    """The offset into its session: the media time counted from the session's origin when there
    is a plausible one, else the wall clock's time since the session started."""
    media = _plausible(media_ms, wall_ms, origin_ms)
    return wall_ms if media is None else media


def session_stamp_ms(
    *, event_id: int, session: tuple[int, datetime], media_ms: int | None, now: datetime
) -> int:
    """The offset of ``now`` into the open stream ``session`` (id, started_at) of the event,
    given the media time read for it (``media_time_ms``, None when unknown): the media time from
    the session's origin when plausible, else the wall clock. Keeps the reading for this
    process's chat messages (``position_ms``)."""
    return session_stamp(event_id=event_id, session=session, media_ms=media_ms, now=now).offset_ms


@dataclass(frozen=True)
class Stamp:
    offset_ms: int
    origin_ms: int | None  # the encoder's clock at offset 0; None: stamped by the wall clock


def session_stamp(
    *, event_id: int, session: tuple[int, datetime], media_ms: int | None, now: datetime
) -> Stamp:
    """``session_stamp_ms`` and the origin it counted from (None when the wall clock stamped):
    the encoder's clock at the stamp is ``origin_ms + offset_ms`` (a live page maps that to its
    video's timestamps)."""
    wall_ms = _wall_ms(session, now)
    if media_ms is None:
        return Stamp(wall_ms, None)
    origin = _origin_ms(session, media_ms, wall_ms)
    media = _plausible(media_ms, wall_ms, origin)
    _keep(event_id, session, lag_ms=None if media is None else wall_ms - media)
    return Stamp(wall_ms, None) if media is None else Stamp(media, origin)


def position_ms(*, event: LiveEvent, session: tuple[int, datetime], now: datetime) -> int:
    """The offset of ``now`` into the open stream ``session`` (id, started_at) for a chat
    message: the wall clock moved by the media clock's lag behind it, as this process last read
    it (the media server is asked at most once every REFRESH_SECONDS per event, by one thread at
    a time: the others meanwhile use the reading before, or the wall clock); the wall clock
    while the lag is unknown."""
    wall_ms = _wall_ms(session, now)
    reading = _readings.get(event.pk)
    if reading is None or reading.session != session or reading.expires <= _monotonic():
        reading = _refresh(event, session, now) or (
            reading if reading and reading.session == session else None
        )
    if reading is None or reading.lag_ms is None:
        return wall_ms
    return max(0, wall_ms - reading.lag_ms)


def watch_session_start(*, channel_id: str, session: tuple[int, datetime]) -> threading.Thread | None:
    """Fix the just started ``session``'s origin from its first frames (``fix_origin_at_start``)
    in a thread of its own, so the media server's callback does not wait for them. None (no
    thread) when the video backend cannot tell media time."""
    backend = get_video_backend()
    if not isinstance(backend, KnowsMediaTime):
        return None

    def read() -> int | None:
        return backend.media_time_ms(channel_id, timeout=TIMEOUT_SECONDS)

    thread = threading.Thread(
        target=fix_origin_at_start,
        kwargs={"session": session, "read": read},
        name=f"media-clock-start-{session[0]}",
        daemon=True,
    )
    thread.start()
    return thread


def fix_origin_at_start(
    *,
    session: tuple[int, datetime],
    read,
    sleep=time.sleep,
    clock=time.monotonic,
    deadline_s: float = START_DEADLINE_SECONDS,
) -> int | None:
    """Read the media time (``read()``: None while there is no frame yet) every
    START_POLL_SECONDS until the session's first frames are there, and fix the session's origin
    from that reading for every process (it replaces an origin a reading fixed meanwhile). The
    origin is the reading itself, off from the first frame's timestamp by what arrived in one
    poll interval, or 0 when the reading is within START_SLACK_MS of 0. Returns it; None when no
    frame came within ``deadline_s`` (a media server that does not answer is asked again, less
    often), or the reading came too long after the last one known without frames (START_GAP_SECONDS, or an
    error between them): readings fix the origin later, as before."""
    deadline = clock() + deadline_s
    before = clock()  # the last moment known to be without frames
    while clock() < deadline:
        try:
            media_ms = read()
        except VideoBackendError as exc:  # asked again, less often: it may be busy
            logger.info("Media clock origin not read yet: %s", exc, extra={"session_id": session[0]})
            sleep(START_ERROR_WAIT_SECONDS)
            before = None
            continue
        now = clock()
        if media_ms is not None:
            if before is None or now - before > START_GAP_SECONDS:
                logger.info("Media clock origin not read at the start", extra={"session_id": session[0]})
                return None
            origin = 0 if media_ms <= START_SLACK_MS else media_ms
            _fix_origin(session, origin)
            return origin
        before = now
        sleep(START_POLL_SECONDS)
    return None


def origin_ms(session: tuple[int, datetime]) -> int | None:
    """The session's origin as known now (this process, else the cache), or None."""
    kept = _origins.get(session)
    if kept is not None:
        return kept.origin_ms
    known = _cached_origin(session)
    return None if known is None else known[0]


def forget() -> None:
    """Drop this process's kept readings and origins (tests)."""
    _readings.clear()
    _origins.clear()


# Internals -------------------------------------------------------------------------------------

_monotonic = time.monotonic  # tests move it


@dataclass(frozen=True)
class _Reading:
    session: tuple[int, datetime]
    lag_ms: int | None  # the wall clock minus the session's media time; None: not known
    expires: float  # monotonic


@dataclass(frozen=True)
class _Origin:
    origin_ms: int
    at_start: bool  # read at the session's first frames: final
    checked: float  # monotonic: when the cache was last asked about it


_readings: dict[int, _Reading] = {}
_refreshing: dict[int, threading.Lock] = {}
_refreshing_lock = threading.Lock()
_origins: dict[tuple[int, datetime], _Origin] = {}


def _plausible(media_ms: int | None, wall_ms: int, origin_ms: int) -> int | None:
    """The media time into the session, unless unknown, before its origin or ahead of the wall
    clock by more than AHEAD_SLACK_MS (not this session's clock)."""
    if media_ms is None:
        return None
    media_ms -= origin_ms
    return media_ms if 0 <= media_ms <= wall_ms + AHEAD_SLACK_MS else None


def _wall_ms(session: tuple[int, datetime], now: datetime) -> int:
    return max(0, int((now - session[1]).total_seconds() * 1000))


def _refresh(event: LiveEvent, session: tuple[int, datetime], now: datetime) -> _Reading | None:
    """Read the media time again, unless another thread of this process is at it (None)."""
    with _refreshing_lock:
        lock = _refreshing.setdefault(event.pk, threading.Lock())
    if not lock.acquire(blocking=False):
        return None
    try:
        reading = _readings.get(event.pk)
        if reading is not None and reading.session == session and reading.expires > _monotonic():
            return reading  # another thread read it while this one waited for the lock
        media_ms = media_time_ms(event)
        if media_ms is None:
            _keep(event.pk, session, lag_ms=None)
        else:
            session_stamp_ms(event_id=event.pk, session=session, media_ms=media_ms, now=now)
        return _readings[event.pk]
    finally:
        lock.release()


def _keep(event_id: int, session: tuple[int, datetime], *, lag_ms: int | None) -> None:
    _readings[event_id] = _Reading(session, lag_ms, _monotonic() + REFRESH_SECONDS)


def _origin_ms(session: tuple[int, datetime], media_ms: int, wall_ms: int) -> int:
    """Where the session's media clock started: read at its first frames (fix_origin_at_start),
    else fixed by its first reading (in any process, the cache decides), 0 when that reading is
    plausible as it is, else that reading minus the wall clock's time into the session (the
    encoder assumed to have kept up until then). A reading before the origin (the clock went
    back: the first reading was a publisher's before a reconnect, or the encoder restarted its
    clock) fixes it again, the same way. This process keeps an origin read at the start for
    good, one fixed by a reading for REFRESH_SECONDS (the start's reading may replace it)."""
    kept = _origins.get(session)
    recent = kept is not None and (kept.at_start or _monotonic() - kept.checked < REFRESH_SECONDS)
    if recent and media_ms >= kept.origin_ms:
        return kept.origin_ms
    try:
        known = _cached_origin(session)
    except Exception:  # the cache is down: this process's own readings decide
        logger.warning("Media clock origin not shared", extra={"session_id": session[0]}, exc_info=True)
        known = (kept.origin_ms, kept.at_start) if kept is not None else None
    if known is not None and media_ms >= known[0]:
        return _remember(session, *known)
    origin = media_ms - wall_ms if media_ms > wall_ms + AHEAD_SLACK_MS else 0
    try:
        if known is not None:  # the clock went back before it
            cache.set(_origin_key(session), origin, timeout=ORIGIN_TTL)
        elif not cache.add(_origin_key(session), origin, timeout=ORIGIN_TTL):
            known = _cached_origin(session)  # another process fixed it meanwhile
            if known is not None and media_ms >= known[0]:
                return _remember(session, *known)
    except Exception:
        logger.warning("Media clock origin not shared", extra={"session_id": session[0]}, exc_info=True)
    return _remember(session, origin, False)


def _fix_origin(session: tuple[int, datetime], origin: int) -> None:
    """The origin read at the session's first frames: for every process, replacing any other."""
    try:
        cache.set(_origin_key(session), (origin, True), timeout=ORIGIN_TTL)
    except Exception:
        logger.warning("Media clock origin not shared", extra={"session_id": session[0]}, exc_info=True)
    _remember(session, origin, True)


def _cached_origin(session: tuple[int, datetime]) -> tuple[int, bool] | None:
    """(origin, read at the start) from the cache, or None. A bare number: fixed by a reading."""
    value = cache.get(_origin_key(session))
    if value is None:
        return None
    return (int(value[0]), bool(value[1])) if isinstance(value, (tuple, list)) else (int(value), False)


def _origin_key(session: tuple[int, datetime]) -> str:
    return f"media-clock:origin:{session[0]}:{int(session[1].timestamp() * 1000)}"


def _remember(session: tuple[int, datetime], origin: int, at_start: bool) -> int:
    if len(_origins) > 10_000:  # sessions long over (a process runs for days)
        _origins.clear()
    _origins[session] = _Origin(origin, at_start, _monotonic())
    return origin
