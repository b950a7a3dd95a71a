"""An ended show's replay in a shop's frame: the replay page with the embed's settings and the
brand's framing, or the show's embed page while no replay is ready."""

import pytest
from django.urls import reverse

from embed.models import EmbedSettings
from embed.tests.test_views import SHOP, csp
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from recordings.tests.test_replay_views import ready_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended(brand):
    EmbedSettings.objects.create(organization=brand, allowed_origins=SHOP)
    return LiveEventFactory(organization=brand, status=LiveEvent.Status.ENDED, title="Spring drop")


def test_the_replay_plays_in_the_frame(client, ended):
    recording = ready_recording(ended)
    kwargs = {"brand": ended.organization.slug, "slug": ended.slug}

    response = client.get(reverse("embed:replay", kwargs=kwargs))
    again = client.get(reverse("embed:replay-recording", kwargs={**kwargs, "recording_id": recording.pk}))

    assert response.status_code == again.status_code == 200
    page = response.content.decode()
    assert 'id="replay-config"' in page and 'id="embed-config"' in page and 'class="topbar"' not in page
    assert csp(response)["frame-ancestors"] == SHOP and "X-Frame-Options" not in response
    # The ended show's embed page links it, and the bridge follows that link inside the frame.
    watch = client.get(reverse("embed:watch", kwargs=kwargs)).content.decode()
    assert f'id="replay-link" href="/e/{ended.organization.slug}/{ended.slug}/replay/"' in watch


def test_no_ready_replay_goes_to_the_shows_embed_page(client, ended):
    kwargs = {"brand": ended.organization.slug, "slug": ended.slug}

    response = client.get(reverse("embed:replay", kwargs=kwargs))

    assert response.status_code == 302 and response["Location"] == reverse("embed:watch", kwargs=kwargs)


def test_the_replay_page_itself_keeps_deny(client, ended):
    ready_recording(ended)

    response = client.get(
        reverse("replays:event", kwargs={"brand": ended.organization.slug, "slug": ended.slug})
    )

    assert response["X-Frame-Options"] == "DENY" and csp(response)["frame-ancestors"] == "'none'"
