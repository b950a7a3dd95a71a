"""An in-memory video backend for tests, like Django's locmem e-mail backend.

Every call is recorded in ``calls`` (as ``mail.outbox`` records messages), including calls that
fail. It keeps IVS's rules (1 KB metadata, ChannelNotLive when offline, no delete while live,
idempotent delete and stop) so service tests see what production would do. Tests drive it with
``go_live()``/``go_offline()`` and make calls fail with ``fail_next()`` or ``fail_with``::

    video = FakeVideoBackend()
    channel = video.create_channel("event-7")
    video.go_live(channel.id)
    video.fail_next("put_metadata", Throttled("slow down"))
    ...
    assert video.calls_to("put_metadata") == [{"channel_id": channel.id, "payload": "..."}]
    assert video.channels[channel.id].metadata == ["..."]
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from liveshop.video.base import (
    LATENCY_LOW,
    LATENCY_NORMAL,
    Channel,
    ChannelNotFound,
    ChannelNotLive,
    StreamState,
    VideoBackendError,
    check_metadata,
)

INGEST_URL = "rtmp://fake-video.invalid/app/"


@dataclass
class FakeChannel:
    """What the fake knows about one channel; tests may read it (``video.channels[id]``)."""

    id: str
    name: str
    latency: str
    record: bool
    private: bool
    playback_url: str
    stream_key: str = field(repr=False)
    stream: StreamState | None = None  # None while offline
    metadata: list[str] = field(default_factory=list)  # payloads accepted by put_metadata, in order
    media_time_ms: int | None = None  # what media_time_ms answers while live (set_media_time)


class FakeVideoBackend:
    """The video gateway in memory. Ids, keys and stream ids come from one counter per instance:
    deterministic within a test, never reused."""

    name = "fake"

    def __init__(self, *, stores_stream_keys: bool = True) -> None:
        # True like IVS; FakeVideoBackend(stores_stream_keys=False) behaves like the local
        # media server, whose keys Liveshop must store itself.
        self.stores_stream_keys = stores_stream_keys
        self.channels: dict[str, FakeChannel] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # method name -> error raised by every call of it until removed
        self.fail_with: dict[str, VideoBackendError] = {}
        self._fail_next: defaultdict[str, deque[VideoBackendError]] = defaultdict(deque)
        self._counter = itertools.count(1)
        self.revoked: list[tuple[str, str]] = []  # revoke_viewer_sessions calls that succeeded

    # Test helpers ---------------------------------------------------------------------------

    def go_live(
        self,
        channel_id: str,
        *,
        stream_id: str | None = None,
        viewer_count: int | None = 0,
        health: str = "healthy",
        started_at: datetime | None = None,
    ) -> StreamState:
        """Start a stream on the channel, as if an encoder had published (not recorded in calls)."""
        channel = self._channel(channel_id)
        channel.stream = StreamState(
            live=True,
            stream_id=stream_id or f"st-fake{next(self._counter):021d}",
            started_at=started_at or datetime.now(UTC),
            viewer_count=viewer_count,
            health=health,
        )
        return channel.stream

    def go_offline(self, channel_id: str) -> None:
        """End the channel's stream, as if the encoder had disconnected (not recorded in calls)."""
        self._channel(channel_id).stream = None

    def set_media_time(self, channel_id: str, ms: int | None) -> None:
        """The stream's media clock as the media server would report it (None: unknown)."""
        self._channel(channel_id).media_time_ms = ms

    def fail_next(self, method: str, error: VideoBackendError) -> None:
        """Make the next call of ``method`` raise ``error`` (queued: call again for later calls)."""
        self._fail_next[method].append(error)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call of ``method``, in order."""
        return [kwargs for name, kwargs in self.calls if name == method]

    def is_live(self, channel_id: str) -> bool:
        return self._channel(channel_id).stream is not None

    # The gateway ----------------------------------------------------------------------------

    def create_channel(
        self, name: str, *, latency: str = LATENCY_LOW, record: bool = True, private: bool = False
    ) -> Channel:
        """Adds a channel with a fresh key."""
        self._record("create_channel", name=name, latency=latency, record=record, private=private)
        if latency not in (LATENCY_LOW, LATENCY_NORMAL):
            raise VideoBackendError(f"Latency must be {LATENCY_LOW!r} or {LATENCY_NORMAL!r}.")
        channel_id = f"fake-channel-{next(self._counter)}"
        channel = FakeChannel(
            id=channel_id,
            name=name,
            latency=latency,
            record=record,
            private=private,
            playback_url=f"https://fake-video.invalid/{channel_id}.m3u8",
            stream_key=self._new_key(),
        )
        self.channels[channel_id] = channel
        return Channel(
            id=channel_id,
            ingest_url=INGEST_URL,
            playback_url=channel.playback_url,
            stream_key=channel.stream_key,
        )

    def delete_channel(self, channel_id: str) -> None:
        """Idempotent; a live channel is refused, as IVS does (stop the stream first)."""
        self._record("delete_channel", channel_id=channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            return
        if channel.stream is not None:
            raise VideoBackendError("The channel is live: stop the stream, then delete it once it has ended.")
        del self.channels[channel_id]

    def get_stream_key(self, channel_id: str) -> str:
        self._record("get_stream_key", channel_id=channel_id)
        return self._channel(channel_id).stream_key

    def rotate_stream_key(self, channel_id: str) -> str:
        """A new key, different from every earlier one; a live stream is cut off."""
        self._record("rotate_stream_key", channel_id=channel_id)
        channel = self._channel(channel_id)
        channel.stream_key = self._new_key()
        channel.stream = None
        return channel.stream_key

    def get_stream(self, channel_id: str) -> StreamState | None:
        self._record("get_stream", channel_id=channel_id)
        return self._channel(channel_id).stream

    def media_time_ms(self, channel_id: str, *, timeout: float = 3) -> int | None:
        """What set_media_time said, while the channel is live; None otherwise (as IVS, unknown)."""
        self._record("media_time_ms", channel_id=channel_id, timeout=timeout)
        channel = self._channel(channel_id)
        return channel.media_time_ms if channel.stream is not None else None

    def put_metadata(self, channel_id: str, payload: str) -> None:
        """Checks the size first (like IVSBackend, before anything else), then needs a live stream."""
        self._record("put_metadata", channel_id=channel_id, payload=payload)
        check_metadata(payload)
        channel = self._channel(channel_id)
        if channel.stream is None:
            raise ChannelNotLive("The channel is not live.")
        channel.metadata.append(payload)

    def stop_stream(self, channel_id: str) -> None:
        """Idempotent: an offline channel is not an error."""
        self._record("stop_stream", channel_id=channel_id)
        self._channel(channel_id).stream = None

    def playback_url_for(
        self, *, channel_id: str, playback_url: str, private: bool, viewer_id: str | None = None
    ) -> str:
        """The URL unchanged, or with a recognisable fake token when private."""
        self._record(
            "playback_url_for",
            channel_id=channel_id,
            playback_url=playback_url,
            private=private,
            viewer_id=viewer_id,
        )
        if not private:
            return playback_url
        return f"{playback_url}?token=fake-token.{channel_id}.{viewer_id or 'anonymous'}"

    def revoke_viewer_sessions(self, channel_id: str, viewer_id: str) -> None:
        """Records the revocation (``video.revoked`` lists (channel id, viewer id) pairs)."""
        self._record("revoke_viewer_sessions", channel_id=channel_id, viewer_id=viewer_id)
        self._channel(channel_id)
        self.revoked.append((channel_id, viewer_id))

    # Internals ------------------------------------------------------------------------------

    def _record(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))
        if self._fail_next[method]:
            raise self._fail_next[method].popleft()
        if method in self.fail_with:
            raise self.fail_with[method]

    def _channel(self, channel_id: str) -> FakeChannel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ChannelNotFound(f"No channel {channel_id!r}.") from None

    def _new_key(self) -> str:
        return f"sk_fake_{next(self._counter):08d}"
