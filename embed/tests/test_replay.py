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


def test_a_signed_replay_in_the_frame_gets_a_signed_query(client, ended, settings):
    """A zero-copy replay's files are always signed (recordings.cdn.signs_replay): in the frame,
    where no cookie of ours arrives, the player gets the policy as a signed URL's query."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from embed.tests.test_video import replay_config
    from recordings.models import Recording

    prefix = "ivs/v1/123456789012/abcd/2026/5/4/12/0/rec"
    ready_recording(ended, files=Recording.Files.REFERENCED, source_prefix=prefix)
    settings.AWS_CLOUDFRONT_DOMAIN = "d111.cloudfront.net"
    settings.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    settings.AWS_CLOUDFRONT_KEY = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    kwargs = {"brand": ended.organization.slug, "slug": ended.slug}

    framed = replay_config(client.get(reverse("embed:replay", kwargs=kwargs)).content.decode())
    own_page = replay_config(client.get(reverse("replays:event", kwargs=kwargs)).content.decode())

    assert "Key-Pair-Id=K2JCJMDEHXQW5F" in framed["mediaQuery"] and framed["withCredentials"] is False
    assert own_page["mediaQuery"] == "" and own_page["withCredentials"] is True
