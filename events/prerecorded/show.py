"""The live loop of a pre-recorded show: ffmpeg stream-copies the video in real time to the
event's ingest URL while each cue's product is featured when the media clock reaches it (see the
package docstring). The stream key is only ever in ffmpeg's argument list: masked in every
message, log line and shown command."""

from __future__ import annotations

import contextlib
import logging
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import close_old_connections

from accounts import permissions
from accounts.permissions import Action
from events import services
from events.exceptions import EventError, EventNotEditable, StreamingError
from events.models import EventProduct, Highlight, LiveEvent
from events.prerecorded.clock import PROGRESS_PERIOD, MediaClock, ScheduledCue, loop_period, maps, schedule
from events.prerecorded.videos import failure, probe
from events.srt_cues import CueSpec, format_ms
from liveshop import media
from liveshop.media import MediaInfo, mask

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10  # seconds ffmpeg gets to close the stream after SIGTERM before SIGKILL
CLEAR_BEFORE_END = 0.5  # seconds: a video that ends takes its card down while still streaming


# The show --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CueFired:
    """A cue whose moment played: the highlight it made, or the error featuring it raised."""

    scheduled: ScheduledCue
    media_time: float  # when it was featured (seconds of output media time)
    highlight: Highlight | None
    error: str = ""
    took: float = 0.0  # seconds the service call took (the broadcast goes out at its end)
    passed: bool = False  # not featured: stream_video's cue_product said None


@dataclass
class StreamProgress:
    media_time: float = 0.0
    loop: int = 0
    cues_fired: int = 0
    next_cue: ScheduledCue | None = None


@dataclass
class StreamResult:
    media_time: float = 0.0
    loops: int = 1
    cues_fired: int = 0
    stopped: bool = False  # ended by ``stop`` (Ctrl-C, SIGTERM), not by the video's end
    card_cleared: bool = False
    event_ended: bool = False  # ended for good afterwards (``end_event``)
    fired: list[CueFired] = field(default_factory=list)


def default_host(event: LiveEvent):
    """Who features the cues' products when nobody is named: the event's creator."""
    return event.created_by


def check_ready(*, event: LiveEvent, by, video: MediaInfo, cues: Sequence[CueSpec]) -> None:
    """StreamingError unless ``by`` may host ``event``, its channel can take a stream, the video
    can be stream-copied to it and every cue's product is in the lineup within the video."""
    if not event.has_channel:
        reason = f" ({event.provisioning_error})" if event.provisioning_error else ""
        raise StreamingError(
            f"“{event.slug}” has no video channel yet{reason}; provision it from the dashboard first."
        )
    if not event.may_go_live:
        raise StreamingError(f"“{event.slug}” is {event.get_status_display().lower()}; it cannot go live.")
    if by is None:
        raise StreamingError(f"“{event.slug}” has no creator to feature the products as; name a host.")
    if not permissions.can(by, Action.HOST_EVENT, event):
        raise StreamingError(f"{by} may not host {event.organization}'s events; name one of its hosts.")
    if video.video_codec != "h264" or video.audio_codec not in (None, "aac"):
        codecs = " + ".join(filter(None, [video.video_codec, video.audio_codec]))
        raise StreamingError(
            f"{video.path} is {codecs}; streaming copies it as is, which needs H.264 video and AAC "
            f"audio. Run: manage.py preencode {video.path} OUT.mp4"
        )
    lineup = set(EventProduct.objects.filter(event=event).values_list("product_id", flat=True))
    problems = []
    for cue in cues:
        where = f"line {cue.line}: " if cue.line else ""
        if cue.product.pk not in lineup:
            problems.append(f"  {where}{cue.product.name} ({cue.product.sku}) is not in the event's lineup")
        if cue.start_ms >= video.duration * 1000:
            problems.append(
                f"  {where}the cue starts at {format_ms(cue.start_ms)}, after the video ends "
                f"({format_ms(int(video.duration * 1000))})"
            )
    if problems:
        raise StreamingError(f"The product cues do not fit “{event.slug}”:\n" + "\n".join(problems))


def ingest_url(event: LiveEvent, key: str) -> str:
    base = event.ingest_url if event.ingest_url.endswith("/") else f"{event.ingest_url}/"
    return base + key


def ffmpeg_command(video: MediaInfo, url: str, *, loop: bool) -> list[str]:
    """Real-time stream copy of ``video`` to ``url`` as FLV, with progress reports on stdout."""
    return [
        media.ffmpeg.FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-stats_period", str(PROGRESS_PERIOD),
        "-re", *(["-stream_loop", "-1"] if loop else []), "-i", str(video.path),
        *maps(video), "-c", "copy", "-flvflags", "no_duration_filesize", "-f", "flv", url,
    ]  # fmt: skip


def shown_command(command: Sequence[str], secret: str) -> str:
    return mask(shlex.join(command), secret)


def stream_video(
    *,
    event: LiveEvent,
    video: str | Path | MediaInfo,
    cues: Sequence[CueSpec],
    loop: bool = False,
    by=None,
    on_cue: Callable[[CueFired], None] | None = None,
    on_progress: Callable[[StreamProgress], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    end_event: bool = False,
    cue_product: Callable[[CueSpec], object | None] | None = None,
) -> StreamResult:
    """Stream ``video`` into ``event`` in real time and feature each cue's product as ``by``
    (default: the event's creator; a host of its brand) when its moment plays; with ``loop``,
    forever. Returns when the video ends or ``stop`` is set: then the card is cleared (while the
    stream is still up) and ffmpeg stopped. The stream's end then reaches the event as any
    encoder's does (the video service reports it: status Ended, the recording becomes the
    replay), but the event stays open: its key keeps working and streaming again makes it live
    again. With ``end_event`` it is then ended for good, as the console's End button does
    (services.end_event: key revoked). ``cue_product(cue)``, when given, names the product to
    feature as each cue plays (read afresh: a price edited during the show), or None to pass the
    cue (the demo show yields to a host's own pick). StreamingError before ffmpeg starts for anything that
    cannot work, and with ffmpeg's last lines (key masked) when the encoder fails (the event is
    then never ended)."""
    video = video if isinstance(video, MediaInfo) else probe(video)
    by = by if by is not None else default_host(event)
    check_ready(event=event, by=by, video=video, cues=cues)
    period = loop_period(video) if loop else None
    try:
        key = services.reveal_stream_key(event=event, by=by)
    except (EventError, PermissionDenied) as exc:
        raise StreamingError(f"Cannot read the stream key of “{event.slug}”: {exc}") from None
    _warm_up(event, cues)
    command = ffmpeg_command(video, ingest_url(event, key), loop=loop)
    if on_start:
        on_start(shown_command(command, key))
    logger.info("Streaming a video", extra={"event_id": event.pk, "video": str(video.path), "loop": loop})
    encoder = _Encoder(command, secret=key)
    result = StreamResult()
    try:
        # Once the last cue has played, a video that is not looping clears its card just before
        # it ends: after the end, the media server may already have ended the event.
        end = None if loop else max(video.duration - video.start_time - CLEAR_BEFORE_END, 0)
        _play(encoder, event=event, by=by, cues=schedule(cues, start_time=video.start_time, period=period),
              period=period, end=end, stop=stop or threading.Event(), result=result,
              on_cue=on_cue, on_progress=on_progress, cue_product=cue_product)  # fmt: skip
    finally:
        if result.cues_fired and not result.card_cleared:
            result.card_cleared = _clear_card(event, by)  # before ffmpeg stops: sent while live
        encoder.close(wait_first=encoder.finished.is_set())
    if not result.stopped and encoder.returncode != 0:
        raise StreamingError(_failure(event, encoder))
    logger.info("Streaming ended", extra={"event_id": event.pk, "stopped": result.stopped})
    if end_event:
        result.event_ended = _end_event(event, by)
    return result


def _end_event(event: LiveEvent, by) -> bool:
    """End the event for good after its stream (``--end-event``); False when it cannot be."""
    close_old_connections()
    try:
        services.end_event(event=event, by=by)
    except (EventError, PermissionDenied) as exc:
        logger.warning("Event not ended", extra={"event_id": event.pk, "error": str(exc)})
        return False
    return True


def _time_to_clear(pending, end, now, result: StreamResult) -> bool:
    if pending is not None or end is None or now is None or now < end:
        return False
    return result.cues_fired > 0 and not result.card_cleared


def _warm_up(event: LiveEvent, cues: Sequence[CueSpec]) -> None:
    """Do the one-time work of a first feature (URL resolver, storage, video backend, rate
    limiter) before the clock runs: a cold process took ~0.5 s longer over its first cue."""
    from events.payloads import product_card
    from events.timed_metadata import warm_up

    warm_up()  # the video backend's client (boto3 on IVS), the rate limiter
    for product in {cue.product.pk: cue.product for cue in cues}.values():
        product_card(product, event)


def _play(
    encoder, *, event, by, cues, period, end, stop, result, on_cue, on_progress, cue_product=None
) -> None:
    """Fire the cues at their media times until the video ends, ffmpeg exits or ``stop``; clear
    the card at ``end`` (media seconds) once every cue has played."""
    pending = next(cues, None)
    shown = 0.0
    while not encoder.finished.is_set():
        if stop.is_set():
            result.stopped = True
            return
        now = encoder.clock.now()
        while pending is not None and now is not None and now >= pending.at:
            fired = _feature(event, by, pending, now, cue_product)
            result.cues_fired += 1
            result.fired.append(fired)
            if on_cue:
                on_cue(fired)
            pending = next(cues, None)
            now = encoder.clock.now()
        if _time_to_clear(pending, end, now, result):
            result.card_cleared = _clear_card(event, by)
        if now is not None:
            result.media_time = now
            result.loops = int(now // period) + 1 if period else 1
        if on_progress and time.monotonic() - shown >= 0.5:
            shown = time.monotonic()
            on_progress(StreamProgress(result.media_time, result.loops - 1, result.cues_fired, pending))
        wait = PROGRESS_PERIOD / 2
        if pending is not None and now is not None:
            wait = min(wait, max(0.001, pending.at - now))
        stop.wait(wait)


def _feature(event: LiveEvent, by, scheduled: ScheduledCue, now: float, cue_product=None) -> CueFired:
    close_old_connections()  # an hour-long show outlives the database connection
    started = time.monotonic()
    product = cue_product(scheduled.cue) if cue_product else scheduled.cue.product
    if product is None:  # the caller passes this cue
        return CueFired(scheduled, now, None, took=time.monotonic() - started, passed=True)
    try:
        # The media clock knows the cue's moment in the stream exactly: the highlight (the live
        # page's timing and the replay's cue) takes it rather than the time of this call.
        highlight = services.feature_product(
            event=event, product=product, by=by, stream_offset_ms=round(scheduled.at * 1000)
        )
    except EventNotEditable as exc:
        raise StreamingError(f"Streaming stopped: {exc}") from None
    except (EventError, PermissionDenied) as exc:  # the lineup changed during the show: skip the cue
        logger.warning(
            "Cue skipped", extra={"event_id": event.pk, "line": scheduled.cue.line, "error": str(exc)}
        )
        return CueFired(scheduled, now, None, str(exc), time.monotonic() - started)
    return CueFired(scheduled, now, highlight, took=time.monotonic() - started)


def _clear_card(event: LiveEvent, by) -> bool:
    close_old_connections()
    try:
        services.clear_highlight(event=event, by=by)
    except (EventError, PermissionDenied) as exc:  # the event ended meanwhile: nothing to clear
        logger.info("Card not cleared", extra={"event_id": event.pk, "error": str(exc)})
        return False
    return True


def _failure(event: LiveEvent, encoder: _Encoder) -> str:
    event.refresh_from_db(fields=["ended_by_host_at", "status"])
    if event.ended_by_host_at is not None:
        return f"The host ended “{event.slug}”; the stream was cut off."
    tail = "\n".join(f"  {line}" for line in encoder.errors) or "  (no output)"
    return f"ffmpeg failed (exit code {encoder.returncode}) streaming to “{event.slug}”:\n{tail}"


class _Encoder:
    """The streaming ffmpeg, with a thread reading its progress reports into a MediaClock (its
    last stderr lines are kept, masked, by liveshop.media.Process)."""

    def __init__(self, command: list[str], *, secret: str):
        self.clock = MediaClock()
        try:
            # Its own process group: a terminal's Ctrl-C reaches only us, so the card is cleared
            # before ffmpeg closes the stream. SIGTERM if we die (even by SIGKILL): no orphan
            # keeps streaming a looping video, and ffmpeg still closes the stream.
            self.process = media.Process(command, secret=secret, own_group=True, parent_death=signal.SIGTERM)
        except media.MediaError as exc:
            raise failure(exc, "start") from None
        self.finished = self.process.ended  # "progress=end" reported, or ffmpeg closed its stdout
        self.errors = self.process.errors
        self._reader = threading.Thread(target=self._read_progress, daemon=True, name="ffmpeg-progress")
        self._reader.start()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def _read_progress(self) -> None:
        for seconds in self.process.progress():
            self.clock.report(seconds)

    def close(self, *, wait_first: bool) -> None:
        """Stop ffmpeg (SIGTERM: it closes the stream cleanly; SIGKILL after STOP_TIMEOUT) and
        reap it. ``wait_first``: it is ending by itself, give it the time to."""
        if wait_first:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
        self.process.stop(grace=STOP_TIMEOUT)
        self._reader.join(timeout=5)
        self.process.close_pipes()
