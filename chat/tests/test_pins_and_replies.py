"""Replies (quoted) and the pinned announcement: a reply quotes the start of the message it
answers (removed once that one is hidden); the brand's people pin one message for every page,
a joining page gets it after the snapshot, hiding or unpinning takes it down; all logged."""

import json

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from accounts.tests.factories import member
from chat import selectors, services
from chat.exceptions import MessageRefused, ModerationRefused
from chat.models import ChatMessage, ModerationAction
from chat.tests.conftest import make_viewer
from chat.tests.test_socket import joined, next_of_type, send
from events.tests.factories import LiveEventFactory
from events.tests.test_consumers import TIMEOUT


@pytest.mark.django_db
def test_a_reply_quotes_the_message_it_answers_until_that_one_is_hidden(
    event, viewer, moderator, chat_frames
):
    question = services.post_message(event=event, user=viewer, body="Does it come in green? " + "x" * 100)
    answer = services.post_message(event=event, user=moderator, body="Yes!", reply_to=question.pk)
    [latest] = [m for m in selectors.recent_messages(event.pk) if m["id"] == answer.pk]
    assert latest["replyTo"] == {
        "id": question.pk,
        "name": "Ada",
        "body": ("Does it come in green? " + "x" * 100)[:80],
        "removed": False,
    }
    services.hide_message(message=question, by=moderator)
    [latest] = selectors.recent_messages(event.pk)
    assert latest["replyTo"] == {"id": question.pk, "name": "", "body": "", "removed": True}


@pytest.mark.django_db
def test_a_reply_to_a_message_not_in_this_chat_is_refused(event, viewer, other_brand):
    other = LiveEventFactory(organization=other_brand)
    elsewhere = ChatMessage.objects.create(event=other, author=viewer, author_name="Ada", body="hi")
    for reply_to in (elsewhere.pk, 10**9, "1", True):
        with pytest.raises(MessageRefused) as caught:
            services.post_message(event=event, user=viewer, body="hey", reply_to=reply_to)
        assert caught.value.reason == "not_found"
    assert ChatMessage.objects.filter(event=event).count() == 0


@pytest.mark.django_db
def test_pinning_is_for_the_brands_people_and_logged(event, viewer, moderator, chat_frames):
    message = services.post_message(event=event, user=viewer, body="Free shipping today?")
    with pytest.raises(PermissionDenied):
        services.pin_message(message=message, by=make_viewer("Eve"))
    room = services.pin_message(message=message, by=moderator)
    assert room.pinned == message and selectors.pinned_message(event.pk)["id"] == message.pk
    services.unpin(event=event, by=moderator)
    assert selectors.pinned_message(event.pk) is None
    services.hide_message(message=message, by=moderator)
    with pytest.raises(ModerationRefused):
        services.pin_message(message=message, by=moderator)
    kinds = set(ModerationAction.objects.values_list("kind", flat=True))
    assert {"pin", "unpin", "hide"} <= kinds


@database_sync_to_async
def show_with_people():
    event = LiveEventFactory()
    return event, make_viewer("Ada"), member(event.organization, role=Membership.Role.MODERATOR)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_pin_reaches_every_page_a_joiner_gets_it_and_hiding_takes_it_down():
    event, ada, moderator = await show_with_people()
    poster, staff = await joined(event, ada), await joined(event, moderator)
    await send(poster, {"type": "chat_post", "body": "Shipping is free today!"})
    message = await next_of_type(staff, "chat_message")
    await send(poster, {"type": "chat_post", "body": "Great", "replyTo": message["id"]})
    reply = await next_of_type(staff, "chat_message")
    assert reply["replyTo"]["body"] == "Shipping is free today!"

    await send(staff, {"type": "chat_pin", "id": message["id"]})
    for page in (poster, staff):
        assert (await next_of_type(page, "chat_pinned"))["message"]["id"] == message["id"]
    late = await joined(event)
    frames = [json.loads(await late.receive_from(timeout=TIMEOUT)) for _ in range(2)]
    assert [f["type"] for f in frames] == ["chat_history", "chat_pinned"]

    await send(staff, {"type": "chat_hide", "id": message["id"]})
    assert (await next_of_type(late, "chat_pinned"))["message"] is None
    await send(poster, {"type": "chat_unpin"})
    assert (await next_of_type(poster, "chat_error"))["reason"] == "forbidden"
    for page in (poster, staff, late):
        await page.disconnect()
