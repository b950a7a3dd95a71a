"""HLS playlists as IVS records them (RFC 8216): the multivariant ("master") playlist's variants,
and a media playlist's segments with their EXT-X-PROGRAM-DATE-TIME tags, which map a wall-clock
moment (a highlight) to a position in the replay, gaps between merged reconnects included.

The ``m3u8`` library reads multivariant playlists (attribute lists, quoting). Media playlists keep
the small reader below: m3u8 parses one 7-8x slower (0.42 s against 0.06 s for 2 hours of
1-second segments, IVS tagging every segment with its date-time), which would cost zero-copy
ingestion (4 such playlists, Recording End -> ready in ~1 s) its 2 s goal; and it passes over a
URI no #EXTINF announced, a missing #EXTM3U and, across a discontinuity, carries a date-time on
where the stream did not run. Neither reader needs byte ranges (EXT-X-BYTERANGE is ignored).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import m3u8


class PlaylistError(ValueError):
    """Not a playlist of the expected kind; the message says what is wrong."""


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int | None
    resolution: str  # "1280x720", or "" for audio only
    codecs: str
    frame_rate: float | None
    average_bandwidth: int | None = None


@dataclass(frozen=True)
class Segment:
    uri: str
    position_ms: int  # where it starts in the playlist
    duration_ms: int
    program_date_time: datetime | None  # tagged, or carried on from the segment before
    discontinuity: bool


@dataclass(frozen=True)
class MediaPlaylist:
    segments: tuple[Segment, ...]
    target_duration: int | None
    ended: bool  # EXT-X-ENDLIST: nothing will be added

    @property
    def duration_ms(self) -> int:
        last = self.segments[-1]
        return last.position_ms + last.duration_ms


def _lines(text: str, kind: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError(f"not an HLS {kind} playlist (no #EXTM3U header)")
    return lines


def parse_master(text: str) -> list[Variant]:
    """The variants of a multivariant playlist, in its order (read by m3u8)."""
    _lines(text, "multivariant")
    try:
        playlists = m3u8.parse(text)["playlists"]
    except ValueError as exc:  # a number m3u8 cannot read (BANDWIDTH, FRAME-RATE, ...)
        raise PlaylistError(f"bad attribute for a variant: {exc}") from None
    except (KeyError, TypeError) as exc:  # media playlist tags m3u8 trips over here
        raise PlaylistError(f"not a multivariant playlist m3u8 can read ({exc!r})") from None
    if not playlists:
        raise PlaylistError("the multivariant playlist lists no variant (#EXT-X-STREAM-INF)")
    return [_variant(playlist["uri"], playlist["stream_info"]) for playlist in playlists]


def _variant(uri: str, info: dict) -> Variant:
    return Variant(
        uri=uri,
        bandwidth=info.get("bandwidth"),
        resolution=info.get("resolution", ""),
        codecs=info.get("codecs", ""),
        frame_rate=info.get("frame_rate"),
        average_bandwidth=info.get("average_bandwidth"),
    )


def bit_rates(segments: Sequence[tuple[int, int]], *, target_duration: int) -> tuple[int, int]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) of a finished media playlist whose segments are given as
    (size in bytes, EXTINF duration in ms), as RFC 8216 (4.3.4.2, 6.2.2 terms) defines them: the
    average is every segment's bits over the playlist's duration; the peak is the highest bit rate
    of any run of contiguous segments lasting 0.5 to 1.5 times the target duration (so a short
    segment, mostly a keyframe, does not count on its own), the average when no run does. Both in
    bits per second, rounded up, at least 1."""
    if not segments:
        raise PlaylistError("a playlist without segments has no bit rate")
    total_bytes, total_ms = sum(size for size, _ms in segments), sum(ms for _size, ms in segments)
    average = math.ceil(total_bytes * 8000 / max(total_ms, 1))
    low, high = target_duration * 500, target_duration * 1500  # ms
    peak = 0
    for first in range(len(segments)):
        size = ms = 0
        for n_bytes, n_ms in segments[first:]:
            size, ms = size + n_bytes, ms + n_ms
            if ms > high:
                break
            if ms >= low:
                peak = max(peak, math.ceil(size * 8000 / max(ms, 1)))
    return max(1, peak or average), max(1, average)


def parse_program_date_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PlaylistError(f"bad EXT-X-PROGRAM-DATE-TIME {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_media(text: str) -> MediaPlaylist:
    """The segments of a media playlist with their positions and program date-times."""
    segments: list[Segment] = []
    target_duration, ended = None, False
    duration_ms = pdt = None
    discontinuity = False
    position = 0
    for line in _lines(text, "media"):
        tag, _, value = line.partition(":")
        if tag == "#EXTINF":
            duration_ms = _extinf_ms(value)
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            pdt = parse_program_date_time(value)
        elif tag == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif tag == "#EXT-X-TARGETDURATION":
            target_duration = int(value) if value.isdigit() else None
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            if duration_ms is None:
                raise PlaylistError(f"segment {line} has no #EXTINF")
            if pdt is None and segments and segments[-1].program_date_time and not discontinuity:
                pdt = _after(segments[-1])
            segments.append(Segment(line, position, duration_ms, pdt, discontinuity))
            position += duration_ms
            duration_ms = pdt = None
            discontinuity = False
    if not segments:
        raise PlaylistError("the media playlist has no segments")
    return MediaPlaylist(segments=tuple(segments), target_duration=target_duration, ended=ended)


def _extinf_ms(value: str) -> int:
    try:
        seconds = float(value.partition(",")[0])
    except ValueError:
        raise PlaylistError(f"bad #EXTINF duration {value!r}") from None
    if seconds < 0:
        raise PlaylistError(f"negative #EXTINF duration {value!r}")
    return round(seconds * 1000)


def _after(segment: Segment) -> datetime:
    return segment.program_date_time + timedelta(milliseconds=segment.duration_ms)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


class Timeline:
    """Maps wall-clock moments to positions (ms) in a recording. With program date-times, each
    segment places its own stretch of time, so the gap between two merged streams costs no
    replay time: a moment inside it maps to the start of the next stream. Without them, the
    position is the time since ``started_at``. Positions are clamped to [0, ``duration_ms``]."""

    def __init__(self, playlist: MediaPlaylist | None, *, started_at: datetime, duration_ms: int):
        self.started_at = started_at
        self.duration_ms = duration_ms
        segments = playlist.segments if playlist else ()
        self._segments = [s for s in segments if s.program_date_time is not None]
        self._starts = [s.program_date_time for s in self._segments]

    def position_ms(self, at: datetime) -> int:
        return self._clamp(self.unclamped_ms(at))

    def unclamped_ms(self, at: datetime) -> int:
        """Where ``at`` falls, before clamping: past ``duration_ms`` for a moment after the last
        segment's end (how far past tells how late it is), negative before the start."""
        if not self._segments:
            return _ms(at - self.started_at)
        i = bisect.bisect_right(self._starts, at) - 1
        if i < 0:
            return min(0, _ms(at - self._starts[0]))
        segment = self._segments[i]
        into = _ms(at - segment.program_date_time)
        if into < segment.duration_ms or i + 1 == len(self._segments):
            return segment.position_ms + into
        return self._segments[i + 1].position_ms  # between two streams: the next one's start

    def _clamp(self, position: int) -> int:
        return max(0, min(position, self.duration_ms))
