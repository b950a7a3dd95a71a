"""Moderation: the brand's hosts, moderators and owners hide messages, time out, ban and unban,
set slow mode; nobody else can; every step is logged."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from accounts.tests.factories import member
from chat import services
from chat.exceptions import ModerationRefused
from chat.models import ChatMessage, ChatRestriction, ChatRoom, ModerationAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(event, viewer):
    return services.post_message(event=event, user=viewer, body="buy my stuff elsewhere")


@pytest.mark.parametrize("role", ["host", "moderator", "owner"])
def test_the_brands_people_hide_a_message_for_everyone_and_it_is_logged(
    request, event, message, role, chat_frames, django_capture_on_commit_callbacks
):
    person = request.getfixturevalue(role)
    chat_frames.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=message, by=person)

    message.refresh_from_db()
    assert message.is_hidden and message.hidden_by == person
    assert ChatMessage.objects.filter(pk=message.pk).exists()  # hidden, not erased
    assert chat_frames == [{"topic": f"chat-{event.pk}", "type": "chat_hidden", "id": message.pk}]
    log = ModerationAction.objects.get()
    assert (log.actor, log.kind, log.target, log.message, log.event) == (
        person,
        "hide",
        message.author,
        message,
        event,
    )


def test_hiding_twice_changes_and_logs_nothing_more(message, moderator):
    services.hide_message(message=message, by=moderator)
    services.hide_message(message=message, by=moderator)

    assert ModerationAction.objects.count() == 1


def test_viewers_and_another_brands_people_moderate_nothing(event, message, viewer, other_brand):
    outsiders = [viewer, member(other_brand, role=Membership.Role.OWNER)]
    for person in outsiders:
        with pytest.raises(PermissionDenied):
            services.hide_message(message=message, by=person)
        with pytest.raises(PermissionDenied):
            services.time_out(event=event, user=message.author, minutes=5, by=person)
        with pytest.raises(PermissionDenied):
            services.ban(event=event, user=message.author, by=person)
        with pytest.raises(PermissionDenied):
            services.lift_restrictions(organization=event.organization, user=message.author, by=person)
        with pytest.raises(PermissionDenied):
            services.set_slow_mode(event=event, seconds=10, by=person)

    message.refresh_from_db()
    assert not message.is_hidden
    assert not ChatRestriction.objects.exists() and not ChatRoom.objects.exists()
    assert not ModerationAction.objects.exists()


def test_a_time_out_lasts_five_minutes_or_an_hour(event, viewer, moderator):
    with pytest.raises(ModerationRefused):
        services.time_out(event=event, user=viewer, minutes=7, by=moderator)

    restriction = services.time_out(event=event, user=viewer, minutes=60, by=moderator)

    assert 3590 < (restriction.until - restriction.created_at).total_seconds() <= 3600
    assert ModerationAction.objects.get().detail == "60 min"


def test_the_brands_own_people_are_not_timed_out_or_banned(event, host, moderator):
    with pytest.raises(ModerationRefused):
        services.time_out(event=event, user=host, minutes=5, by=moderator)
    with pytest.raises(ModerationRefused):
        services.ban(event=event, user=host, by=moderator)

    assert not ChatRestriction.objects.exists() and not ModerationAction.objects.exists()


def test_unban_lifts_every_restriction_and_is_logged(event, viewer, host):
    services.ban(event=event, user=viewer, by=host)
    services.time_out(event=event, user=viewer, minutes=5, by=host)

    assert services.lift_restrictions(organization=event.organization, user=viewer, by=host) == 2

    assert not ChatRestriction.objects.filter(lifted_at=None).exists()
    assert list(ModerationAction.objects.order_by("id").values_list("kind", flat=True)) == [
        "ban",
        "timeout",
        "unban",
    ]


def test_slow_mode_is_bounded_and_logged(event, moderator):
    with pytest.raises(ModerationRefused):
        services.set_slow_mode(event=event, seconds=601, by=moderator)

    services.set_slow_mode(event=event, seconds=30, by=moderator)
    services.set_slow_mode(event=event, seconds=0, by=moderator)

    assert ChatRoom.objects.get(event=event).slow_mode_seconds == 0
    assert list(ModerationAction.objects.order_by("id").values_list("detail", flat=True)) == ["30 s", "off"]
