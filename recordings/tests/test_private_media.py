"""Private media (issue #12, finding 1): uploaded videos' HLS, private events' replays and the
originals. Their storage folders are random keys, never ids; Django (DJANGO_SERVE_MEDIA) serves a
recording's files only to who may watch it and never serves originals; on the CDN the page sets
signed cookies scoped to the recording's folder (deploy/cloudformation.yaml makes CloudFront check
them, tests/test_deploy.py)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from liveshop.urls import media_urlpatterns
from liveshop.urls import urlpatterns as site_urlpatterns
from recordings import cdn
from recordings.models import PRIVATE_MEDIA_PREFIX, Recording
from recordings.services.ingest import cdn_prefix_for
from recordings.services.manifest import parse_prefix

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

# The site with MEDIA_URL served by Django, as with DJANGO_SERVE_MEDIA (off in the test settings).
urlpatterns = [*site_urlpatterns, *media_urlpatterns()]

IVS_PREFIX = "ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/j8Z9O91ndcVs"
HLS_FILES = ("master.m3u8", "720p/index.m3u8", "720p/segment_0000.ts", "thumbnail.jpg")


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    """MEDIA_ROOT on disk with the settings' layout: originals in the default storage, replays
    in the "recordings" storage at <MEDIA_ROOT>/recordings/ (served at /media/recordings/)."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root / "recordings", "base_url": "/media/recordings/"},
        },
    }
    return root


def write_files(root: Path, prefix: str) -> None:
    for name in HLS_FILES:
        path = root / "recordings" / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"#EXTM3U\n" if name.endswith(".m3u8") else b"\xff\xd8media")


def ready(organization, prefix: str, media_root: Path, **fields) -> Recording:
    write_files(media_root, prefix)
    return Recording.objects.create(
        organization=organization,
        status=Recording.Status.READY,
        cdn_prefix=prefix,
        master_path=f"{prefix}/master.m3u8",
        thumbnails=[f"{prefix}/thumbnail.jpg"],
        duration_ms=4000,
        **fields,
    )


def uploaded_video(media_root: Path, *, published: bool = False, prefix: str | None = None) -> Recording:
    brand = OrganizationFactory()
    video = Recording(organization=brand, backend=Recording.Backend.UPLOAD, title="Spring looks")
    video.upload.save("spring.mp4", _content(b"original bytes"), save=False)
    prefix = prefix or cdn_prefix_for_upload()
    write_files(media_root, prefix)
    video.status, video.cdn_prefix, video.slug = Recording.Status.READY, prefix, "spring-looks"
    video.master_path, video.thumbnails = f"{prefix}/master.m3u8", [f"{prefix}/thumbnail.jpg"]
    video.published_at = timezone.now() if published else None
    video.save()
    return video


def cdn_prefix_for_upload() -> str:
    from recordings.models import new_media_prefix

    return new_media_prefix(private=True)


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


def media_urls(recording: Recording) -> list[str]:
    return [f"/media/recordings/{recording.cdn_prefix}/{name}" for name in HLS_FILES]


def statuses(client, urls) -> set[int]:
    return {client.get(url).status_code for url in urls}


# Uploaded videos ------------------------------------------------------------------------------


def test_an_unpublished_videos_files_are_404_to_anonymous_and_served_to_its_brand(client, media_root):
    video = uploaded_video(media_root)

    assert statuses(client, media_urls(video)) == {404}
    client.force_login(member(OrganizationFactory()))  # another brand's people
    assert statuses(client, media_urls(video)) == {404}

    client.force_login(member(video.organization, role=Membership.Role.MODERATOR))
    response = client.get(media_urls(video)[0])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"#EXTM3U\n"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert statuses(client, media_urls(video)) == {200}


def test_a_published_videos_files_are_served_to_everyone(client, media_root):
    video = uploaded_video(media_root, published=True)
    assert statuses(client, media_urls(video)) == {200}

    Recording.objects.filter(pk=video.pk).update(published_at=None)  # unpublished: at once
    assert statuses(client, media_urls(video)) == {404}


def test_the_original_upload_is_never_served(client, media_root):
    video = uploaded_video(media_root, published=True)
    assert (media_root / video.upload.name).is_file()
    client.force_login(member(video.organization, role=Membership.Role.OWNER))

    for url in (
        f"/media/{video.upload.name}",
        f"/media/./{video.upload.name}",
        f"/media/products/../{video.upload.name}",
        f"/media/recordings/../{video.upload.name}",
    ):
        assert client.get(url).status_code == 404, url


def test_other_media_is_still_served(client, media_root):
    image = media_root / "products" / "shoe.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\xff\xd8shoe")
    assert client.get("/media/products/shoe.jpg").status_code == 200


def test_an_uploads_folders_are_random_keys_not_ids(
    monkeypatch, media_root, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from recordings.services import uploads

    brand = OrganizationFactory()
    file = SimpleUploadedFile("spring.mp4", b"x" * 100, content_type="video/mp4")
    monkeypatch.setattr(uploads, "probe_video", lambda path: None)  # not what this test is about
    with django_capture_on_commit_callbacks(execute=False):
        video = uploads.create_upload(organization=brand, title="Spring", file=file, by=member(brand))
    top, key = video.cdn_prefix.split("/")
    assert top == PRIVATE_MEDIA_PREFIX and re.fullmatch(r"[0-9a-f]{32}", key)
    folder = video.upload.name.split("/")[2]
    assert re.fullmatch(r"[0-9a-f]{32}", folder) and folder != key
    assert str(video.pk) not in video.cdn_prefix.split("/")


def test_guessing_sequential_ids_finds_nothing(client, media_root):
    videos = [uploaded_video(media_root) for _ in range(3)]
    guesses = [
        f"/media/recordings/{template.format(n=n)}"
        for n in range(1, max(v.pk for v in videos) + 3)
        for template in (
            "replays/uploads/{n}/master.m3u8",
            "private/{n}/master.m3u8",
            "replays/{n}/master.m3u8",
        )
    ] + [f"/media/uploads/{v.organization_id}/spring.mp4" for v in videos]
    assert statuses(client, guesses) == {404}


def test_a_file_no_recording_owns_and_paths_out_of_a_folder_are_404(client, media_root):
    mine = uploaded_video(media_root, published=True)
    other = uploaded_video(media_root)  # unpublished
    write_files(media_root, "private/orphan")

    assert client.get(f"/media/recordings/{mine.cdn_prefix}/master.m3u8").status_code == 200
    for url in (
        "/media/recordings/private/orphan/master.m3u8",
        f"/media/recordings/{mine.cdn_prefix}/../../{other.cdn_prefix}/master.m3u8",
        f"/media/recordings/{mine.cdn_prefix}/./master.m3u8",
        f"/media/./recordings/{other.cdn_prefix}/master.m3u8",
    ):
        assert client.get(url).status_code == 404, url


# Event replays --------------------------------------------------------------------------------


def event_recording(media_root: Path, *, private: bool) -> Recording:
    event = LiveEventFactory(status=LiveEvent.Status.ENDED, is_private=private)
    prefix = cdn_prefix_for(event, parse_prefix(IVS_PREFIX))
    return ready(event.organization, prefix, media_root, event=event, backend=Recording.Backend.IVS)


def test_a_private_events_replay_is_under_the_private_prefix_for_its_brand_only(client, media_root):
    recording = event_recording(media_root, private=True)
    top, key = recording.cdn_prefix.split("/")
    assert top == PRIVATE_MEDIA_PREFIX and re.fullmatch(r"[0-9a-f]{32}", key)

    assert statuses(client, media_urls(recording)) == {404}
    client.force_login(member(recording.organization, role=Membership.Role.MODERATOR))
    assert statuses(client, media_urls(recording)) == {200}


def test_a_public_events_replay_is_public_under_a_random_key(client, settings, media_root):
    recording = event_recording(media_root, private=False)
    top, key = recording.cdn_prefix.split("/")
    assert top == settings.RECORDINGS_CDN_PREFIX and re.fullmatch(r"[0-9a-f]{32}", key)
    assert str(recording.event_id) not in recording.cdn_prefix.split("/")
    response = client.get(media_urls(recording)[0])
    assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")

    LiveEvent.objects.filter(pk=recording.event_id).update(status=LiveEvent.Status.CANCELLED)
    assert statuses(client, media_urls(recording)) == {404}  # the event's own rule (may_watch)


# Rows from before random keys -----------------------------------------------------------------


def test_older_uploads_keep_their_folder_behind_the_same_check(client, settings, media_root):
    migration = importlib.import_module("recordings.migrations.0005_private_media")
    video = uploaded_video(media_root, prefix="replays/uploads/7")
    Recording.objects.filter(pk=video.pk).update(cdn_prefix="")  # as transcoded before 0005

    migration.fill_upload_prefixes(apps, None)

    video.refresh_from_db()
    assert video.cdn_prefix == "replays/uploads/7"
    assert statuses(client, media_urls(video)) == {404}
    client.force_login(member(video.organization))
    assert statuses(client, media_urls(video)) == {200}


def test_older_private_event_replays_keep_their_folder_behind_the_same_check(client, media_root):
    event = LiveEventFactory(status=LiveEvent.Status.ENDED, is_private=True)
    recording = ready(
        event.organization, f"replays/{event.pk}/r1718000000", media_root, event=event, backend="local"
    )
    assert statuses(client, media_urls(recording)) == {404}
    client.force_login(member(event.organization))
    assert statuses(client, media_urls(recording)) == {200}


# CloudFront signing ---------------------------------------------------------------------------


@pytest.fixture
def cloudfront(settings):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.AWS_CLOUDFRONT_COOKIE_DOMAIN = ".example.com"
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"base_url": "https://cdn.example.com/recordings/"},
        },
    }


def signed_video(*, published: bool) -> Recording:
    prefix = cdn_prefix_for_upload()
    return Recording.objects.create(
        organization=OrganizationFactory(),
        backend=Recording.Backend.UPLOAD,
        title="Spring looks",
        slug="spring-looks",
        status=Recording.Status.READY,
        published_at=timezone.now() if published else None,
        cdn_prefix=prefix,
        master_path=f"{prefix}/master.m3u8",
        thumbnails=[f"{prefix}/thumbnail.jpg"],
        duration_ms=4000,
    )


def assert_signed_for(response, video: Recording) -> None:
    names = {cdn.POLICY_COOKIE, cdn.SIGNATURE_COOKIE, cdn.KEY_PAIR_COOKIE}
    assert names <= response.cookies.keys()
    for name in names:  # scoped to this video's folder: another video's cookies stay
        assert response.cookies[name]["path"] == f"/recordings/{video.cdn_prefix}/"


def test_a_published_videos_page_signs_its_files_for_every_viewer(client, cloudfront):
    video = signed_video(published=True)
    response = client.get(reverse("replays:video", args=[video.organization.slug, video.slug]))

    assert response.status_code == 200
    assert_signed_for(response, video)
    assert "no-store" in response["Cache-Control"]  # the cookies are the viewer's own
    config = response.content.decode()
    assert '"withCredentials": true' in config
    poster = re.search(r'poster="([^"]+)"', config)
    assert poster is None or "Signature=" in poster.group(1)


def test_the_studio_preview_of_an_unpublished_video_is_signed(client, cloudfront):
    video = signed_video(published=False)
    client.force_login(member(video.organization))

    response = client.get(reverse("videos:detail", args=[video.pk]))

    assert response.status_code == 200
    assert_signed_for(response, video)
    progress = client.get(reverse("videos:progress", args=[video.pk])).json()
    assert "Signature=" in progress["thumbnail"] and "Key-Pair-Id=K2JCJMDEHXQW5F" in progress["thumbnail"]


def test_a_public_events_replay_is_not_signed(cloudfront):
    event = LiveEventFactory(status=LiveEvent.Status.ENDED)
    recording = Recording(event=event, organization=event.organization, cdn_prefix="replays/abc")
    assert not recording.has_private_media
    assert (
        cdn.media_url(recording, "replays/abc/t.jpg")
        == "https://cdn.example.com/recordings/replays/abc/t.jpg"
    )


# Moving older private media -------------------------------------------------------------------


def test_older_private_media_moves_to_a_private_folder_and_keeps_playing(client, media_root):
    from django.core.management import call_command

    event = LiveEventFactory(status=LiveEvent.Status.ENDED, is_private=True)
    replay = ready(
        event.organization, f"replays/{event.pk}/j8Z9O91ndcVs", media_root, event=event, backend="ivs"
    )
    Recording.objects.filter(pk=replay.pk).update(
        renditions=[{"name": "720p", "playlist": f"{replay.cdn_prefix}/720p/index.m3u8"}]
    )
    upload = uploaded_video(media_root, published=True, prefix="replays/uploads/7")
    public = event_recording(media_root, private=False)
    old = {r.pk: r.cdn_prefix for r in (replay, upload, public)}

    call_command("move_private_media")

    for recording in (replay, upload):
        recording.refresh_from_db()
        assert re.fullmatch(r"private/[0-9a-f]{32}", recording.cdn_prefix)
        assert recording.master_path == f"{recording.cdn_prefix}/master.m3u8"
        assert recording.thumbnails == [f"{recording.cdn_prefix}/thumbnail.jpg"]
        assert not [p for p in (media_root / "recordings" / old[recording.pk]).rglob("*") if p.is_file()]
        for name in HLS_FILES:
            assert (media_root / "recordings" / recording.cdn_prefix / name).is_file()
    assert replay.renditions == [{"name": "720p", "playlist": f"{replay.cdn_prefix}/720p/index.m3u8"}]
    public.refresh_from_db()
    assert public.cdn_prefix == old[public.pk]  # public media stays where it is

    assert statuses(client, media_urls(upload)) == {200}  # published: still playing
    assert statuses(client, media_urls(replay)) == {404}
    client.force_login(member(event.organization))
    assert statuses(client, media_urls(replay)) == {200}

    call_command("move_private_media")  # again: nothing left to move
    replay.refresh_from_db()
    assert statuses(client, media_urls(replay)) == {200}


def test_moving_in_s3_copies_server_side_with_the_types_and_deletes_the_old_keys(s3, settings):
    from recordings.services.private_media import move_to_private_folder
    from recordings.tests.conftest import CDN

    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": CDN, "location": "recordings", "region_name": "us-west-2"},
        },
    }
    event = LiveEventFactory(status=LiveEvent.Status.ENDED, is_private=True)
    old = f"replays/{event.pk}/j8Z9O91ndcVs"
    for name in HLS_FILES:
        s3.put_object(Bucket=CDN, Key=f"recordings/{old}/{name}", Body=b"x")
    recording = Recording.objects.create(
        organization=event.organization,
        event=event,
        status=Recording.Status.READY,
        cdn_prefix=old,
        master_path=f"{old}/master.m3u8",
    )

    recording = move_to_private_folder(recording=recording)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=CDN)["Contents"]}
    assert keys == {f"recordings/{recording.cdn_prefix}/{name}" for name in HLS_FILES}
    head = s3.head_object(Bucket=CDN, Key=f"recordings/{recording.master_path}")
    assert head["ContentType"] == "application/vnd.apple.mpegurl"


def test_an_upload_from_before_random_keys_is_transcoded_into_a_private_folder():
    from recordings.services.transcode import output_prefix

    video = Recording.objects.create(organization=OrganizationFactory(), backend=Recording.Backend.UPLOAD)
    prefix = output_prefix(video)
    assert re.fullmatch(r"private/[0-9a-f]{32}", prefix)
    assert output_prefix(Recording.objects.get(pk=video.pk)) == prefix  # stable for the row
