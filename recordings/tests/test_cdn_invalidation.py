"""The CDN gateway (recordings.invalidation): once a deleted or replaced video's files are deleted,
the CDN is told to forget their folder, after commit; CloudFront's CreateInvalidation is called
exactly (botocore Stubber) and its refusals mapped (throttling is retried by the task)."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from celery.exceptions import Retry

from recordings import invalidation
from recordings.invalidation import CdnError, CdnThrottled
from recordings.invalidation.cloudfront import CloudFrontCdnBackend
from recordings.models import Recording
from recordings.services import videos
from recordings.tasks import invalidate_cdn_folder_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def cdn(settings):
    """The fake CDN backend, fresh for the test."""
    settings.LIVESHOP_CDN_BACKEND = "fake"
    invalidation._backend.cache_clear()
    yield invalidation.get_cdn_backend()
    invalidation._backend.cache_clear()


@pytest.fixture
def stubbed(settings):
    settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = "E2QWRUHAPOMQZL"
    backend = CloudFrontCdnBackend()
    with Stubber(backend.client) as stub:
        yield backend, stub


def test_cloudfront_gets_one_invalidation_whose_reference_repeats_with_its_paths(stubbed):
    backend, stub = stubbed
    paths = ["/recordings/private/abc/*"]
    reference = hashlib.sha256(paths[0].encode()).hexdigest()[:32]
    expected = {
        "DistributionId": "E2QWRUHAPOMQZL",
        "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": paths}, "CallerReference": reference},
    }
    answer = {
        "Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/E2QWRUHAPOMQZL/invalidation/I1",
        "Invalidation": {
            "Id": "I2J0I21PCUYOIK", "Status": "InProgress", "CreateTime": "2026-12-04T00:00:00Z",
            "InvalidationBatch": expected["InvalidationBatch"],
        },
    }  # fmt: skip
    stub.add_response("create_invalidation", answer, expected)
    stub.add_response("create_invalidation", answer, expected)  # a retry: the same request
    assert backend.invalidate(paths) == "I2J0I21PCUYOIK"
    assert backend.invalidate(paths * 2) == "I2J0I21PCUYOIK"
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "kind", "transient"),
    [
        ("TooManyInvalidationsInProgress", CdnThrottled, True),
        ("Throttling", CdnThrottled, True),
        ("AccessDenied", CdnError, False),
        ("NoSuchDistribution", CdnError, False),
    ],
)
def test_cloudfront_refusals_are_the_gateways_errors(stubbed, code, kind, transient):
    backend, stub = stubbed
    stub.add_client_error("create_invalidation", service_error_code=code, http_status_code=400)
    with pytest.raises(kind) as raised:
        backend.invalidate(["/recordings/private/abc/*"])
    assert raised.value.transient is transient and code in str(raised.value)
    assert isinstance(raised.value.__cause__, ClientError)


def test_cloudfront_needs_its_distribution(settings):
    settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = ""
    with pytest.raises(CdnError, match="AWS_CLOUDFRONT_DISTRIBUTION_ID"):
        CloudFrontCdnBackend()


def test_a_deleted_videos_folder_is_invalidated_after_its_files_go(
    brand, host, on_disk, cdn, django_capture_on_commit_callbacks
):
    folder = on_disk[1] / "private/abc"
    folder.mkdir(parents=True)
    (folder / "master.m3u8").write_text("#EXTM3U\n")
    video = Recording.objects.create(
        organization=brand, backend="upload", title="Clip", cdn_prefix="private/abc"
    )

    with django_capture_on_commit_callbacks(execute=True):
        videos.delete_video(recording=video, by=host)
        assert cdn.calls == [] and folder.exists()  # nothing before the commit

    assert not folder.exists()
    assert cdn.calls == [["/private/abc/*"]]  # on disk the storage's location is no URL


def test_on_s3_the_cdn_path_starts_with_the_storages_location(settings, s3):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "liveshop-cdn", "location": "recordings"},
        },
    }
    assert invalidation.folder_paths("private/abc/") == ["/recordings/private/abc/*"]


def test_the_task_tries_again_while_cloudfront_is_busy_and_gives_up_on_a_refusal(cdn, monkeypatch):
    retries = []

    def retry(**kwargs):
        retries.append(kwargs)
        return Retry()

    monkeypatch.setattr(invalidate_cdn_folder_task, "retry", retry)
    cdn.failures = [CdnThrottled("busy")]
    with pytest.raises(Retry):
        invalidate_cdn_folder_task.apply(args=["private/abc"], throw=True)
    assert retries[0]["countdown"] == 30 and isinstance(retries[0]["exc"], CdnThrottled)
    assert invalidate_cdn_folder_task.apply(args=["private/abc"]).get() == "FAKE1"  # the retry

    cdn.failures = [CdnError("AccessDenied")]
    assert invalidate_cdn_folder_task.apply(args=["private/def"]).get() == "failed"
    assert len(retries) == 1 and len(cdn.calls) == 1
