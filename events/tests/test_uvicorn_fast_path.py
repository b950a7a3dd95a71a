"""The hub's fast path under a real uvicorn (``--ws websockets-sansio`` as docker/start-web runs
it, and the legacy ``websockets``):
one pre-built frame written to each socket's transport. Real websocket clients check the bytes
on the wire: every size class of RFC 6455 length (7-bit, 16-bit, 64-bit), multi-byte text, and a
client that stops reading is served through the ASGI send without holding up anyone else."""

import asyncio
import socket
import time
import uuid

import pytest
import pytest_asyncio
import uvicorn
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect

from events import realtime
from events.consumers import HubConsumer
from events.realtime import hub as realtime_hub
from events.realtime.uvicorn_fast_path import _server_protocol
from events.tests.factories import LiveEventFactory
from liveshop.asgi import application
from tests.media import free_port

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


@pytest.fixture(autouse=True)
def no_viewer_counts(monkeypatch):
    """No viewer_count frames in between: the test follows each message through the hub."""
    monkeypatch.setattr(realtime_hub, "COUNT_INTERVAL", 3600)


@pytest_asyncio.fixture(params=["websockets", "websockets-sansio"])
async def server(request):
    """uvicorn in this event loop (so the test can look at the hub), on a free port, with each
    of the websockets implementations the fast path knows."""
    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, ws=request.param, lifespan="off", log_level="warning"
    )
    instance = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(instance.serve())
    async with asyncio.timeout(TIMEOUT):
        while not instance.started:
            await asyncio.sleep(0.02)
    yield port
    instance.should_exit = True
    await asyncio.wait_for(task, TIMEOUT)


@pytest_asyncio.fixture
async def event():
    # A random id: Redis pub/sub is shared by every test run on the server.
    return await database_sync_to_async(LiveEventFactory)(id=10**9 + uuid.uuid4().int % 10**9)


async def open_viewer(port, event_id):
    viewer = await connect(
        f"ws://127.0.0.1:{port}/ws/events/{event_id}/", origin="http://localhost", max_size=2**22
    )
    assert '"type":"snapshot"' in await asyncio.wait_for(viewer.recv(), TIMEOUT)
    return viewer


async def fast_sinks(topic, count):
    """The topic's sockets once ``count`` of them take frames straight to the transport."""
    hub = realtime_hub.get_hub()
    async with asyncio.timeout(TIMEOUT):
        while len([s for s in hub.topics.get(topic, ()) if s.write_frame is not None]) < count:
            await asyncio.sleep(0.02)
    return list(hub.topics[topic])


async def publish(event_id, payload):
    await asyncio.to_thread(realtime.broadcast_to_event, event_id, "product.featured", payload)
    return realtime.encode("product.featured", payload)


async def next_featured(viewer):
    return await asyncio.wait_for(viewer.recv(), TIMEOUT)


@pytest.fixture
def asgi_sends(monkeypatch):
    """Texts that went through a consumer's ASGI send rather than the fast path."""
    sent = []
    original = HubConsumer.deliver

    async def deliver(self, text):
        sent.append(text)
        await original(self, text)

    monkeypatch.setattr(HubConsumer, "deliver", deliver)
    return sent


async def test_one_broadcast_reaches_every_client_as_correct_frames(server, event, asgi_sends):
    viewers = [await open_viewer(server, event.pk) for _ in range(5)]
    await fast_sinks(realtime.event_group_name(event.pk), 5)

    # 7-bit, 16-bit (126..65535) and 64-bit (> 65535 bytes) lengths; the length counts bytes of
    # UTF-8, not characters ("é" and "☕" take 2 and 3).
    for size in (10, 124, 126, 5_000, 65_535, 70_000, 300_000):
        payload = {"n": size, "text": ("Crème brûlée ☕ " * (size // 10 + 1))[:size]}
        expected = await publish(event.pk, payload)
        for viewer in viewers:
            assert await next_featured(viewer) == expected

    assert asgi_sends == []  # all by the fast path
    for viewer in viewers:
        await viewer.close()


async def test_a_client_that_stops_reading_holds_up_nobody(server, event, asgi_sends, monkeypatch):
    monkeypatch.setattr(realtime_hub, "SEND_DEADLINE", 3.0)
    topic = realtime.event_group_name(event.pk)
    # The stalled client connects first, so it comes first in the hub's delivery order.
    stalled = socket.create_connection(("127.0.0.1", server))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(
        f"GET /ws/events/{event.pk}/ HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n".encode()
    )
    await fast_sinks(topic, 1)
    viewers = [await open_viewer(server, event.pk) for _ in range(3)]
    sinks = await fast_sinks(topic, 4)
    # Small kernel buffers on the server's side of the stalled socket, so the backlog builds in
    # the transport (where the fast path sees it) after tens of kilobytes, not megabytes.
    port = stalled.getsockname()[1]
    (slow,) = [s for s in sinks if s.scope["client"][1] == port]
    raw = _server_protocol(slow.base_send).transport.get_extra_info("socket")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    try:
        # Fills the stalled client's buffers: the fast path writes it (it is not backlogged yet).
        first = await publish(event.pk, {"n": 1, "text": "x" * 200_000})
        for viewer in viewers:
            assert await next_featured(viewer) == first
        assert realtime_hub.get_hub().topics[topic][slow] is None  # still there
        assert asgi_sends == []

        # Backlogged now: it waits for its ASGI send (and is dropped at the deadline), the
        # others get the frame at once.
        started = time.monotonic()
        second = await publish(event.pk, {"n": 2})
        for viewer in viewers:
            assert await next_featured(viewer) == second
        took = time.monotonic() - started
        assert took < 1.5, f"the others waited {took:.2f} s for the stalled client"
        assert asgi_sends == [second]

        async with asyncio.timeout(TIMEOUT):
            while slow in realtime_hub.get_hub().topics.get(topic, ()):
                await asyncio.sleep(0.05)
        third = await publish(event.pk, {"n": 3})
        for viewer in viewers:
            assert await next_featured(viewer) == third
        assert asgi_sends == [second]  # the others stayed on the fast path
    finally:
        stalled.close()
        for viewer in viewers:
            await viewer.close()
