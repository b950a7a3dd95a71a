"""A brand's published uploaded video in a shop's frame (/embed/v/<brand>/<video>/): the video
page itself with the embed's settings, the brand's picked poster and framing; oEmbed for the
video's page; anything but a published, ready video is a 404 with its reason, never framed."""

import json
from datetime import timedelta
from urllib.parse import parse_qsl, quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from embed.models import EmbedSettings
from embed.selectors import VIDEO_REFUSED
from embed.tests.test_views import SHOP, csp, oembed
from recordings.models import ProductCue, Recording
from recordings.tests.test_replay_views import ready_recording

pytestmark = pytest.mark.django_db

POSTER = "uploads/acme/trail/poster-abc123.jpg"  # the name posters._use_poster gives a picked frame


def embed_config(page: str) -> dict:
    return json.loads(page.split('id="embed-config" type="application/json">')[1].split("</script>")[0])


def replay_config(page: str) -> dict:
    return json.loads(page.split('id="replay-config" type="application/json">')[1].split("</script>")[0])


@pytest.fixture
def allowed(brand):
    return EmbedSettings.objects.create(organization=brand, allowed_origins=SHOP)


@pytest.fixture
def video(brand):
    """A published, ready uploaded video with the brand's picked poster and one product cue."""
    recording = ready_recording(
        organization=brand,
        title="Trail film",
        slug="trail-film",
        published_at=timezone.now() - timedelta(minutes=5),
    )
    Recording.objects.filter(pk=recording.pk).update(thumbnails=[POSTER])  # the brand picked it
    recording.refresh_from_db()
    jacket = ProductFactory(organization=brand, name="Shell Jacket")
    ProductCue.objects.create(recording=recording, product=jacket, start_ms=2_000, end_ms=9_000)
    return recording


def url(video, route="embed:video"):
    return reverse(route, kwargs={"brand": video.organization.slug, "slug": video.slug})


def test_a_published_video_plays_in_the_brands_frame(client, video, allowed):
    response = client.get(url(video))

    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == SHOP and "X-Frame-Options" not in response
    page = response.content.decode()
    assert 'class="topbar"' not in page and 'id="replay-config"' in page
    config = embed_config(page)
    assert (config["video"], config["videoId"], config["event"]) == ("acme/trail-film", video.pk, None)
    assert config["allowedOrigins"] == [SHOP] and config["title"] == "Trail film"
    assert f'poster="{video.file_url(POSTER)}"' in page  # the picked poster, as on its page
    assert "Shell Jacket" in page and 'data-start-ms="2000"' in page  # its card's cue
    assert '"cartToken": true' in page  # the frame's shop: the embed cart API (no cookie of ours)
    assert "no-store" in response["Cache-Control"]


def test_the_videos_own_page_keeps_deny_and_names_its_oembed(client, video, allowed):
    response = client.get(url(video, "replays:video"))

    assert response["X-Frame-Options"] == "DENY" and csp(response)["frame-ancestors"] == "'none'"
    expected = quote("http://testserver/v/acme/trail-film/", safe="")
    assert f'type="application/json+oembed" href="http://testserver/oembed/?url={expected}"' in (
        response.content.decode()
    )


def test_a_brand_without_allowed_sites_is_framed_by_no_one(client, video):
    response = client.get(url(video))

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY" and csp(response)["frame-ancestors"] == "'none'"


@pytest.mark.parametrize(
    "change",
    [
        {"published_at": None},
        {"status": Recording.Status.FAILED},
        {"status": Recording.Status.PROCESSING},
        {"master_path": ""},
    ],
    ids=["unpublished", "failed", "processing", "no-hls"],
)
def test_anything_but_a_published_ready_video_is_refused_with_a_reason(client, video, allowed, change):
    Recording.objects.filter(pk=video.pk).update(**change)
    client.force_login(member(video.organization))  # the brand's people preview it; embeds do not

    response = client.get(url(video))

    assert response.status_code == 404
    assert response.content.decode() == VIDEO_REFUSED
    assert response["X-Frame-Options"] == "DENY" and csp(response)["frame-ancestors"] == "'none'"


def test_an_event_recording_or_another_brands_slug_is_not_a_video(client, video, other_brand, allowed):
    assert client.get(f"/embed/v/{other_brand.slug}/{video.slug}/").status_code == 404
    assert client.get("/embed/v/acme/no-such-video/").status_code == 404


def test_oembed_answers_the_video_page_with_its_frame_and_poster(client, video):
    response = oembed(client, "http://testserver/v/acme/trail-film/", maxheight=600)

    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "rich" and data["title"] == "Trail film" and data["author_name"] == "Acme"
    assert data["height"] == 600
    assert 'src="http://testserver/embed/v/acme/trail-film/"' in data["html"]
    assert "<script" not in data["html"]
    assert data["thumbnail_url"] == f"http://testserver{video.file_url(POSTER)}"
    # The embed page's own address is answered the same way.
    assert (
        oembed(client, "http://testserver/embed/v/acme/trail-film/").json()["html"]
        == (oembed(client, "http://testserver/v/acme/trail-film/", maxheight=900).json()["html"])
    )


def test_oembed_never_reveals_an_unpublished_video(client, video):
    Recording.objects.filter(pk=video.pk).update(published_at=None)
    client.force_login(member(video.organization))

    response = oembed(client, "http://testserver/v/acme/trail-film/")

    assert response.status_code == 404 and response.json()["error"]


def test_the_demo_shop_embeds_a_video(client, settings):
    settings.DEBUG = True

    response = client.get("/embed/demo-shop/?video=northwind/trail-film", HTTP_HOST="localhost:8000")

    assert 'src="http://127.0.0.1:8000/embed.js" data-liveshop-video="northwind/trail-film"' in (
        response.content.decode()
    )


def test_signed_media_come_with_a_signed_query_in_the_frame(client, video, allowed, settings):
    """Where CloudFront signs the video's files, the frame gets no cookie of ours (a site's frame
    on another site): the player gets the same custom policy as a signed URL's query instead."""
    from recordings.tests.test_cdn import KEY_ID, verify

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_CLOUDFRONT_KEY_ID = KEY_ID
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    framed = client.get(url(video))
    own_page = client.get(url(video, "replays:video"))

    config = replay_config(framed.content.decode())
    query = dict(parse_qsl(config["mediaQuery"]))
    assert set(query) == {"Policy", "Signature", "Key-Pair-Id"} and query["Key-Pair-Id"] == KEY_ID
    policy = verify(key, {"CloudFront-Policy": query["Policy"], "CloudFront-Signature": query["Signature"]})
    resource = policy["Statement"][0]["Resource"]
    assert resource.endswith("/*") and video.file_url(video.master_path).startswith(resource[:-1])
    assert config["withCredentials"] is False and "CloudFront-Policy" not in framed.cookies
    # The video's own page keeps its cookies and sends no query.
    assert replay_config(own_page.content.decode())["mediaQuery"] == ""
    assert "CloudFront-Policy" in own_page.cookies
