"""Each process's RecentMessages: the newest 50 for joining sockets, every frame handed on to the
event's sockets in order, and read again when frames may have been missed."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from chat import realtime, services
from chat.tests.conftest import make_viewer
from chat.tests.test_socket import joined, next_of_type, show_with_people, unbatched
from events.realtime import RESYNC, encode, publish

pytestmark = pytest.mark.django_db(transaction=True)


class Hub:
    """The hub as RecentMessages sees it: what it hands on to the event's sockets."""

    def __init__(self):
        self.writes = 0  # what each socket would be written: batches count once
        self.delivered = []
        self.got = asyncio.Event()

    async def deliver(self, topic, text, *, background=False):
        assert background  # the chat's batches give way to the card (events.realtime.hub)
        self.writes += 1
        self.delivered += [(topic, frame["type"]) for frame in unbatched(text)]
        self.got.set()


def message(n):
    return encode("chat.message", {"id": n, "body": f"m{n}", "author": {"name": "A", "role": None}})


@pytest.mark.asyncio
async def test_the_newest_50_are_kept_whatever_order_they_arrive_in_and_hidden_ones_go():
    hub = Hub()
    room = realtime.RecentMessages(hub, event_id=10**9)
    await room.history()  # read (an empty chat) from the database

    for n in [*range(60, 0, -1), 61]:
        await room.deliver(message(n))
    await room.deliver(encode("chat.hidden", {"id": 61}))
    await room.deliver(encode("heartbeat", {"feed": "ok"}))
    history = json.loads(await room.history())

    # 61 pushed 11 out; hiding 61 leaves 49 until the next read (the database would say 11-60).
    assert [m["id"] for m in history["messages"]] == list(range(12, 61))
    while len(hub.delivered) < 62:
        hub.got.clear()
        await asyncio.wait_for(hub.got.wait(), 5)
    assert hub.delivered[-1] == (f"event-{10**9}", "chat_hidden")  # in the order they came
    assert hub.writes < 10  # the first frame alone, the burst after it in a batch or two
    assert ("event-1000000000", "heartbeat") not in hub.delivered  # sockets get their own
    room.close()


class SlowHub:
    """A hub whose every delivery takes ``seconds`` (5,000 sockets on a busy core), noting when
    each began and ended on the loop's clock."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.spans = []

    async def deliver(self, topic, text, *, background=False):
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.sleep(self.seconds)
        self.spans.append((began, loop.time()))


@pytest.mark.asyncio
async def test_a_busy_chats_next_batch_waits_a_whole_window_after_the_last_delivery_ended(monkeypatch):
    """However long a delivery takes, the loop then has BATCH_WINDOW for the card and the rest."""
    monkeypatch.setattr(realtime, "BATCH_WINDOW", 0.2)
    hub = SlowHub(0.1)
    room = realtime.RecentMessages(hub, event_id=10**9)
    await room.history()

    await room.deliver(message(1))  # goes at once
    await asyncio.sleep(0)
    await room.deliver(message(2))  # arrives while the first is being delivered
    while len(hub.spans) < 2:
        await asyncio.sleep(0.05)

    (_, first_ended), (second_began, _) = hub.spans
    assert second_began - first_ended >= 0.2 - 0.001  # not 0.2 after the first began
    room.close()


@database_sync_to_async
def post_unheard(event):
    """A message whose broadcast Redis did not take (the publisher resyncs the topic later)."""
    original = realtime.publish
    realtime.publish = lambda topic, text: None
    try:
        return services.post_message(event=event, user=make_viewer("Lin"), body="while Redis was away")
    finally:
        realtime.publish = original


@pytest.mark.asyncio
async def test_a_resync_of_the_chat_topic_gives_every_viewer_the_messages_it_missed():
    event, _, _, _ = await show_with_people()
    viewer = await joined(event)
    missed = await post_unheard(event)

    await database_sync_to_async(publish)(realtime.chat_topic(event.pk), RESYNC)

    await next_of_type(viewer, "snapshot")
    history = json.loads(await viewer.receive_from(timeout=10))
    assert history["type"] == "chat_history"
    assert [m["id"] for m in history["messages"]] == [missed.pk]
    await viewer.disconnect()


def test_frames_close_together_go_as_one_batch_and_a_resync_alone():
    a, b, c = message(1), message(2), encode("chat.hidden", {"id": 1})

    assert realtime.batches([a]) == [a]
    assert realtime.batches([a, b, RESYNC, c]) == [
        '{"type":"chat_batch","frames":[' + a + "," + b + "]}",
        RESYNC,
        c,
    ]
    assert [frame["id"] for frame in unbatched(realtime.batches([a, b, c])[0])] == [1, 2, 1]
