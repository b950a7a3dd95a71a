"""The media clock a pre-recorded show's cues follow, and their schedule (see the package
docstring): ffmpeg's reported output time plus the wall time since, and each cue's moment in
that time, loop after loop, with the loop's period as ffmpeg measures it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from events.exceptions import StreamingError
from events.prerecorded.videos import failure
from events.srt_cues import CueSpec
from liveshop import media
from liveshop.media import MediaInfo

PROGRESS_PERIOD = 0.1  # seconds between ffmpeg's progress reports: the media clock's resolution
MAX_EXTRAPOLATION = 0.5  # a stalled encoder (network) must not let the clock run ahead of the video


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
        media_time, at = anchor
        return media_time + min(max(0.0, self.monotonic() - at), MAX_EXTRAPOLATION)


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
    """How much ffmpeg's output time grows per loop of ``video`` (see the package docstring)."""
    once, twice = _copy_duration(video, loops=0), _copy_duration(video, loops=1)
    if twice <= once:
        raise StreamingError(f"Cannot loop {video.path}: ffmpeg reads no length for it.")
    return twice - once


def _copy_duration(video: MediaInfo, *, loops: int) -> float:
    command = [
        media.ffmpeg.FFMPEG, "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
        "-stream_loop", str(loops), "-i", str(video.path), *maps(video), "-c", "copy", "-f", "null", "-",
    ]  # fmt: skip
    times: list[float] = []
    try:
        media.run_with_progress(command, on_progress=times.append)
    except media.MediaError as exc:
        raise failure(exc, f"read {video.path}") from None
    if not times:
        raise StreamingError(f"ffmpeg cannot read {video.path} (no progress reported).")
    return times[-1]


def maps(video: MediaInfo) -> list[str]:
    # FLV carries one video and one audio stream; the subtitle track stays behind (it is the cues).
    return ["-map", "0:v:0", *(["-map", "0:a:0"] if video.audio_codec else [])]
