"""The card goes first: a chat batch (a background delivery) being written to thousands of sockets
gives way at its next yield to any other delivery, which then reaches every socket before the
batch goes on (bench/chat.py --runs card measures it at 5,000 viewers)."""

import asyncio

import pytest

from events.realtime import hub as realtime_hub
from events.realtime.uvicorn_fast_path import text_frame

pytestmark = pytest.mark.asyncio

CHAT, CARD, STATE = (text_frame(text) for text in ("chat batch", "card", "state"))


class FastSocket:
    """A socket on the uvicorn fast path: each frame written goes into the shared ``log``."""

    def __init__(self, log: list):
        self.log = log

    def write_frame(self, frame: bytes) -> bool:
        self.log.append(frame)
        return True

    async def deliver(self, text: str) -> None:
        raise AssertionError("fast-path sockets are written directly")

    async def drop(self) -> None:
        pass


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(realtime_hub, "YIELD_EVERY", 10)
    monkeypatch.setattr(realtime_hub, "BACKGROUND_YIELD_EVERY", 10)
    return realtime_hub.Hub("")


async def sockets(hub, count: int) -> list:
    log: list[bytes] = []
    for _ in range(count):
        await hub.join("event-1", FastSocket(log))
    return log


async def test_a_card_reaches_every_socket_before_the_rest_of_a_chat_batch(hub):
    log = await sockets(hub, 100)

    batch = asyncio.create_task(hub.deliver("event-1", "chat batch", background=True))
    await asyncio.sleep(0)  # the batch has written its first stretch and yielded
    card = await hub.deliver("event-1", "card")
    await batch

    assert card == 100 and batch.result() == 100
    assert log == [CHAT] * 10 + [CARD] * 100 + [CHAT] * 90


async def test_a_batch_due_while_a_card_is_on_its_way_writes_nothing_until_the_card_is_done(hub):
    """The forwarder's window may end in the middle of a card: the batch starts after it."""
    log = await sockets(hub, 30)

    card = asyncio.create_task(hub.deliver("event-1", "card"))
    await asyncio.sleep(0)  # the card has written its first stretch and yielded
    batch = asyncio.create_task(hub.deliver("event-1", "chat batch", background=True))
    await asyncio.gather(card, batch)

    assert log == [CARD] * 30 + [CHAT] * 30


async def test_two_deliveries_that_go_first_still_share_the_loop(hub):
    """Only background deliveries wait: the card and a stream state interleave as before."""
    log = await sockets(hub, 30)

    await asyncio.gather(hub.deliver("event-1", "card"), hub.deliver("event-1", "state"))

    assert log[:20] == [CARD] * 10 + [STATE] * 10 and sorted(log) == sorted([CARD] * 30 + [STATE] * 30)


async def test_a_batch_waits_for_every_delivery_that_started_while_it_waited(hub):
    log = await sockets(hub, 40)

    batch = asyncio.create_task(hub.deliver("event-1", "chat batch", background=True))
    await asyncio.sleep(0)
    first = asyncio.create_task(hub.deliver("event-1", "card"))
    await asyncio.sleep(0)  # the card's first stretch, then the batch checks and waits
    second = asyncio.create_task(hub.deliver("event-1", "state"))
    await asyncio.gather(batch, first, second)

    # Once the card began, no chat write until the card and the state reached every socket.
    others = [i for i, frame in enumerate(log) if frame != CHAT]
    assert len(others) == 80 and others == list(range(others[0], others[0] + 80))
    assert log.count(CHAT) == 40 and others[0] > 0
