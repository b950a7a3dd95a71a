"""Show reminders: a viewer who asked is e-mailed once when the show goes live, however often its
stream starts; going live never waits for, or fails because of, the e-mails."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.tests.factories import UserFactory
from events import reminders, stream_state
from events.models import LiveEvent, ShowReminder
from events.tests.factories import LiveEventFactory
from liveshop.video import eventbridge as ivs_events

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def show():
    return LiveEventFactory(title="Winter boots", description="Boots for snow.")


@pytest.fixture
def stream(django_capture_on_commit_callbacks):
    """Apply a stream start or end as the stream-state handler does, running what it queued."""

    def _apply(event, name, stream_id, at):
        payload = ivs_events.stream_state_change(event.channel_id, name, stream_id, at=at)
        with django_capture_on_commit_callbacks(execute=True):
            result = stream_state.apply_stream_event(stream_state.parse_event(payload))
        event.refresh_from_db()
        return result

    return _apply


def sign_up(event, *emails):
    return [reminders.sign_up_for_reminder(event=event, by=UserFactory(email=email)) for email in emails]


def test_going_live_emails_each_viewer_who_asked_once(show, stream):
    sign_up(show, "ana@example.com", "ben@example.com")

    stream(show, ivs_events.STREAM_START, "st-1", T0)

    assert show.status == LiveEvent.Status.LIVE
    assert sorted(message.to[0] for message in mail.outbox) == ["ana@example.com", "ben@example.com"]
    message = mail.outbox[0]
    watch = f"{settings.SITE_URL}/e/{show.organization.slug}/{show.slug}/"
    assert message.subject == f"Live now: Winter boots ({show.organization.name})"
    assert watch in message.body and f'href="{watch}"' in message.alternatives[0].content
    assert ShowReminder.objects.filter(sent_at=None).count() == 0


def test_a_show_that_goes_live_twice_sends_one_email_per_viewer(show, stream):
    sign_up(show, "ana@example.com")

    stream(show, ivs_events.STREAM_START, "st-1", T0)
    stream(show, ivs_events.STREAM_END, "st-1", T0 + timedelta(minutes=1))
    stream(show, ivs_events.STREAM_START, "st-2", T0 + timedelta(minutes=2))

    assert show.status == LiveEvent.Status.LIVE
    assert [message.to for message in mail.outbox] == [["ana@example.com"]]


def test_running_the_task_again_sends_nothing_more(show, stream):
    sign_up(show, "ana@example.com")
    stream(show, ivs_events.STREAM_START, "st-1", T0)

    assert reminders.send_show_reminders(show.pk) == 0
    assert len(mail.outbox) == 1


def test_no_email_while_the_show_is_not_live(show):
    sign_up(show, "ana@example.com")

    assert reminders.send_show_reminders(show.pk) == 0  # a task that ran late, after the show
    assert mail.outbox == []
    assert ShowReminder.objects.get().sent_at is None


def test_a_refused_email_is_released_for_the_retry(show, monkeypatch):
    sign_up(show, "ana@example.com")
    LiveEvent.objects.filter(pk=show.pk).update(status=LiveEvent.Status.LIVE)
    monkeypatch.setattr(reminders.EmailMultiAlternatives, "send", lambda self: 1 / 0)

    with pytest.raises(reminders.RemindersNotSent):
        reminders.send_show_reminders(show.pk)

    assert ShowReminder.objects.get().sent_at is None
    monkeypatch.undo()
    assert reminders.send_show_reminders(show.pk) == 1


def test_going_live_does_not_wait_for_or_fail_on_the_queue(show, stream, monkeypatch, caplog):
    sign_up(show, "ana@example.com")

    def unreachable(name, *args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(reminders.tasks, "enqueue", unreachable)

    assert stream(show, ivs_events.STREAM_START, "st-1", T0) == "applied"
    assert show.status == LiveEvent.Status.LIVE
    assert "Show reminders not queued" in caplog.text
    assert mail.outbox == []


def test_a_viewer_who_may_no_longer_watch_is_not_emailed(show, stream):
    sign_up(show, "ana@example.com")
    LiveEvent.objects.filter(pk=show.pk).update(is_private=True)  # made private after the sign-up

    stream(show, ivs_events.STREAM_START, "st-1", T0)

    assert mail.outbox == []


def test_an_account_without_an_address_is_refused_with_the_reason(show):
    with pytest.raises(reminders.ReminderRefused, match="no e-mail address"):
        reminders.sign_up_for_reminder(event=show, by=UserFactory(email=""))


def test_each_viewer_is_emailed_in_the_language_of_the_page_they_asked_on(client, show, stream):
    german, english = UserFactory(email="gerda@example.com"), UserFactory(email="ed@example.com")
    for user, language in ((german, "de"), (english, "en")):
        client.force_login(user)
        remind = reverse("viewer:remind", args=[show.organization.slug, show.slug])
        assert client.post(remind, HTTP_ACCEPT_LANGUAGE=language).status_code == 302

    stream(show, ivs_events.STREAM_START, "st-1", T0)

    letters = {message.to[0]: message for message in mail.outbox}
    gerda, ed = letters["gerda@example.com"], letters["ed@example.com"]
    assert gerda.subject == f"Jetzt live: Winter boots ({show.organization.name})"
    assert "Sehen Sie sich die Show hier an und kaufen Sie ein:" in gerda.body
    assert (
        '<html lang="de">' in gerda.alternatives[0].content
        and "Show ansehen" in gerda.alternatives[0].content
    )
    assert ed.subject == f"Live now: Winter boots ({show.organization.name})"
    assert "Watch and shop the show here:" in ed.body and '<html lang="en">' in ed.alternatives[0].content
