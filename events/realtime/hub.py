"""The hub: one per ASGI process, delivering published messages to this process's sockets.

Delivery is per process, not a Channels group: stock ``group_send`` makes every consumer handle
every message (~12x slower than a plain broadcast at 5,000 viewers, see the fan-out baselines).
The hub has one Redis pub/sub connection, subscribed to the topics that have sockets here, and
writes the already-encoded frame to each local socket itself: through the uvicorn fast path
(events.realtime.uvicorn_fast_path) where the socket has one, else through its ASGI send. A
socket with a backlog gets that message through its ASGI send instead, after everyone else.
Delivery is at most once (a message published during a reconnect can be missed), so every
(re)connect starts from a snapshot, and a reconnect of the hub asks its sockets to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from typing import Protocol

from django.conf import settings

from events import snapshot_cache
from events.realtime.presence import Presence
from events.realtime.publishing import (
    RESYNC,
    channel_prefix,
    encode,
    event_group_name,
    event_id_of,
    studio_group_name,
)
from events.realtime.uvicorn_fast_path import text_frame
from liveshop import metrics
from liveshop.ratelimit import ConnectLimiter

logger = logging.getLogger(__name__)

SEND_DEADLINE = 1.0  # seconds a socket may take to accept a frame before it is dropped
YIELD_EVERY = 1000  # sends between yields to the event loop, so the process stays responsive
# A background delivery's (the chat's batches) stretch between yields: a card arriving meanwhile
# waits for at most this many writes (~2 ms) before it has the loop to itself.
BACKGROUND_YIELD_EVERY = 200
COUNT_INTERVAL = 1.0  # viewer counts go out at most once a second
# The hub's Redis connections (the pub/sub one, plus the short count pipelines and the connect
# limit of busy addresses): bounded, so a burst queues for a free connection, up to
# REDIS_POOL_TIMEOUT seconds, instead of opening one each and failing at Redis's maxclients.
REDIS_MAX_CONNECTIONS = 20
REDIS_POOL_TIMEOUT = 5.0
STREAM_STATE_PREFIX = '{"type":"stream_state"'  # how encode() starts a stream.state message
FEATURED_PREFIX = '{"type":"product_featured"'  # and a product.featured one
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


class Sink(Protocol):
    """A local socket: consumers implement these. ``write_frame`` (optional, may be None) is the
    fast path: a ``FrameWriter`` once the socket takes frames directly. A member that is not a
    socket says so with ``moved_by_drain = False`` (events.realtime.drain leaves it) and, when it is
    nobody's audience, ``counts_as_viewer = False`` (presence)."""

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
        self.presence = Presence(self.id)
        self.connect_limiter = ConnectLimiter()
        self._client = None
        self._feed_client = None
        self._pubsub = None
        self._feed_lock: asyncio.Lock | None = None  # one subscribe/reconnect at a time
        self._heard = 0.0  # monotonic time the feed last heard from Redis
        self.feed_down_since: float | None = None  # wall time the Redis feed was lost, if it is
        self._tasks: list[asyncio.Task] = []
        # Deliveries that go first (the card, stock, stream state: everything but the chat's
        # batches) in progress; a background delivery waits at its next yield while any runs.
        self._urgent = 0
        self._no_urgent: asyncio.Event | None = None

    # Membership

    async def join(self, topic: str, sink: Sink) -> None:
        self._start()
        members = self.topics.get(topic)
        if members is None:
            members = self.topics[topic] = {}
            # Changes published while nobody here listened never reached this process's cache.
            snapshot_cache.invalidate_topic(topic)
            await self._subscribe(topic)
        if sink not in members:
            members[sink] = None
            self.presence.joined(topic, sink)

    async def leave(self, topic: str, sink: Sink) -> None:
        gone = self._remove(topic, sink) and topic not in self.topics  # its last socket here
        if gone and self._pubsub is not None and self.feed_down_since is None:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(self.prefix + topic)

    def _remove(self, topic: str, sink: Sink) -> bool:
        """Take ``sink`` off ``topic`` (and the topic off the hub once empty); False if absent."""
        members = self.topics.get(topic)
        if members is None or sink not in members:
            return False
        del members[sink]
        self.presence.left(topic, sink)
        if not members:
            del self.topics[topic]
        return True

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
        return self.presence.local_count(topic)

    def viewer_count(self, event_id: int) -> int:
        """The last total sent for the event (this process's own count before the first)."""
        return self.presence.viewer_count(event_id)

    async def allow_connection(self, ip: str, limit: int, window: int) -> bool:
        """At most ``limit`` websocket connections per IP per ``window`` seconds (see
        liveshop.ratelimit.ConnectLimiter: counted here, in Redis only for busy addresses)."""
        self._start()
        return await self.connect_limiter.allow(ip, limit, window, self._client)

    # Delivery

    async def deliver(self, topic: str, text: str, *, background: bool = False) -> int:
        """Write ``text`` to every local socket of ``topic``; returns how many got it. A socket
        that cannot take a frame within SEND_DEADLINE is dropped (its client reconnects and
        resyncs) so one slow viewer never stalls the others. Backlogged fast-path sockets are
        served after all the others, concurrently: they hold up nobody's frame, and the hub's
        next message by at most one SEND_DEADLINE (which keeps each socket's frames in order).

        A ``background`` delivery (the chat's batches: chat.realtime) gives way: at each yield it
        waits while any other delivery runs, so a card reaching 5,000 sockets during a chat storm
        waits for at most one BACKGROUND_YIELD_EVERY stretch of the chat's writes, not for all."""
        if background:
            return await self._deliver(topic, text, background=True)
        self._urgent += 1
        if self._no_urgent is not None:
            self._no_urgent.clear()
        try:
            return await self._deliver(topic, text, background=False)
        finally:
            self._urgent -= 1
            if not self._urgent and self._no_urgent is not None:
                self._no_urgent.set()

    async def _give_way(self) -> None:
        """A background delivery's yield: to the loop, then until no other delivery runs."""
        await asyncio.sleep(0)
        while self._urgent:
            if self._no_urgent is None:
                self._no_urgent = asyncio.Event()
            await self._no_urgent.wait()

    async def _deliver(self, topic: str, text: str, *, background: bool) -> int:
        if text.startswith(STREAM_STATE_PREFIX):
            event_id = event_id_of(topic)
            if event_id is not None:
                self.presence.session_changed(event_id)
        members = self.topics.get(topic)
        if not members:
            return 0
        if text == RESYNC:
            return await self.resync_topics([topic])
        if background and self._urgent:  # a batch due while a card is on its way starts after it
            await self._give_way()
        delivered = 0
        frame = None
        backlogged: list[Sink] = []
        stretch = BACKGROUND_YIELD_EVERY if background else YIELD_EVERY
        for i, sink in enumerate(tuple(members)):
            write = getattr(sink, "write_frame", None)
            if write is None:  # no fast path (not uvicorn, or before the snapshot): the ASGI send
                delivered += await self._send(topic, sink, text)
            else:
                if frame is None:
                    frame = text_frame(text)
                written = write(frame)
                if written:
                    delivered += 1
                elif written is False:  # a backlog: its ASGI send waits for a drain, later
                    backlogged.append(sink)
            if i % stretch == stretch - 1:
                await (self._give_way() if background else asyncio.sleep(0))
        if backlogged:
            delivered += sum(await asyncio.gather(*(self._send(topic, sink, text) for sink in backlogged)))
        if text.startswith(FEATURED_PREFIX) and event_id_of(topic) is not None:  # viewers, not consoles
            metrics.featured_delivered(text, delivered)  # the click-to-viewer delay (LIVESHOP_METRICS)
        return delivered

    async def _send(self, topic: str, sink: Sink, text: str) -> int:
        """The ASGI send, within SEND_DEADLINE; 1 if it went out, 0 when the socket was dropped."""
        try:
            async with asyncio.timeout(SEND_DEADLINE):
                await sink.deliver(text)
            return 1
        except Exception:
            self._drop(topic, sink)
            return 0

    def _drop(self, topic: str, sink: Sink) -> None:
        self._remove(topic, sink)
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
        self.presence.session_changed()  # a stream_state message may have been missed too
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
                    self._drop(topic, sink)
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
        for event_id, total in await self.presence.changed_totals(list(self.topics), self._client):
            text = encode("viewer.count", {"count": total})
            await self.deliver(event_group_name(event_id), text)
            await self.deliver(studio_group_name(event_id), text)


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
