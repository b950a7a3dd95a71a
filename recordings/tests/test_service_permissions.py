"""The recordings services that act for a brand check who acts themselves (the studio's views
check too): another brand's people, and a moderator, are refused before anything changes."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership
from accounts.tests.factories import member
from recordings.models import Recording, ResumableUpload
from recordings.services import jobs, resumable, uploads

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_video(brand):
    return Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring looks",
        status=Recording.Status.FAILED,
        failure_reason="ffmpeg failed",
    )


@pytest.fixture(params=["other brand's host", "moderator"])
def outsider(request, brand, other_brand):
    if request.param == "moderator":
        return member(brand, role=Membership.Role.MODERATOR)
    return member(other_brand, role=Membership.Role.HOST)


def test_retry_is_refused_to_who_may_not_edit_the_brands_videos(failed_video, outsider):
    with pytest.raises(PermissionDenied):
        jobs.retry_job(recording=failed_video, by=outsider)
    failed_video.refresh_from_db()
    assert failed_video.status == Recording.Status.FAILED
    assert failed_video.failure_reason == "ffmpeg failed"


def test_publishing_is_refused_to_who_may_not_edit_the_brands_videos(failed_video, outsider):
    Recording.objects.filter(pk=failed_video.pk).update(status=Recording.Status.READY)
    with pytest.raises(PermissionDenied):
        uploads.set_published(recording=failed_video, published=True, by=outsider)
    failed_video.refresh_from_db()
    assert failed_video.published_at is None


def test_an_upload_is_refused_before_anything_is_stored(brand, outsider):
    file = SimpleUploadedFile("spring.mp4", b"not checked: refused first", content_type="video/mp4")
    with pytest.raises(PermissionDenied):
        uploads.create_upload(organization=brand, title="Spring", file=file, by=outsider)
    with pytest.raises(PermissionDenied):
        resumable.start_resumable_upload(
            organization=brand,
            title="Spring",
            filename="spring.mp4",
            size=10,
            content_type="video/mp4",
            by=outsider,
        )
    assert not Recording.objects.exists() and not ResumableUpload.objects.exists()


def test_the_brands_host_may_retry(failed_video, host, monkeypatch):
    queued = []
    monkeypatch.setattr(jobs, "enqueue_on_commit", lambda name, *args: queued.append((name, args)))
    retried = jobs.retry_job(recording=failed_video, by=host)
    assert retried.status == Recording.Status.PENDING
    assert len(queued) == 1
