"""Pre-recorded shows: stream a video file into an event as if it were live, featuring its
product cues as their moments play (``manage.py stream_video``), and prepare a video for that
(``manage.py preencode``).

``stream_video`` runs ffmpeg in real time (``-re``) with stream copy to the event's ingest URL
(RTMPS for IVS, RTMP for the local media server) and features each cue's product through the
same ``feature_product`` service the host console uses. Cues follow the *media* clock: ffmpeg
reports its output time (``-progress``) ten times a second, and a cue fires when the newest
report, plus the wall time since it (at most MAX_EXTRAPOLATION), reaches the cue's time. Each
report re-anchors the clock, so cues cannot drift from the video however long the show runs.

Looping uses ffmpeg's ``-stream_loop -1``: the output time keeps growing, and loop n plays cue c
at ``n * period + c``. The period is what ffmpeg adds per loop (its longest stream's length, e.g.
3.0186 s for a "3.000 s" mp4 whose last AAC frame runs over): measured beforehand with two quick
stream copies to the null muxer, since a container duration ~20 ms off per loop would add up to
seconds within an hour.

Errors are StreamingError, with a message to show as is. The stream key is only ever in the
ffmpeg argument list: it is masked in every message, log line and shown command.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import PermissionDenied
from django.db import close_old_connections

from accounts import permissions
from accounts.permissions import Action
from events import services
from events.exceptions import EventError, EventNotEditable
from events.models import EventProduct, Highlight, LiveEvent
from recordings.exceptions import SrtImportError
from recordings.services.srt_cues import CueSpec, format_ms, parse_srt, parse_srt_timing

logger = logging.getLogger(__name__)

INSTALL_FFMPEG = "apt-get install ffmpeg"
PROGRESS_PERIOD = 0.1  # seconds between ffmpeg's progress reports: the media clock's resolution
MAX_EXTRAPOLATION = 0.5  # a stalled encoder (network) must not let the clock run ahead of the video
STDERR_TAIL = 12  # ffmpeg's last stderr lines shown when it fails
STOP_TIMEOUT = 10  # seconds ffmpeg gets to close the stream after SIGTERM before SIGKILL
PROBE_TIMEOUT = 60
MASK = "****"
CLEAR_BEFORE_END = 0.5  # seconds: a video that ends takes its card down while still streaming
TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"}
CONTAINERS = {".mp4": ("mp4", "mov_text"), ".mov": ("mov", "mov_text"), ".mkv": ("matroska", "srt")}


class StreamingError(Exception):
    """The video cannot be streamed or encoded; the message says why and holds no secret."""


# Reading videos and cues ------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float  # seconds
    start_time: float  # the container's first timestamp: ffmpeg's output time starts there at 0
    video_codec: str
    width: int
    height: int
    frame_rate: Fraction | None
    audio_codec: str | None
    subtitle_codecs: tuple[str, ...]


def require_ffmpeg() -> None:
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        raise StreamingError(f"ffmpeg and ffprobe are not installed ({INSTALL_FFMPEG}).")


def probe(path: str | Path) -> MediaInfo:
    """ffprobe ``path``: a video with a duration, or StreamingError (missing file, not a video)."""
    path = Path(path)
    require_ffmpeg()
    if not path.is_file():
        raise StreamingError(f"No such video file: {path}")
    command = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise StreamingError(f"ffprobe took too long to read {path}; it may be damaged.") from None
    if done.returncode != 0:
        reason = _last_line(done.stderr) or "ffprobe could not read it"
        raise StreamingError(f"{path} is not a video ffmpeg can read ({reason}).")
    data = json.loads(done.stdout or b"{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if _is_picture(s)), None)
    if video is None or data.get("format", {}).get("format_name") == "tty":
        raise StreamingError(f"{path} has no video stream.")
    duration = _positive(data.get("format", {}).get("duration")) or _positive(video.get("duration"))
    if not duration:
        raise StreamingError(f"{path} has no duration; it may be truncated or damaged.")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return MediaInfo(
        path=path,
        duration=duration,
        start_time=float(data["format"].get("start_time") or 0),
        video_codec=video.get("codec_name", "unknown"),
        width=int(video["width"]),
        height=int(video["height"]),
        frame_rate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        audio_codec=audio.get("codec_name", "unknown") if audio else None,
        subtitle_codecs=tuple(s.get("codec_name", "") for s in streams if s.get("codec_type") == "subtitle"),
    )


def _is_picture(stream: dict) -> bool:
    return (
        stream.get("codec_type") == "video"
        and bool(stream.get("width"))
        and not stream.get("disposition", {}).get("attached_pic")
    )


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _rate(value: str | None) -> Fraction | None:
    try:
        rate = Fraction(value or "")
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def extract_subtitles(path: str | Path) -> str:
    """The video's first subtitle track as SRT text (ffmpeg converts ASS and mov_text)."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:s:0", "-f", "srt", "-"]
    done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    if done.returncode != 0:
        raise StreamingError(f"Cannot read the subtitle track of {path} ({_last_line(done.stderr)}).")
    return done.stdout.decode("utf-8", errors="replace")


def read_cues(*, organization, video: MediaInfo, srt: str | Path | None = None) -> list[CueSpec]:
    """The product cues in the SRT file ``srt``, else in the video's first subtitle track, with
    ``organization``'s products. StreamingError lists every problem with its SRT line."""
    if srt is not None:
        try:
            text: str | bytes = Path(srt).read_bytes()
        except OSError as exc:
            raise StreamingError(f"Cannot read the SRT file {srt}: {exc.strerror}.") from None
        source = str(srt)
    elif not video.subtitle_codecs:
        raise StreamingError(f"{video.path} has no subtitle track with product cues; pass --srt FILE.")
    else:
        text, source = extract_subtitles(video.path), f"the subtitle track of {video.path}"
    try:
        return parse_srt(text, organization=organization)
    except SrtImportError as exc:
        raise StreamingError(_problems(f"The product cues in {source} have problems", exc)) from None


def _problems(summary: str, exc: SrtImportError) -> str:
    return f"{summary}:\n" + "\n".join(f"  {problem}" for problem in exc.problems)


# The media clock ---------------------------------------------------------------------------------


class MediaClock:
    """The stream's media time: ffmpeg's newest reported output time plus the wall time since
    that report (capped, so a stalled encoder stops the clock). Thread-safe."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self._anchor: tuple[float, float] | None = None

    def report(self, media_seconds: float) -> None:
        self._anchor = (media_seconds, self.monotonic())  # one tuple: atomic for readers

    def now(self) -> float | None:
        """Seconds of media streamed so far; None before ffmpeg's first report."""
        anchor = self._anchor
        if anchor is None:
            return None
        media, at = anchor
        return media + min(max(0.0, self.monotonic() - at), MAX_EXTRAPOLATION)


@dataclass(frozen=True)
class ScheduledCue:
    at: float  # seconds of output media time
    loop: int  # 0 for the first play of the video
    cue: CueSpec


def schedule(
    cues: Sequence[CueSpec], *, start_time: float = 0.0, period: float | None
) -> Iterator[ScheduledCue]:
    """Every cue in media-time order: once, or loop after loop when ``period`` is given."""
    ordered = sorted(cues, key=lambda cue: cue.start_ms)
    loop = 0
    while ordered:
        for cue in ordered:
            yield ScheduledCue(loop * (period or 0) + cue.start_ms / 1000 - start_time, loop, cue)
        if period is None:
            return
        loop += 1


def loop_period(video: MediaInfo) -> float:
    """How much ffmpeg's output time grows per loop of ``video`` (see the module docstring)."""
    once, twice = _copy_duration(video, loops=0), _copy_duration(video, loops=1)
    if twice <= once:
        raise StreamingError(f"Cannot loop {video.path}: ffmpeg reads no length for it.")
    return twice - once


def _copy_duration(video: MediaInfo, *, loops: int) -> float:
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
        "-stream_loop", str(loops), "-i", str(video.path), *_maps(video), "-c", "copy", "-f", "null", "-",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False)
    times = re.findall(rb"^out_time_us=(\d+)$", done.stdout, re.M)
    if done.returncode != 0 or not times:
        raise StreamingError(f"ffmpeg cannot read {video.path} ({_last_line(done.stderr)}).")
    return int(times[-1]) / 1_000_000


def _maps(video: MediaInfo) -> list[str]:
    # FLV carries one video and one audio stream; the subtitle track stays behind (it is the cues).
    return ["-map", "0:v:0", *(["-map", "0:a:0"] if video.audio_codec else [])]


# Streaming --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CueFired:
    """A cue whose moment played: the highlight it made, or the error featuring it raised."""

    scheduled: ScheduledCue
    media_time: float  # when it was featured (seconds of output media time)
    highlight: Highlight | None
    error: str = ""
    took: float = 0.0  # seconds the service call took (the broadcast goes out at its end)


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
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-stats_period", str(PROGRESS_PERIOD),
        "-re", *(["-stream_loop", "-1"] if loop else []), "-i", str(video.path),
        *_maps(video), "-c", "copy", "-flvflags", "no_duration_filesize", "-f", "flv", url,
    ]  # fmt: skip


def mask(text: str, secret: str) -> str:
    """``text`` with ``secret`` (as is and URL-encoded) replaced by ****."""
    if not secret:
        return text
    return text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)


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
) -> StreamResult:
    """Stream ``video`` into ``event`` in real time and feature each cue's product as ``by``
    (default: the event's creator; a host of its brand) when its moment plays; with ``loop``,
    forever. Returns when the video ends or ``stop`` is set: then the card is cleared (while the
    stream is still up) and ffmpeg stopped. The stream's end then reaches the event as any
    encoder's does (the video service reports it: status Ended, the recording becomes the
    replay), but the event stays open: its key keeps working and streaming again makes it live
    again. With ``end_event`` it is then ended for good, as the console's End button does
    (services.end_event: key revoked). StreamingError before ffmpeg starts for anything that
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
              on_cue=on_cue, on_progress=on_progress)  # fmt: skip
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
    from events.cues import get_rate_limiter
    from events.payloads import product_card
    from liveshop.video import get_video_backend

    get_video_backend()
    get_rate_limiter()
    for product in {cue.product.pk: cue.product for cue in cues}.values():
        product_card(product, event)


def _play(encoder, *, event, by, cues, period, end, stop, result, on_cue, on_progress) -> None:
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
            fired = _feature(event, by, pending, now)
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


def _feature(event: LiveEvent, by, scheduled: ScheduledCue, now: float) -> CueFired:
    close_old_connections()  # an hour-long show outlives the database connection
    started = time.monotonic()
    try:
        # The media clock knows the cue's moment in the stream exactly: the highlight (the live
        # page's timing and the replay's cue) takes it rather than the time of this call.
        highlight = services.feature_product(
            event=event, product=scheduled.cue.product, by=by, stream_offset_ms=round(scheduled.at * 1000)
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
    """A running ffmpeg, with threads reading its progress reports (stdout) into a MediaClock
    and keeping its last stderr lines (masked)."""

    def __init__(self, command: list[str], *, secret: str):
        self.secret = secret
        self.clock = MediaClock()
        self.finished = threading.Event()  # "progress=end" reported, or ffmpeg closed its stdout
        self.errors: deque[str] = deque(maxlen=STDERR_TAIL)
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Its own process group: a terminal's Ctrl-C reaches only us, so the card is
                # cleared before ffmpeg closes the stream.
                process_group=0,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise StreamingError(f"Cannot start ffmpeg: {exc.strerror}.") from None
        self._threads = [
            threading.Thread(target=self._read_progress, daemon=True, name="ffmpeg-progress"),
            threading.Thread(target=self._read_errors, daemon=True, name="ffmpeg-stderr"),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def _read_progress(self) -> None:
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                self.clock.report(int(value) / 1_000_000)
            elif key == "progress" and value == "end":
                self.finished.set()
        self.finished.set()

    def _read_errors(self) -> None:
        for raw in self.process.stderr:
            line = mask(raw.decode(errors="replace").rstrip(), self.secret)
            if line:
                self.errors.append(line)

    def close(self, *, wait_first: bool) -> None:
        """Stop ffmpeg (SIGTERM: it closes the stream cleanly; SIGKILL after STOP_TIMEOUT) and
        reap it. ``wait_first``: it is ending by itself, give it the time to."""
        if wait_first:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for thread in self._threads:
            thread.join(timeout=5)


_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: no parent-death signal
    _libc = None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM ffmpeg if this process dies (even by SIGKILL), so no
    orphan keeps streaming a looping video."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# Pre-encoding ------------------------------------------------------------------------------------

SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
BITRATE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def parse_bitrate(value: str) -> int:
    """Bits per second from "3500k", "3.5M" or "800000"; ValueError otherwise."""
    match = BITRATE.match(value.strip())
    if not match:
        raise ValueError(f"not a bitrate: {value!r} (e.g. 3500k or 3.5M)")
    bits = float(match.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
    if bits < 1000:
        raise ValueError(f"bitrate too low: {value!r}")
    return int(bits)


def parse_size(value: str) -> tuple[int, int]:
    match = SIZE.match(value.strip())
    if not match or int(match.group(1)) % 2 or int(match.group(2)) % 2:
        raise ValueError(f"not a frame size: {value!r} (WIDTHxHEIGHT, even numbers, e.g. 1280x720)")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class EncodeSettings:
    size: tuple[int, int] | None = None  # None: keep the input's
    fps: Fraction | None = None  # None: keep the input's
    video_bitrate: int = 3_500_000
    audio_bitrate: int = 160_000
    keyframe_interval: float = 2.0  # seconds; IVS wants 2, local HLS cuts 1 s fragments at keyframes
    preset: str = "veryfast"


def preencode(
    *,
    source: str | Path,
    target: str | Path,
    settings: EncodeSettings = EncodeSettings(),
    srt: str | Path | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> MediaInfo:
    """Re-encode ``source`` for streaming into ``target`` (.mp4, .mov or .mkv): H.264 CBR with a
    keyframe every ``keyframe_interval`` seconds, AAC (silent when the source has no audio), and
    the product cues as a subtitle track (``srt``, else the source's own). ``on_progress(done,
    total)`` in seconds. Writes a temporary file renamed into place: never a half-written one."""
    source, target = Path(source), Path(target)
    info = probe(source)
    container = _check_target(source, target)
    if srt is not None:
        _check_srt(Path(srt))
    fps = settings.fps or info.frame_rate or Fraction(30)
    command = _encode_command(info, target, container, settings, fps, srt)
    partial = target.with_name(f".{target.name}.partial")
    command[-1] = str(partial)
    try:
        _run_encoder(command, info.duration, on_progress, source)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return probe(target)


def _check_target(source: Path, target: Path) -> tuple[str, str]:
    container = CONTAINERS.get(target.suffix.lower())
    if container is None:
        raise StreamingError(
            f"Write the output to .mp4, .mov or .mkv (so it can keep the cues), not {target.name}."
        )
    if target.resolve() == source.resolve():
        raise StreamingError("The output must be another file than the input.")
    if not target.parent.is_dir():
        raise StreamingError(f"No such folder: {target.parent}")
    return container


def _check_srt(path: Path) -> None:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise StreamingError(f"Cannot read the SRT file {path}: {exc.strerror}.") from None
    try:
        parse_srt_timing(text)
    except SrtImportError as exc:
        raise StreamingError(_problems(f"The SRT file {path} has problems", exc)) from None


def _encode_command(info, target, container, settings, fps, srt) -> list[str]:
    video_rate = settings.video_bitrate
    gop = max(1, round(fps * Fraction(settings.keyframe_interval)))
    inputs = ["-i", str(info.path)]
    maps = ["-map", "0:v:0"]
    if info.audio_codec:
        maps += ["-map", "0:a:0"]
    else:  # players and IVS expect an audio track: add silence
        inputs += ["-f", "lavfi", "-t", f"{info.duration:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
        maps += ["-map", "1:a:0"]
    if srt is not None:
        maps += ["-map", f"{inputs.count('-i')}:s:0"]
        inputs += ["-i", str(srt)]
    elif any(codec in TEXT_SUBTITLES for codec in info.subtitle_codecs):
        index = next(i for i, codec in enumerate(info.subtitle_codecs) if codec in TEXT_SUBTITLES)
        maps += ["-map", f"0:s:{index}"]
    if settings.size:
        width, height = settings.size
        scale = (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        )
    else:
        scale = "scale=trunc(iw/2)*2:trunc(ih/2)*2,setsar=1"
    fmt, subtitle_codec = container
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
        "-progress", "pipe:1", *inputs, *maps, "-t", f"{info.duration:.3f}",
        "-vf", f"{scale},fps={fps}", "-c:v", "libx264", "-preset", settings.preset,
        "-profile:v", "main", "-pix_fmt", "yuv420p", "-bf", "0",
        "-b:v", str(video_rate), "-minrate", str(video_rate), "-maxrate", str(video_rate),
        "-bufsize", str(2 * video_rate), "-x264-params", "nal-hrd=cbr",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{settings.keyframe_interval})",
        "-c:a", "aac", "-b:a", str(settings.audio_bitrate), "-ar", "48000", "-ac", "2",
        "-c:s", subtitle_codec, *(["-movflags", "+faststart"] if fmt != "matroska" else []),
        "-f", fmt, str(target),
    ]  # fmt: skip


def _run_encoder(command, duration, on_progress, source) -> None:
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    errors: deque[str] = deque(maxlen=STDERR_TAIL)
    reader = threading.Thread(
        target=lambda: errors.extend(line.decode(errors="replace").rstrip() for line in process.stderr),
        daemon=True,
    )
    reader.start()
    try:
        for raw in process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit() and on_progress:
                on_progress(min(int(value) / 1_000_000, duration), duration)
        process.wait()
    finally:
        if process.poll() is None:  # interrupted (Ctrl-C): stop it, the partial file goes
            process.kill()
            process.wait()
        reader.join(timeout=5)
    if process.returncode != 0:
        tail = "\n".join(f"  {line}" for line in errors if line) or "  (no output)"
        raise StreamingError(f"ffmpeg could not encode {source} (exit code {process.returncode}):\n{tail}")
    if on_progress:
        on_progress(duration, duration)
