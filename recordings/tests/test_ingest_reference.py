"""Zero-copy ingestion (RECORDINGS_INGEST_MODE=reference): the replay is the IVS recording itself,
served by CloudFront's second origin under /ivs/*, behind signed cookies for that recording's prefix.
Ingestion reads the metadata and the playlists, copies nothing and never lists the segments."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from events.models import LiveEvent
from liveshop import objectstore
from recordings import exceptions
from recordings.models import Recording
from recordings.services import ingest_recording
from recordings.services.ingest import COPY, LOCAL_SOURCE, REFERENCE, ingest_mode
from recordings.tests.conftest import CDN, SOURCE
from recordings.tests.test_events import deliver, recording_event
from recordings.tests.test_ingest import cue_rows, listed

pytestmark = pytest.mark.django_db

DOMAIN = "media.example.com"


@pytest.fixture
def reference(settings):
    settings.RECORDINGS_INGEST_MODE = REFERENCE
    settings.AWS_CLOUDFRONT_DOMAIN = DOMAIN


@pytest.fixture
def s3_operations(monkeypatch):
    """Every S3 operation ingestion makes, by name, in order."""
    real, operations = objectstore.s3_client, []

    def factory(**kwargs):
        client = real(**kwargs)
        client.meta.events.register("before-call.s3", lambda model, **_: operations.append(model.name))
        return client

    monkeypatch.setattr(objectstore, "s3_client", factory)
    return operations


@pytest.fixture
def signing(settings):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_reference_mode_copies_nothing_and_points_at_the_ivs_keys(
    reference, s3, spec, recording_tree, show, highlights, s3_operations
):
    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert "CopyObject" not in s3_operations
    assert listed(s3, CDN, "") == {}
    # The metadata, the master and 4 rendition playlists, one listing of the thumbnails' folder
    # and one of each rendition's last segment: never a listing of the 120 segments.
    assert s3_operations.count("ListObjectsV2") == 1 + 4
    assert s3_operations.count("GetObject") == 1 + 1 + 4
    assert recording.status == Recording.Status.READY
    assert recording.is_referenced and recording.cdn_prefix == ""
    assert recording.master_path == f"{spec.prefix}/media/hls/master.m3u8"
    assert recording.master_url == f"https://{DOMAIN}/{spec.prefix}/media/hls/master.m3u8"
    assert recording.renditions[0]["playlist"] == f"{spec.prefix}/media/hls/720p30/playlist.m3u8"
    assert recording.thumbnails == [f"{spec.prefix}/media/thumbnails/thumb{i}.jpg" for i in range(6)]
    assert recording.duration_ms == 360_000
    assert (recording.objects_copied, recording.bytes_copied) == (0, 0)
    _, (a, b) = show
    assert cue_rows(recording) == [(a.pk, 30_000, 95_500), (b.pk, 95_500, 150_000), (a.pk, 200_000, None)]


def test_a_missing_last_segment_fails_a_referenced_recording(reference, s3, spec, recording_tree, show):
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/480p30/29.ts")

    with pytest.raises(exceptions.RecordingIncomplete, match=r"480p30/29\.ts"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    assert Recording.objects.get().status == Recording.Status.FAILED


def test_a_missing_playlist_fails_a_referenced_recording(reference, s3, spec, recording_tree, show):
    s3.delete_object(Bucket=SOURCE, Key=f"{spec.prefix}/media/hls/360p30/playlist.m3u8")

    with pytest.raises(exceptions.RecordingIncomplete, match=r"360p30/playlist\.m3u8 is missing"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED and "is missing" in recording.failure_reason


def test_a_forced_copy_of_a_referenced_recording_moves_it_to_the_cdn_bucket(
    reference, s3, spec, recording_tree, show, settings
):
    ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    settings.RECORDINGS_INGEST_MODE = COPY

    recording = ingest_recording(bucket=SOURCE, prefix=spec.prefix, force=True)

    assert not recording.is_referenced and recording.cdn_prefix.startswith("replays/")
    assert recording.master_path == f"{recording.cdn_prefix}/media/hls/master.m3u8"
    assert f"{recording.cdn_prefix}/media/hls/master.m3u8" in listed(s3, CDN, "")


def test_the_local_media_servers_recordings_are_always_copied(settings):
    settings.RECORDINGS_INGEST_MODE = REFERENCE
    assert ingest_mode(LOCAL_SOURCE) == COPY
    assert ingest_mode(SOURCE) == REFERENCE
    settings.RECORDINGS_INGEST_MODE = "Copy "
    assert ingest_mode(SOURCE) == COPY


def test_an_unknown_mode_is_refused_before_any_row_or_request(settings, s3, spec, recording_tree, show):
    settings.RECORDINGS_INGEST_MODE = "link"
    with pytest.raises(exceptions.RecordingsNotConfigured, match="copy or reference"):
        ingest_recording(bucket=SOURCE, prefix=spec.prefix)
    assert not Recording.objects.exists()


def test_recording_end_in_reference_mode_makes_a_ready_replay_with_no_cdn_folder(
    reference, s3, spec, recording_tree, show, django_capture_on_commit_callbacks
):
    assert deliver(recording_event(spec), django_capture_on_commit_callbacks) == "queued"

    recording = Recording.objects.get()
    assert recording.is_ready and recording.is_referenced and recording.cdn_prefix == ""
    assert listed(s3, CDN, "") == {}


# The replay page -------------------------------------------------------------------------------


@pytest.fixture
def referenced_replay(reference, s3, spec, recording_tree, show):
    event, _ = show
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.ENDED)
    event.refresh_from_db()
    return event, ingest_recording(bucket=SOURCE, prefix=spec.prefix)


def replay_page(client, event):
    from recordings.tests.test_replay_views import page_config

    response = client.get(
        reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    )
    assert response.status_code == 200
    return response, page_config(response)


def test_the_replay_page_plays_from_the_recordings_origin_with_cookies_for_its_prefix(
    client, referenced_replay, signing, spec
):
    event, _ = referenced_replay

    response, config = replay_page(client, event)

    origin = f"https://{DOMAIN}/{spec.prefix}/media/hls"
    assert config["masterUrl"] == f"{origin}/master.m3u8"
    assert [r["url"] for r in config["renditions"]] == [
        f"{origin}/{name}/playlist.m3u8" for name in ("720p30", "480p30", "360p30", "160p30")
    ]
    # A public event's zero-copy replay is behind the key group too (the ivs/* behavior): its
    # viewers get cookies scoped to this recording's prefix, credentials on, never a shared cache.
    assert config["withCredentials"] is True
    assert {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"} <= response.cookies.keys()
    assert response.cookies["CloudFront-Policy"]["path"] == f"/{spec.prefix}/"
    assert "private" in response["Cache-Control"]
    poster = urlsplit(response.context["poster"])
    assert (poster.netloc, unquote(poster.path)) == (DOMAIN, f"/{spec.prefix}/media/thumbnails/thumb2.jpg")
    assert "Signature=" in poster.query


def test_the_cookie_policy_covers_only_that_recording(client, referenced_replay, signing, spec):
    import base64
    import json

    event, _ = referenced_replay
    response, _ = replay_page(client, event)

    encoded = response.cookies["CloudFront-Policy"].value
    policy = json.loads(base64.b64decode(encoded.replace("-", "+").replace("_", "=").replace("~", "/")))
    assert policy["Statement"][0]["Resource"] == f"https://{DOMAIN}/{spec.prefix}/*"


def test_a_private_events_referenced_replay_is_for_allowed_viewers_only(client, referenced_replay, signing):
    event, _ = referenced_replay
    LiveEvent.objects.filter(pk=event.pk).update(is_private=True)
    url = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})

    refused = client.get(url)
    assert refused.status_code == 404 and "CloudFront-Policy" not in refused.cookies

    client.force_login(member(event.organization, role=Membership.Role.MODERATOR))
    response, config = replay_page(client, event)
    assert "CloudFront-Policy" in response.cookies and config["withCredentials"] is True
    assert "no-store" in response["Cache-Control"]
