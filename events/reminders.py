""" "Remind me" on an upcoming show: a calendar file for anyone, and for signed-in viewers an
e-mail when the show goes live.

The e-mail is sent once per viewer and show: a reminder is claimed by a conditional UPDATE of its
``sent_at`` before it is sent (and released if the mail server refuses it), so a stream that
starts twice, or two workers running the task, send it once. Going live never waits for it: the
stream-state handler calls ``queue_reminders_on_commit``, which queues the task by name after the
commit and only logs if the queue is unreachable."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from icalendar import Alarm, Calendar
from icalendar import Event as CalendarEvent

from accounts import permissions
from accounts.permissions import Action, may_watch
from events.models import LiveEvent, ShowReminder
from liveshop import tasks

logger = logging.getLogger(__name__)

SEND_TASK = "events.tasks.send_show_reminders_task"
SHOW_LENGTH = timedelta(hours=1)  # the calendar entry's length: shows have no planned end
ALARM_BEFORE = timedelta(minutes=10)
PRODUCT_ID = "-//Liveshop//Upcoming shows//EN"


class ReminderRefused(Exception):
    """The viewer may not sign up for this show's reminder; the message says why."""


class RemindersNotSent(Exception):
    """Some reminders were refused by the mail server (released, so a retry sends them)."""


# Calendar files -------------------------------------------------------------------------------


def calendar_uid(event: LiveEvent) -> str:
    """The show's calendar UID: the same for every download, so a calendar updates the entry
    (a new start time) rather than adding a second one."""
    host = urlsplit(settings.SITE_URL).hostname or "liveshop"
    return f"liveshop-event-{event.pk}@{host}"


def calendar_file(event: LiveEvent, *, page_url: str) -> bytes:
    """An iCalendar (RFC 5545) file with the show: title and brand, start, the event page's
    ``page_url``, and an alarm ALARM_BEFORE it starts."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", calendar_uid(event))
    entry.add("dtstamp", event.updated_at)  # a new stamp only when the show changed
    # Calendars take a changed entry (same UID) only with a higher SEQUENCE: minutes since 1970
    # at its last change grow with every edit, with no counter to keep.
    entry.add("sequence", int(event.updated_at.timestamp() // 60))
    entry.add("dtstart", event.scheduled_start)
    entry.add("dtend", event.scheduled_start + SHOW_LENGTH)
    entry.add("summary", f"{event.title} ({event.organization.name}, live)")
    entry.add("description", "\n\n".join(filter(None, [event.description, f"Watch live: {page_url}"])))
    entry.add("url", page_url)
    entry.add("location", page_url)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"{event.title} starts soon")
    alarm.add("trigger", -ALARM_BEFORE)
    entry.add_component(alarm)
    calendar.add_component(entry)
    return calendar.to_ical()


# Sign-ups ---------------------------------------------------------------------------------------


SIGN_IN_FIRST = gettext_noop(
    "Sign in to get an e-mail when the show starts, or add it to your calendar instead."
)


def reminder_refusal(event: LiveEvent, user) -> str:
    """Why ``user`` may not sign up for ``event``'s e-mail, or "" when they may."""
    if not getattr(user, "is_authenticated", False):
        return gettext(SIGN_IN_FIRST)
    if event.status != LiveEvent.Status.SCHEDULED:
        return gettext("This show is not upcoming any more: reminders are for shows that have not started.")
    if not user.email:
        return gettext("Your account has no e-mail address to send the reminder to.")
    return ""


@transaction.atomic
def sign_up_for_reminder(*, event: LiveEvent, by, language: str = "") -> ShowReminder:
    """Remember that ``by`` wants an e-mail when ``event`` goes live, written in ``language`` (the
    page's; the default language when empty). Idempotent (signing up twice keeps one reminder,
    in the newest language). ReminderRefused says why not (signed out, not upcoming, no
    address); PermissionDenied for an event ``by`` may not watch."""
    if refusal := reminder_refusal(event, by):
        raise ReminderRefused(refusal)
    permissions.require(by, Action.WATCH, event)
    try:
        with transaction.atomic():
            reminder, _created = ShowReminder.objects.get_or_create(
                event=event, user=by, defaults={"language": language}
            )
    except IntegrityError:  # a double click's twin made it first
        reminder = ShowReminder.objects.get(event=event, user=by)
    if reminder.language != language:
        reminder.language = language
        reminder.save(update_fields=["language"])
    return reminder


def cancel_reminder(*, event: LiveEvent, user) -> None:
    """Forget ``user``'s unsent reminder of ``event`` (none: nothing to do)."""
    if not getattr(user, "is_authenticated", False):
        raise ReminderRefused(gettext(SIGN_IN_FIRST))
    ShowReminder.objects.filter(event=event, user=user, sent_at=None).delete()


def reminded_event_ids(user, event_ids) -> set[int]:
    """Which of ``event_ids`` the user asked to be reminded of (one query; none when signed out)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    reminders = ShowReminder.objects.filter(user=user, event_id__in=list(event_ids))
    return set(reminders.values_list("event_id", flat=True))


# Going live -----------------------------------------------------------------------------------


def queue_reminders_on_commit(event_id: int) -> None:
    """After the go-live commits, queue the e-mails (SEND_TASK). Never fails the caller: a queue
    that cannot be reached is logged, and the stream goes live regardless."""
    transaction.on_commit(lambda: _queue(event_id), robust=True)


def _queue(event_id: int) -> None:
    try:
        tasks.enqueue(SEND_TASK, event_id)
    except Exception:
        logger.warning("Show reminders not queued", extra={"event_id": event_id}, exc_info=True)


def send_show_reminders(event_id: int) -> int:
    """E-mail every viewer whose reminder of the live event ``event_id`` is unsent; returns how
    many were sent. Each is claimed first (sent_at), so it goes out once. Nothing while the event
    is not live (a task that ran late after the show ended). RemindersNotSent when the mail server
    refused some (they are released for the task's retry)."""
    event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
    if event is None or not event.is_live:
        return 0
    pending = ShowReminder.objects.filter(event=event, sent_at=None).select_related("user")
    sent = failed = 0
    with get_connection() as connection:
        for reminder in pending:
            if not _claim(reminder):
                continue  # another worker has it
            user = reminder.user
            if not (user.is_active and user.email and may_watch(user, event)):
                continue  # claimed and skipped: they may no longer watch, or have no address
            try:
                with translation.override(reminder.language or settings.LANGUAGE_CODE):
                    _letter(event, user.email, connection).send()
                sent += 1
            except Exception:
                ShowReminder.objects.filter(pk=reminder.pk).update(sent_at=None)
                failed += 1
                logger.warning("Show reminder not sent", extra={"event_id": event.pk}, exc_info=True)
    if failed:
        raise RemindersNotSent(f"{failed} reminder(s) of event {event.pk} not sent")
    return sent


def _claim(reminder: ShowReminder) -> bool:
    claimed = ShowReminder.objects.filter(pk=reminder.pk, sent_at=None).update(sent_at=timezone.now())
    return claimed == 1


def _letter(event: LiveEvent, email: str, connection) -> EmailMultiAlternatives:
    path = reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
    context = {"event": event, "watch_url": f"{settings.SITE_URL.rstrip('/')}{path}"}
    message = EmailMultiAlternatives(
        subject=gettext("Live now: %(title)s (%(brand)s)")
        % {"title": event.title, "brand": event.organization.name},
        body=render_to_string("emails/show_starting.txt", context),
        to=[email],
        connection=connection,
    )
    message.attach_alternative(render_to_string("emails/show_starting.html", context), "text/html")
    return message
