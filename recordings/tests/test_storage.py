"""liveshop.storage: the S3 helpers django-storages lacks (moto, real boto3 calls)."""

import hashlib

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from liveshop import storage
from recordings.tests.conftest import CDN, SOURCE


def test_list_objects_pages_through_everything_with_size_and_etag(s3):
    for i in range(1005):
        s3.put_object(Bucket=SOURCE, Key=f"p/{i:04d}.ts", Body=b"x" * (i % 7))

    objects = list(storage.list_objects(storage.s3_client(), bucket=SOURCE, prefix="p/"))

    assert len(objects) == 1005
    assert (objects[3].key, objects[3].size) == ("p/0003.ts", 3)
    assert objects[3].etag == hashlib.md5(b"xxx").hexdigest()  # noqa: S324 (quotes stripped)


def test_list_folders(s3):
    for key in ("a/1/x", "a/2/y", "a/2/z", "a/3"):
        s3.put_object(Bucket=SOURCE, Key=key, Body=b"")

    assert list(storage.list_folders(storage.s3_client(), bucket=SOURCE, prefix="a/")) == ["a/1/", "a/2/"]


def test_copy_objects_sets_metadata_and_reports_progress(s3):
    for i in range(20):
        s3.put_object(Bucket=SOURCE, Key=f"src/{i}.ts", Body=b"y" * 100, ContentType="binary/octet-stream")
    client = storage.s3_client()
    items = [
        storage.CopyItem(
            source=storage.S3Object(f"src/{i}.ts", 100, ""),
            key=f"dst/{i}.ts",
            params={"ContentType": "video/mp2t", "CacheControl": "max-age=1", "MetadataDirective": "REPLACE"},
        )
        for i in range(20)
    ]
    seen = []

    copied = storage.copy_objects(
        client, source_bucket=SOURCE, bucket=CDN, items=items, concurrency=4, progress=seen.append
    )

    assert copied == (20, 2000)
    assert (seen[0].done, seen[-1].done, seen[-1].bytes_done, seen[-1].total) == (0, 20, 2000, 20)
    head = s3.head_object(Bucket=CDN, Key="dst/7.ts")
    assert (head["ContentType"], head["CacheControl"]) == ("video/mp2t", "max-age=1")


def test_same_object_compares_size_and_etag():
    source = storage.S3Object("a", 10, "abc")
    assert storage.same_object(source, storage.S3Object("b", 10, "abc"))
    assert not storage.same_object(source, storage.S3Object("b", 10, "abd"))
    assert not storage.same_object(source, storage.S3Object("b", 11, "abc"))
    assert not storage.same_object(source, None)
    assert storage.same_object(storage.S3Object("a", 10, "abc-3"), storage.S3Object("b", 10, "def"))


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchKey", 404, storage.ObjectNotFound),
        ("AccessDenied", 403, storage.AccessDenied),
        ("SlowDown", 503, storage.StorageUnavailable),
        ("InternalError", 500, storage.StorageUnavailable),
        ("InvalidRequest", 400, storage.StorageError),
    ],
)
def test_sdk_errors_become_storage_errors(code, status, kind):
    exc = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )

    error = storage._error(exc, "Reading s3://b/k")

    assert type(error) is kind
    assert str(error) == f"Reading s3://b/k: {code} (m)" and error.code == code


def test_network_errors_are_unavailable():
    error = storage._error(EndpointConnectionError(endpoint_url="https://s3"), "Listing s3://b/p")
    assert isinstance(error, storage.StorageUnavailable)


@pytest.mark.parametrize(
    ("key", "content_type"),
    [
        ("a/master.m3u8", "application/vnd.apple.mpegurl"),
        ("a/1.ts", "video/mp2t"),
        ("a/init.mp4", "video/mp4"),
        ("a/1.m4s", "video/iso.segment"),
        ("a/thumb0.jpg", "image/jpeg"),
        ("events/recording-ended.json", "application/json"),
        ("a/blob", "binary/octet-stream"),
    ],
)
def test_content_types(key, content_type):
    assert storage.content_type(key) == content_type


def test_storage_location_of_an_s3_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "cdn-bucket", "location": "recordings/"},
        },
    }
    assert storage.storage_location("recordings") == ("cdn-bucket", "recordings")


def test_storage_location_of_another_storage(settings):
    settings.AWS_RECORDINGS_BUCKET_NAME = "cdn-bucket"
    assert storage.storage_location("recordings") == ("cdn-bucket", "")
