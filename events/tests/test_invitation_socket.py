"""The viewer socket of a private event follows the invitation rule (accounts.permissions.may_watch):
invited viewers connect; a removed invitation or a withdrawn link refuses the next connect."""

import asyncio
from datetime import timedelta

import pytest
import redis.asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import UserFactory, member
from events import invitations, realtime
from events.tests.factories import LiveNowEventFactory
from liveshop.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


@database_sync_to_async
def private_show_with_guests():
    event = LiveNowEventFactory(is_private=True)
    host = member(event.organization, role=Membership.Role.HOST)
    invited = UserFactory(email="ana@example.com", is_staff=False)
    by_link = UserFactory(email="li@example.com", is_staff=False)
    stranger = UserFactory(email="bob@example.com", is_staff=False)
    [invitation] = invitations.invite_emails(event=event, emails=[invited.email], by=host)
    link, _ = invitations.create_invite_link(
        event=event, by=host, expires_at=timezone.now() + timedelta(days=1), max_uses=5
    )
    invitations.accept_invite_link(link_id=link.pk, user=by_link)
    return event, host, invitation, link, invited, by_link, stranger


async def connect(event_id, user):
    communicator = WebsocketCommunicator(
        application, f"/ws/events/{event_id}/", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = ("203.0.113.20", 5000)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    await communicator.disconnect()
    return connected


async def test_invited_viewers_connect_and_strangers_are_refused():
    event, _, _, _, invited, by_link, stranger = await private_show_with_guests()

    assert await connect(event.pk, invited)
    assert await connect(event.pk, by_link)
    assert not await connect(event.pk, stranger)


async def test_a_removed_invitation_or_a_withdrawn_link_refuses_the_next_connect():
    event, host, invitation, link, invited, by_link, _ = await private_show_with_guests()

    await database_sync_to_async(invitations.remove_invitation)(invitation=invitation, by=host)
    await database_sync_to_async(invitations.revoke_invite_link)(link=link, by=host)

    assert not await connect(event.pk, invited)
    assert not await connect(event.pk, by_link)


async def subscribed(topic):
    """Wait until this process's hub listens to ``topic`` on Redis."""
    from django.conf import settings

    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    channel = realtime.channel_prefix(settings.REDIS_URL) + topic
    try:
        async with asyncio.timeout(TIMEOUT):
            while not (await client.pubsub_numsub(channel))[0][1]:
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def test_a_removed_viewers_open_socket_is_closed_at_once():
    event, host, invitation, _, invited, by_link, _ = await private_show_with_guests()
    sockets = {}
    for name, user in (("removed", invited), ("kept", by_link)):
        communicator = WebsocketCommunicator(
            application, f"/ws/events/{event.pk}/", headers=[(b"origin", b"http://localhost")]
        )
        communicator.scope["client"] = ("203.0.113.20", 5000)
        communicator.scope["user"] = user
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        assert '"type":"snapshot"' in await communicator.receive_from(timeout=TIMEOUT)
        sockets[name] = communicator
    await subscribed(realtime.event_group_name(event.pk))  # pub/sub keeps nothing for latecomers

    await database_sync_to_async(invitations.remove_invitation)(invitation=invitation, by=host)

    closed = await sockets["removed"].receive_output(timeout=TIMEOUT)
    while closed["type"] != "websocket.close":
        closed = await sockets["removed"].receive_output(timeout=TIMEOUT)
    assert closed["code"] == 4404
    kept = await sockets["kept"].receive_from(timeout=TIMEOUT)
    while '"type":"snapshot"' not in kept:
        kept = await sockets["kept"].receive_from(timeout=TIMEOUT)
    await sockets["kept"].disconnect()
