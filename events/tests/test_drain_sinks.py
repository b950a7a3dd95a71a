"""The drain moves viewers' sockets, not the process's own hub members: a web process with no
viewer left stops at once on SIGTERM instead of waiting out LIVESHOP_DRAIN_SECONDS for chat's
RecentMessages (which used to be "asked to reconnect" and then dropped)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from chat.realtime import RecentMessages, chat_topic
from events.realtime.drain import move_sockets
from events.realtime.publishing import event_group_name


class Socket:
    def __init__(self):
        self.frames: list[str] = []
        self.dropped = False

    async def deliver(self, text: str) -> None:
        self.frames.append(text)

    async def resync(self, shared=None) -> None:
        pass

    async def drop(self) -> None:
        self.dropped = True


@pytest.mark.asyncio
async def test_a_process_whose_only_member_is_the_chat_room_drains_at_once():
    hub = SimpleNamespace(topics={})
    room = RecentMessages(hub, 7)
    hub.topics[chat_topic(7)] = {room: None}
    try:
        moved = await asyncio.wait_for(move_sockets(hub, 20.0, grace=5.0), timeout=3)
        assert moved == 0
        assert not room._forwarder.done()  # left alone, not dropped
    finally:
        room.close()


@pytest.mark.asyncio
async def test_viewers_sockets_beside_the_chat_room_are_asked_to_reconnect_and_closed():
    hub = SimpleNamespace(topics={})
    room = RecentMessages(hub, 7)
    viewers = [Socket(), Socket()]
    hub.topics[chat_topic(7)] = {room: None}
    hub.topics[event_group_name(7)] = dict.fromkeys(viewers)
    try:
        moved = await asyncio.wait_for(move_sockets(hub, 0.2, grace=0.1), timeout=5)
        assert moved == 2
        for viewer in viewers:
            assert viewer.dropped
            assert len(viewer.frames) == 1 and viewer.frames[0].startswith('{"type":"reconnect"')
    finally:
        room.close()
