"""The video gateway's contract: one small protocol, plain frozen dataclasses, gateway errors.

Backends (IVS, the local nginx-rtmp media server, the in-memory fake) never see models or
requests, and nothing SDK-specific (botocore exceptions, HTTP errors) escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

# IVS documents PutMetadata's limit as "1 KB" without saying 1000 or 1024 bytes, and its service
# model does not enforce it: we enforce the smaller, in UTF-8 bytes, before any call.
MAX_METADATA_BYTES = 1000

LATENCY_LOW = "low"
LATENCY_NORMAL = "normal"


@dataclass(frozen=True)
class Channel:
    """A provisioned channel. ``id`` addresses it in every later call (the ARN on IVS)."""

    id: str
    ingest_url: str  # where the encoder publishes, without the key (rtmps://host:443/app/)
    playback_url: str  # HLS URL viewers play (unsigned)
    stream_key: str = field(repr=False)  # secret: never log it, never show it to viewers


@dataclass(frozen=True)
class StreamState:
    """A channel's live stream as the backend sees it now."""

    live: bool
    stream_id: str | None = None
    started_at: datetime | None = None
    viewer_count: int | None = None  # None when unknown (IVS answers -1 on a timeout)
    health: str = "unknown"  # "healthy", "starving" or "unknown"


class VideoBackendError(Exception):
    """The backend failed; the message is safe to show a host (it holds no secret)."""


class ChannelNotFound(VideoBackendError):
    pass


class ChannelNotLive(VideoBackendError):
    pass


class Throttled(VideoBackendError):
    """Too many calls (IVS: PutMetadata allows 5 per second per channel). Retry later."""


class PayloadTooLarge(VideoBackendError):
    pass


class InvalidMetadata(VideoBackendError):
    """The payload cannot be sent at all (not encodable as UTF-8, e.g. a lone surrogate)."""


class BackendUnavailable(VideoBackendError):
    """The backend could not be reached or refused us (credentials, network, quota)."""


def check_metadata(payload: str) -> bytes:
    """The payload as UTF-8, or PayloadTooLarge / InvalidMetadata / VideoBackendError when IVS
    would refuse it (or boto3 would fail to encode it)."""
    try:
        data = payload.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidMetadata(
            f"Timed metadata must be valid UTF-8 text; character {exc.start} cannot be encoded."
        ) from None
    if not data:
        raise VideoBackendError("Timed metadata cannot be empty.")
    if len(data) > MAX_METADATA_BYTES:
        raise PayloadTooLarge(f"Timed metadata is {len(data)} bytes; the limit is {MAX_METADATA_BYTES}.")
    return data


@runtime_checkable
class VideoBackend(Protocol):
    """What Liveshop needs from a video service. Each method may raise VideoBackendError."""

    name: str
    # True when the video service keeps the stream key (IVS: read it with get_stream_key);
    # False when Liveshop must store it, encrypted (the local media server).
    stores_stream_keys: bool

    def create_channel(
        self, name: str, *, latency: str = LATENCY_LOW, record: bool = True, private: bool = False
    ) -> Channel:
        """Provision a channel with its one stream key."""

    def delete_channel(self, channel_id: str) -> None:
        """Delete the channel and its key. Idempotent: an unknown channel is not an error."""

    def get_stream_key(self, channel_id: str) -> str:
        """The channel's current stream key (a secret: for the event's hosts only)."""

    def rotate_stream_key(self, channel_id: str) -> str:
        """Revoke the current key and return a new one; a live encoder on the old key is cut off."""

    def get_stream(self, channel_id: str) -> StreamState | None:
        """The live stream, or None when the channel is offline."""

    def put_metadata(self, channel_id: str, payload: str) -> None:
        """Insert timed metadata (<= MAX_METADATA_BYTES of UTF-8) into the live stream.
        Raises PayloadTooLarge or InvalidMetadata before calling, ChannelNotLive, Throttled."""

    def stop_stream(self, channel_id: str) -> None:
        """Disconnect the current publisher. Idempotent: an offline channel is not an error."""

    def playback_url_for(
        self, *, channel_id: str, playback_url: str, private: bool, viewer_id: str | None = None
    ) -> str:
        """The URL a viewer plays: ``playback_url`` itself, or signed with a playback token when
        the channel is private."""


@runtime_checkable
class RevokesViewerSessions(Protocol):
    """A backend whose private playback can be cut off per viewer (IVS: a token names the viewer
    in ``aws:viewer-id``, and StartViewerSessionRevocation ends that viewer's sessions). The local
    media server signs nothing, so it has nothing to revoke and does not implement this."""

    def revoke_viewer_sessions(self, channel_id: str, viewer_id: str) -> None:
        """End the viewer's current playback of the private channel: every token issued to them
        until now stops working (tokens issued later work). Idempotent."""


@runtime_checkable
class KnowsMediaTime(Protocol):
    """A backend that can say how far into its media a live stream is now (the local media
    server: the publisher's timestamp in nginx-rtmp's /stat). A host's click is stamped with it
    rather than the wall clock, because the recording is cut from the encoder's clock: an encoder
    slower than real time makes less media than time passes. IVS says nothing of it (no API reads
    a stream's media time: GetStream has its start, state, health and viewers), so it does not
    implement this: there clicks and chat are stamped by the wall clock, and its replays place
    them by the recording's program date-times, which follow IVS's clock as the media reached it;
    live, its in-band cues (PutMetadata) are placed by IVS itself."""

    def media_time_ms(self, channel_id: str, *, timeout: float) -> int | None:
        """The channel's current publisher's clock in milliseconds: the timestamp of the last
        media it sent (from 0 at the first frame for ffmpeg and OBS; an encoder may start it
        anywhere, e.g. ffmpeg -output_ts_offset, -copyts), or None when offline, unknown or
        before its first frames. Waits at most ``timeout`` seconds; BackendUnavailable when the
        server cannot be asked."""
