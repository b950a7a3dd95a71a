"""Delivery of event changes to viewers and host consoles.

Publishing: services call ``broadcast_to_event_on_commit``; after commit the message is encoded
once and PUBLISHed to Redis (one round trip, no task). Without Redis (the one-process demo) it
goes straight to this process's hub.

Delivery is per process, not a Channels group: stock ``group_send`` makes every consumer handle
every message (~12x slower than a plain broadcast at 5,000 viewers, see the fan-out baselines).
Each ASGI process has one ``Hub`` with one Redis pub/sub connection, subscribed to the topics
that have sockets here; it writes the already-encoded frame to each local socket itself. Delivery
is at most once (a message published during a reconnect can be missed), so every (re)connect
starts from a snapshot, and a reconnect of the hub asks its sockets to resync.

Under uvicorn (``--ws websockets`` or ``websockets-sansio``) the hub builds the websocket frame
once per message and writes those bytes straight to each socket's transport (``frame_writer``),
as ``websockets.broadcast()`` does: no coroutine, ASGI message or timer per socket. A socket with
a backlog gets that message through its ASGI send instead, after everyone else. Other servers
(daphne, the test communicator) get each frame through the consumer's ASGI send.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

SEND_DEADLINE = 1.0  # seconds a socket may take to accept a frame before it is dropped
# Bytes queued for one socket (beyond what the kernel took) above which the fast path leaves it
# to its ASGI send, which waits (up to SEND_DEADLINE) for it to drain: the transport's default
# high-water mark, so a backlogged socket is treated exactly as before the fast path existed.
BACKLOG_LIMIT = 64 * 1024
YIELD_EVERY = 1000  # sends between yields to the event loop, so the process stays responsive
COUNT_INTERVAL = 1.0  # viewer counts go out at most once a second
# The hub's Redis connections (the pub/sub one, plus the short rate-limit and count pipelines):
# bounded, so a burst of websocket connects (a server restart, a push notification) queues for
# a free connection, up to REDIS_POOL_TIMEOUT seconds, instead of opening one each and failing
# with "Too many connections" or at Redis's maxclients.
REDIS_MAX_CONNECTIONS = 20
REDIS_POOL_TIMEOUT = 5.0
STREAM_STATE_PREFIX = '{"type":"stream_state"'  # how encode() starts a stream.state message


def channel_prefix(redis_url: str) -> str:
    """Pub/sub channels are shared by all databases of a Redis server: naming the database in
    them keeps deployments on one server (say staging on db 1) from hearing each other."""
    database = urlparse(redis_url).path.strip("/") or "0"
    return f"liveshop:{database}:topic:"


def event_group_name(event_id: int) -> str:
    return f"event-{event_id}"


def studio_group_name(event_id: int) -> str:
    return f"studio-{event_id}"


def encode(message_type: str, payload: dict) -> str:
    """The frame clients receive: ``{"type": "product_featured", ...payload}``."""
    return json.dumps({"type": message_type.replace(".", "_"), **payload}, separators=(",", ":"))


def text_frame(text: str) -> bytes:
    """``text`` as one unfragmented, unmasked websocket text frame (RFC 6455 5.2), the bytes a
    server puts on the wire. Uncompressed frames are valid with permessage-deflate too (RSV1 0)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 1 << 16:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


FrameWriter = Callable[[bytes], "bool | None"]


def frame_writer(send) -> FrameWriter | None:
    """For a consumer's ASGI ``send`` under uvicorn's websockets implementations: a function that
    writes an encoded frame straight to the socket's transport and returns True; None when the
    socket is closing (skipped: its consumer leaves on disconnect); False, writing nothing, when
    more than BACKLOG_LIMIT bytes wait for it (the hub then uses the ASGI send and its deadline).
    None for any other server."""
    try:
        from websockets.protocol import State
    except ImportError:  # no websockets library, so no uvicorn websockets implementation either
        return None

    protocol = _server_protocol(send)
    transport = getattr(protocol, "transport", None)
    if transport is None:
        return None
    if isinstance(getattr(protocol, "state", None), State):  # websockets' legacy protocol
        connection = protocol
    elif isinstance(getattr(getattr(protocol, "conn", None), "state", None), State):  # sans-I/O
        connection = protocol.conn
    else:
        return None
    is_open = State.OPEN

    def write(frame: bytes) -> bool | None:
        if connection.state is not is_open or transport.is_closing():
            return None
        if transport.get_write_buffer_size() > BACKLOG_LIMIT:
            return False
        transport.write(frame)  # whole frames only, like the protocol's own writes: no interleaving
        return True

    return write


def _server_protocol(send):
    """The server's connection (an asyncio protocol) whose bound method ``send`` is, possibly
    behind Channels' session middleware (``real_send``)."""
    for _ in range(4):
        owner = getattr(send, "__self__", None)
        if owner is None or isinstance(owner, asyncio.BaseProtocol):
            return owner
        send = getattr(owner, "real_send", None)
    return None


# Publishing (sync: services, tasks, commands) --------------------------------------------------


@functools.cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def publish(topic: str, text: str) -> None:
    """Hand ``text`` to every process's hub. Best effort, after the change is committed: with
    Redis unreachable the change stands, is logged, and sockets catch up from their snapshot."""
    if settings.REDIS_URL:
        import redis

        try:
            _redis().publish(channel_prefix(settings.REDIS_URL) + topic, text)
        except redis.RedisError as exc:
            logger.error("Broadcast not sent: Redis is unreachable (%s)", exc, extra={"topic": topic})
    else:
        get_hub().deliver_threadsafe(topic, text)


def broadcast_to_event(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the event's viewers now (``message_type`` is dotted, e.g. ``stream.state``)."""
    publish(event_group_name(event_id), encode(message_type, payload))


def broadcast_to_studio(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the event's host consoles (cue states)."""
    publish(studio_group_name(event_id), encode(message_type, payload))


def broadcast_to_event_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: broadcast_to_event(event_id, message_type, payload))


def broadcast_to_studio_on_commit(event_id: int, message_type: str, payload: dict) -> None:
    """Publish to the host consoles once the current transaction commits."""
    transaction.on_commit(lambda: broadcast_to_studio(event_id, message_type, payload))


# Delivery (async: one hub per ASGI process) ----------------------------------------------------


class Sink(Protocol):
    """A local socket: consumers implement these. ``write_frame`` (optional, may be None) is the
    fast path: a ``frame_writer`` once the socket takes frames directly."""

    async def deliver(self, text: str) -> None: ...

    async def resync(self) -> None: ...

    async def drop(self) -> None: ...


class Hub:
    def __init__(self, redis_url: str = ""):
        self.redis_url = redis_url
        self.prefix = channel_prefix(redis_url)
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.topics: dict[str, dict[Sink, None]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._pubsub = None
        self._tasks: list[asyncio.Task] = []
        self._counts_sent: dict[int, int] = {}
        # event id -> the highest viewer total this process has recorded for the live session
        # (forgotten at each stream_state message: a new session starts from zero).
        self._peaks: dict[int, int] = {}

    # Membership

    async def join(self, topic: str, sink: Sink) -> None:
        self._start()
        members = self.topics.get(topic)
        if members is None:
            members = self.topics[topic] = {}
            if self._pubsub is not None:
                await self._pubsub.subscribe(self.prefix + topic)
        members[sink] = None

    async def leave(self, topic: str, sink: Sink) -> None:
        members = self.topics.get(topic)
        if members is None or sink not in members:
            return
        del members[sink]
        if not members:
            del self.topics[topic]
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(self.prefix + topic)

    def local_count(self, topic: str) -> int:
        """Viewers on ``topic`` here (host consoles follow the event's topic but are not viewers)."""
        return sum(1 for sink in self.topics.get(topic, ()) if getattr(sink, "counts_as_viewer", True))

    def viewer_count(self, event_id: int) -> int:
        """The last total sent for the event (this process's own count before the first)."""
        return self._counts_sent.get(event_id, self.local_count(event_group_name(event_id)))

    # Delivery

    async def deliver(self, topic: str, text: str) -> int:
        """Write ``text`` to every local socket of ``topic``; returns how many got it. A socket
        that cannot take a frame within SEND_DEADLINE is dropped (its client reconnects and
        resyncs) so one slow viewer never stalls the others. Backlogged fast-path sockets are
        served after all the others, concurrently: they hold up nobody's frame, and the hub's
        next message by at most one SEND_DEADLINE (which keeps each socket's frames in order)."""
        if text.startswith(STREAM_STATE_PREFIX) and topic.startswith("event-"):
            self._peaks.pop(int(topic.removeprefix("event-")), None)
        members = self.topics.get(topic)
        if not members:
            return 0
        delivered = 0
        frame = None
        backlogged: list[Sink] = []
        for i, sink in enumerate(tuple(members)):
            write = getattr(sink, "write_frame", None)
            if write is None:  # no fast path (not uvicorn, or before the snapshot): the ASGI send
                delivered += await self._send(members, sink, text)
            else:
                if frame is None:
                    frame = text_frame(text)
                written = write(frame)
                if written:
                    delivered += 1
                elif written is False:  # a backlog: its ASGI send waits for a drain, later
                    backlogged.append(sink)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        if backlogged:
            delivered += sum(await asyncio.gather(*(self._send(members, sink, text) for sink in backlogged)))
        return delivered

    async def _send(self, members: dict[Sink, None], sink: Sink, text: str) -> int:
        """The ASGI send, within SEND_DEADLINE; 1 if it went out, 0 when the socket was dropped."""
        try:
            async with asyncio.timeout(SEND_DEADLINE):
                await sink.deliver(text)
            return 1
        except Exception:
            self._drop(members, sink)
            return 0

    def _drop(self, members: dict[Sink, None], sink: Sink) -> None:
        members.pop(sink, None)
        asyncio.get_running_loop().create_task(sink.drop())

    def deliver_threadsafe(self, topic: str, text: str) -> None:
        """Deliver from another thread (the in-memory demo: services run in worker threads)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(self.deliver(topic, text)))

    # Background work: the Redis reader and the viewer-count ticker

    def _start(self) -> None:
        if self.loop is not None:
            return
        self.loop = asyncio.get_running_loop()
        if self.redis_url:
            import redis.asyncio as aioredis

            pool = aioredis.BlockingConnectionPool.from_url(
                self.redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_TIMEOUT
            )
            self._client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            self._tasks.append(self.loop.create_task(self._read()))
        self._tasks.append(self.loop.create_task(self._count_viewers()))

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
                if message and message["type"] == "message":
                    topic = message["channel"].decode()[len(self.prefix) :]
                    await self.deliver(topic, message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Lost the Redis subscription; reconnecting", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
                await self._resubscribe()

    async def _resubscribe(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        with contextlib.suppress(Exception):
            if self.topics:
                await self._pubsub.subscribe(*(self.prefix + t for t in self.topics))
            self._peaks.clear()  # a stream_state message may have been missed too
            # Messages may have been missed while disconnected: every socket starts over.
            for members in list(self.topics.values()):
                for sink in tuple(members):
                    await sink.resync()

    async def _count_viewers(self) -> None:
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            with contextlib.suppress(Exception):
                await self.push_viewer_counts()

    async def push_viewer_counts(self) -> None:
        """Share this process's viewer counts through Redis, add up every process's, and send
        each changed total to the local viewers and host consoles."""
        for topic in [t for t in self.topics if t.startswith("event-")]:
            event_id = int(topic.removeprefix("event-"))
            total = await self._total_viewers(event_id, self.local_count(topic))
            if total > self._peaks.get(event_id, 0):
                await self._record_peak(event_id, total)
            if self._counts_sent.get(event_id) != total:
                self._counts_sent[event_id] = total
                text = encode("viewer.count", {"count": total})
                await self.deliver(topic, text)
                await self.deliver(studio_group_name(event_id), text)

    async def _record_peak(self, event_id: int, total: int) -> None:
        """Keep the live session's peak_viewers: one UPDATE each time this process sees a new
        high, not one per connect (every process does it; the UPDATE keeps the highest)."""
        from channels.db import database_sync_to_async

        from events.stream_state import record_peak_viewers

        try:
            await database_sync_to_async(record_peak_viewers)(event_id=event_id, count=total)
        except Exception:
            logger.warning("Could not record the peak viewer count", exc_info=True)
            return
        self._peaks[event_id] = total

    async def _total_viewers(self, event_id: int, local: int) -> int:
        if self._client is None:
            return local
        key = f"liveshop:viewers:{event_id}"
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.id, f"{local}:{int(time.time())}")
            pipe.expire(key, 30)
            pipe.hgetall(key)
            *_, counts = await pipe.execute()
        now = int(time.time())
        total = 0
        for value in counts.values():
            count, _, stamp = value.decode().partition(":")
            if now - int(stamp or 0) <= 5:  # a process that stopped reporting no longer counts
                total += int(count)
        return total

    async def allow_connection(self, ip: str, limit: int, window: int) -> bool:
        """At most ``limit`` websocket connections per IP per ``window`` seconds."""
        self._start()
        bucket = int(time.time() // window)
        if self._client is None:
            key = (ip, bucket)
            counts = self.__dict__.setdefault("_local_rate", {})
            counts[key] = counts.get(key, 0) + 1
            return counts[key] <= limit
        key = f"liveshop:ws-rate:{ip}:{bucket}"
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, window * 2)
            count, _ = await pipe.execute()
        return count <= limit


_hubs: dict[int, Hub] = {}


def get_hub() -> Hub:
    """This process's hub (one per event loop, so test runs with fresh loops get fresh hubs)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # Called from a thread (a service in the demo): the hub of the server's running loop.
        live = [hub for hub in _hubs.values() if hub.loop is not None and not hub.loop.is_closed()]
        return live[-1] if live else Hub(settings.REDIS_URL)
    hub = _hubs.get(id(loop))
    if hub is None or hub.loop not in (None, loop):
        hub = _hubs[id(loop)] = Hub(settings.REDIS_URL)
    return hub
