"""Chat over the event's viewer socket, through the per-process hub and real Redis pub/sub."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async

from accounts.models import Membership
from accounts.tests.factories import member
from chat import services
from chat.models import ChatMessage
from chat.tests.conftest import make_viewer
from events.tests.factories import LiveEventFactory
from events.tests.test_consumers import TIMEOUT, connect

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def show_with_people():
    event = LiveEventFactory()
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    return event, make_viewer("Ada"), make_viewer("Grace"), moderator


async def joined(event, user=None):
    """A socket past its snapshot (and the chat's history, when there is one)."""
    socket, connected = await connect(event.pk, user=user)
    assert connected
    assert json.loads(await socket.receive_from(timeout=TIMEOUT))["type"] == "snapshot"
    return socket


def unbatched(text: str) -> list[dict]:
    """A frame as the page handles it: a chat_batch is the frames inside it."""
    frame = json.loads(text)
    return frame["frames"] if frame["type"] == "chat_batch" else [frame]


async def next_of_type(socket, message_type: str) -> dict:
    """The next frame of ``message_type`` (inside a chat_batch too); frames before it are skipped."""
    queued = socket.__dict__.setdefault("chat_frames", [])
    while True:
        while queued:
            frame = queued.pop(0)
            if frame["type"] == message_type:
                return frame
        queued.extend(unbatched(await socket.receive_from(timeout=TIMEOUT)))


async def send(socket, frame):
    await socket.send_to(text_data=json.dumps(frame))


async def test_a_signed_in_viewer_posts_and_every_viewer_sees_it_as_text():
    event, ada, _, _ = await show_with_people()
    poster, watcher = await joined(event, ada), await joined(event)

    await send(poster, {"type": "chat_post", "body": "  <img src=x onerror=alert(1)> love it\u200b\u200b "})

    sent = await next_of_type(poster, "chat_sent")
    seen = await next_of_type(watcher, "chat_message")
    assert seen["id"] == sent["id"]
    assert seen["body"] == "<img src=x onerror=alert(1)> love it"  # text: the page never parses it
    assert seen["author"] == {"name": "Ada", "role": None}
    assert set(seen) == {"type", "id", "body", "author", "sentAt", "offsetMs"}  # no user id or e-mail
    await poster.disconnect()
    await watcher.disconnect()


async def test_anonymous_viewers_read_and_are_told_to_sign_in_to_post():
    event, _, _, _ = await show_with_people()
    anonymous = await joined(event)

    await send(anonymous, {"type": "chat_post", "body": "hello"})

    error = await next_of_type(anonymous, "chat_error")
    assert error["reason"] == "sign_in" and error["message"] == "Sign in to chat."
    assert not await database_sync_to_async(ChatMessage.objects.exists)()
    await anonymous.disconnect()


@database_sync_to_async
def history_of(event, count, hidden):
    users = [make_viewer(f"viewer {n}") for n in range(count)]
    messages = [
        services.post_message(event=event, user=user, body=f"message {n}") for n, user in enumerate(users)
    ]
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    for message in messages[-hidden:]:
        services.hide_message(message=message, by=moderator)
    return messages


async def test_a_late_joiner_gets_the_newest_50_visible_messages_right_after_the_snapshot():
    event, _, _, _ = await show_with_people()
    messages = await history_of(event, 53, hidden=1)

    late = await joined(event)
    history = json.loads(await late.receive_from(timeout=TIMEOUT))

    assert history["type"] == "chat_history"
    assert [m["id"] for m in history["messages"]] == [m.pk for m in messages[2:52]]
    await late.disconnect()


async def test_a_moderator_hides_a_message_and_every_page_hears_it_within_a_second():
    event, ada, _, moderator = await show_with_people()
    poster, watcher, staff = await joined(event, ada), await joined(event), await joined(event, moderator)
    await send(poster, {"type": "chat_post", "body": "spam spam"})
    message = await next_of_type(watcher, "chat_message")

    started = time.monotonic()
    await send(staff, {"type": "chat_hide", "id": message["id"]})

    for socket in (watcher, poster):
        assert (await next_of_type(socket, "chat_hidden"))["id"] == message["id"]
    assert time.monotonic() - started < 1.0
    for socket in (poster, watcher, staff):
        await socket.disconnect()


async def test_a_timed_out_viewer_is_refused_on_every_socket_and_viewers_cannot_moderate():
    event, ada, grace, moderator = await show_with_people()
    first_tab, second_tab, staff = (
        await joined(event, ada),
        await joined(event, ada),
        await joined(event, moderator),
    )
    bystander = await joined(event, grace)
    await send(first_tab, {"type": "chat_post", "body": "hi"})
    message = await next_of_type(staff, "chat_message")

    await send(bystander, {"type": "chat_timeout", "id": message["id"], "minutes": 5})
    assert (await next_of_type(bystander, "chat_error"))["reason"] == "forbidden"
    await send(staff, {"type": "chat_timeout", "id": message["id"], "minutes": 5})
    assert (await next_of_type(staff, "chat_moderated"))["action"] == "timeout"

    await send(second_tab, {"type": "chat_post", "body": "still here?"})
    error = await next_of_type(second_tab, "chat_error")
    assert error["reason"] == "timed_out" and 290 < error["retryAfter"] <= 300
    for socket in (first_tab, second_tab, staff, bystander):
        await socket.disconnect()


async def test_a_flood_from_one_socket_is_refused_and_others_still_chat():
    event, ada, grace, _ = await show_with_people()
    flooder, other = await joined(event, ada), await joined(event, grace)

    for n in range(15):
        await send(flooder, {"type": "chat_post", "body": f"flood {n}"})
    reasons = []
    while len(reasons) < 15:
        frame = json.loads(await flooder.receive_from(timeout=TIMEOUT))
        if frame["type"] in ("chat_sent", "chat_error"):
            reasons.append(frame.get("reason", "sent"))
    await send(other, {"type": "chat_post", "body": "meanwhile"})

    assert reasons == ["sent"] * 5 + ["rate_limited"] * 10
    assert (await next_of_type(other, "chat_sent"))["id"]
    assert await database_sync_to_async(ChatMessage.objects.count)() == 6
    await asyncio.gather(flooder.disconnect(), other.disconnect())


async def test_a_moderator_sets_slow_mode_every_page_hears_it_and_it_holds_viewers_back():
    event, ada, _, moderator = await show_with_people()
    viewer, staff = await joined(event, ada), await joined(event, moderator)

    await send(viewer, {"type": "chat_slow_mode", "seconds": 30})
    assert (await next_of_type(viewer, "chat_error"))["reason"] == "forbidden"
    await send(staff, {"type": "chat_slow_mode", "seconds": 30})

    assert (await next_of_type(viewer, "chat_settings"))["slowModeSeconds"] == 30
    assert (await next_of_type(staff, "chat_moderated"))["seconds"] == 30
    await send(viewer, {"type": "chat_post", "body": "one"})
    await next_of_type(viewer, "chat_sent")
    await send(viewer, {"type": "chat_post", "body": "two"})
    assert (await next_of_type(viewer, "chat_error"))["reason"] == "slow_mode"
    await asyncio.gather(viewer.disconnect(), staff.disconnect())


async def test_a_failure_behind_a_chat_frame_is_answered_and_the_socket_stays(monkeypatch):
    from chat import handlers

    event, ada, _, _ = await show_with_people()
    socket = await joined(event, ada)

    def broken(*args):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(handlers, "handle", broken)
    await send(socket, {"type": "chat_post", "body": "hello?"})

    assert (await next_of_type(socket, "chat_error"))["reason"] == "unavailable"
    await send(socket, {"type": "reaction", "emoji": "heart"})  # still open: taps still count
    assert (await next_of_type(socket, "chat_reactions"))["counts"] == {"heart": 1}
    await socket.disconnect()


async def test_a_ban_closes_the_banned_persons_open_sockets_at_once(monkeypatch):
    from chat import handlers
    from chat.realtime import person_tag

    event, ada, grace, moderator = await show_with_people()
    posted_tab, quiet_tab = await joined(event, ada), await joined(event, ada)
    staff, bystander = await joined(event, moderator), await joined(event, grace)
    await send(quiet_tab, {"type": "chat_hello", "tag": person_tag(ada.pk)})  # a tab that never posted
    await send(posted_tab, {"type": "chat_post", "body": "buy my stuff elsewhere"})
    message = await next_of_type(staff, "chat_message")

    await send(staff, {"type": "chat_ban", "id": message["id"]})

    started = time.monotonic()
    for tab in (posted_tab, quiet_tab):
        removed = await next_of_type(tab, "chat_removed")
        assert removed["reason"] == "banned" and "removed from chat" in removed["message"]
    assert time.monotonic() - started < 1.0
    calls = []
    real_handle = handlers.handle
    monkeypatch.setattr(handlers, "handle", lambda *args: calls.append(args) or real_handle(*args))
    await send(quiet_tab, {"type": "chat_post", "body": "and now?"})
    assert (await next_of_type(quiet_tab, "chat_error"))["reason"] == "banned"
    assert calls == []  # refused on the socket: no database check to race the ban's commit
    await send(bystander, {"type": "chat_post", "body": "still chatting"})
    assert (await next_of_type(bystander, "chat_sent"))["id"]
    assert "chat_removed" not in [f["type"] for f in bystander.__dict__.get("chat_frames", [])]

    await database_sync_to_async(services.lift_restrictions)(
        organization=event.organization, user=ada, by=moderator
    )
    await next_of_type(quiet_tab, "chat_restored")
    await send(quiet_tab, {"type": "chat_post", "body": "sorry"})
    assert (await next_of_type(quiet_tab, "chat_sent"))["id"]
    for socket in (posted_tab, quiet_tab, staff, bystander):
        await socket.disconnect()


async def test_a_time_out_reaches_the_persons_sockets_with_the_time_left():
    from chat.realtime import person_tag

    event, ada, _, moderator = await show_with_people()
    tab, staff = await joined(event, ada), await joined(event, moderator)
    await send(tab, {"type": "chat_hello", "tag": person_tag(ada.pk)})
    await send(tab, {"type": "chat_post", "body": "hi"})
    message = await next_of_type(staff, "chat_message")

    await send(staff, {"type": "chat_timeout", "id": message["id"], "minutes": 5})

    removed = await next_of_type(tab, "chat_removed")
    assert removed["reason"] == "timed_out" and 290 < removed["retryAfter"] <= 300
    await send(tab, {"type": "chat_post", "body": "hello?"})
    assert (await next_of_type(tab, "chat_error"))["reason"] == "timed_out"
    await asyncio.gather(tab.disconnect(), staff.disconnect())
