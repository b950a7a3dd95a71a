"""The hub and the publishers survive Redis going away: restarts, a hung server, broadcasts that
could not be sent. Each test breaks its own throwaway Redis (tests/chaos.py), never the run's."""

import asyncio
import json
import time
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from events import realtime, timed_metadata
from events.realtime import hub as realtime_hub
from events.realtime import publishing
from events.tests.factories import StreamSessionFactory
from events.tests.test_consumers import connect, feature, make_show, next_of_type
from liveshop import ratelimit
from tests.chaos import RedisServer

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10
RECOVERY_GOAL = 5  # seconds from Redis answering again to every socket holding the current state


class Sink:
    """A socket as the hub sees it, recording frames and resyncs."""

    def __init__(self):
        self.frames: list[dict] = []
        self.resyncs = 0

    async def deliver(self, text):
        self.frames.append(json.loads(text))

    async def resync(self, shared=None):
        self.resyncs += 1

    async def drop(self):
        pass

    def types(self):
        return [frame["type"] for frame in self.frames]


async def until(predicate, timeout=TIMEOUT, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - (deadline - timeout)


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def hubs():
    made = []

    def make(url):
        hub = realtime_hub.Hub(url)
        made.append(hub)
        return hub

    yield make
    for hub in made:
        for task in hub._tasks:
            task.cancel()


def subscribed(server, hub, topic):
    client = redis.Redis.from_url(server.url)
    try:
        return (hub.prefix + topic).encode() in client.pubsub_channels()
    except redis.RedisError:
        return False
    finally:
        client.close()


def publish_raw(server, hub, topic, payload):
    client = redis.Redis.from_url(server.url)
    try:
        client.publish(hub.prefix + topic, realtime.encode("product.featured", payload))
    finally:
        client.close()


async def test_the_hub_resubscribes_when_redis_comes_back_and_resyncs_every_socket(own_redis, hubs):
    hub = hubs(own_redis.url)
    sink = Sink()
    await hub.join("event-7", sink)
    await until(lambda: subscribed(own_redis, hub, "event-7"), what="the first subscription")
    await asyncio.to_thread(publish_raw, own_redis, hub, "event-7", {"n": 1})
    await until(lambda: {"type": "product_featured", "n": 1} in sink.frames, what="the first message")

    await asyncio.to_thread(own_redis.stop)
    reconnecting = {"type": "feed_status", "status": "reconnecting"}
    await until(lambda: reconnecting in sink.frames, what="'reconnecting'")
    await asyncio.to_thread(own_redis.start)
    took = await until(lambda: sink.resyncs == 1, what="a resync after Redis came back")

    assert took < RECOVERY_GOAL
    assert subscribed(own_redis, hub, "event-7")
    await asyncio.to_thread(publish_raw, own_redis, hub, "event-7", {"n": 2})
    await until(lambda: {"type": "product_featured", "n": 2} in sink.frames, what="a message after recovery")


async def test_a_hung_redis_is_noticed_by_the_silence_check(own_redis, hubs, monkeypatch):
    monkeypatch.setattr(realtime_hub, "FEED_PING_INTERVAL", 0.2)
    monkeypatch.setattr(realtime_hub, "FEED_SILENCE_LIMIT", 1.0)
    hub = hubs(own_redis.url)
    sink = Sink()
    await hub.join("event-8", sink)
    await until(lambda: subscribed(own_redis, hub, "event-8"), what="the subscription")

    own_redis.freeze()  # the socket stays open; nothing answers
    try:
        await until(lambda: "feed_status" in sink.types(), what="the hub noticing the silence")
    finally:
        own_redis.thaw()
    await until(lambda: sink.resyncs == 1, what="a resync once Redis answers again")
    assert hub.feed_down_since is None


async def test_a_topic_joined_while_redis_is_down_is_subscribed_on_recovery(own_redis, hubs):
    hub = hubs(own_redis.url)
    first = Sink()
    await hub.join("event-9", first)
    await until(lambda: subscribed(own_redis, hub, "event-9"), what="the subscription")
    await asyncio.to_thread(own_redis.stop)
    await until(lambda: hub.feed_down_since is not None, what="the hub noticing")

    late = Sink()
    await asyncio.wait_for(hub.join("event-10", late), 2)  # no wait on the dead server
    await asyncio.to_thread(own_redis.start)
    await until(lambda: late.resyncs == 1 and first.resyncs == 1, what="both resynced")
    await asyncio.to_thread(publish_raw, own_redis, hub, "event-10", {"n": 3})
    await until(lambda: {"type": "product_featured", "n": 3} in late.frames, what="the late topic's message")


async def test_host_consoles_hear_how_long_viewers_updates_were_held_up(own_redis, hubs):
    hub = hubs(own_redis.url)
    console = Sink()
    await hub.join("studio-11", console)
    await until(lambda: subscribed(own_redis, hub, "studio-11"), what="the subscription")
    await asyncio.to_thread(own_redis.restart, 0.3)

    await until(lambda: "delivery_restored" in console.types(), what="the console's notice")
    notice = next(f for f in console.frames if f["type"] == "delivery_restored")
    assert 0.3 <= notice["until"] - notice["since"] < RECOVERY_GOAL + 1


async def test_every_socket_gets_a_heartbeat_saying_whether_the_feed_is_up(hubs, settings):
    settings.LIVESHOP_WS_HEARTBEAT_SECONDS = 0.05
    hub = hubs("")
    viewer, console = Sink(), Sink()
    await hub.join("event-12", viewer)
    await hub.join("studio-12", console)

    await until(lambda: "heartbeat" in viewer.types() and "heartbeat" in console.types(), what="heartbeats")
    assert {"type": "heartbeat", "feed": "ok"} in viewer.frames


async def test_a_published_resync_gives_the_topics_sockets_a_fresh_snapshot(settings, hubs):
    hub = hubs(settings.REDIS_URL)
    topic = f"event-{uuid.uuid4().int % 10**9}"
    sink, other = Sink(), Sink()
    await hub.join(topic, sink)
    await hub.join("event-13", other)
    await asyncio.sleep(0.2)  # the subscription settles (pub/sub keeps nothing for late subscribers)

    await asyncio.to_thread(realtime.publish, topic, realtime.RESYNC)

    await until(lambda: sink.resyncs == 1, what="the resync")
    assert sink.frames == [] and other.resyncs == 0


async def test_broadcasts_redis_did_not_take_ask_every_hub_to_resync_once_it_answers(settings):
    await asyncio.to_thread(check_undelivered_flush, settings)


def check_undelivered_flush(settings):
    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    prefix = realtime.channel_prefix(settings.REDIS_URL)
    listener.subscribe(prefix + "event-14", prefix + "studio-14")
    undelivered = realtime.Undelivered()
    undelivered.add("event-14", realtime.encode("product.featured", {"highlightId": 1}))
    undelivered.add("event-14", realtime.encode("stream.state", {"status": "live"}))

    assert undelivered.flush()

    received = {}
    deadline = time.monotonic() + TIMEOUT
    while len(received) < 2 and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message:
            received[message["channel"].decode().removeprefix(prefix)] = json.loads(message["data"])
    listener.close()
    assert received["event-14"] == {"type": "resync"}
    assert received["studio-14"]["type"] == "delivery_restored"
    assert received["studio-14"]["missed"] == ["product_featured", "stream_state"]
    assert received["studio-14"]["highlightIds"] == [1]
    assert undelivered.pending() == {}


@pytest.fixture
def app_on(settings, video):
    """Point the application (publisher, hub, cue limiter) at ``server``'s Redis."""

    def use(server):
        settings.REDIS_URL = server.url
        publishing._redis.cache_clear()
        ratelimit.get_rate_limiter.cache_clear()

    yield use
    publishing._redis.cache_clear()
    ratelimit.get_rate_limiter.cache_clear()


async def connect_viewer(event_id):
    communicator, connected = await connect(event_id)
    assert connected
    return communicator


async def test_a_product_featured_while_redis_is_down_reaches_viewers_and_its_cue_is_sent(
    own_redis, app_on, video
):
    app_on(own_redis)
    channel = video.create_channel("show")
    video.go_live(channel.id, stream_id="st-show")
    event, product, host = await make_show(status="live", channel_id=channel.id)
    await database_sync_to_async(StreamSessionFactory)(event=event, stream_id="st-show")
    viewer = await connect_viewer(event.pk)
    assert (await next_of_type(viewer, "snapshot"))["highlight"] is None

    await asyncio.to_thread(own_redis.stop)
    assert (await next_of_type(viewer, "feed_status"))["status"] == "reconnecting"
    highlight = await feature(event, product, host)  # committed; the broadcast cannot go out
    highlight = await database_sync_to_async(type(highlight).objects.get)(pk=highlight.pk)
    assert highlight.cue_state == "sent", highlight.cue_error
    assert len(video.calls_to("put_metadata")) == 1

    await asyncio.to_thread(own_redis.start)
    started = time.monotonic()
    snapshot = await next_of_type(viewer, "snapshot")
    assert time.monotonic() - started < RECOVERY_GOAL
    assert snapshot["highlight"]["highlightId"] == highlight.pk
    await viewer.disconnect()


async def test_cue_rate_limit_falls_back_to_a_safe_local_window_without_redis():
    nowhere = "redis://127.0.0.1:1/0"  # nothing listens there
    limiter = ratelimit.RedisRateLimiter(nowhere, timed_metadata.CALLS_PER_SECOND)

    assert limiter.acquire("channel", 100.0) == 0
    assert limiter.acquire("channel", 100.1) > 0  # a share of the channel's 5/s: one per process
    assert limiter.acquire("channel", 101.2) == 0


async def test_a_client_asking_to_resync_too_often_is_closed():
    event, _, _ = await make_show()
    viewer = await connect_viewer(event.pk)
    await next_of_type(viewer, "snapshot")
    for _ in range(6):
        await viewer.send_to(text_data="resync")
        await next_of_type(viewer, "snapshot")

    await viewer.send_to(text_data="resync")
    closed = await viewer.receive_output(timeout=TIMEOUT)
    while closed["type"] != "websocket.close":
        closed = await viewer.receive_output(timeout=TIMEOUT)
    assert closed["code"] == 4429


@pytest.mark.parametrize("status", ["cancelled", "needs_channel"])
async def test_the_viewer_socket_refuses_events_the_page_refuses(status):
    event, _, _ = await make_show(status=status, title="Secret spring drop")

    _, connected = await connect(event.pk)

    assert not connected


# The shared snapshot (events.snapshot_cache) ------------------------------------------------------


async def test_connects_share_one_snapshot_read_until_the_event_changes(django_assert_num_queries):
    from events import snapshot_cache
    from events.selectors import event_state_snapshot

    event, product, host = await make_show(status="live")
    read = database_sync_to_async(event_state_snapshot)
    first = await read(event_id=event.pk, user=AnonymousUser())

    def again():
        with django_assert_num_queries(0):
            return event_state_snapshot(event_id=event.pk, user=AnonymousUser())

    assert await database_sync_to_async(again)() == first

    snapshot_cache.invalidate_topic(realtime.event_group_name(event.pk))  # the hub heard a change
    highlight = await feature(event, product, host)
    assert (await read(event_id=event.pk, user=AnonymousUser()))["highlight"]["highlightId"] == highlight.pk


async def test_a_snapshot_read_before_a_change_is_not_kept_after_it():
    from events import snapshot_cache

    generation = snapshot_cache.generation(99)
    snapshot_cache.invalidate(99)  # the change lands while the old state was being read
    snapshot_cache.put(99, generation, object(), {"stale": True})

    assert snapshot_cache.get(99) is None


async def test_a_late_joiner_after_a_published_change_gets_the_new_state_at_once():
    event, product, host = await make_show(status="live")
    early = await connect_viewer(event.pk)
    await next_of_type(early, "snapshot")  # the event's snapshot is now shared

    highlight = await feature(event, product, host)
    assert (await next_of_type(early, "product_featured"))["highlightId"] == highlight.pk
    late = await connect_viewer(event.pk)

    assert (await next_of_type(late, "snapshot"))["highlight"]["highlightId"] == highlight.pk
    await early.disconnect()
    await late.disconnect()


async def test_a_process_that_was_not_listening_reads_the_snapshot_anew(hubs):
    from events import snapshot_cache

    snapshot_cache.put(77, snapshot_cache.generation(77), object(), {"stale": True})
    hub = hubs("")

    await hub.join("event-77", Sink())  # first socket of the event here: it heard no change before

    assert snapshot_cache.get(77) is None
