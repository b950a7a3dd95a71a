"""The publish socket (going live from the browser, local mode), with a stand-in for ffmpeg: who
may publish, from which page, one tab per event, bounded buffers, ffmpeg's failures, and the
process ending with the socket. tests/ and test_golive_browser.py run the real ffmpeg."""

import asyncio
import json
import sys

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from broadcast import consumers, relay, services
from events.tests.factories import LiveEventFactory
from liveshop import crypto, processes
from liveshop.asgi import application
from liveshop.routing import websocket_urlpatterns
from tests.media import wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10
KEY = "sk_browser-test-key-123"
HOST = b"testserver"
SAME_ORIGIN = [(b"host", HOST), (b"origin", b"http://testserver")]


@database_sync_to_async
def make_show(**fields):
    event = LiveEventFactory(
        backend="local",
        channel_id="ch_browser",
        ingest_url="rtmp://127.0.0.1:1935/live/",
        stream_key_encrypted=crypto.encrypt(KEY),
        stream_key_digest=crypto.digest(KEY),
        **fields,
    )
    host = member(event.organization, role=Membership.Role.HOST)
    cache.delete(services._lease_key(event.pk))
    return event, host


@pytest.fixture
def commands(monkeypatch):
    """What the relay runs instead of ffmpeg (``commands["argv"]``); records the ingest URLs."""
    state = {
        "argv": [
            sys.executable,
            "-c",
            "import sys\nfor _ in iter(lambda: sys.stdin.buffer.read(65536), b''): pass",
        ]
    }
    state["urls"] = []
    state["kwargs"] = []

    def command(ingest_url, **kwargs):
        state["urls"].append(ingest_url)
        state["kwargs"].append(kwargs)
        return list(state["argv"])

    monkeypatch.setattr(relay, "relay_command", command)
    return state


async def connect(event, user, *, tab="tab-aaaaaaaa", headers=SAME_ORIGIN, app=None, query=""):
    path = f"/ws/studio/events/{event.pk}/publish/?tab={tab}{query}"
    communicator = WebsocketCommunicator(app or URLRouter(websocket_urlpatterns), path, headers=headers)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def refusal(communicator) -> tuple[dict, int]:
    """The error frame and the close code that follows it."""
    frame = json.loads(await communicator.receive_from(timeout=TIMEOUT))
    closed = await communicator.receive_output(timeout=TIMEOUT)
    assert closed["type"] == "websocket.close", closed
    return frame, closed["code"]


async def test_a_host_publishes_and_the_relay_gets_the_key_server_side_only(commands):
    event, host = await make_show()
    communicator, connected = await connect(event, host)

    assert connected
    assert json.loads(await communicator.receive_from(timeout=TIMEOUT)) == {
        "type": "publishing",
        "eventId": event.pk,
    }
    assert commands["urls"] == [f"rtmp://127.0.0.1:1935/live/{KEY}"]
    process = consumers._publishing[event.pk].relay
    await communicator.send_to(bytes_data=b"\x1a\x45\xdf\xa3" + b"0" * 1000)
    await communicator.send_to(text_data=json.dumps({"type": "stop"}))

    assert json.loads(await communicator.receive_from(timeout=TIMEOUT)) == {"type": "stopped"}
    assert (await communicator.receive_output(timeout=TIMEOUT))["code"] == 1000
    assert process.bytes_in == 1004
    assert process.process.returncode == 0  # its input ended: it exited by itself
    await communicator.disconnect()


async def test_a_page_recording_h264_gets_a_relay_that_copies_its_video(commands):
    """local.js asks for H.264 with the relay's keyframe interval where the browser can set it, and
    says so (video=h264): the relay passes it on without x264. Anything else is re-encoded."""
    event, host = await make_show()
    communicator, _ = await connect(event, host, query="&video=h264")
    await communicator.receive_from(timeout=TIMEOUT)
    await communicator.disconnect()
    other, _ = await connect(event, host, tab="tab-bbbbbbbb", query="&video=vp8")
    await other.receive_from(timeout=TIMEOUT)
    await other.disconnect()

    assert commands["kwargs"] == [{"copy_video": True}, {"copy_video": False}]


async def test_closing_the_socket_kills_its_ffmpeg(commands):
    commands["argv"] = ["sleep", "600"]
    event, host = await make_show()
    communicator, _ = await connect(event, host)
    await communicator.receive_from(timeout=TIMEOUT)
    pid = consumers._publishing[event.pk].relay.pid
    assert processes.is_alive(pid)

    await communicator.disconnect()

    await asyncio.to_thread(
        wait_for, lambda: not processes.is_alive(pid), timeout=10, what="the relay to die"
    )
    assert event.pk not in consumers._publishing
    assert await cache.aget(services._lease_key(event.pk)) is None  # the next tab may go live


async def test_a_second_tab_for_the_same_event_is_refused(commands):
    event, host = await make_show()
    first, _ = await connect(event, host, tab="tab-first-1")
    await first.receive_from(timeout=TIMEOUT)

    second, _ = await connect(event, host, tab="tab-second-2")
    frame, code = await refusal(second)

    assert code == 4409
    assert "already going live from another browser tab" in frame["error"]
    assert len(commands["urls"]) == 1  # no second ffmpeg
    # The first tab goes on; once it stops, another tab may start.
    await first.disconnect()
    third, _ = await connect(event, host, tab="tab-third-3")
    assert json.loads(await third.receive_from(timeout=TIMEOUT))["type"] == "publishing"
    await third.disconnect()


async def test_the_same_tab_reconnecting_replaces_its_lost_socket(commands):
    commands["argv"] = ["sleep", "600"]
    event, host = await make_show()
    lost, _ = await connect(event, host, tab="tab-same-1")
    await lost.receive_from(timeout=TIMEOUT)
    old_pid = consumers._publishing[event.pk].relay.pid

    again, _ = await connect(event, host, tab="tab-same-1")

    assert json.loads(await again.receive_from(timeout=TIMEOUT))["type"] == "publishing"
    assert (await lost.receive_output(timeout=TIMEOUT))["type"] == "websocket.close"
    await asyncio.to_thread(
        wait_for, lambda: not processes.is_alive(old_pid), timeout=10, what="the old relay"
    )
    await again.disconnect()


@pytest.mark.parametrize(
    ("who", "code", "words"),
    [
        ("moderator", 4403, "Only the brand's hosts and owners"),
        ("other brand's host", 4404, "No such event"),
        ("anonymous", 4404, "No such event"),
    ],
)
async def test_only_the_brands_hosts_may_publish(commands, who, code, words):
    event, _ = await make_show()
    if who == "moderator":
        user = await database_sync_to_async(member)(event.organization, role=Membership.Role.MODERATOR)
    elif who == "anonymous":
        user = AnonymousUser()
    else:
        other = await database_sync_to_async(OrganizationFactory)()
        user = await database_sync_to_async(member)(other, role=Membership.Role.HOST)

    communicator, _ = await connect(event, user)
    frame, closed = await refusal(communicator)

    assert closed == code and words in frame["error"]
    assert commands["urls"] == []


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"backend": "ivs"}, 4422, "Amazon IVS"),
        ({"status": "cancelled"}, 4400, "cancelled"),
        ({"channel_id": ""}, 4400, "no video channel"),
    ],
)
async def test_an_event_that_cannot_go_live_from_here_is_refused(commands, fields, code, words):
    event, host = await make_show()
    await database_sync_to_async(type(event).objects.filter(pk=event.pk).update)(**fields)

    communicator, _ = await connect(event, host)
    frame, closed = await refusal(communicator)

    assert closed == code and words in frame["error"]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", HOST), (b"origin", b"http://evil.example")],
        [(b"host", HOST), (b"origin", b"http://testserver.evil.example")],
        [(b"host", HOST)],  # no Origin
    ],
)
async def test_another_sites_page_cannot_open_the_socket(commands, headers):
    event, host = await make_show()

    _, connected = await connect(event, host, headers=headers)

    assert not connected
    assert commands["urls"] == []


async def test_the_project_application_refuses_a_foreign_origin_too(commands):
    event, host = await make_show()

    _, connected = await connect(
        event, host, headers=[(b"host", HOST), (b"origin", b"http://evil.example")], app=application
    )

    assert not connected


async def test_a_missing_ffmpeg_is_a_clear_error(commands):
    commands["argv"] = ["/nonexistent/ffmpeg", "-i", "pipe:0"]
    event, host = await make_show()

    communicator, _ = await connect(event, host)
    frame, code = await refusal(communicator)

    assert code == consumers.CLOSE_NO_FFMPEG
    assert "needs ffmpeg on the server, and it is not installed (apt-get install ffmpeg)" in frame["error"]
    assert await cache.aget(services._lease_key(event.pk)) is None


async def test_ffmpeg_failing_says_why_without_the_key(commands):
    script = f"import sys; sys.stderr.write('rtmp://127.0.0.1/live/{KEY}: I/O error\\n'); sys.exit(1)"
    commands["argv"] = [sys.executable, "-c", script]
    event, host = await make_show()

    communicator, _ = await connect(event, host)
    await communicator.receive_from(timeout=TIMEOUT)  # publishing
    frame, code = await refusal(communicator)

    assert code == consumers.CLOSE_RELAY_FAILED
    assert "ffmpeg exit code 1" in frame["error"] and "I/O error" in frame["error"]
    assert KEY not in frame["error"] and "****" in frame["error"]


async def test_a_relay_that_falls_behind_closes_with_a_clear_error_instead_of_growing(commands, monkeypatch):
    commands["argv"] = ["sleep", "600"]  # never reads its input
    monkeypatch.setattr(relay, "MAX_QUEUED_BYTES", 512 * 1024)
    event, host = await make_show()
    communicator, _ = await connect(event, host)
    await communicator.receive_from(timeout=TIMEOUT)
    consumer = consumers._publishing[event.pk]

    for _ in range(40):  # 2.5 MB: the pipe takes 64 KB, the queue 512 KB
        await communicator.send_to(bytes_data=b"x" * 64 * 1024)
    frame, code = await refusal(communicator)

    assert code == consumers.CLOSE_TOO_MUCH
    assert "The server fell behind" in frame["error"]
    assert consumer.relay.queued <= 512 * 1024
    await asyncio.to_thread(
        wait_for, lambda: not processes.is_alive(consumer.relay.pid), timeout=10, what="kill"
    )


async def test_a_chunk_larger_than_the_limit_is_refused(commands):
    event, host = await make_show()
    communicator, _ = await connect(event, host)
    await communicator.receive_from(timeout=TIMEOUT)

    await communicator.send_to(bytes_data=b"x" * (relay.MAX_CHUNK_BYTES + 1))
    frame, code = await refusal(communicator)

    assert code == consumers.CLOSE_TOO_MUCH and "larger than the server takes" in frame["error"]


async def test_a_tab_without_an_id_is_refused(commands):
    event, host = await make_show()

    communicator, _ = await connect(event, host, tab="x")
    frame, code = await refusal(communicator)

    assert code == 4400 and "Reload the page" in frame["error"]
