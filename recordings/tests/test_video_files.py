"""A brand deletes a video (failed or unwanted) from the studio with every file it left, and
replaces a published video's source keeping its page, publication and cues. Real ffmpeg, files on
disk; S3 (moto) for the stored objects."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from recordings.models import ProductCue, Recording
from recordings.services import transcode, videos
from recordings.tests.upload_media import files_in, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploaded(host_client, brand, on_disk, django_capture_on_commit_callbacks):
    """``uploaded(content, name)``: a video uploaded through the studio and transcoded."""

    def make(content: bytes, name: str = "spring.mp4") -> Recording:
        with django_capture_on_commit_callbacks(execute=True):
            upload(host_client, brand, name=name, content=content, title=name)
        return Recording.objects.get(title=name)

    return make


def test_a_ready_video_is_deleted_with_its_cues_upload_and_hls_files(
    host_client, brand, on_disk, uploaded, short_video, django_capture_on_commit_callbacks
):
    video = uploaded(short_video.read_bytes())
    ProductCue.objects.create(recording=video, product=ProductFactory(organization=brand), start_ms=0)
    assert video.status == "ready" and files_in(on_disk[0]) and files_in(on_disk[1])

    with django_capture_on_commit_callbacks(execute=True):
        response = host_client.post(reverse("videos:delete", args=[video.pk]), follow=True)

    assert response.redirect_chain == [(reverse("videos:list"), 302)]
    assert "is deleted, with its files" in response.content.decode()
    assert not Recording.objects.exists() and not ProductCue.objects.exists()
    assert files_in(on_disk[0]) == [] and files_in(on_disk[1]) == []
    assert not (on_disk[1] / video.cdn_prefix).exists()  # its folders too


def test_a_failed_video_is_deleted_with_its_upload(
    host_client, on_disk, uploaded, broken_files, django_capture_on_commit_callbacks
):
    video = uploaded(broken_files["cut-after-index"], name="cut.mp4")
    assert video.status == "failed" and files_in(on_disk[0])
    page = host_client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert f'action="{reverse("videos:delete", args=[video.pk])}"' in page and "data-confirm" in page
    assert "data-progress-url" not in page  # a failed video's page does not reload itself in a loop

    with django_capture_on_commit_callbacks(execute=True):
        host_client.post(reverse("videos:delete", args=[video.pk]))

    assert not Recording.objects.exists() and files_in(on_disk[0]) == []


def test_only_editors_of_the_brand_may_delete(client, brand, on_disk):
    video = Recording.objects.create(organization=brand, backend="upload", title="Clip", slug="clip")
    client.force_login(member(OrganizationFactory(), role=Membership.Role.OWNER))
    assert client.post(reverse("videos:delete", args=[video.pk])).status_code == 404
    client.force_login(member(brand, role=Membership.Role.MODERATOR))
    assert client.post(reverse("videos:delete", args=[video.pk])).status_code == 403
    assert Recording.objects.filter(pk=video.pk).exists()


def test_a_video_deleted_while_its_files_are_stored_leaves_none_behind(
    brand, on_disk, uploaded, short_video, monkeypatch
):
    video = uploaded(short_video.read_bytes())
    Recording.objects.filter(pk=video.pk).update(status="pending", master_path="", renditions=[])
    for path in files_in(on_disk[1]):
        path.unlink()
    real = transcode._progress_writer

    def deleting_while_storing(lease, *, start=0):
        report = real(lease, start=start)
        if start == 0:
            return report

        def delete_then_report(fraction):
            Recording.objects.filter(pk=video.pk).delete()  # the brand pressed Delete
            report(fraction)

        return delete_then_report

    monkeypatch.setattr(transcode, "_progress_writer", deleting_while_storing)
    assert transcode.transcode_upload(recording_id=video.pk) is None
    assert files_in(on_disk[1]) == []


def test_a_published_videos_source_is_replaced_keeping_its_page_and_cues(
    host_client, brand, on_disk, uploaded, short_video, tiny_portrait, django_capture_on_commit_callbacks
):
    video = uploaded(short_video.read_bytes())
    published = timezone.now()
    Recording.objects.filter(pk=video.pk).update(published_at=published)
    product = ProductFactory(organization=brand)
    cue = ProductCue.objects.create(recording=video, product=product, start_ms=500, end_ms=900)
    old_files = set(files_in(on_disk[0]) + files_in(on_disk[1]))

    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("phone.mp4", tiny_portrait.read_bytes(), content_type="video/mp4")
    with django_capture_on_commit_callbacks(execute=True):
        response = host_client.post(reverse("videos:replace", args=[video.pk]), {"file": file})

    assert response.status_code == 302 and response["Location"] == reverse("videos:detail", args=[video.pk])
    new = Recording.objects.get(pk=video.pk)
    assert new.status == "ready", new.failure_reason
    assert (new.slug, new.title, new.published_at) == (video.slug, video.title, published)
    assert list(new.cues.values_list("pk", "start_ms", "end_ms")) == [(cue.pk, 500, 900)]
    assert new.cdn_prefix != video.cdn_prefix and new.upload.name != video.upload.name
    assert [(r["width"], r["height"]) for r in new.renditions] == [(240, 320)]
    remaining = set(files_in(on_disk[0]) + files_in(on_disk[1]))
    assert old_files.isdisjoint(remaining)  # the old original and HLS are gone
    assert (on_disk[0] / new.upload.name).read_bytes() == tiny_portrait.read_bytes()


def test_a_bad_replacement_changes_nothing(host_client, on_disk, uploaded, short_video, broken_files):
    video = uploaded(short_video.read_bytes())
    before = set(files_in(on_disk[0]) + files_in(on_disk[1]))

    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("cut.mp4", broken_files["cut-before-index"], content_type="video/mp4")
    response = host_client.post(reverse("videos:replace", args=[video.pk]), {"file": file}, follow=True)

    assert "The file was not replaced. The file ends early" in response.content.decode()
    after = Recording.objects.get(pk=video.pk)
    assert (after.status, after.cdn_prefix, after.upload.name) == (
        "ready",
        video.cdn_prefix,
        video.upload.name,
    )
    assert set(files_in(on_disk[0]) + files_in(on_disk[1])) == before


def test_deleting_files_in_s3_removes_every_object_of_the_folder(s3, settings):
    from recordings.tests.conftest import CDN

    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": CDN, "location": "recordings", "region_name": "us-west-2"},
        },
    }
    names = [
        "master.m3u8",
        "thumbnail.jpg",
        "720p/index.m3u8",
        "720p/segment_0000.ts",
        "360p/segment_0000.ts",
    ]
    for name in names:
        s3.put_object(Bucket=CDN, Key=f"recordings/private/abc/{name}", Body=b"x")
    s3.put_object(Bucket=CDN, Key="recordings/private/abcd/master.m3u8", Body=b"another video's")

    assert videos.delete_video_files(upload="", folder="private/abc") == len(names)

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=CDN).get("Contents", [])]
    assert keys == ["recordings/private/abcd/master.m3u8"]


def test_the_brand_picks_a_poster_frame_for_the_page_and_the_studio(
    host_client, brand, on_disk, uploaded, short_video
):
    video = uploaded(short_video.read_bytes())
    Recording.objects.filter(pk=video.pk).update(published_at=timezone.now())
    first = video.thumbnails[0]

    response = host_client.post(reverse("videos:poster", args=[video.pk]), {"at": "0:00.5"}, follow=True)

    assert "The poster is this frame now" in response.content.decode()
    video.refresh_from_db()
    (poster,) = video.thumbnails
    assert poster != first and poster.startswith(f"{video.cdn_prefix}/poster-")
    assert (on_disk[1] / poster).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    public = host_client.get(reverse("replays:video", args=[brand.slug, video.slug])).content.decode()
    assert f'/{poster}"' in public  # the video element's poster

    host_client.post(reverse("videos:poster", args=[video.pk]), {"at": "0.2"})
    video.refresh_from_db()
    assert video.thumbnails != [poster] and not (on_disk[1] / poster).exists()  # the old pick goes

    for at, message in (("5", "Pick a moment within the video."), ("soon", "Write seconds")):
        page = host_client.post(reverse("videos:poster", args=[video.pk]), {"at": at}, follow=True)
        assert message in page.content.decode()


def test_a_moderator_may_not_pick_the_poster(client, brand):
    video = Recording.objects.create(organization=brand, backend="upload", title="Clip", status="ready")
    client.force_login(member(brand, role=Membership.Role.MODERATOR))
    assert client.post(reverse("videos:poster", args=[video.pk]), {"at": "1"}).status_code == 403
