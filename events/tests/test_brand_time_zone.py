"""A brand's time zone (issue 16): an IANA name its owners choose on the studio's brand page (or in
the admin); the studio's start-time field is typed and shown in it and the start is stored in UTC;
the studio lists shows in it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Membership, Organization
from accounts.tests.factories import OrganizationFactory, member
from events.forms import EventForm
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory


@pytest.mark.django_db
def test_a_brands_time_zone_is_an_iana_name():
    brand = OrganizationFactory.build(slug="zoned", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as refused:
        brand.full_clean()
    assert "time_zone" in refused.value.message_dict

    brand.time_zone = "Europe/Berlin"
    brand.full_clean()
    assert Organization(name="x", slug="y").time_zone == "UTC"


@pytest.mark.django_db
def test_the_start_time_is_typed_and_shown_in_the_brands_time_zone_and_stored_in_utc(client, video):
    brand = OrganizationFactory(time_zone="America/New_York")
    owner = member(brand, role=Membership.Role.OWNER)
    client.force_login(owner)
    start = (timezone.now() + timedelta(days=30)).replace(hour=18, minute=30)

    answer = client.post(
        reverse("events:create") + f"?brand={brand.slug}",
        {"title": "Evening drop", "scheduled_start": start.strftime("%Y-%m-%dT18:30"), "is_recorded": "on"},
    )

    assert answer.status_code == 302, answer.content.decode()
    event = LiveEvent.objects.get(organization=brand)
    local = event.scheduled_start.astimezone(brand.zone)
    assert (local.hour, local.minute) == (18, 30)  # 18:30 in New York ...
    assert event.scheduled_start.utcoffset() == timedelta(0)  # ... kept in UTC
    assert event.scheduled_start.astimezone(UTC).hour in (22, 23)  # EDT or EST
    edit = client.get(reverse("events:edit", args=[event.slug])).content.decode()
    assert f'value="{start.strftime("%Y-%m-%d")}T18:30"' in edit  # shown back as typed
    assert "America/New_York" in edit


@pytest.mark.django_db
def test_the_same_typed_time_is_another_moment_for_a_brand_elsewhere():
    typed = {"title": "Drop", "scheduled_start": "2031-01-15T09:00"}
    moments = {}
    for zone in ("UTC", "Europe/Berlin", "Asia/Tokyo"):
        form = EventForm(typed, organization=OrganizationFactory(time_zone=zone))
        assert form.is_valid(), form.errors
        moments[zone] = form.cleaned_data["scheduled_start"]

    assert moments["UTC"] == datetime(2031, 1, 15, 9, 0, tzinfo=UTC)
    assert moments["Europe/Berlin"] == datetime(2031, 1, 15, 8, 0, tzinfo=UTC)
    assert moments["Asia/Tokyo"] == datetime(2031, 1, 15, 0, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_time_the_brands_clock_skips_is_refused():
    form = EventForm(
        {"title": "Drop", "scheduled_start": "2031-03-30T02:30"},  # Berlin goes from 02:00 to 03:00
        organization=OrganizationFactory(time_zone="Europe/Berlin"),
    )
    assert not form.is_valid() and "scheduled_start" in form.errors


@pytest.mark.django_db
def test_the_studio_lists_a_brands_shows_in_its_time_zone(client, video):
    brand = OrganizationFactory(time_zone="Asia/Tokyo")
    client.force_login(member(brand, role=Membership.Role.OWNER))
    event = LiveEventFactory(organization=brand, scheduled_start=datetime(2031, 1, 15, 0, 0, tzinfo=UTC))

    listing = client.get(reverse("events:list")).content.decode()
    detail = client.get(event.get_absolute_url()).content.decode()

    assert "09:00 JST" in listing and "09:00 JST" in detail


@pytest.mark.django_db
def test_an_owner_picks_the_brands_time_zone_from_a_list_in_the_admin(client):
    brand = OrganizationFactory()
    client.force_login(member(brand, role=Membership.Role.OWNER))
    url = reverse("admin:accounts_organization_change", args=[brand.pk])
    form = client.get(url).content.decode()
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in form

    fields = {"name": brand.name, "slug": brand.slug, "memberships-TOTAL_FORMS": "0"}
    fields |= {
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    refused = client.post(url, {**fields, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 200 and "time_zone" in refused.context["adminform"].form.errors
    client.post(url, {**fields, "time_zone": "Europe/Berlin"})
    brand.refresh_from_db()
    assert brand.time_zone == "Europe/Berlin"


@pytest.mark.django_db
def test_an_owner_sets_the_brands_time_zone_on_the_studios_brand_page_and_the_studio_reads_in_it(
    client, video
):
    brand = OrganizationFactory(name="Acme", slug="acme")
    LiveEventFactory(organization=brand, scheduled_start=datetime(2031, 1, 15, 17, 0, tzinfo=UTC))
    owner = member(brand, role=Membership.Role.OWNER)
    page = reverse("brand-settings")
    client.force_login(owner)

    shown = client.get(page).content.decode()
    refused = client.post(page, {"brand": brand.slug, "time_zone": "Mars/Olympus"})
    saved = client.post(page, {"brand": brand.slug, "time_zone": "Europe/Berlin"}, follow=True)

    assert f'href="{page}" aria-current="page"' in shown  # the studio's nav leads here
    assert '<option value="UTC" selected>UTC</option>' in shown
    assert refused.status_code == 400 and "Mars/Olympus" in refused.content.decode()
    brand.refresh_from_db()
    assert brand.time_zone == "Europe/Berlin"
    assert "Acme&#x27;s times are now in Europe/Berlin." in saved.content.decode()
    assert '<option value="Europe/Berlin" selected>Europe/Berlin</option>' in saved.content.decode()
    assert "18:00 CET" in client.get(reverse("events:list")).content.decode()  # 17:00 UTC on Berlin's clock
    german = client.get(page, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Zeitzone" in german and ">Speichern<" in german and "In Europe/Berlin ist es jetzt" in german


@pytest.mark.django_db
def test_only_a_brands_owners_set_its_time_zone(client):
    brand, other = OrganizationFactory(), OrganizationFactory()
    page = reverse("brand-settings")
    for role in (Membership.Role.HOST, Membership.Role.MODERATOR):
        client.force_login(member(brand, role=role))
        assert client.get(page).status_code == 404  # no brand of theirs to set
        assert client.post(page, {"brand": brand.slug, "time_zone": "Asia/Tokyo"}).status_code == 403
        assert f'href="{page}"' not in client.get(reverse("events:list")).content.decode()
    client.force_login(member(other, role=Membership.Role.OWNER))
    assert client.post(page, {"brand": brand.slug, "time_zone": "Asia/Tokyo"}).status_code == 404
    brand.refresh_from_db()
    assert brand.time_zone == "UTC"

    with pytest.raises(PermissionDenied):  # the service asks the same one place
        services.set_time_zone(organization=brand, time_zone="Asia/Tokyo", by=member(brand))
