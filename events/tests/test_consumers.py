"""The viewer websocket, fed by the per-process hub over real Redis pub/sub."""

import asyncio
import functools
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events import realtime, services, stream_state
from events.models import EventProduct, LiveEvent, StreamSession
from events.realtime import hub as realtime_hub
from events.realtime import presence
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop.asgi import application
from liveshop.video import eventbridge as ivs_events

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


@database_sync_to_async
def make_show(**event_fields):
    event = LiveEventFactory(**event_fields)
    product = ProductFactory(organization=event.organization, name="Trail Runner 2")
    EventProduct.objects.create(event=event, product=product)
    host = member(event.organization, role=Membership.Role.HOST)
    return event, product, host


@database_sync_to_async
def feature(event, product, host):
    return services.feature_product(event=event, product=product, by=host)


async def connect(event_id, user=None, client=("203.0.113.9", 5000)):
    communicator = WebsocketCommunicator(
        application, f"/ws/events/{event_id}/", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = client
    communicator.scope["user"] = user or AnonymousUser()
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def next_of_type(communicator, message_type):
    while True:
        message = json.loads(await communicator.receive_from(timeout=TIMEOUT))
        if message["type"] == message_type:
            return message


async def test_snapshot_on_connect_then_every_featured_product():
    event, product, host = await make_show()
    viewer, connected = await connect(event.pk)
    assert connected

    snapshot = json.loads(await viewer.receive_from(timeout=TIMEOUT))
    assert snapshot["type"] == "snapshot"
    assert snapshot["event"]["status"] == LiveEvent.Status.SCHEDULED
    assert snapshot["highlight"] is None

    highlight = await feature(event, product, host)
    message = await next_of_type(viewer, "product_featured")
    assert message["highlightId"] == highlight.pk
    assert message["product"]["name"] == "Trail Runner 2"
    await viewer.disconnect()


async def test_late_joiner_sees_the_current_product_at_once():
    event, product, host = await make_show()
    highlight = await feature(event, product, host)

    viewer, _ = await connect(event.pk)
    snapshot = json.loads(await viewer.receive_from(timeout=TIMEOUT))

    assert snapshot["highlight"]["highlightId"] == highlight.pk
    assert snapshot["highlight"]["product"]["id"] == product.pk
    await viewer.disconnect()


async def test_viewers_of_another_event_get_nothing():
    event, product, host = await make_show()
    other, _, _ = await make_show()
    bystander, _ = await connect(other.pk)
    await bystander.receive_from(timeout=TIMEOUT)  # its snapshot

    await feature(event, product, host)

    received = []
    while not await bystander.receive_nothing(timeout=1.5):
        received.append(json.loads(await bystander.receive_from())["type"])
    assert "product_featured" not in received
    assert set(received) <= {"viewer_count"}
    await bystander.disconnect()


async def test_nothing_private_reaches_a_viewer():
    event, product, host = await make_show(ingest_url="rtmps://secret-ingest.example.net:443/app/")
    await database_sync_to_async(LiveEvent.objects.filter(pk=event.pk).update)(
        stream_key_encrypted="gAAAA-encrypted", stream_key_digest="d" * 64
    )
    viewer, _ = await connect(event.pk)
    frames = [await viewer.receive_from(timeout=TIMEOUT)]
    await feature(event, product, host)
    frames.append(await viewer.receive_from(timeout=TIMEOUT))

    for frame in frames:
        for private in ("secret-ingest", "ingest", "stream_key", "streamKey", "gAAAA", "d" * 64):
            assert private not in frame
    await viewer.disconnect()


async def test_unknown_and_private_events_are_refused_to_the_public():
    private_event, _, _ = await make_show(is_private=True)

    for event_id in (private_event.pk, 999_999_999):
        viewer, connected = await connect(event_id)
        assert not connected
        await viewer.disconnect()


async def test_private_event_is_open_to_the_brands_people():
    event, _, host = await make_show(is_private=True)

    viewer, connected = await connect(event.pk, user=host)

    assert connected
    await viewer.disconnect()


async def test_connection_attempts_are_rate_limited_per_ip(settings):
    settings.LIVESHOP_WS_CONNECT_LIMIT = 3
    event, _, _ = await make_show()
    client = ("198.51.100.7", 1234)

    results = []
    for _ in range(4):
        viewer, connected = await connect(event.pk, client=client)
        results.append(connected)
        await viewer.disconnect()
    other_ip, connected_elsewhere = await connect(event.pk, client=("198.51.100.8", 1))

    assert results == [True, True, True, False]
    assert connected_elsewhere
    await other_ip.disconnect()


class Sink:
    def __init__(self):
        self.frames = []
        self.got = asyncio.Event()

    async def deliver(self, text):
        self.frames.append(text)
        self.got.set()

    async def resync(self):
        pass

    async def drop(self):
        pass


async def test_two_processes_sharing_redis_both_deliver_every_message(settings):
    first, second = realtime_hub.Hub(settings.REDIS_URL), realtime_hub.Hub(settings.REDIS_URL)
    a, b = Sink(), Sink()
    await first.join("event-424242", a)
    await second.join("event-424242", b)
    await asyncio.sleep(0.2)  # subscriptions settle (pub/sub does not buffer for late subscribers)

    for n in range(20):
        await asyncio.to_thread(realtime.broadcast_to_event, 424242, "product.featured", {"n": n})

    async def all_arrived():
        while len(a.frames) < 20 or len(b.frames) < 20:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(all_arrived(), TIMEOUT)
    expected = [realtime.encode("product.featured", {"n": n}) for n in range(20)]
    assert a.frames == expected and b.frames == expected
    for hub in (first, second):
        for task in hub._tasks:
            task.cancel()


async def test_a_stalled_socket_is_dropped_without_delaying_the_others(monkeypatch):
    monkeypatch.setattr(realtime_hub, "SEND_DEADLINE", 0.2)
    hub = realtime_hub.Hub("")
    fast = Sink()

    class Stalled(Sink):
        dropped = False

        async def deliver(self, text):
            await asyncio.sleep(3600)

        async def drop(self):
            Stalled.dropped = True

    stalled = Stalled()
    await hub.join("event-1", stalled)
    await hub.join("event-1", fast)

    delivered = await asyncio.wait_for(hub.deliver("event-1", "hello"), 2)
    await asyncio.sleep(0)

    assert delivered == 1 and fast.frames == ["hello"]
    assert Stalled.dropped and hub.local_count("event-1") == 1
    for task in hub._tasks:
        task.cancel()


async def connect_studio(event_id, user):
    communicator = WebsocketCommunicator(
        application, f"/ws/studio/events/{event_id}/", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = ("203.0.113.20", 1)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def test_host_console_gets_history_and_cue_states():
    event, product, host = await make_show()
    first = await feature(event, product, host)
    console, connected = await connect_studio(event.pk, host)
    assert connected

    snapshot = json.loads(await console.receive_from(timeout=TIMEOUT))
    assert snapshot["type"] == "studio_snapshot"
    assert [h["highlightId"] for h in snapshot["history"]] == [first.pk]
    assert snapshot["history"][0]["cueState"] == "not_live"

    await database_sync_to_async(services.clear_highlight)(event=event, by=host)
    assert (await next_of_type(console, "product_cleared"))["product"] is None
    await console.disconnect()


async def frames_until(communicator, done, timeout=TIMEOUT):
    """Every frame received until ``done(frames)`` holds."""
    frames = []
    async with asyncio.timeout(timeout):
        while not done(frames):
            frames.append(json.loads(await communicator.receive_from(timeout=timeout)))
    return frames


@database_sync_to_async
def make_live_show(video, **stream):
    """A live event on the fake backend, with an open stream session and a one-product lineup."""
    session = StreamSessionFactory(event__channel_id=video.create_channel("show").id)
    video.go_live(session.event.channel_id, stream_id=session.stream_id, **stream)
    product = ProductFactory(organization=session.event.organization, name="Trail Runner 2")
    EventProduct.objects.create(event=session.event, product=product)
    return session.event, product, member(session.event.organization, role=Membership.Role.HOST)


async def test_host_console_frames_carry_the_cue_state_viewer_frames_do_not(video, settings):
    settings.LIVESHOP_CUES_INLINE = True
    event, product, host = await make_live_show(video)
    console, _ = await connect_studio(event.pk, host)
    viewer, _ = await connect(event.pk)
    await next_of_type(console, "studio_snapshot")
    await next_of_type(viewer, "snapshot")

    highlight = await feature(event, product, host)

    # The console's own frame says where the cue stands, before the cue's news.
    frames = await frames_until(console, lambda f: any(m["type"] == "cue_state" for m in f))
    featured = [m for m in frames if m["type"] == "product_featured" and "cueState" in m]
    assert len(featured) == 1
    assert (featured[0]["highlightId"], featured[0]["cueState"], featured[0]["cueError"]) == (
        highlight.pk,
        "pending",
        "",
    )
    assert featured[0]["product"]["name"] == "Trail Runner 2"
    assert frames.index(featured[0]) < [m["type"] for m in frames].index("cue_state")
    assert frames[-1] == {
        "type": "cue_state",
        "highlightId": highlight.pk,
        "cueState": "sent",
        "cueError": "",
    }
    # Viewers get the card, never a cue's state or error.
    seen = await frames_until(viewer, lambda f: any(m["type"] == "product_featured" for m in f))
    assert all("cueState" not in m and "cueError" not in m for m in seen)
    await console.disconnect()
    await viewer.disconnect()


async def test_host_console_frames_say_not_live_before_going_live():
    event, product, host = await make_show()
    console, _ = await connect_studio(event.pk, host)
    await next_of_type(console, "studio_snapshot")

    highlight = await feature(event, product, host)
    frames = await frames_until(console, lambda f: any("cueState" in m for m in f))

    assert (frames[-1]["type"], frames[-1]["highlightId"], frames[-1]["cueState"]) == (
        "product_featured",
        highlight.pk,
        "not_live",
    )
    await console.disconnect()


@pytest.mark.parametrize(("health", "expected"), [("healthy", "healthy"), ("starving", "starving")])
async def test_host_console_snapshot_carries_the_streams_health(video, health, expected):
    event, _, host = await make_live_show(video, health=health)
    console, _ = await connect_studio(event.pk, host)

    snapshot = await next_of_type(console, "studio_snapshot")

    assert snapshot["streamHealth"] == expected
    await console.disconnect()


async def test_host_console_snapshot_says_offline_before_going_live():
    event, _, host = await make_show()
    console, _ = await connect_studio(event.pk, host)

    assert (await next_of_type(console, "studio_snapshot"))["streamHealth"] == "offline"
    await console.disconnect()


def health_change(event, name, stream_id, at):
    payload = ivs_events.stream_state_change(event.channel_id, name, stream_id, at=at)
    payload["detail-type"] = stream_state.STREAM_HEALTH_CHANGE
    return payload


async def test_starvation_news_reaches_host_consoles_with_its_health_not_viewers(video):
    event, _, host = await make_live_show(video)
    session = await database_sync_to_async(StreamSession.objects.get)(event=event)
    console, _ = await connect_studio(event.pk, host)
    viewer, _ = await connect(event.pk)
    await next_of_type(console, "studio_snapshot")
    await next_of_type(viewer, "snapshot")
    # The fake backend's channel ids are no ARNs: like the local media server's, not IVS's.
    handle = database_sync_to_async(functools.partial(stream_state.handle_event, local_allowed=True))

    assert (
        await handle(health_change(event, "Starvation Start", session.stream_id, session.started_at))
        == "applied"
    )
    frame = await next_of_type(console, "stream_state")
    assert (frame["status"], frame["health"], frame["streamId"]) == ("live", "starving", session.stream_id)
    assert frame["healthAt"] == session.started_at.isoformat()

    assert (
        await handle(health_change(event, "Starvation End", session.stream_id, session.started_at))
        == "applied"
    )
    assert (await next_of_type(console, "stream_state"))["health"] == "healthy"
    # News about another (older) stream of the channel changes nothing.
    assert await handle(health_change(event, "Starvation Start", "st-old", session.started_at)) == "unchanged"

    received = []
    while not await viewer.receive_nothing(timeout=1):
        received.append(json.loads(await viewer.receive_from())["type"])
    assert "stream_state" not in received
    await console.disconnect()
    await viewer.disconnect()


async def test_the_live_sessions_peak_viewers_is_the_highest_count_seen(monkeypatch):
    session = await database_sync_to_async(StreamSessionFactory)()
    topic = realtime.event_group_name(session.event_id)
    writes = []
    record = presence.record_peak_viewers
    monkeypatch.setattr(presence, "record_peak_viewers", lambda **kw: writes.append(kw) or record(**kw))
    hub = realtime_hub.Hub("")
    sinks = [Sink() for _ in range(5)]

    async def peak(pk=session.pk):
        return (await database_sync_to_async(StreamSession.objects.get)(pk=pk)).peak_viewers

    for sink in sinks[:3]:
        await hub.join(topic, sink)
    await hub.push_viewer_counts()
    assert await peak() == 3
    for sink in sinks[:2]:
        await hub.leave(topic, sink)
    await hub.push_viewer_counts()
    await hub.push_viewer_counts()
    assert await peak() == 3  # the peak, not the current count
    for sink in sinks:
        await hub.join(topic, sink)
    await hub.push_viewer_counts()
    assert await peak() == 5
    assert len(writes) == 2  # one UPDATE per new high, none for a lower or unchanged count

    # The stream ends and a new one starts: its peak starts from the viewers there now.
    await database_sync_to_async(StreamSession.objects.filter(pk=session.pk).update)(
        ended_at=session.started_at
    )
    second = await database_sync_to_async(StreamSessionFactory)(
        event_id=session.event_id, stream_id="st-next"
    )
    await hub.deliver(topic, realtime.encode("stream.state", {"status": "live", "streamId": "st-next"}))
    await hub.push_viewer_counts()
    assert (await peak(second.pk), await peak()) == (5, 5)
    for task in hub._tasks:
        task.cancel()


async def test_host_console_is_refused_to_viewers_and_other_brands():
    event, _, _ = await make_show()
    outsider = await database_sync_to_async(member)((await make_show())[0].organization)

    for user in (AnonymousUser(), outsider):
        console, connected = await connect_studio(event.pk, user)
        assert not connected
        await console.disconnect()


async def test_host_consoles_are_not_counted_as_viewers():
    hub = realtime_hub.Hub("")
    viewer, console = Sink(), Sink()
    console.counts_as_viewer = False
    await hub.join("event-7", viewer)
    await hub.join("event-7", console)

    assert hub.local_count("event-7") == 1
    for task in hub._tasks:
        task.cancel()


async def test_pubsub_channels_name_the_redis_database():
    assert realtime.channel_prefix("redis://cache:6379/3") != realtime.channel_prefix("redis://cache:6379/4")
    assert realtime.channel_prefix("redis://cache:6379") == realtime.channel_prefix("redis://cache:6379/0")


async def test_a_burst_of_connects_waits_for_the_hubs_bounded_redis_pool(settings, monkeypatch):
    from redis.asyncio import BlockingConnectionPool

    monkeypatch.setattr(realtime_hub, "REDIS_MAX_CONNECTIONS", 3)
    hub = realtime_hub.Hub(settings.REDIS_URL)
    await hub.join("event-434343", Sink())  # the pub/sub connection holds one of the three

    # 300 connects at once from 30 busy addresses (10 each, limit 12): each address's connects
    # past its local share (6) are counted in Redis, all through the pool, and all let in.
    run = uuid.uuid4().hex  # addresses of this run only (the counters live in Redis for a while)
    addresses = [f"{run}-{i % 30}" for i in range(300)]
    allowed = await asyncio.gather(*(hub.allow_connection(address, 12, 60) for address in addresses))

    assert all(allowed)
    pool = hub._client.connection_pool
    assert isinstance(pool, BlockingConnectionPool)
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 3
    for task in hub._tasks:
        task.cancel()
    await hub._client.aclose()


async def test_an_ordinary_viewers_connect_sends_nothing_to_redis(settings):
    hub = realtime_hub.Hub(settings.REDIS_URL)
    address = uuid.uuid4().hex

    allowed = [await hub.allow_connection(address, 30, 60) for _ in range(15)]  # its local share

    assert all(allowed)
    assert not await hub._client.keys(f"liveshop:ws-rate:{address}:*")
    for task in hub._tasks:
        task.cancel()
    await hub._client.aclose()


async def test_a_client_spread_over_processes_is_refused_once_the_shared_count_passes_the_limit(settings):
    first, second = realtime_hub.Hub(settings.REDIS_URL), realtime_hub.Hub(settings.REDIS_URL)
    address = uuid.uuid4().hex

    on_first = [await first.allow_connection(address, 6, 60) for _ in range(4)]
    on_second = [await second.allow_connection(address, 6, 60) for _ in range(4)]

    # Three each on the house; the fourth in each process is counted in Redis with the three
    # before it: 4 (let in), then 8 (over 6: refused).
    assert on_first == [True] * 4 and on_second == [True, True, True, False]
    assert not await first.allow_connection(address, 6, 60)
    for hub in (first, second):
        for task in hub._tasks:
            task.cancel()
        await hub._client.aclose()


async def test_host_console_is_recognised_by_its_session_cookie(settings):
    """Through the whole websocket stack, as a browser connects: no user in the scope, only the
    session cookie of the host's login."""
    from django.test import Client

    event, _, host = await make_show()
    browser = Client()
    await database_sync_to_async(browser.force_login)(host)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie.encode())]

    console = WebsocketCommunicator(application, f"/ws/studio/events/{event.pk}/", headers=headers)
    console.scope["client"] = ("203.0.113.21", 1)
    connected, _ = await console.connect(timeout=TIMEOUT)
    stranger = WebsocketCommunicator(application, f"/ws/studio/events/{event.pk}/", headers=headers[:1])
    stranger.scope["client"] = ("203.0.113.22", 1)
    stranger_connected, _ = await stranger.connect(timeout=TIMEOUT)

    assert connected and not stranger_connected
    assert (await next_of_type(console, "studio_snapshot"))["event"]["id"] == event.pk
    await console.disconnect()
    await stranger.disconnect()
