"""The show lists' replays (recordings.listings through events.extensions.public_replays): ready
replays of public ended shows and published videos, with thumbnails; nothing anyone may not watch."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from events.views.discover import forget_list_pages
from recordings.listings import public_replays, public_replays_query
from recordings.models import Recording
from recordings.selectors import may_watch_recording
from recordings.tests.test_replay_views import ready_recording

pytestmark = pytest.mark.django_db

ENDED = LiveEvent.Status.ENDED


@pytest.fixture
def replays(brand, other_brand):
    now = timezone.now()
    show = LiveEventFactory(organization=brand, title="Acme ended show", status=ENDED)
    ready_recording(show, started=now - timedelta(days=2))
    newest_of_show = ready_recording(show, started=now - timedelta(days=1))  # a reconnect: listed once
    video = ready_recording(
        organization=brand, title="Acme boots video", slug="boots", published_at=now - timedelta(hours=3)
    )
    ready_recording(LiveEventFactory(organization=other_brand, title="Globex ended show", status=ENDED))
    # Nobody outside the brand may watch these:
    ready_recording(
        LiveEventFactory(organization=brand, title="Acme private show", status=ENDED, is_private=True)
    )
    ready_recording(organization=brand, title="Acme draft video", slug="draft")
    ready_recording(
        LiveEventFactory(organization=brand, title="Acme live again", status=LiveEvent.Status.LIVE)
    )
    ready_recording(
        LiveEventFactory(organization=brand, title="Acme processing", status=ENDED),
        status=Recording.Status.PROCESSING,
    )
    return {"show": show, "recording": newest_of_show, "video": video}


def test_replays_listed_are_the_public_ready_ones_newest_first(replays, brand):
    everything = [card["title"] for card in public_replays()]
    acme = [card["title"] for card in public_replays(organization_id=brand.pk)]

    assert everything == ["Globex ended show", "Acme boots video", "Acme ended show"]
    assert acme == ["Acme boots video", "Acme ended show"]
    anyone = AnonymousUser()
    assert all(may_watch_recording(anyone, r) for r in public_replays_query())


def test_a_replay_card_links_its_page_with_a_thumbnail_and_length(replays):
    cards = {card["title"]: card for card in public_replays()}
    show, recording = replays["show"], replays["recording"]

    card = cards["Acme ended show"]
    assert card["url"] == reverse("replays:event", kwargs={"brand": "acme", "slug": show.slug})
    assert card["image"] == recording.file_url(recording.thumbnails[1])  # a third of the way in
    assert card["duration"] == "12:34"
    assert cards["Acme boots video"]["url"] == reverse(
        "replays:video", kwargs={"brand": "acme", "slug": "boots"}
    )


def test_the_home_page_shows_the_replays_in_three_queries(client, replays, django_assert_num_queries):
    with django_assert_num_queries(3):
        html = client.get("/").content.decode()

    replays_section = html[html.index('id="shows-replays"') :]
    assert "Acme ended show" in replays_section and "Acme boots video" in replays_section
    for hidden in ("Acme private show", "Acme draft video", "Acme processing"):
        assert hidden not in html
    recording = replays["recording"]
    assert f'src="{recording.file_url(recording.thumbnails[1])}"' in replays_section

    for _ in range(4):
        ready_recording(LiveEventFactory(organization=OrganizationFactory(), status=ENDED))
    forget_list_pages()
    with django_assert_num_queries(3):
        assert client.get("/").content.decode().count('data-kind="replay"') == 7 * 2  # card and badge


def test_a_brand_page_shows_its_own_replays(client, replays):
    html = client.get(reverse("viewer:brand", kwargs={"brand": "globex"})).content.decode()

    assert "Globex ended show" in html and "Acme" not in html[html.index('id="shows-replays"') :]
