"""The replay page of an ended event and the page of an uploaded video: who may open them, what
they embed (public fields only), which recording they play, and how replay views are counted."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveEventFactory
from recordings.models import ProductCue, Recording
from recordings.services.replays import count_replay_view

pytestmark = pytest.mark.django_db

SECRET_FIELDS = {
    "source_bucket": "liveshop-ivs-secret-bucket",
    "source_prefix": "ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/hiddenprefix",
    "session_id": "secret-session-0f3c",
    "stream_ids": ["st-hidden0stream0id0000000"],
    "failure_reason": "an-internal-failure-reason",
}


def ready_recording(event=None, *, organization=None, started=None, **fields) -> Recording:
    organization = organization or event.organization
    n = Recording.objects.count() + 1
    base = f"replays/{event.pk if event else 'v'}/{n}"
    secrets = {
        name: f"{value}-{n}" if isinstance(value, str) else value for name, value in SECRET_FIELDS.items()
    }
    fields = {"status": Recording.Status.READY, **fields}
    return Recording.objects.create(
        organization=organization,
        event=event,
        backend=Recording.Backend.IVS if event else Recording.Backend.UPLOAD,
        started_at=started or timezone.now() - timedelta(hours=1),
        duration_ms=754_000,
        cdn_prefix=base,
        master_path=f"{base}/media/hls/master.m3u8",
        renditions=[
            {
                "name": "720p30",
                "resolution": "1280x720",
                "width": 1280,
                "height": 720,
                "bandwidth": 3_000_000,
                "codecs": "avc1.4D401F,mp4a.40.2",
                "playlist": f"{base}/media/hls/720p30/playlist.m3u8",
            }
        ],
        thumbnails=[f"{base}/media/thumbnails/thumb{i}.jpg" for i in range(3)],
        **{**secrets, **fields},
    )


@pytest.fixture
def ended_show():
    event = LiveEventFactory(status=LiveEvent.Status.ENDED, title="Spring Trail Gear Live")
    jacket, fleece, beanie = (
        ProductFactory(
            organization=event.organization, name=name, external_url=f"https://shop.example.com/{sku}"
        )
        for name, sku in (("Shell Jacket", "jkt"), ("Grid Fleece", "flc"), ("Merino Beanie", "bne"))
    )
    for position, product in enumerate((jacket, fleece, beanie)):
        EventProduct.objects.create(event=event, product=product, position=position)
    recording = ready_recording(event)
    ProductCue.objects.create(recording=recording, product=fleece, start_ms=8_000)
    ProductCue.objects.create(recording=recording, product=jacket, start_ms=3_000, end_ms=6_000)
    return event, recording, (jacket, fleece, beanie)


def replay_url(event, recording_id=None) -> str:
    kwargs = {"brand": event.organization.slug, "slug": event.slug}
    if recording_id is None:
        return reverse("replays:event", kwargs=kwargs)
    return reverse("replays:event-recording", kwargs={**kwargs, "recording_id": recording_id})


def page_config(response) -> dict:
    match = re.search(
        r'<script id="replay-config" type="application/json">(.*?)</script>', response.content.decode()
    )
    return json.loads(match.group(1))


def test_replay_page_embeds_the_master_url_cues_and_cards(client, ended_show):
    event, recording, (jacket, fleece, _) = ended_show

    response = client.get(replay_url(event))

    assert response.status_code == 200
    config = page_config(response)
    assert config["masterUrl"] == recording.master_url
    assert config["cues"] == [
        {"id": config["cues"][0]["id"], "startMs": 3000, "endMs": 6000, "productId": jacket.pk},
        {"id": config["cues"][1]["id"], "startMs": 8000, "endMs": None, "productId": fleece.pk},
    ]
    assert config["renditions"][0]["resolution"] == "1280x720"
    assert config["renditions"][0]["url"].endswith("/720p30/playlist.m3u8")
    cards = {card["id"]: card for card in config["products"]}
    assert cards[jacket.pk]["buyUrl"] == (
        f"https://shop.example.com/jkt?utm_source=liveshop&utm_medium=replay&utm_campaign={event.slug}"
    )
    assert config["qrUrl"].endswith("/replay/qr/{id}.svg")
    html = response.content.decode()
    # Chapters in time order, the whole lineup, the hls.js player from our static files.
    assert [m for m in re.findall(r'class="chapter-time">([^<]+)<', html)] == ["0:03", "0:08"]
    lineup = html.split('id="lineup"', 1)[1].split("</ul>", 1)[0]
    assert lineup.count('class="lineup-item') == 3
    assert "vendor/hls/hls.light.min.js" in html and "js/replay.js" in html
    assert '<script type="module" src="/static/js/replay.js">' in html  # a module: it imports lib/card.js


def test_replay_page_never_shows_private_fields(client, ended_show):
    event, recording, _ = ended_show
    event.stream_key = "sk_us-west-2_secretStreamKey"
    html = client.get(replay_url(event)).content.decode()
    secrets = [recording.source_bucket, recording.source_prefix, recording.session_id, *recording.stream_ids]
    for text in [*secrets, recording.failure_reason, event.channel_id, event.ingest_url]:
        assert text not in html
    assert "stream_key" not in html and "streamKey" not in html


def test_the_ended_live_page_links_to_the_replay(client, ended_show):
    event, _, _ = ended_show
    response = client.get(reverse("viewer:watch", args=[event.organization.slug, event.slug]))
    assert f'href="{replay_url(event)}"' in response.content.decode()


def test_no_replay_link_while_the_recording_is_not_ready(client, ended_show):
    event, recording, _ = ended_show
    Recording.objects.filter(pk=recording.pk).update(status=Recording.Status.COPYING)
    response = client.get(reverse("viewer:watch", args=[event.organization.slug, event.slug]))
    assert "/replay/" not in response.content.decode()
    assert client.get(replay_url(event)).url == reverse(
        "viewer:watch", args=[event.organization.slug, event.slug]
    )


@pytest.mark.parametrize("status", [LiveEvent.Status.LIVE, LiveEvent.Status.SCHEDULED])
def test_replay_of_an_event_not_over_yet_sends_viewers_to_the_live_page(client, ended_show, status):
    event, _, _ = ended_show
    LiveEvent.objects.filter(pk=event.pk).update(status=status)
    response = client.get(replay_url(event))
    assert response.status_code == 302
    assert response.url == reverse("viewer:watch", args=[event.organization.slug, event.slug])


def test_unknown_events_and_recordings_are_404(client, ended_show):
    event, _, _ = ended_show
    other = ready_recording(LiveEventFactory(status=LiveEvent.Status.ENDED))
    assert client.get(replay_url(event, recording_id=other.pk)).status_code == 404
    assert client.get(replay_url(event, recording_id=987654)).status_code == 404
    missing = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": "no-such-show"})
    assert client.get(missing).status_code == 404
    cancelled = LiveEventFactory(status=LiveEvent.Status.CANCELLED)
    ready_recording(cancelled)
    assert client.get(replay_url(cancelled)).status_code == 404


def test_several_recordings_play_the_newest_and_list_the_others(client, ended_show):
    event, older, _ = ended_show
    newest = ready_recording(event, started=timezone.now() - timedelta(minutes=10))
    ready_recording(event, status=Recording.Status.FAILED, started=timezone.now())

    response = client.get(replay_url(event))
    assert page_config(response)["recordingId"] == newest.pk
    html = response.content.decode()
    assert f'href="{replay_url(event, recording_id=older.pk)}"' in html
    assert f"/replay/{newest.pk}/" not in html

    response = client.get(replay_url(event, recording_id=older.pk))
    assert page_config(response)["recordingId"] == older.pk
    assert f'href="{replay_url(event, recording_id=newest.pk)}"' in response.content.decode()


def test_private_replay_is_for_the_brands_people_only(client, ended_show):
    event, _, _ = ended_show
    LiveEvent.objects.filter(pk=event.pk).update(is_private=True)
    assert client.get(replay_url(event)).status_code == 404

    client.force_login(member(event.organization, role=Membership.Role.MODERATOR))
    response = client.get(replay_url(event))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "CloudFront-Policy" not in response.cookies  # no signing key configured: nothing to sign


def test_private_replay_sets_cloudfront_cookies_when_signing_is_configured(client, settings, ended_show):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    event, _, _ = ended_show
    assert not client.get(replay_url(event)).cookies.keys() & {"CloudFront-Policy"}  # public: unsigned

    LiveEvent.objects.filter(pk=event.pk).update(is_private=True)
    client.force_login(member(event.organization))
    response = client.get(replay_url(event))
    assert {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"} <= response.cookies.keys()
    # Stored before private folders: the CDN serves that folder without cookies, so none are sent.
    assert page_config(response)["withCredentials"] is False

    Recording.objects.filter(event=event).update(
        cdn_prefix="private/k", master_path="private/k/hls/master.m3u8"
    )
    response = client.get(replay_url(event))
    assert response.cookies["CloudFront-Policy"]["path"].endswith("/private/k/")  # its folder only
    assert page_config(response)["withCredentials"] is True


def test_replay_qr_code_encodes_the_replay_buy_link(client, ended_show):
    event, _, (jacket, _, _) = ended_show
    kwargs = {"brand": event.organization.slug, "slug": event.slug}
    response = client.get(reverse("replays:event-qr", kwargs={**kwargs, "product_id": jacket.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    stranger = ProductFactory(organization=event.organization, external_url="https://shop.example.com/x")
    assert (
        client.get(reverse("replays:event-qr", kwargs={**kwargs, "product_id": stranger.pk})).status_code
        == 404
    )


# Uploaded videos ----------------------------------------------------------------------------


@pytest.fixture
def video():
    product = ProductFactory(name="Trail Shoe", external_url="https://shop.example.com/shoe")
    recording = ready_recording(
        organization=product.organization, title="Trail shoe review", slug="trail-shoe-review"
    )
    ProductCue.objects.create(recording=recording, product=product, start_ms=2_000)
    return recording, product


def video_url(recording) -> str:
    return reverse("replays:video", kwargs={"brand": recording.organization.slug, "slug": recording.slug})


def test_unpublished_video_is_404_except_for_the_brands_preview(client, video):
    recording, _ = video
    assert client.get(video_url(recording)).status_code == 404

    client.force_login(member(recording.organization))
    response = client.get(video_url(recording))
    assert response.status_code == 200
    assert "Preview · not published" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_another_brands_member_cannot_preview(client, video):
    recording, _ = video
    client.force_login(member(ProductFactory().organization))
    assert client.get(video_url(recording)).status_code == 404


def test_published_video_page_plays_with_its_cues(client, video):
    recording, product = video
    Recording.objects.filter(pk=recording.pk).update(published_at=timezone.now())

    response = client.get(video_url(recording))

    assert response.status_code == 200
    config = page_config(response)
    assert config["cues"][0]["productId"] == product.pk
    assert config["products"][0]["buyUrl"].endswith("utm_medium=replay&utm_campaign=trail-shoe-review")
    assert "Trail shoe review" in response.content.decode()
    qr = reverse(
        "replays:video-qr",
        kwargs={"brand": recording.organization.slug, "slug": recording.slug, "product_id": product.pk},
    )
    assert client.get(qr).status_code == 200


def test_published_but_unready_video_is_404(client, video):
    recording, _ = video
    Recording.objects.filter(pk=recording.pk).update(
        published_at=timezone.now(), status=Recording.Status.PROCESSING
    )
    assert client.get(video_url(recording)).status_code == 404


# Replay views ---------------------------------------------------------------------------------


def views_of(recording) -> int:
    recording.refresh_from_db()
    return recording.replay_views


def test_a_replay_view_counts_once_per_viewer_and_creates_no_session(client, ended_show):
    from django.contrib.sessions.models import Session

    event, recording, _ = ended_show
    client.get(replay_url(event))
    client.get(replay_url(event))
    assert views_of(recording) == 1
    assert "liveshop_vid" in client.cookies

    client.cookies.clear()  # another browser
    client.get(replay_url(event), REMOTE_ADDR="198.51.100.7")
    assert views_of(recording) == 2
    assert Session.objects.count() == 0


def test_cookieless_requests_from_one_address_count_once(ended_show):
    from django.test import Client

    event, recording, _ = ended_show
    for _ in range(20):  # a client that keeps no cookie: a new one each time
        assert Client().get(replay_url(event), REMOTE_ADDR="198.51.100.9").status_code == 200
    assert views_of(recording) == 1


def test_brand_members_previewing_do_not_count(client, ended_show, video):
    event, recording, _ = ended_show
    client.force_login(member(event.organization))
    client.get(replay_url(event))
    assert views_of(recording) == 0

    upload, _ = video
    client.force_login(member(upload.organization))
    client.get(video_url(upload))
    assert views_of(upload) == 0


def test_count_replay_view_is_per_recording(ended_show, rf):
    from django.contrib.auth.models import AnonymousUser

    event, recording, _ = ended_show
    other = ready_recording(event)
    viewer = [f"id:{event.pk}-{recording.pk}"]
    assert count_replay_view(recording=recording, viewer=AnonymousUser(), viewer_keys=viewer)
    assert not count_replay_view(recording=recording, viewer=AnonymousUser(), viewer_keys=viewer)
    assert count_replay_view(recording=other, viewer=AnonymousUser(), viewer_keys=viewer)
    assert (views_of(recording), views_of(other)) == (1, 1)


def test_the_dashboard_event_page_shows_replay_views(client, ended_show):
    event, recording, _ = ended_show
    Recording.objects.filter(pk=recording.pk).update(replay_views=42)
    client.force_login(member(event.organization))

    html = client.get(reverse("events:detail", kwargs={"slug": event.slug})).content.decode()

    assert "Replay views" in html
    assert '<td data-label="Replay views" class="num">42</td>' in html
    assert '<td data-label="Length">12:34</td>' in html
    assert f'href="{replay_url(event, recording_id=recording.pk)}"' in html


def test_an_unpublished_videos_qr_code_is_for_the_brand_only_and_never_cached(client, video):
    recording, product = video
    kwargs = {"brand": recording.organization.slug, "slug": recording.slug, "product_id": product.pk}
    assert client.get(reverse("replays:video-qr", kwargs=kwargs)).status_code == 404
    client.force_login(member(recording.organization))
    response = client.get(reverse("replays:video-qr", kwargs=kwargs))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
