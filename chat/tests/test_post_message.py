"""post_message: every rule of a message, each refusal naming its reason with nothing stored."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import services
from chat.exceptions import MessageRefused
from chat.models import BrandChatPolicy, ChatMessage, ChatRestriction
from chat.tests.conftest import make_viewer
from events.models import LiveEvent

pytestmark = pytest.mark.django_db


def refused(event, user, body) -> MessageRefused:
    """The refusal of ``body``, having checked that nothing was stored."""
    before = ChatMessage.objects.count()
    with pytest.raises(MessageRefused) as caught:
        services.post_message(event=event, user=user, body=body)
    assert ChatMessage.objects.count() == before
    return caught.value


def test_a_message_is_stored_cleaned_with_its_author_and_sent_after_commit(
    event, viewer, chat_frames, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        body = "  Love\u200b\u200b the <b>colour</b>!\n "
        message = services.post_message(event=event, user=viewer, body=body)
        assert chat_frames == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    message.refresh_from_db()
    assert (message.body, message.author, message.author_name, message.author_role) == (
        "Love the <b>colour</b>!",
        viewer,
        "Ada",
        "",
    )
    assert message.offset_ms is None  # not live: no moment in a stream
    assert chat_frames == [
        {
            "topic": f"chat-{event.pk}",
            "type": "chat_message",
            "id": message.pk,
            "body": "Love the <b>colour</b>!",
            "author": {"name": "Ada", "role": None},
            "sentAt": message.created_at.isoformat(),
            "offsetMs": None,
        }
    ]


def test_a_message_during_the_show_records_its_moment_in_the_stream(live_event, viewer, chat_frames):
    message = services.post_message(event=live_event, user=viewer, body="Now!")

    assert message.session == live_event.sessions.get()
    assert 89_000 <= message.offset_ms <= 95_000


def test_staff_messages_carry_their_role_and_name(event, host, owner, moderator):
    for person, role in ((host, "host"), (owner, "owner"), (moderator, "moderator")):
        message = services.post_message(event=event, user=person, body="Welcome!")
        assert (message.author_role, message.author_name) == (role, person.username)


def test_a_viewer_without_a_display_name_is_never_named_from_their_email(event):
    invited = make_viewer("", username="ada.lovelace-1a2b3c", email="ada.lovelace@example.com")

    message = services.post_message(event=event, user=invited, body="Hi")

    assert message.author_name == f"Viewer {invited.pk}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\u200b\u200d\u2060", "empty"),
        ("\x00\x07", "empty"),
        (None, "empty"),
        (42, "empty"),
        ("x" * 501, "too_long"),
        (" " + "é" * 501, "too_long"),
    ],
)
def test_empty_and_too_long_messages_are_refused(event, viewer, body, reason):
    assert refused(event, viewer, body).reason == reason


def test_500_characters_after_cleaning_are_allowed(event, viewer):
    body = "e\u0301" * 500  # 1000 code points, 500 once composed (NFC)

    assert services.post_message(event=event, user=viewer, body=body).body == "é" * 500


def test_nobody_signed_out_posts(event):
    from django.contrib.auth.models import AnonymousUser

    assert refused(event, AnonymousUser(), "hi").reason == "sign_in"


def test_a_private_event_is_closed_to_viewers_not_invited(event, viewer):
    LiveEvent.objects.filter(pk=event.pk).update(is_private=True)
    event.refresh_from_db()

    assert refused(event, viewer, "hi").reason == "not_allowed"


def test_an_ended_show_takes_no_messages(event, viewer):
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.ENDED)
    event.refresh_from_db()

    assert refused(event, viewer, "hi").reason == "closed"


def test_the_brands_word_list_refuses_whole_words_whatever_their_case(event, viewer):
    BrandChatPolicy.objects.create(organization=event.organization, blocked_words="spam\nfree money\n")

    assert refused(event, viewer, "Buy SPAM now").reason == "blocked_word"
    assert refused(event, viewer, "FREE\u200b money!").reason == "blocked_word"  # invisible run removed
    assert services.post_message(event=event, user=viewer, body="No spammer here").body == "No spammer here"


def test_a_timed_out_viewer_is_refused_until_the_time_is_up(event, viewer, host):
    services.time_out(event=event, user=viewer, minutes=5, by=host)

    error = refused(event, viewer, "hi")
    assert error.reason == "timed_out" and 290 < error.retry_after <= 300
    ChatRestriction.objects.update(until=timezone.now() - timedelta(seconds=1))
    assert services.post_message(event=event, user=viewer, body="back").body == "back"


def test_a_ban_holds_in_every_chat_of_the_brand_until_lifted(event, viewer, host, video):
    from events import services as event_services

    services.ban(event=event, user=viewer, by=host)
    other_show = event_services.create_event(
        organization=event.organization, title="Summer", scheduled_start=event.scheduled_start, by=host
    )

    assert refused(event, viewer, "hi").reason == "banned"
    assert refused(other_show, viewer, "hi").reason == "banned"
    services.lift_restrictions(organization=event.organization, user=viewer, by=host)
    assert services.post_message(event=other_show, user=viewer, body="thanks").body == "thanks"


def test_a_ban_in_another_brand_does_not_count_here(event, viewer, other_brand):
    ChatRestriction.objects.create(organization=other_brand, user=viewer, kind="ban")

    assert services.post_message(event=event, user=viewer, body="hi").body == "hi"


def test_five_messages_per_ten_seconds_then_the_rate_limit(event, viewer):
    for n in range(services.RATE_LIMIT):
        services.post_message(event=event, user=viewer, body=f"message {n}")

    error = refused(event, viewer, "one too many")
    assert error.reason == "rate_limited" and 0 < error.retry_after <= services.RATE_WINDOW
    assert ChatMessage.objects.filter(author=viewer).count() == services.RATE_LIMIT


def test_slow_mode_holds_viewers_to_one_message_per_period_but_not_staff(event, viewer, moderator):
    services.set_slow_mode(event=event, seconds=30, by=moderator)
    services.post_message(event=event, user=viewer, body="first")

    error = refused(event, viewer, "second")
    assert error.reason == "slow_mode" and 29 < error.retry_after <= 30
    services.post_message(event=event, user=moderator, body="staff 1")
    services.post_message(event=event, user=moderator, body="staff 2")
    assert ChatMessage.objects.count() == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=700))
def test_any_text_is_stored_normalised_or_refused_with_a_reason(event, body):
    import unicodedata

    user = make_viewer("Any")
    try:
        message = services.post_message(event=event, user=user, body=body)
    except MessageRefused as exc:
        assert exc.reason in {"empty", "too_long"}
        assert not ChatMessage.objects.filter(author=user).exists()
        return
    message.refresh_from_db()
    assert 1 <= len(message.body) <= 500
    assert message.body == unicodedata.normalize("NFC", message.body) == message.body.strip()
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in message.body)
