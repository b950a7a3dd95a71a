""" "Remind me" on the event page's "Starts in" screen (templates/events/watch/_remind.html): the
calendar file for everyone, the e-mail sign-up for signed-in viewers (their own page, with its
CSRF token), a sign-in link in the shared anonymous page (no token in it)."""

import pytest
from django.urls import reverse

from events.models import ShowReminder

pytestmark = pytest.mark.django_db


def watch_url(event):
    return reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def test_a_signed_out_viewer_gets_the_calendar_and_a_sign_in_link(client, event):
    page = client.get(watch_url(event)).content.decode()

    assert f'href="/e/{event.organization.slug}/{event.slug}/calendar.ics" download' in page
    assert f'href="/login/?next=%2Fe%2F{event.organization.slug}%2F{event.slug}%2F"' in page
    assert "csrfmiddlewaretoken" not in page  # the shared page holds nobody's token


def test_a_signed_in_viewer_signs_up_from_the_event_page_and_sees_it(client, event, django_user_model):
    viewer = django_user_model.objects.create_user("ada", email="ada@example.com", password="x")
    client.force_login(viewer)

    page = client.get(watch_url(event)).content.decode()
    assert f'action="/e/{event.organization.slug}/{event.slug}/remind/"' in page
    assert f'aria-label="Remind me: e-mail me when {event.title} starts"' in page

    response = client.post(
        reverse("viewer:remind", kwargs={"brand": event.organization.slug, "slug": event.slug}),
        {"next": watch_url(event)},
    )

    assert response.status_code == 302 and response["Location"] == watch_url(event)
    assert ShowReminder.objects.filter(event=event, user=viewer).exists()
    assert "&#10003; Reminder set" in client.get(watch_url(event)).content.decode()
