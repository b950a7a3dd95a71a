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
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction

from events import snapshot_cache

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
# The Redis feed: reconnect attempts back off from FEED_RETRY_FIRST to FEED_RETRY_MAX seconds
# (jittered), so every socket holds the current state within ~1 s of Redis answering again. A PING
# goes down the subscription every FEED_PING_INTERVAL; a feed that has heard nothing (not even a
# pong) for FEED_SILENCE_LIMIT is treated as lost: a failover can leave a half-open TCP connection
# that never errors by itself.
FEED_RETRY_FIRST = 0.1
FEED_RETRY_MAX = 1.0
FEED_PING_INTERVAL = 5.0
FEED_SILENCE_LIMIT = 3 * FEED_PING_INTERVAL
HUB_CHANNEL = "_hub"  # always subscribed, so the feed connection exists with no topic at all
# A published text that asks every hub to give the topic's sockets a fresh snapshot (sent when a
# publisher could not reach Redis for a while: what it published meanwhile is in the database).
RESYNC = '{"type":"resync"}'
# How long a publisher keeps trying to tell the hubs about broadcasts Redis did not take.
PUBLISH_RETRY_FIRST = 0.2
PUBLISH_RETRY_MAX = 2.0


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
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # One immediate retry: the first command after a Redis restart finds its pooled connection
    # closed, and a fresh one succeeds. Short timeouts: this runs after commit, in the request.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=1,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[redis.ConnectionError],
    )


def publish(topic: str, text: str) -> None:
    """Hand ``text`` to every process's hub. Best effort, after the change is committed: with
    Redis unreachable the change stands, is logged, and the topic is remembered so that, as soon
    as Redis answers again, every hub resyncs its sockets from the database (``_undelivered``)."""
    if settings.REDIS_URL:
        import redis

        try:
            _redis().publish(channel_prefix(settings.REDIS_URL) + topic, text)
        except redis.RedisError as exc:
            logger.error("Broadcast not sent: Redis is unreachable (%s)", exc, extra={"topic": topic})
            _undelivered.add(topic, text)
    else:
        get_hub().deliver_threadsafe(topic, text)


class Undelivered:
    """Topics whose broadcasts Redis did not take, in this (publishing) process. A daemon thread
    retries with backoff; once Redis answers it publishes RESYNC to each topic, so the hubs send
    their sockets a snapshot (which holds the committed change), and tells the event's host
    consoles what was late (``delivery.restored``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._topics: dict[str, list[str]] = {}  # topic -> the message types that missed
        self._highlights: dict[str, list[int]] = {}  # topic -> the highlights among them
        self._since: float | None = None
        self._thread: threading.Thread | None = None

    def add(self, topic: str, text: str) -> None:
        message = json.loads(text)
        with self._lock:
            self._topics.setdefault(topic, []).append(message.get("type", ""))
            if isinstance(message.get("highlightId"), int):
                self._highlights.setdefault(topic, []).append(message["highlightId"])
            if self._since is None:
                self._since = time.time()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._retry, name="liveshop-republish", daemon=True)
                self._thread.start()

    def pending(self) -> dict[str, list[str]]:
        with self._lock:
            return {topic: list(types) for topic, types in self._topics.items()}

    def _retry(self) -> None:
        delay = PUBLISH_RETRY_FIRST
        while True:
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, PUBLISH_RETRY_MAX)
            if self.flush():
                return

    def flush(self) -> bool:
        """Publish RESYNC for every waiting topic; True once none is left (or Redis is gone from
        the settings), False while Redis still refuses."""
        import redis

        with self._lock:
            topics = {topic: list(types) for topic, types in self._topics.items()}
            highlights = {topic: list(ids) for topic, ids in self._highlights.items()}
            since = self._since
        if not topics or not settings.REDIS_URL:
            return True
        prefix = channel_prefix(settings.REDIS_URL)
        try:
            client = _redis()
            for topic, types in topics.items():
                client.publish(prefix + topic, RESYNC)
                if topic.startswith("event-"):
                    missed = highlights.get(topic, [])
                    notice = {"since": since, "until": time.time(), "missed": types, "highlightIds": missed}
                    studio = studio_group_name(int(topic.removeprefix("event-")))
                    client.publish(prefix + studio, encode("delivery.restored", notice))
        except redis.RedisError:
            return False
        with self._lock:
            for topic, types in topics.items():
                if self._topics.get(topic) == types:
                    del self._topics[topic]
                    self._highlights.pop(topic, None)
            if not self._topics:
                self._since = None
                return True
        return False


_undelivered = Undelivered()


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

    async def resync(self, shared: dict | None = None) -> None: ...

    async def drop(self) -> None: ...


class Hub:
    def __init__(self, redis_url: str = ""):
        self.redis_url = redis_url
        self.prefix = channel_prefix(redis_url)
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.topics: dict[str, dict[Sink, None]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._feed_client = None
        self._pubsub = None
        self._feed_lock: asyncio.Lock | None = None  # one subscribe/reconnect at a time
        self._heard = 0.0  # monotonic time the feed last heard from Redis
        self.feed_down_since: float | None = None  # wall time the Redis feed was lost, if it is
        self._tasks: list[asyncio.Task] = []
        self._counts_sent: dict[int, int] = {}
        # event id -> the highest viewer total this process has recorded for the live session
        # (forgotten at each stream_state message: a new session starts from zero).
        self._peaks: dict[int, int] = {}
        self._local_bucket = -1  # the connect limiter's window when counted in this process
        self._local_rate: dict[str, int] = {}

    # Membership

    async def join(self, topic: str, sink: Sink) -> None:
        self._start()
        members = self.topics.get(topic)
        if members is None:
            members = self.topics[topic] = {}
            # Changes published while nobody here listened never reached this process's cache.
            snapshot_cache.invalidate_topic(topic)
            await self._subscribe(topic)
        members[sink] = None

    async def leave(self, topic: str, sink: Sink) -> None:
        members = self.topics.get(topic)
        if members is None or sink not in members:
            return
        del members[sink]
        if not members:
            del self.topics[topic]
            if self._pubsub is not None and self.feed_down_since is None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(self.prefix + topic)

    async def _subscribe(self, topic: str) -> None:
        """Subscribe the live feed to a new topic. With the feed down this does nothing: the
        reconnect subscribes every topic and resyncs every socket, this one's included."""
        if self._pubsub is None or self.feed_down_since is not None:
            return
        try:
            async with self._feed_lock:
                await self._pubsub.subscribe(self.prefix + topic)
        except Exception:
            logger.warning("Could not subscribe to %s; the feed reconnects", topic, exc_info=True)
            await self._lose_feed()

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
        if text == RESYNC:
            return await self.resync_topics([topic])
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
        snapshot_cache.invalidate_topic(topic)
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(self.deliver(topic, text)))

    # Background work: the Redis feed, the viewer-count ticker and the heartbeat

    def _start(self) -> None:
        if self.loop is not None:
            return
        self.loop = asyncio.get_running_loop()
        if self.redis_url:
            import redis
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            timeouts = {"socket_connect_timeout": 2, "socket_timeout": 5, "socket_keepalive": True}
            # Commands (counts, the connect limit) retry once on a fresh connection: after a Redis
            # restart every pooled connection is dead, and each would otherwise fail one caller.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.redis_url,
                max_connections=REDIS_MAX_CONNECTIONS,
                timeout=REDIS_POOL_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[redis.ConnectionError],
                **timeouts,
            )
            self._client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
            # The subscription has a connection of its own and never retries by itself: a silent
            # reconnect would resubscribe without the resync that the messages missed call for.
            self._feed_client = aioredis.Redis.from_url(self.redis_url, **timeouts)
            self._feed_lock = asyncio.Lock()
            self._tasks.append(self.loop.create_task(self._feed()))
        self._tasks.append(self.loop.create_task(self._count_viewers()))
        self._tasks.append(self.loop.create_task(self._heartbeat()))

    async def _feed(self) -> None:
        """Keep the Redis subscription up for as long as the process runs: (re)connect with
        jittered backoff, subscribe every topic that has sockets here, then read. After any loss
        every socket gets a fresh snapshot, since messages published meanwhile were missed."""
        delay = FEED_RETRY_FIRST
        while True:
            try:
                await self._connect_feed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._lose_feed(exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, FEED_RETRY_MAX)
                continue
            delay = FEED_RETRY_FIRST
            if self.feed_down_since is not None:
                await self._restore_feed()
            try:
                await self._pump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._lose_feed(exc)

    async def _connect_feed(self) -> None:
        async with self._feed_lock:
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
            self._pubsub = self._feed_client.pubsub(ignore_subscribe_messages=True)
            channels = [self.prefix + HUB_CHANNEL, *(self.prefix + topic for topic in self.topics)]
            await self._pubsub.subscribe(*channels)
            self._heard = time.monotonic()

    async def _pump(self) -> None:
        """Read the feed until it fails or falls silent; PING it so silence means a dead link."""
        pinged = time.monotonic()
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                self._heard = now
                if message["type"] == "message":
                    topic = message["channel"].decode()[len(self.prefix) :]
                    snapshot_cache.invalidate_topic(topic)  # a change: the next snapshot is read anew
                    await self.deliver(topic, message["data"].decode())
            if now - self._heard > FEED_SILENCE_LIMIT:
                raise ConnectionError(f"Redis sent nothing for {FEED_SILENCE_LIMIT:.0f} s")
            if now - pinged >= FEED_PING_INTERVAL:
                pinged = now
                async with self._feed_lock:
                    await self._pubsub.ping()

    async def _lose_feed(self, exc: BaseException | None = None) -> None:
        """Mark the feed down (once per outage): log it and tell every socket it is reconnecting."""
        if self.feed_down_since is not None:
            return
        self.feed_down_since = time.time()
        logger.warning("Lost the Redis subscription; reconnecting (%s)", exc or "subscribe failed")
        text = encode("feed.status", {"status": "reconnecting"})
        for topic in list(self.topics):
            await self.deliver(topic, text)

    async def _restore_feed(self) -> None:
        """Back after an outage: every socket gets a fresh snapshot (it holds whatever was
        committed meanwhile), then host consoles hear how long viewers' updates were held up."""
        since, until = self.feed_down_since, time.time()
        logger.warning("Redis subscription restored after %.1f s", until - since)
        self.feed_down_since = None
        self._peaks.clear()  # a stream_state message may have been missed too
        snapshot_cache.clear()  # so may any change: every snapshot is read anew
        await self.resync_topics(list(self.topics))
        notice = encode("delivery.restored", {"since": since, "until": until})
        for topic in [t for t in self.topics if t.startswith("studio-")]:
            await self.deliver(topic, notice)

    async def resync_topics(self, topics: list[str]) -> int:
        """Give every socket of ``topics`` a fresh snapshot; snapshots are built once per event
        and audience for the whole wave (``shared``), not once per socket. Returns how many."""
        shared: dict = {}
        done = 0
        for topic in topics:
            for sink in tuple(self.topics.get(topic, ())):
                try:
                    await sink.resync(shared)
                    done += 1
                except Exception:
                    logger.warning("A socket could not be resynced; it is dropped", exc_info=True)
                    self._drop(self.topics.get(topic, {}), sink)
        return done

    async def _count_viewers(self) -> None:
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            with contextlib.suppress(Exception):
                await self.push_viewer_counts()

    async def _heartbeat(self) -> None:
        """A small frame to every socket every LIVESHOP_WS_HEARTBEAT_SECONDS, saying whether the
        feed is up: a page that hears nothing for a few intervals knows its connection is dead
        (a frozen process, a half-open socket) and reconnects (viewer.js, console.js)."""
        while True:
            await asyncio.sleep(settings.LIVESHOP_WS_HEARTBEAT_SECONDS)
            status = "reconnecting" if self.feed_down_since is not None else "ok"
            text = encode("heartbeat", {"feed": status})
            for topic in list(self.topics):
                with contextlib.suppress(Exception):
                    await self.deliver(topic, text)

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
        """At most ``limit`` websocket connections per IP per ``window`` seconds: counted in Redis
        across processes, or in this process when there is no Redis or it cannot answer (a
        viewer is never refused because Redis is down)."""
        self._start()
        bucket = int(time.time() // window)
        if self._client is not None:
            key = f"liveshop:ws-rate:{ip}:{bucket}"
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, window * 2)
                    count, _ = await pipe.execute()
                return count <= limit
            except Exception as exc:
                logger.warning("Connection limit counted locally: Redis did not answer (%s)", exc)
        if bucket != self._local_bucket:  # only the current window is kept: the table stays small
            self._local_bucket, self._local_rate = bucket, {}
        self._local_rate[ip] = self._local_rate.get(ip, 0) + 1
        return self._local_rate[ip] <= limit


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
