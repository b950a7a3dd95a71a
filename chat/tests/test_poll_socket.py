"""Polls on the viewer socket, through the per-process hub and real Redis pub/sub: every page
hears a poll open and its aggregated results; a page joining later gets the poll as it is."""

import json

import pytest
from channels.db import database_sync_to_async

from accounts.models import Membership
from accounts.tests.factories import member
from chat import polls
from chat.tests.conftest import make_viewer
from chat.tests.test_socket import joined, next_of_type
from events.tests.factories import LiveEventFactory
from events.tests.test_consumers import TIMEOUT

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def show_with_host():
    event = LiveEventFactory()
    return event, member(event.organization, role=Membership.Role.HOST)


@database_sync_to_async
def open_and_vote(event, host, votes):
    poll = polls.open_poll(
        event=event, by=host, question="Rose or plum?", options=["Rose", "Plum"], duration_seconds=60
    )
    for option in votes:
        polls.vote(poll=poll, user=make_viewer(), option=option)
    return poll


async def test_every_page_hears_the_poll_and_one_results_frame_for_many_votes(monkeypatch):
    monkeypatch.setattr(polls, "RESULTS_INTERVAL", 1.0)
    event, host = await show_with_host()
    pages = [await joined(event), await joined(event)]

    poll = await open_and_vote(event, host, [0, 1, 1, 1])

    for page in pages:
        opened = await next_of_type(page, "poll_opened")
        assert (opened["pollId"], opened["question"], opened["options"]) == (
            poll.pk,
            "Rose or plum?",
            ["Rose", "Plum"],
        )
        frames = [await next_of_type(page, "poll_results")]
        while frames[-1]["counts"] != [1, 3]:  # a slow machine may spread the votes over two seconds
            frames.append(await next_of_type(page, "poll_results"))
        assert len(frames) < 4 and frames[-1]["total"] == 4  # aggregated: never one frame per vote

    late = await joined(event)
    state = json.loads(await late.receive_from(timeout=TIMEOUT))
    assert state["type"] == "poll_state"
    assert (state["poll"]["pollId"], state["poll"]["counts"]) == (poll.pk, [1, 3])
    for page in [*pages, late]:
        await page.disconnect()
