"""Reactions: taps counted in the process, one frame a second with this second's counts and the
show's totals, whatever the number of tapping viewers."""

import asyncio
import time

import pytest

from chat.reactions import TAPS_PER_SECOND
from chat.tests.test_socket import joined, show_with_people, unbatched
from events.tests.test_consumers import TIMEOUT

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def reactions_frames(socket, until_total: int, field: str = "heart") -> list[dict]:
    frames = []
    while not frames or frames[-1]["totals"].get(field, 0) < until_total:
        for frame in unbatched(await socket.receive_from(timeout=TIMEOUT)):
            if frame["type"] == "chat_reactions":
                frames.append(frame)
    return frames


async def test_many_taps_from_many_viewers_cost_one_frame_a_second():
    event, _, _, _ = await show_with_people()
    viewers = [await joined(event) for _ in range(4)]

    started = time.monotonic()
    for socket in viewers:
        for _ in range(5):
            await socket.send_to(text_data='{"type":"reaction","emoji":"heart"}')
        await socket.send_to(text_data='{"type":"reaction","emoji":"fire"}')
        await socket.send_to(text_data='{"type":"reaction","emoji":"<script>"}')  # not one of ours
    frames = await reactions_frames(viewers[0], until_total=20)

    assert sum(frame["counts"].get("heart", 0) for frame in frames) == 20
    assert frames[-1]["totals"] == {"heart": 20, "fire": 4}
    assert len(frames) <= 1 + (time.monotonic() - started)  # one a second, not one a tap
    assert all(set(frame["counts"]) <= {"heart", "fire"} for frame in frames)
    await asyncio.gather(*(socket.disconnect() for socket in viewers))


async def test_a_socket_counts_at_most_ten_taps_a_second():
    event, _, _, _ = await show_with_people()
    tapper = await joined(event)

    for _ in range(50):
        await tapper.send_to(text_data='{"type":"reaction","emoji":"clap"}')
    frames = await reactions_frames(tapper, until_total=1, field="clap")

    assert frames[0]["counts"]["clap"] <= 2 * TAPS_PER_SECOND  # the 50 may straddle a second
    await tapper.disconnect()
