"""The per-event frame sampler: one ffmpeg reading the live stream (the local media server's RTMP
show application or the IVS playback URL), decoding one frame every DISCOVERY_INTERVAL seconds
to raw pixels on its stdout; each frame is analysed in memory and dropped (never written
anywhere). It runs while the event is live and its detector on, in a Celery worker
(tasks.run_sampler_task) or ``manage.py discovery_sampler``, never in a web process; one sampler
per event (a cache lock)."""

from __future__ import annotations

import logging
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from discovery import selectors, services
from discovery.detectors import DetectorError
from events.models import LiveEvent
from liveshop import processes
from liveshop.video import VideoBackendError, get_video_backend
from liveshop.video.local import SHOW_APP

logger = logging.getLogger(__name__)

LOCK_SECONDS = 30  # a sampler that died frees its event's lock this long after its last frame
RESTART_PAUSE = 1.0  # between ffmpeg runs when the stream drops while the event stays live
READ_TIMEOUT = 15.0  # no frame for this long: ffmpeg is restarted
POLL_SECONDS = 0.5  # how often a sampler waiting for a frame looks at HANDOVER

# Set when this worker shuts down (a deploy, a scale-in: tasks.hand_over_samplers): each sampler
# stops at its next frame, retry or poll, frees its event's lock, and its task queues the show's
# sampler again for another worker, so discovery goes on through a deploy. The discovery worker
# runs its samplers in threads (docker/start-discovery-worker): the flag is this process's.
HANDOVER = threading.Event()


def lock_key(event_id: int) -> str:
    return f"discovery:sampler:{event_id}"


def frame_size(width: int) -> tuple[int, int]:
    """Frames are scaled and padded to 16:9 at ``width`` (even sizes for ffmpeg)."""
    width -= width % 2
    return width, (width * 9 // 16) // 2 * 2


def source_url(event: LiveEvent) -> str:
    """Where the sampler reads the stream: the local media server's public RTMP application (by
    its host and port; about 1.2 s sooner than its HLS, bench/discovery.py --media-server) or the
    playback URL (signed for a private IVS event)."""
    if event.backend == "local" and event.channel_id:
        host, port = settings.MEDIA_SERVER_HOST, settings.MEDIA_SERVER_RTMP_PORT
        return f"rtmp://{host}:{port}/{SHOW_APP}/{event.channel_id}"
    try:
        return get_video_backend().playback_url_for(
            channel_id=event.channel_id,
            playback_url=event.playback_url,
            private=event.is_private,
            viewer_id="liveshop-discovery",
        )
    except (VideoBackendError, TypeError):
        return event.playback_url


def live_edge(url: str) -> list[str]:
    """HLS: start at the newest segment; RTMP (the local media server): no input buffering and no
    probing ahead (what ffmpeg buffers before its first frame it stays behind by for the whole
    show: 1 s of analysis cost the suggestions 0.45 s, bench/discovery.py --media-server)."""
    if url.startswith("rtmp"):
        return ["-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0"]
    return ["-live_start_index", "-1"]


def ffmpeg_command(url: str, *, interval: float, width: int) -> list[str]:
    w, h = frame_size(width)
    scale = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        *live_edge(url),
        "-rw_timeout", "10000000",
        "-i", url, "-an", "-sn",
        # The first frame at least ~interval after the last one taken, as soon as it arrives (the
        # fps filter waits for the next frame to pick the nearest: ~0.55 s later at the live edge).
        "-vf", f"select='isnan(prev_selected_t)+gte(t-prev_selected_t,{interval * 0.95:g})',{scale}",
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1",
    ]  # fmt: skip


def ffmpeg_frames(url: str, *, interval: float, width: int, stop: Callable[[], bool]) -> Iterator[np.ndarray]:
    """Frames from one ffmpeg run, until the stream ends, ``stop()`` or READ_TIMEOUT."""
    w, h = frame_size(width)
    size = w * h * 3
    process = subprocess.Popen(
        ffmpeg_command(url, interval=interval, width=width),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=processes.die_with_parent_hook(),
    )  # fmt: skip
    try:
        buffer, waited = bytearray(), 0.0
        while True:
            ready, _, _ = select.select([process.stdout], [], [], POLL_SECONDS)
            if not ready:
                waited += POLL_SECONDS
                if waited >= READ_TIMEOUT or HANDOVER.is_set():
                    return
                continue
            waited = 0.0
            chunk = process.stdout.read1(size - len(buffer))
            if not chunk:
                return
            buffer += chunk
            if len(buffer) == size:
                if stop():
                    return
                yield np.frombuffer(bytes(buffer), np.uint8).reshape(h, w, 3)
                buffer.clear()
    finally:
        processes.stop(process)


@dataclass
class SamplerResult:
    frames: int = 0
    errors: int = 0
    reason: str = ""


FrameSource = Callable[[str, Callable[[], bool]], Iterator[np.ndarray]]


def run_sampler(
    event_id: int,
    *,
    source: FrameSource | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_seconds: float | None = None,
) -> SamplerResult:
    """Sample the event's stream while it is live and its detector on (checked before every
    frame). Returns why it stopped ("handover": the worker is shutting down). Another sampler
    holding the event's lock: returns at once."""
    if not cache.add(lock_key(event_id), "1", LOCK_SECONDS):
        return SamplerResult(reason="already running")
    interval = settings.DISCOVERY_INTERVAL
    source = source or (
        lambda url, stop: ffmpeg_frames(
            url, interval=interval, width=settings.DISCOVERY_FRAME_WIDTH, stop=stop
        )
    )
    logger.info("Sampling event %s", event_id)
    result, tracker, started = SamplerResult(), services.new_tracker(), clock()
    times: deque[float] = deque(maxlen=5)
    try:
        while True:
            if HANDOVER.is_set():
                result.reason = "handover"
                break
            event = _runnable(event_id)
            if event is None:
                result.reason = "not live"
                break
            if max_seconds is not None and clock() - started >= max_seconds:
                result.reason = "time"
                break
            # The consoles know a sampler is on it (their panel says so when none is, after a while).
            services.report_status(event_id, state="waiting", at=None, fps=0.0, result=[])
            for frame in source(source_url(event), lambda: HANDOVER.is_set() or _runnable(event_id) is None):
                cache.set(lock_key(event_id), "1", LOCK_SECONDS)
                times.append(clock())
                _analyse(event, frame, tracker, times, result)
                if max_seconds is not None and clock() - started >= max_seconds:
                    break
            if _runnable(event_id) is not None:  # the stream dropped: reopen it after a pause
                HANDOVER.wait(RESTART_PAUSE)
    finally:
        cache.delete(lock_key(event_id))
        services.report_status(event_id, state="stopped", at=None, fps=0.0, result=[])
    return result


def _runnable(event_id: int) -> LiveEvent | None:
    event = (
        LiveEvent.objects.select_related("organization")
        .filter(pk=event_id, status=LiveEvent.Status.LIVE)
        .first()
    )
    if event is None or not selectors.settings_of(event).enabled:
        return None
    return event


def _analyse(event: LiveEvent, frame: np.ndarray, tracker, times: deque, result: SamplerResult) -> None:
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    at = timezone.now()
    result.frames += 1
    try:
        outcome = services.analyse_frame(event=event, frame=frame, tracker=tracker, now=times[-1], at=at)
    except DetectorError as exc:
        result.errors += 1
        services.report_status(
            event.pk, state="error", at=at.isoformat(), fps=fps, result=[], error=str(exc)[:200]
        )
        return
    seen = [
        {"productId": d.product_id, "name": outcome.products[d.product_id].name, "score": d.score}
        for d in outcome.on_screen
    ]
    services.report_status(event.pk, state="running", at=at.isoformat(), fps=fps, result=seen)
