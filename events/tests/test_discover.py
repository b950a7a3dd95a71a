"""Finding shows: the home page and a brand's page list live and upcoming shows anyone may watch
(replays: recordings/tests/test_listings.py), in bounded queries, shared between signed-out
visitors; "Remind me" gives a calendar file and, signed in, an e-mail sign-up."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from accounts.permissions import may_watch
from accounts.tests.factories import OrganizationFactory, UserFactory
from events import listings, reminders
from events.models import LiveEvent, ShowReminder
from events.tests.factories import LiveEventFactory, LiveNowEventFactory
from events.views.discover import forget_list_pages

pytestmark = pytest.mark.django_db

Status = LiveEvent.Status


@pytest.fixture
def shows(brand, other_brand):
    """Acme: one live show, two upcoming (the later one made first), and ones nobody outside may
    see; Globex: one upcoming show."""
    soon = timezone.now() + timedelta(hours=2)
    acme = {"organization": brand}
    return {
        "live": LiveNowEventFactory(**acme, title="Acme live now"),
        "later": LiveEventFactory(**acme, title="Acme later", scheduled_start=soon + timedelta(days=2)),
        "soon": LiveEventFactory(**acme, title="Acme soon", scheduled_start=soon),
        "private": LiveEventFactory(**acme, title="Acme private", is_private=True),
        "private_live": LiveNowEventFactory(**acme, title="Acme private live", is_private=True),
        "cancelled": LiveEventFactory(**acme, title="Acme cancelled", status=Status.CANCELLED),
        "no_channel": LiveEventFactory(**acme, title="Acme no channel", status=Status.NEEDS_CHANNEL),
        "globex": LiveEventFactory(
            organization=other_brand, title="Globex upcoming", scheduled_start=soon + timedelta(days=5)
        ),
    }


def titles(events) -> list[str]:
    return [event.title for event in events]


def section(html: str, heading_id: str) -> str:
    """The HTML of one section of a show list page ("" when it is not there)."""
    start = html.find(f'id="{heading_id}"')
    if start < 0:
        return ""
    end = html.find("</section>", start)
    return html[start:end]


def test_the_lists_hold_live_and_upcoming_public_shows_in_order(shows, brand):
    everything = listings.list_shows()
    acme = listings.list_shows(brand)

    assert titles(everything.live) == ["Acme live now"]
    assert titles(everything.upcoming) == ["Acme soon", "Acme later", "Globex upcoming"]
    assert titles(acme.upcoming) == ["Acme soon", "Acme later"]
    # The lists follow the watch rule: everything listed is watchable by anyone.
    anyone = AnonymousUser()
    assert all(may_watch(anyone, event) for event in [*everything.live, *everything.upcoming])


def test_home_page_lists_live_and_upcoming_shows_not_private_or_unpublished_ones(client, shows):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    live, upcoming = section(html, "shows-live"), section(html, "shows-upcoming")
    assert "Acme live now" in live and "Acme soon" not in live
    assert upcoming.index("Acme soon") < upcoming.index("Acme later") < upcoming.index("Globex upcoming")
    for hidden in ("Acme private", "Acme cancelled", "Acme no channel"):
        assert hidden not in html
    watch = reverse("viewer:watch", kwargs={"brand": "acme", "slug": shows["soon"].slug})
    assert f'href="{watch}"' in html
    # The countdown and local time are drawn in the browser from the UTC start.
    assert f'data-starts="{shows["soon"].scheduled_start.isoformat()}"' in upcoming
    assert 'src="/static/js/discover.js"' in html


def test_a_brand_page_lists_that_brands_shows_only(client, shows):
    html = client.get(reverse("viewer:brand", kwargs={"brand": "globex"})).content.decode()

    assert "Globex upcoming" in section(html, "shows-upcoming")
    assert "Acme" not in section(html, "shows-upcoming") and not section(html, "shows-live")
    assert client.get(reverse("viewer:brand", kwargs={"brand": "no-such-brand"})).status_code == 404


def test_a_brand_without_shows_says_so(client):
    OrganizationFactory(name="Initech", slug="initech")

    response = client.get(reverse("viewer:brand", kwargs={"brand": "initech"}))

    assert response.status_code == 200
    assert "This brand has no shows to watch yet" in response.content.decode()


def test_the_home_page_reads_the_same_number_of_rows_whatever_the_number_of_shows(
    client, brand, django_assert_num_queries
):
    def add_shows(n):
        for _ in range(n):
            LiveNowEventFactory(organization=OrganizationFactory())
            LiveEventFactory(organization=OrganizationFactory())

    add_shows(2)
    with django_assert_num_queries(3):  # live, upcoming, replays: no query per show or brand
        assert client.get("/").status_code == 200
    add_shows(6)
    forget_list_pages()
    with django_assert_num_queries(3):
        html = client.get("/").content.decode()
    assert html.count('class="show-card"') == 16


def test_signed_out_visitors_share_the_list_page_and_signed_in_ones_get_their_own(client, shows):
    first = client.get("/")
    LiveEventFactory(organization=shows["soon"].organization, title="Added meanwhile")
    again = client.get("/")

    assert set(first["Cache-Control"].split(", ")) == {"public", "max-age=0", "s-maxage=5"}
    assert again.content == first.content  # kept for S_MAXAGE seconds
    assert "csrfmiddlewaretoken" not in first.content.decode() and not first.cookies

    client.force_login(UserFactory(email="viewer@example.com"))
    mine = client.get("/")
    assert "private" in mine["Cache-Control"]
    assert "Added meanwhile" in mine.content.decode()


def test_the_home_page_still_shows_a_brand_member_their_brands(client, host, shows):
    client.force_login(host)

    html = client.get("/").content.decode()

    assert f"Welcome, {host.get_short_name() or host.get_username()}" in html
    assert "Acme" in html and reverse("viewer:brand", kwargs={"brand": "acme"}) in html
    assert "Acme soon" in section(html, "shows-upcoming")


# Remind me: the calendar file --------------------------------------------------------------------


def test_calendar_file_holds_the_show_and_parses_back(client, shows):
    event = shows["soon"]
    url = reverse("viewer:calendar", kwargs={"brand": "acme", "slug": event.slug})

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    entry = Calendar.from_ical(response.content).walk("VEVENT")[0]
    watch = "http://testserver" + reverse("viewer:watch", kwargs={"brand": "acme", "slug": event.slug})
    assert str(entry["summary"]) == "Acme soon (Acme, live)"
    assert entry.decoded("dtstart") == event.scheduled_start.replace(microsecond=0)
    assert entry.decoded("dtend") - entry.decoded("dtstart") == reminders.SHOW_LENGTH
    assert str(entry["url"]) == watch and watch in str(entry["description"])
    assert entry.walk("VALARM")[0].decoded("trigger") == -reminders.ALARM_BEFORE
    # The UID is the event's: the file downloaded after the host moved the show (an hour later,
    # edited tomorrow) updates the entry: the same UID with a higher SEQUENCE.
    later = event.scheduled_start + timedelta(hours=1)
    LiveEvent.objects.filter(pk=event.pk).update(
        scheduled_start=later, updated_at=timezone.now() + timedelta(days=1)
    )
    again = Calendar.from_ical(client.get(url).content).walk("VEVENT")[0]
    assert str(again["uid"]) == str(entry["uid"]) == reminders.calendar_uid(event)
    assert again.decoded("dtstart") == later.replace(microsecond=0)
    assert int(again["sequence"]) > int(entry["sequence"])


def test_a_private_shows_calendar_file_is_404_for_outsiders(client, shows):
    url = reverse("viewer:calendar", kwargs={"brand": "acme", "slug": shows["private"].slug})

    assert client.get(url).status_code == 404


# Remind me: the e-mail sign-up --------------------------------------------------------------------


def remind(client, event, **data):
    url = reverse("viewer:remind", kwargs={"brand": event.organization.slug, "slug": event.slug})
    return client.post(url, data)


def test_a_signed_in_viewer_signs_up_once_and_sees_it(client, shows):
    viewer = UserFactory(email="ana@example.com")
    client.force_login(viewer)
    event = shows["soon"]

    response = remind(client, event, next="/b/acme/")
    remind(client, event)  # a double click keeps one reminder

    assert response.status_code == 302 and response["Location"] == "/b/acme/"
    assert list(ShowReminder.objects.values_list("event", "user")) == [(event.pk, viewer.pk)]
    html = client.get("/b/acme/").content.decode()
    assert "Reminder set" in section(html, "shows-upcoming")
    # the card's form brings the viewer back to that card, not the top of the list
    assert f'name="next" value="/b/acme/#show-{event.pk}"' in section(html, "shows-upcoming")

    remind(client, event, cancel="1")
    assert not ShowReminder.objects.exists()


def test_a_signed_out_reminder_post_is_refused_with_the_reason(client, shows):
    response = remind(client, shows["soon"])

    assert response.status_code == 403
    assert reminders.SIGN_IN_FIRST in response.content.decode()
    assert not ShowReminder.objects.exists()


@pytest.mark.parametrize("which", ["live", "private"])
def test_no_reminder_for_a_show_that_started_or_one_the_viewer_may_not_watch(client, shows, which):
    client.force_login(UserFactory(email="ana@example.com"))

    response = remind(client, shows[which])

    assert response.status_code == (400 if which == "live" else 404)
    assert not ShowReminder.objects.exists()


def test_a_foreign_next_address_is_not_followed(client, shows):
    client.force_login(UserFactory(email="ana@example.com"))

    response = remind(client, shows["soon"], next="https://evil.example.net/")

    assert response["Location"] == reverse("viewer:brand", kwargs={"brand": "acme"})
