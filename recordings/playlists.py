"""HLS playlists as IVS records them (RFC 8216): the multivariant ("master") playlist's variants,
and a media playlist's segments with their EXT-X-PROGRAM-DATE-TIME tags, which map a wall-clock
moment (a highlight) to a position in the replay, gaps between merged reconnects included.

The ``m3u8`` library reads the playlists; this module maps what it reads to the few frozen
dataclasses Liveshop uses, and says what is wrong with a playlist that is not what it should be
(m3u8 passes over much of that silently). A segment's program date-time is its own tag or,
without a discontinuity in between, carried on from the segment before (positions in whole ms).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
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


def parse_master(text: str) -> list[Variant]:
    """The variants of a multivariant playlist, in its order."""
    data = _parse(text, "multivariant")
    variants = [_variant(playlist) for playlist in data["playlists"]]
    if not variants:
        raise PlaylistError("the multivariant playlist lists no variant (#EXT-X-STREAM-INF)")
    return variants


def _variant(playlist: dict) -> Variant:
    info = playlist["stream_info"]
    return Variant(
        uri=playlist["uri"],
        bandwidth=info.get("bandwidth"),
        resolution=info.get("resolution", ""),
        codecs=info.get("codecs", ""),
        frame_rate=info.get("frame_rate"),
    )


def parse_program_date_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PlaylistError(f"bad EXT-X-PROGRAM-DATE-TIME {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_media(text: str) -> MediaPlaylist:
    """The segments of a media playlist with their positions and program date-times."""
    data = _parse(text, "media")
    # m3u8 keeps a trailing #EXTINF that no URI followed as a segment without one: nothing to play.
    items = [item for item in data["segments"] if "uri" in item]
    _check_every_uri_is_a_segment(text, items)
    segments: list[Segment] = []
    position = 0
    for item in items:
        segment = _segment(item, position, segments[-1] if segments else None)
        segments.append(segment)
        position += segment.duration_ms
    if not segments:
        raise PlaylistError("the media playlist has no segments")
    return MediaPlaylist(
        segments=tuple(segments), target_duration=data.get("targetduration"), ended=data["is_endlist"]
    )


def _segment(item: dict, position: int, before: Segment | None) -> Segment:
    discontinuity = item.get("discontinuity", False)
    pdt = item.get("program_date_time")
    if pdt is not None and pdt.tzinfo is None:
        pdt = pdt.replace(tzinfo=UTC)
    if pdt is None and before is not None and before.program_date_time and not discontinuity:
        pdt = _after(before)
    return Segment(item["uri"], position, round(item["duration"] * 1000), pdt, discontinuity)


def _check_every_uri_is_a_segment(text: str, segments: list[dict]) -> None:
    """m3u8 passes over a URI line that no #EXTINF announced; that is a broken playlist here."""
    parsed = iter(segments)
    for line in text.splitlines():
        uri = line.strip()
        if uri and not uri.startswith("#"):
            item = next(parsed, None)
            if item is None or item["uri"] != uri or "duration" not in item:
                raise PlaylistError(f"segment {uri} has no #EXTINF")


def _parse(text: str, kind: str) -> dict:
    """m3u8's reading of ``text``, after checking the header and the tags Liveshop relies on;
    any other tag m3u8 cannot read becomes a PlaylistError naming its line."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first != "#EXTM3U":
        raise PlaylistError(f"not an HLS {kind} playlist (no #EXTM3U header)")
    last_tag = [""]

    def check(line: str, lineno: int, data: dict, state: dict) -> bool:
        last_tag[0] = line
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION" and not value.isdigit():
            return True  # not whole seconds: unknown rather than an error (m3u8 would raise)
        checker = CHECKS.get(tag)
        if checker is not None:
            checker(value)
        return False  # m3u8 reads the tag too

    try:
        return m3u8.parse(text, custom_tags_parser=check)
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, PlaylistError):
            raise
        where = "attribute" if last_tag[0].startswith("#EXT-X-STREAM-INF") else "tag"
        raise PlaylistError(f"bad {where} in {last_tag[0][:200]!r}: {exc}") from None


def _extinf_ms(value: str) -> int:
    try:
        seconds = float(value.partition(",")[0])
    except ValueError:
        raise PlaylistError(f"bad #EXTINF duration {value!r}") from None
    if seconds < 0:
        raise PlaylistError(f"negative #EXTINF duration {value!r}")
    return round(seconds * 1000)


CHECKS: dict[str, Callable[[str], object]] = {
    "#EXTINF": _extinf_ms,
    "#EXT-X-PROGRAM-DATE-TIME": parse_program_date_time,
}


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
        if not self._segments:
            return self._clamp(_ms(at - self.started_at))
        i = bisect.bisect_right(self._starts, at) - 1
        if i < 0:
            return 0
        segment = self._segments[i]
        into = _ms(at - segment.program_date_time)
        if into < segment.duration_ms:
            return self._clamp(segment.position_ms + into)
        if i + 1 < len(self._segments):  # between two streams: the next one's start
            return self._clamp(self._segments[i + 1].position_ms)
        return self._clamp(segment.position_ms + segment.duration_ms)

    def _clamp(self, position: int) -> int:
        return max(0, min(position, self.duration_ms))
