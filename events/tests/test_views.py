"""The seller dashboard: brand isolation, roles, the event form and the stream key's visibility."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory, OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct, LiveEvent, studio_url
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop.video import BackendUnavailable

pytestmark = pytest.mark.django_db

Role = Membership.Role
Status = LiveEvent.Status
POST_URLS = ["reveal-key", "rotate-key", "retry-channel", "end", "cancel", "delete"]
EVENT_URLS = ["detail", "edit", *POST_URLS]


def url(name, event=None):
    return studio_url(f"events:{name}", event) if event else reverse(f"events:{name}")


def key_of(video, event):
    return video.channels[event.channel_id].stream_key


def form_data(**overrides):
    values = {"title": "Summer live", "scheduled_start": "2031-06-01T19:00", "is_recorded": "on"}
    values.update(overrides)
    return values


# Access ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "create"])
def test_anonymous_users_are_sent_to_log_in(client, name):
    response = client.get(url(name))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url(name)}"


@pytest.mark.parametrize("name", EVENT_URLS)
def test_anonymous_users_are_sent_to_log_in_from_event_pages(client, name):
    event = LiveEventFactory()

    response = client.post(url(name, event)) if name in POST_URLS else client.get(url(name, event))

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('login')}?next=")
    assert LiveEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("name", EVENT_URLS)
def test_another_brands_event_is_not_found_on_every_event_url(client, host, other_brand, video, name):
    theirs = LiveEventFactory(organization=other_brand)
    client.force_login(host)

    response = client.post(url(name, theirs)) if name in POST_URLS else client.get(url(name, theirs))

    assert response.status_code == 404
    assert video.calls == []
    theirs.refresh_from_db()
    assert theirs.status == Status.SCHEDULED


def test_the_list_shows_only_the_users_brands_events(client, host, brand, other_brand):
    LiveEventFactory(organization=brand, title="Our spring drop")
    LiveEventFactory(organization=other_brand, title="Their secret launch")
    client.force_login(host)

    response = client.get(url("list"))

    assert response.status_code == 200
    assert "Our spring drop" in response.text
    assert "Their secret launch" not in response.text


@pytest.mark.parametrize("name", ["reveal-key", "rotate-key", "end"])
def test_moderators_may_not_touch_the_key_or_end_the_show(client, moderator, event, video, name):
    client.force_login(moderator)
    calls_before = len(video.calls)

    response = client.post(url(name, event))

    assert response.status_code == 403
    assert key_of(video, event) not in response.text
    assert len(video.calls) == calls_before
    assert LiveEvent.objects.get(pk=event.pk).status == Status.SCHEDULED


@pytest.mark.parametrize("name", ["edit", "retry-channel", "cancel", "delete"])
def test_moderators_may_not_manage_the_event(client, moderator, event, name):
    client.force_login(moderator)

    response = client.post(url(name, event), form_data())

    assert response.status_code == 403
    assert LiveEvent.objects.get(pk=event.pk).status == Status.SCHEDULED


def test_moderators_may_not_create_events(client, moderator):
    client.force_login(moderator)

    assert client.get(url("create")).status_code == 403
    assert client.post(url("create"), form_data()).status_code == 403
    assert not LiveEvent.objects.exists()


@pytest.mark.parametrize("name", POST_URLS)
def test_action_urls_refuse_get(client, host, event, name):
    client.force_login(host)

    assert client.get(url(name, event)).status_code == 405


# List ----------------------------------------------------------------------------------------------


def test_the_list_groups_by_status_and_filters(client, host, brand):
    LiveEventFactory(organization=brand, title="On air now", status=Status.LIVE)
    LiveEventFactory(organization=brand, title="Next week")
    LiveEventFactory(organization=brand, title="Last month", status=Status.ENDED)
    client.force_login(host)

    everything = client.get(url("list")).text
    assert everything.index("Live now") < everything.index("On air now") < everything.index("Upcoming")
    assert everything.index("Upcoming") < everything.index("Next week") < everything.index("Past")
    assert everything.index("Past") < everything.index("Last month")

    ended = client.get(url("list"), {"status": "ended"}).text
    assert "Last month" in ended
    assert "Next week" not in ended
    assert "On air now" not in ended


def test_new_event_button_picks_the_brand_when_the_user_manages_several(client, host, other_brand):
    Membership.objects.create(user=host, organization=other_brand, role=Role.OWNER)
    client.force_login(host)

    listing = client.get(url("list")).text
    picker = client.get(url("create"))

    for slug in ("acme", "globex"):
        assert f"{url('create')}?brand={slug}" in listing
        assert f"{url('create')}?brand={slug}" in picker.text
    assert picker.templates[0].name == "studio/brand_picker.html"


def test_create_for_a_brand_the_user_does_not_belong_to_is_not_found(client, host, other_brand):
    client.force_login(host)

    response = client.post(f"{url('create')}?brand={other_brand.slug}", form_data())

    assert response.status_code == 404
    assert not LiveEvent.objects.exists()


# Create ------------------------------------------------------------------------------------------


def test_create_provisions_a_channel_and_redirects_to_the_event(client, host, brand, video):
    first, second = ProductFactory(organization=brand), ProductFactory(organization=brand)
    client.force_login(host)

    response = client.post(
        url("create"),
        form_data(
            slug="summer-live",
            products=[first.pk, second.pk],
            **{f"position_{second.pk}": "1", f"position_{first.pk}": "2"},
        ),
    )

    event = LiveEvent.objects.get()
    assert response.status_code == 302
    assert response.url == url("detail", event)
    assert (event.organization, event.slug, event.status) == (brand, "summer-live", Status.SCHEDULED)
    assert event.created_by == host
    assert [row.product for row in event.lineup.all()] == [second, first]
    assert video.calls_to("create_channel") == [
        {"name": f"acme-{event.pk}", "latency": "low", "record": True, "private": False}
    ]


def test_create_when_the_backend_fails_shows_the_reason_and_retry_fixes_it(client, host, video):
    video.fail_next("create_channel", BackendUnavailable("The video service is unreachable."))
    client.force_login(host)

    response = client.post(url("create"), form_data(), follow=True)

    event = LiveEvent.objects.get()
    assert event.status == Status.NEEDS_CHANNEL
    assert "The video service is unreachable." in response.text
    assert url("retry-channel", event) in response.text

    response = client.post(url("retry-channel", event), follow=True)

    event.refresh_from_db()
    assert event.status == Status.SCHEDULED
    assert "Channel ready." in response.text
    assert url("retry-channel", event) not in response.text


def test_retry_does_not_give_a_cancelled_event_a_channel(client, host, brand, video):
    event = LiveEventFactory(organization=brand, status=Status.CANCELLED, channel_id="")
    client.force_login(host)

    response = client.post(url("retry-channel", event))

    assert response.status_code == 302
    assert video.calls_to("create_channel") == []


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"products": ["999999"]}, "Product 999999 is not one of this brand"),
        ({"products": ["abc"]}, "is not a valid product id"),
        ({"scheduled_start": ""}, "Enter the start date and time."),
        ({"scheduled_start": "next tuesday"}, "Enter a valid date and time."),
        ({"title": ""}, "This field is required."),
        ({"slug": "Not a slug!"}, "Enter a valid “slug”"),
    ],
)
def test_bad_input_writes_nothing_and_shows_the_error(client, host, video, bad, error):
    client.force_login(host)

    response = client.post(url("create"), form_data(**bad))

    assert response.status_code == 200
    assert error in response.text
    assert not LiveEvent.objects.exists()
    assert video.calls == []


def test_a_forged_product_of_another_brand_writes_nothing(client, host, other_brand, video):
    foreign = ProductFactory(organization=other_brand, name="Globex secret")
    client.force_login(host)

    response = client.post(url("create"), form_data(products=[foreign.pk]))

    assert response.status_code == 200
    assert f"Product {foreign.pk} is not one of this brand" in response.text
    assert "Globex secret" not in response.text
    assert not LiveEvent.objects.exists()
    assert not EventProduct.objects.exists()
    assert video.calls == []


def test_a_duplicate_slug_in_the_brand_is_a_form_error_not_a_crash(client, host, brand, video):
    LiveEventFactory(organization=brand, slug="summer-live")
    client.force_login(host)

    response = client.post(url("create"), form_data(slug="summer-live"))

    assert response.status_code == 200
    assert "Another event of this brand already uses this address" in response.text
    assert LiveEvent.objects.count() == 1
    assert video.calls == []


def test_another_brands_slug_is_free_and_not_revealed(client, host, brand, other_brand, video):
    """Slugs are unique per brand: the form no longer tells anyone which addresses other brands use."""
    theirs = LiveEventFactory(organization=other_brand, slug="summer-live")
    client.force_login(host)

    response = client.post(url("create"), form_data(slug="summer-live"))

    ours = LiveEvent.objects.get(organization=brand)
    assert response.status_code == 302 and response.url == url("detail", ours)
    assert ours.slug == theirs.slug == "summer-live"
    viewer = reverse("viewer:watch", kwargs={"brand": "acme", "slug": "summer-live"})
    assert client.get(viewer).context["event"] == ours


def test_a_title_makes_a_slug_free_in_the_brand(host, brand, other_brand, video):
    LiveEventFactory(organization=other_brand, slug="spring-drop")
    start = timezone.now() + timedelta(days=1)

    first = services.create_event(organization=brand, title="Spring drop", scheduled_start=start, by=host)
    second = services.create_event(organization=brand, title="Spring drop", scheduled_start=start, by=host)

    assert (first.slug, second.slug) == ("spring-drop", "spring-drop-2")


def test_studio_urls_of_a_slug_two_of_the_users_brands_share(client, host, brand, other_brand, video):
    """A member of both brands reaches each event by ?brand= (every studio link and form carries
    it); the bare URL picks the older event, deterministically; nobody reaches another brand's."""
    MembershipFactory(organization=other_brand, user=host, role=Role.HOST)
    start = timezone.now() + timedelta(days=1)
    ours = services.create_event(
        organization=brand, title="Drop", slug="drop", scheduled_start=start, by=host
    )
    theirs = services.create_event(
        organization=other_brand, title="Drop", slug="drop", scheduled_start=start, by=host
    )
    client.force_login(host)

    assert client.get(url("detail", ours)).context["event"] == ours
    page = client.get(url("detail", theirs))
    assert page.context["event"] == theirs
    assert f'action="{url("cancel", theirs)}"' in page.text.replace("&amp;", "&")
    assert client.get(reverse("events:detail", kwargs={"slug": "drop"})).context["event"] == ours

    response = client.post(url("cancel", theirs))

    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, theirs.status) == (Status.SCHEDULED, Status.CANCELLED)
    outsider = member(OrganizationFactory(slug="initech"))
    client.force_login(outsider)
    assert client.get(reverse("events:detail", kwargs={"slug": "drop"})).status_code == 404
    assert client.get(url("detail", theirs)).status_code == 404


def test_the_create_form_lists_only_the_brands_active_products(client, host, brand, other_brand):
    ProductFactory(organization=brand, name="Rose lipstick")
    ProductFactory(organization=brand, name="Retired blush", is_active=False)
    ProductFactory(organization=other_brand, name="Globex mascara")
    client.force_login(host)

    page = client.get(url("create")).text

    assert "Rose lipstick" in page
    assert "Retired blush" not in page
    assert "Globex mascara" not in page


# Edit --------------------------------------------------------------------------------------------


def test_edit_changes_details_and_lineup_together(client, host, brand, event, broadcasts):
    new = ProductFactory(organization=brand, name="Blush")
    old = event.lineup.get().product
    client.force_login(host)

    response = client.post(
        url("edit", event),
        form_data(
            title="Spring drop, day 2",
            slug="spring-day-2",
            products=[old.pk, new.pk],
            **{f"position_{new.pk}": "1", f"position_{old.pk}": "2"},
        ),
    )

    event.refresh_from_db()
    assert response.status_code == 302
    assert response.url == url("detail", event)
    assert (event.title, event.slug) == ("Spring drop, day 2", "spring-day-2")
    assert [row.product for row in event.lineup.all()] == [new, old]


def test_edit_with_a_forged_product_changes_nothing(client, host, other_brand, event):
    client.force_login(host)

    response = client.post(url("edit", event), form_data(title="Changed", products=[ProductFactory().pk]))

    assert response.status_code == 200
    event.refresh_from_db()
    assert event.title == "Spring drop"
    assert event.lineup.count() == 1


def test_editing_an_ended_event_is_a_form_error(client, host, event):
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.ENDED)
    client.force_login(host)

    response = client.post(url("edit", event), form_data(title="Changed"))

    assert response.status_code == 200
    assert "This event is ended; it can no longer change." in response.text
    assert LiveEvent.objects.get(pk=event.pk).title == "Spring drop"


# Detail and the stream key -------------------------------------------------------------------------


def test_detail_shows_the_go_live_panel_without_the_key(client, host, event, video):
    StreamSessionFactory(event=event, end_reason="encoder disconnected", peak_viewers=321)
    client.force_login(host)

    response = client.get(url("detail", event))

    page = response.text
    assert response.status_code == 200
    assert key_of(video, event) not in page
    assert event.ingest_url in page
    assert event.playback_url in page
    assert "-g 60" in page  # 2 s keyframes at 30 fps
    assert f"-f flv &quot;{event.ingest_url}&lt;stream key&gt;&quot;" in page
    assert "3,500 kbps" in page
    assert "Rose lipstick" in page
    assert "encoder disconnected" in page
    assert "321" in page
    assert url("reveal-key", event) in page
    assert url("rotate-key", event) in page
    assert "no-store" in response["Cache-Control"]


def test_moderators_see_the_page_but_no_key_buttons(client, moderator, event, video):
    client.force_login(moderator)

    page = client.get(url("detail", event)).text

    assert key_of(video, event) not in page
    assert event.ingest_url in page
    for name in ("reveal-key", "rotate-key", "end", "cancel", "delete", "edit"):
        assert url(name, event) not in page
    assert "Only the brand's hosts and owners can see the stream key." in page


def test_reveal_shows_the_key_to_a_host_and_only_in_that_response(client, host, event, video):
    client.force_login(host)

    revealed = client.post(url("reveal-key", event))

    assert revealed.status_code == 200
    assert key_of(video, event) in revealed.text
    assert "no-store" in revealed["Cache-Control"]
    assert key_of(video, event) not in client.get(url("detail", event)).text


def test_reveal_shows_a_self_kept_key(client, host, brand, video):
    video.stores_stream_keys = False
    event = services.create_event(organization=brand, title="Local", scheduled_start=timezone.now(), by=host)
    client.force_login(host)

    assert key_of(video, event) not in client.get(url("detail", event)).text
    assert key_of(video, event) in client.post(url("reveal-key", event)).text


def test_rotate_issues_a_new_key(client, host, event, video):
    old = key_of(video, event)
    client.force_login(host)

    response = client.post(url("rotate-key", event), follow=True)

    new = key_of(video, event)
    assert new != old
    assert "New stream key issued" in response.text
    assert new not in response.text and old not in response.text
    assert new in client.post(url("reveal-key", event)).text


def test_a_backend_failure_on_reveal_is_a_message_not_a_crash(client, host, event, video):
    video.fail_next("get_stream_key", BackendUnavailable("IVS is throttling us."))
    client.force_login(host)

    response = client.post(url("reveal-key", event), follow=True)

    assert response.status_code == 200
    assert "IVS is throttling us." in response.text


def test_needs_channel_shows_the_error_and_hides_the_key_panel(client, host, brand):
    event = LiveEventFactory(
        organization=brand, status=Status.NEEDS_CHANNEL, channel_id="", provisioning_error="Quota exceeded."
    )
    client.force_login(host)

    page = client.get(url("detail", event)).text

    assert "Quota exceeded." in page
    assert url("retry-channel", event) in page
    assert url("reveal-key", event) not in page


# End, cancel, delete -------------------------------------------------------------------------------


def test_end_stops_a_live_event(client, host, event, video):
    video.go_live(event.channel_id)
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.LIVE)
    client.force_login(host)
    assert url("end", event) in client.get(url("detail", event)).text

    response = client.post(url("end", event), follow=True)

    assert LiveEvent.objects.get(pk=event.pk).status == Status.ENDED
    assert not video.is_live(event.channel_id)
    assert "Event ended" in response.text


def test_cancel_and_delete(client, host, event, video):
    client.force_login(host)

    client.post(url("cancel", event))
    assert LiveEvent.objects.get(pk=event.pk).status == Status.CANCELLED
    assert event.channel_id not in video.channels

    response = client.post(url("delete", event))
    assert response.status_code == 302
    assert response.url == url("list")
    assert not LiveEvent.objects.filter(pk=event.pk).exists()


def test_deleting_a_live_event_is_refused_with_a_message(client, host, event):
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.LIVE)
    client.force_login(host)

    response = client.post(url("delete", event), follow=True)

    assert response.status_code == 200
    assert "End the live stream before deleting the event." in response.text
    assert LiveEvent.objects.filter(pk=event.pk).exists()


def test_cancelling_an_ended_event_is_refused_with_a_message(client, host, event):
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.ENDED)
    client.force_login(host)

    response = client.post(url("cancel", event), follow=True)

    assert "Only an event that has not gone live can be cancelled" in response.text
    assert LiveEvent.objects.get(pk=event.pk).status == Status.ENDED
