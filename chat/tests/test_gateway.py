"""The chat gateway: IVSChatBackend against botocore's Stubber (exact requests, real response
shapes, error mapping, limits checked before any call, no token in a log), the backend chosen by
CHAT_BACKEND, and the rooms' services with the fake (tokens with capabilities by role; a ban
disconnects from the room after commit)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from django.urls import reverse

from chat import rooms, services
from chat.gateway import ChatBackendError, InvalidRequest, RoomNotFound, Throttled, get_chat_backend
from chat.gateway.ivs import IVSChatBackend
from chat.gateway.local import LocalChatBackend
from chat.models import ChatMessage, ChatRoom
from chat.tests.conftest import make_viewer

ROOM = "arn:aws:ivschat:us-west-2:123456789012:room/g1H2I3J4k5L6"
SESSION = boto3.session.Session()


@pytest.fixture
def ivschat():
    return SESSION.client(
        "ivschat", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stubber(ivschat):
    with Stubber(ivschat) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def backend(ivschat, stubber, settings):
    settings.IVS_CHAT_REVIEW_HANDLER_ARN = (
        "arn:aws:lambda:us-west-2:123456789012:function:liveshop-chat-review"
    )
    settings.IVS_CHAT_LOGGING_CONFIGURATION_ARN = ""
    return IVSChatBackend(client=ivschat)


def test_a_room_is_made_with_our_limits_and_the_review_handler(backend, stubber):
    stubber.add_response(
        "create_room",
        {"arn": ROOM, "id": "g1H2I3J4k5L6", "name": "liveshop-event-7"},
        {
            "name": "liveshop-event-7",
            "maximumMessageLength": 500,
            "maximumMessageRatePerSecond": 100,
            "tags": {"liveshop": "chat"},
            "messageReviewHandler": {
                "uri": "arn:aws:lambda:us-west-2:123456789012:function:liveshop-chat-review",
                "fallbackResult": "DENY",
            },
        },
    )
    assert backend.create_room("liveshop-event-7").id == ROOM


def test_a_token_carries_the_capabilities_and_attributes_and_never_reaches_a_log(backend, stubber, caplog):
    when = datetime(2030, 1, 1, tzinfo=UTC)
    stubber.add_response(
        "create_chat_token",
        {"token": "secret-token-abc", "tokenExpirationTime": when, "sessionExpirationTime": when},
        {
            "roomIdentifier": ROOM,
            "userId": "42",
            "capabilities": ["DELETE_MESSAGE", "SEND_MESSAGE"],
            "sessionDurationInMinutes": 60,
            "attributes": {"name": "Ada", "role": "moderator"},
        },
    )
    with caplog.at_level(logging.DEBUG):
        token = backend.create_token(
            ROOM,
            "42",
            capabilities=frozenset({"SEND_MESSAGE", "DELETE_MESSAGE"}),
            attributes={"name": "Ada", "role": "moderator"},
            minutes=60,
        )
    assert token.token == "secret-token-abc" and token.token_expires_at.startswith("2030-01-01")
    assert "secret-token-abc" not in caplog.text


def test_events_deletions_and_disconnections_are_exact_requests(backend, stubber):
    stubber.add_response(
        "send_event",
        {"id": "abcdefABCDEF"},
        {"roomIdentifier": ROOM, "eventName": "poll_opened", "attributes": {"pollId": "3"}},
    )
    stubber.add_response(
        "delete_message",
        {"id": "abcdefABCDEF"},
        {"roomIdentifier": ROOM, "id": "abcdefABCDEF", "reason": "Spam"},
    )
    stubber.add_response("disconnect_user", {}, {"roomIdentifier": ROOM, "userId": "42", "reason": "Banned"})
    backend.send_event(ROOM, "poll_opened", {"pollId": "3"})
    backend.delete_message(ROOM, "abcdefABCDEF", "Spam")
    backend.disconnect_user(ROOM, "42", "Banned")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 429, Throttled),
        ("ResourceNotFoundException", 404, RoomNotFound),
        ("AccessDeniedException", 403, ChatBackendError),
    ],
)
def test_service_errors_become_gateway_errors(backend, stubber, code, status, error, caplog):
    stubber.add_client_error("disconnect_user", service_error_code=code, http_status_code=status)
    with pytest.raises(error) as caught:
        backend.disconnect_user(ROOM, "42", "Banned")
    assert code in str(caught.value)
    assert caplog.records[-1].ivschat_error_code == code


def test_deleting_a_room_that_is_gone_is_not_an_error(backend, stubber):
    stubber.add_client_error(
        "delete_room", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    backend.delete_room(ROOM)


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.send_event(ROOM, "x" * 101, {}),
        lambda b: b.send_event(ROOM, "big", {"k": "v" * 1100}),
        lambda b: b.send_event("not-an-arn", "poll", {}),
        lambda b: b.create_token(ROOM, "42", capabilities=frozenset({"ADMIN"}), attributes={}, minutes=60),
        lambda b: b.create_token(ROOM, "42", capabilities=frozenset(), attributes={}, minutes=181),
        lambda b: b.create_token(ROOM, "", capabilities=frozenset(), attributes={}, minutes=60),
        lambda b: b.disconnect_user(ROOM, "42", ""),
    ],
)
def test_limits_are_checked_before_any_call(backend, stubber, call):
    with pytest.raises(InvalidRequest):
        call(backend)  # the stubber has no response queued: a call would fail differently


def test_the_setting_chooses_the_backend_and_local_is_the_default(settings):
    get_chat_backend.cache_clear()
    try:
        assert isinstance(get_chat_backend(), LocalChatBackend)
        settings.CHAT_BACKEND = "fake"
        get_chat_backend.cache_clear()
        assert get_chat_backend().name == "fake"
    finally:
        get_chat_backend.cache_clear()


# The rooms' services, with the fake backend


@pytest.fixture
def chat_service(settings):
    settings.CHAT_BACKEND = "fake"
    get_chat_backend.cache_clear()
    yield get_chat_backend()
    get_chat_backend.cache_clear()


@pytest.mark.django_db
def test_tokens_carry_capabilities_by_role_and_the_room_is_made_once(chat_service, event, viewer, moderator):
    staff = rooms.chat_access(event=event, user=moderator)
    fan = rooms.chat_access(event=event, user=viewer)
    assert staff.room_id == fan.room_id == ChatRoom.objects.get(event=event).backend_room_id
    assert len(chat_service.calls_to("create_room")) == 1
    assert staff.capabilities == rooms.STAFF_CAPABILITIES and fan.capabilities == {"SEND_MESSAGE"}
    assert chat_service.calls_to("create_token")[1]["attributes"] == {"name": "Ada", "role": ""}


@pytest.mark.django_db
def test_a_banned_viewer_is_disconnected_after_commit_and_then_only_reads(
    chat_service, event, viewer, moderator, django_capture_on_commit_callbacks
):
    room = rooms.chat_access(event=event, user=viewer).room_id
    with django_capture_on_commit_callbacks(execute=True):
        services.ban(event=event, user=viewer, by=moderator)
    assert chat_service.calls_to("disconnect_user") == [
        {"room_id": room, "user_id": str(viewer.pk), "reason": "Banned"}
    ]
    assert rooms.chat_access(event=event, user=viewer).capabilities == frozenset()


@pytest.mark.django_db
def test_the_token_endpoint_answers_json_for_every_case(client, chat_service, event, viewer):
    url = reverse("chat:token", args=[event.pk])
    assert client.post(url).status_code == 401
    client.force_login(viewer)
    answer = client.post(url).json()
    assert (
        answer["backend"] == "fake"
        and answer["token"].startswith("token-")
        and answer["capabilities"] == ["SEND_MESSAGE"]
    )
    event.is_private = True
    event.save(update_fields=["is_private"])
    assert client.post(url).status_code == 404
    client.force_login(make_viewer("Other"))
    assert client.post(reverse("chat:token", args=[event.pk + 100])).status_code == 404


@pytest.mark.django_db
def test_with_the_local_backend_the_page_socket_carries_chat(client, event, viewer):
    client.force_login(viewer)
    assert client.post(reverse("chat:token", args=[event.pk])).json() == {"backend": "local"}


@pytest.mark.django_db
def test_polls_open_and_close_as_events_in_the_shows_room(
    chat_service, event, host, django_capture_on_commit_callbacks
):
    from chat import polls

    room = rooms.ensure_room(event)
    with django_capture_on_commit_callbacks(execute=True):
        poll = polls.open_poll(
            event=event, by=host, question="Rose or plum?", options=["Rose", "Plum"], duration_seconds=30
        )
    with django_capture_on_commit_callbacks(execute=True):
        polls.close_poll(poll=poll, by=host)
    assert chat_service.calls_to("send_event") == [
        {"room_id": room, "name": "poll_opened", "attributes": {"pollId": str(poll.pk)}},
        {"room_id": room, "name": "poll_closed", "attributes": {"pollId": str(poll.pk)}},
    ]


# Hides mirrored into IVS Chat: the review stores IVS's message id, a hide deletes it there


@pytest.fixture
def ivs_show(event, backend, monkeypatch, settings):
    """``event`` with a room in IVS Chat (the stubbed client) and the review hook's secret."""
    settings.LIVESHOP_WEBHOOK_SECRET = "review-secret"
    monkeypatch.setattr(rooms, "get_chat_backend", lambda: backend)
    ChatRoom.objects.create(event=event, backend_room_id=ROOM)
    return event


def reviewed(client, user, content, message_id="Ab1Cd2Ef3Gh4", **attributes):
    import json

    data = {"Content": content, "MessageId": message_id, "RoomArn": ROOM, "Attributes": attributes,
            "Sender": {"UserId": str(user.pk), "Attributes": {}, "Ip": "203.0.113.9"}}  # fmt: skip
    return client.post(
        reverse("chat:ivschat-review"), json.dumps(data), content_type="application/json",
        headers={"X-Liveshop-Webhook-Secret": "review-secret"},
    ).json()  # fmt: skip


@pytest.mark.django_db
def test_a_hidden_message_is_deleted_from_the_ivs_room_by_the_id_its_review_gave(
    client, ivs_show, viewer, moderator, stubber, django_capture_on_commit_callbacks
):
    answer = reviewed(client, viewer, "buy it cheaper elsewhere", message_id="Ab1Cd2Ef3Gh4")
    message = ChatMessage.objects.get(pk=int(answer["Attributes"]["messageId"]))
    assert answer["ReviewResult"] == "ALLOW" and message.backend_message_id == "Ab1Cd2Ef3Gh4"
    stubber.add_response(
        "delete_message",
        {"id": "Ev1Ab1Cd2Ef3"},
        {"roomIdentifier": ROOM, "id": "Ab1Cd2Ef3Gh4", "reason": "Removed by a moderator"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=message, by=moderator)
        with pytest.raises(AssertionError):  # not called before the hide commits
            stubber.assert_no_pending_responses()

    stubber.assert_no_pending_responses()
    message.refresh_from_db()
    assert message.hidden_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=message, by=moderator)  # hidden already: no second call


@pytest.mark.django_db
def test_a_hide_holds_when_ivs_refuses_the_delete_and_our_own_messages_need_no_call(
    client, ivs_show, viewer, moderator, stubber, django_capture_on_commit_callbacks, caplog
):
    ours = services.post_message(event=ivs_show, user=viewer, body="from the page's socket")
    from_ivs = ChatMessage.objects.get(pk=int(reviewed(client, viewer, "via IVS")["Attributes"]["messageId"]))
    stubber.add_client_error("delete_message", "ThrottlingException", http_status_code=429)

    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=ours, by=moderator)  # no IVS id: nothing to delete there
        services.hide_message(message=from_ivs, by=moderator)

    assert ChatMessage.objects.filter(hidden_at__isnull=False).count() == 2
    assert "was not deleted from the chat room" in caplog.text


@pytest.mark.django_db
def test_a_reply_sent_through_ivs_quotes_its_message_and_a_bad_one_is_denied(client, ivs_show, viewer):
    first = reviewed(client, viewer, "which shade?", message_id="Aaaaaaaaaaa1")
    first_id = first["Attributes"]["messageId"]

    answer = reviewed(client, viewer, "the rose one", message_id="Aaaaaaaaaaa2", replyTo=first_id)

    assert answer["ReviewResult"] == "ALLOW" and answer["Attributes"]["replyTo"] == first_id
    assert ChatMessage.objects.get(backend_message_id="Aaaaaaaaaaa2").reply_to_id == int(first_id)
    denied = reviewed(client, viewer, "hm", message_id="Aaaaaaaaaaa3", replyTo="not-a-message")
    assert denied == {"ReviewResult": "DENY", "Attributes": {"Reason": "not_found"}}
    too_long_id = reviewed(client, viewer, "hi", message_id="x" * 65)
    assert "error" in too_long_id
