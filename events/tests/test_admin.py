"""LiveEventAdmin: brand-scoped, writes through the services, never shows a stream key."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveEventFactory, StreamSessionFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role
Status = LiveEvent.Status
CHANGELIST = reverse("admin:events_liveevent_changelist")


def change_url(event):
    return reverse("admin:events_liveevent_change", args=[event.pk])


def change_data(event, **overrides):
    """The change form as the admin posts it, lineup inline included."""
    lineup = list(event.lineup.all())
    start = timezone.localtime(event.scheduled_start)
    data = {
        "title": event.title,
        "slug": event.slug,
        "description": event.description,
        "scheduled_start_0": start.strftime("%Y-%m-%d"),
        "scheduled_start_1": start.strftime("%H:%M:%S"),
        "lineup-TOTAL_FORMS": str(len(lineup)),
        "lineup-INITIAL_FORMS": str(len(lineup)),
        "lineup-MIN_NUM_FORMS": "0",
        "lineup-MAX_NUM_FORMS": "1000",
        "sessions-TOTAL_FORMS": "0",
        "sessions-INITIAL_FORMS": "0",
        "invite_links-TOTAL_FORMS": "0",
        "invite_links-INITIAL_FORMS": "0",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
    }
    for i, row in enumerate(lineup):
        data.update(
            {
                f"lineup-{i}-id": str(row.pk),
                f"lineup-{i}-event": str(event.pk),
                f"lineup-{i}-product": str(row.product_id),
                f"lineup-{i}-position": str(row.position),
            }
        )
    data.update(overrides)
    return data


def test_a_host_sees_only_their_brands_events(client, host, brand, other_brand):
    LiveEventFactory(organization=brand, title="Our spring drop")
    LiveEventFactory(organization=other_brand, title="Their secret launch")
    client.force_login(host)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "Our spring drop" in response.text
    assert "Their secret launch" not in response.text
    assert (
        client.get(change_url(LiveEventFactory(organization=other_brand))).status_code == 302
    )  # "not found"


def test_the_lineup_inline_offers_only_the_events_brand_products(client, host, brand, other_brand, event):
    ProductFactory(organization=other_brand, name="Globex mascara")
    Membership.objects.create(user=host, organization=other_brand, role=Role.HOST)
    ProductFactory(organization=brand, name="Acme blush")
    client.force_login(host)

    response = client.get(change_url(event))

    assert response.status_code == 200
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is EventProduct)
    choices = formset.formset.forms[0].fields["product"].queryset
    assert {p.name for p in choices} == {"Rose lipstick", "Acme blush"}
    assert "Globex mascara" not in response.text


def test_the_inline_product_field_is_scoped_to_the_users_brands(rf, host, other_brand):
    from django.contrib import admin

    from events.admin import EventProductInline

    ProductFactory(organization=other_brand, name="Globex mascara")
    request = rf.get("/")
    request.user = host
    inline = EventProductInline(LiveEvent, admin.site)

    field = inline.formfield_for_foreignkey(EventProduct._meta.get_field("product"), request)

    assert "Globex mascara" not in {p.name for p in field.queryset}


def test_the_change_page_never_shows_the_stream_key(client, host, brand, video):
    video.stores_stream_keys = False
    event = services.create_event(organization=brand, title="Local", scheduled_start=timezone.now(), by=host)
    event.refresh_from_db()
    StreamSessionFactory(event=event, end_reason="encoder disconnected")
    client.force_login(host)

    page = client.get(change_url(event)).text

    assert video.channels[event.channel_id].stream_key not in page
    assert event.stream_key_encrypted not in page
    assert event.stream_key_digest not in page
    assert "Reveal on the event page" in page
    assert "encoder disconnected" in page  # the read-only sessions inline


def test_add_goes_to_the_dashboard_form(client, host):
    client.force_login(host)

    response = client.get(reverse("admin:events_liveevent_add"))

    assert response.status_code == 302
    assert response.url == reverse("events:create")


def test_a_change_goes_through_update_event_and_set_lineup(
    client, host, brand, event, django_capture_on_commit_callbacks, broadcasts
):
    old = event.lineup.get()
    blush = ProductFactory(organization=brand, name="Blush")
    client.force_login(host)
    data = change_data(event, title="Spring drop, day 2")
    data.update(
        {
            "lineup-TOTAL_FORMS": "2",
            "lineup-0-position": "2",
            "lineup-1-event": str(event.pk),
            "lineup-1-product": str(blush.pk),
            "lineup-1-position": "1",
        }
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(event), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event.refresh_from_db()
    assert event.title == "Spring drop, day 2"
    assert [row.product for row in event.lineup.all()] == [blush, old.product]
    assert [m["type"] for m in broadcasts] == ["lineup.changed"]


def test_a_forged_inline_product_of_another_brand_is_refused(client, host, other_brand, event):
    client.force_login(host)
    data = change_data(event, **{"lineup-0-product": str(ProductFactory(organization=other_brand).pk)})

    response = client.post(change_url(event), data)

    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.text
    assert event.lineup.get().product.name == "Rose lipstick"


def test_the_same_product_twice_in_the_inline_is_a_form_error(client, host, event):
    client.force_login(host)
    data = change_data(event)
    data.update(
        {
            "lineup-TOTAL_FORMS": "2",
            "lineup-1-event": str(event.pk),
            "lineup-1-product": data["lineup-0-product"],
            "lineup-1-position": "2",
        }
    )

    response = client.post(change_url(event), data)

    assert response.status_code == 200
    assert "Please correct the duplicate data for product" in response.text
    assert event.lineup.count() == 1


def test_rotate_action_calls_the_service(client, host, event, video):
    old = video.channels[event.channel_id].stream_key
    client.force_login(host)

    response = client.post(
        CHANGELIST, {"action": "rotate_stream_key", ACTION_CHECKBOX_NAME: [event.pk]}, follow=True
    )

    new = video.channels[event.channel_id].stream_key
    assert new != old
    assert new not in response.text
    assert "Issued a new stream key for Spring drop" in response.text


def test_end_action_ends_and_reports_failures(client, host, brand, event, video):
    cancelled = LiveEventFactory(organization=brand, title="Old show", status=Status.CANCELLED)
    client.force_login(host)

    response = client.post(
        CHANGELIST, {"action": "end_event", ACTION_CHECKBOX_NAME: [event.pk, cancelled.pk]}, follow=True
    )

    assert LiveEvent.objects.get(pk=event.pk).status == Status.ENDED
    assert LiveEvent.objects.get(pk=cancelled.pk).status == Status.CANCELLED
    assert "Ended Spring drop." in response.text
    assert "Old show: A cancelled event cannot be ended." in response.text


def test_moderators_get_no_host_actions_and_no_change_form(client, brand, event):
    moderator = member(brand, role=Role.MODERATOR)
    client.force_login(moderator)

    changelist = client.get(CHANGELIST)
    assert "Spring drop" in changelist.text
    assert "rotate_stream_key" not in changelist.text

    response = client.post(change_url(event), change_data(event, title="Hijacked"))
    assert response.status_code == 403
    assert LiveEvent.objects.get(pk=event.pk).title == "Spring drop"


def test_delete_goes_through_delete_event(client, host, event, video):
    client.force_login(host)

    response = client.post(reverse("admin:events_liveevent_delete", args=[event.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not LiveEvent.objects.filter(pk=event.pk).exists()
    assert video.calls_to("delete_channel") == [{"channel_id": event.channel_id}]


def test_bulk_delete_is_not_offered(client, host, event):
    client.force_login(host)

    assert "delete_selected" not in client.get(CHANGELIST).text


def view_on_site_url(obj):
    from django.contrib.contenttypes.models import ContentType

    return reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(obj).pk, obj.pk])


def test_view_on_site_redirects_to_the_users_own_brands_event(client, event, host):
    client.force_login(host)

    response = client.get(view_on_site_url(event))

    assert response.status_code == 302
    assert response["Location"].endswith(event.get_absolute_url())


def test_view_on_site_never_reveals_another_brands_event(client, event, other_brand, video):
    """The admin's shortcut used to redirect any staff user to any event's address (its slug)."""
    outsider = member(other_brand, role=Role.OWNER)
    client.force_login(outsider)

    response = client.get(view_on_site_url(event))
    missing = client.get(reverse("admin:view_on_site", args=[view_on_site_url(event).split("/")[3], 999999]))
    unknown_type = client.get(reverse("admin:view_on_site", args=[999999, event.pk]))

    assert response.status_code == missing.status_code == unknown_type.status_code == 404
    assert event.slug not in response.content.decode()
    assert "Location" not in response


def test_view_on_site_needs_a_staff_login(client, event):
    response = client.get(view_on_site_url(event))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_slug_taken_in_the_brand_is_a_form_error_and_another_brands_is_free(
    client, host, brand, other_brand, event
):
    LiveEventFactory(organization=brand, slug="taken-here")
    LiveEventFactory(organization=other_brand, slug="taken-there")
    client.force_login(host)

    refused = client.post(change_url(event), change_data(event, slug="taken-here"))
    accepted = client.post(change_url(event), change_data(event, slug="taken-there"))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["slug"] == [
        "Another event of this brand already uses this address. Choose another, or leave it blank."
    ]
    assert accepted.status_code == 302
    event.refresh_from_db()
    assert event.slug == "taken-there"
