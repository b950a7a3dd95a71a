"""Link previews of replay and video pages: Open Graph and Twitter card tags with the poster as an
absolute URL and the page's canonical URL (the event page's: events/tests/test_share_meta.py)."""

import pytest
from django.urls import reverse

from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from events.tests.test_share_meta import head_tags
from recordings.tests.test_replay_views import ready_recording

pytestmark = pytest.mark.django_db


def test_a_replay_unfurls_with_its_poster_and_canonical_url(client):
    event = LiveEventFactory(status=LiveEvent.Status.ENDED, title="Trail gear", description="Jackets.")
    recording = ready_recording(event)
    path = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})

    tags = head_tags(client.get(path))

    poster = f"http://testserver{recording.file_url(recording.thumbnails[1])}"
    assert tags.meta["og:image"] == tags.meta["twitter:image"] == poster
    assert tags.links["canonical"] == tags.meta["og:url"] == f"http://testserver{path}"
    assert tags.meta["og:title"] == f"Trail gear · {event.organization.name}"
    assert tags.meta["og:description"] == "Jackets."
    page = client.get(path).content.decode()
    for secret in ("source_bucket", "source_prefix", "session_id"):
        assert getattr(recording, secret) not in " ".join(tags.meta.values())
    assert "/static/js/viewer/share.js" in tags.scripts and page.count("share.js") == 1


def test_a_published_video_unfurls_with_its_title(client, brand):
    ready_recording(organization=brand, title="Boots review", slug="boots", published_at="2026-12-01T10:00Z")

    tags = head_tags(client.get(reverse("replays:video", kwargs={"brand": "acme", "slug": "boots"})))

    assert tags.meta["og:title"] == "Boots review · Acme"
    assert tags.meta["og:url"] == "http://testserver/v/acme/boots/"
    assert tags.meta["og:image"].startswith("http://testserver/")
