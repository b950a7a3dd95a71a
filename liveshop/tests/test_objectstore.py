"""liveshop.objectstore: the S3 backend against moto (real boto3 calls, no network), the
directory backend on a temporary folder, and copies between them."""

import hashlib
import threading

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from liveshop import objectstore
from liveshop.objectstore.s3 import storage_error

SOURCE, CDN, REGION = "source-bucket", "cdn-bucket", "eu-west-1"


@pytest.fixture
def s3(monkeypatch, settings):
    """A moto S3 with two buckets; ``objectstore.s3_client()`` reaches it."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    settings.AWS_S3_REGION_NAME, settings.AWS_S3_ENDPOINT_URL = REGION, None
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (SOURCE, CDN):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def test_list_objects_pages_through_everything_with_size_and_etag(s3):
    for i in range(1005):
        s3.put_object(Bucket=SOURCE, Key=f"p/{i:04d}.ts", Body=b"x" * (i % 7))

    objects = list(objectstore.list_objects(objectstore.s3_client(), bucket=SOURCE, prefix="p/"))

    assert len(objects) == 1005
    assert (objects[3].key, objects[3].size) == ("p/0003.ts", 3)
    assert objects[3].etag == hashlib.md5(b"xxx").hexdigest()  # noqa: S324 (quotes stripped)


def test_list_folders(s3):
    for key in ("a/1/x", "a/2/y", "a/2/z", "a/3"):
        s3.put_object(Bucket=SOURCE, Key=key, Body=b"")

    assert list(objectstore.list_folders(objectstore.s3_client(), bucket=SOURCE, prefix="a/")) == [
        "a/1/",
        "a/2/",
    ]


def test_copy_objects_sets_metadata_and_reports_progress(s3):
    for i in range(20):
        s3.put_object(Bucket=SOURCE, Key=f"src/{i}.ts", Body=b"y" * 100, ContentType="binary/octet-stream")
    client = objectstore.s3_client()
    items = [
        objectstore.CopyItem(
            source=objectstore.StoredObject(f"src/{i}.ts", 100, ""),
            key=f"dst/{i}.ts",
            params={"ContentType": "video/mp2t", "CacheControl": "max-age=1", "MetadataDirective": "REPLACE"},
        )
        for i in range(20)
    ]
    seen = []

    copied = objectstore.copy_objects(
        client, source_bucket=SOURCE, bucket=CDN, items=items, concurrency=4, progress=seen.append
    )

    assert copied == (20, 2000)
    assert (seen[0].done, seen[-1].done, seen[-1].bytes_done, seen[-1].total) == (0, 20, 2000, 20)
    head = s3.head_object(Bucket=CDN, Key="dst/7.ts")
    assert (head["ContentType"], head["CacheControl"]) == ("video/mp2t", "max-age=1")


def test_same_object_compares_size_and_etag():
    source = objectstore.StoredObject("a", 10, "abc")
    assert objectstore.same_object(source, objectstore.StoredObject("b", 10, "abc"))
    assert not objectstore.same_object(source, objectstore.StoredObject("b", 10, "abd"))
    assert not objectstore.same_object(source, objectstore.StoredObject("b", 11, "abc"))
    assert not objectstore.same_object(source, None)
    assert objectstore.same_object(
        objectstore.StoredObject("a", 10, "abc-3"), objectstore.StoredObject("b", 10, "def")
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchKey", 404, objectstore.ObjectNotFound),
        ("AccessDenied", 403, objectstore.AccessDenied),
        ("SlowDown", 503, objectstore.StorageUnavailable),
        ("InternalError", 500, objectstore.StorageUnavailable),
        ("InvalidRequest", 400, objectstore.StorageError),
    ],
)
def test_sdk_errors_become_storage_errors(code, status, kind):
    exc = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )

    error = storage_error(exc, "Reading s3://b/k")

    assert type(error) is kind
    assert str(error) == f"Reading s3://b/k: {code} (m)" and error.code == code


def test_network_errors_are_unavailable():
    error = storage_error(EndpointConnectionError(endpoint_url="https://s3"), "Listing s3://b/p")
    assert isinstance(error, objectstore.StorageUnavailable)


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
    assert objectstore.content_type(key) == content_type


def test_storage_location_of_an_s3_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "cdn-bucket", "location": "recordings/"},
        },
    }
    assert objectstore.storage_location("recordings") == ("cdn-bucket", "recordings")


def test_storage_location_of_another_storage(settings):
    settings.AWS_RECORDINGS_BUCKET_NAME = "cdn-bucket"
    assert objectstore.storage_location("recordings") == ("cdn-bucket", "")


def test_destination_store_of_a_file_system_storage_is_its_folder(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }

    store, prefix = objectstore.destination_store("recordings", s3_client=pytest.fail)

    assert isinstance(store, objectstore.DirectoryStore) and (store.root, prefix) == (tmp_path, "")


def test_destination_store_of_an_s3_storage_is_its_bucket(settings, s3):
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": CDN, "location": "recordings/"},
        },
    }

    store, prefix = objectstore.destination_store("recordings", s3_client=objectstore.s3_client)

    assert isinstance(store, objectstore.S3Store) and (store.bucket, prefix) == (CDN, "recordings")


def test_destination_store_without_a_bucket_is_none(settings):
    settings.AWS_RECORDINGS_BUCKET_NAME = ""
    assert objectstore.destination_store("recordings", s3_client=pytest.fail) == (None, "")


# The directory backend ---------------------------------------------------------------------------


def write(root, key, body: bytes):
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def test_directory_lists_like_s3_by_key_prefix_with_md5_etags(tmp_path):
    for key in ("rec/a/1.ts", "rec/a/2.ts", "rec/b.json", "recent/x", "other/y", "rec/.hidden"):
        write(tmp_path, key, key.encode())
    write(tmp_path, "rec/a/.3.ts.tmp.partial", b"half")
    store = objectstore.DirectoryStore(tmp_path)

    listed = list(store.list("rec/"))

    assert [o.key for o in listed] == ["rec/a/1.ts", "rec/a/2.ts", "rec/b.json"]
    assert listed[0] == objectstore.StoredObject("rec/a/1.ts", 10, hashlib.md5(b"rec/a/1.ts").hexdigest())  # noqa: S324
    assert [o.key for o in store.list("rec")] == ["rec/a/1.ts", "rec/a/2.ts", "rec/b.json", "recent/x"]
    assert list(store.list("missing/")) == []
    assert list(objectstore.DirectoryStore(tmp_path / "nowhere").list("")) == []


def test_directory_read_refuses_keys_outside_it_and_large_bodies(tmp_path):
    write(tmp_path, "a/playlist.m3u8", b"#EXTM3U\n")
    store = objectstore.DirectoryStore(tmp_path / "")

    assert store.read("a/playlist.m3u8") == b"#EXTM3U\n"
    with pytest.raises(objectstore.StorageError, match="more than expected"):
        store.read("a/playlist.m3u8", max_bytes=3)
    with pytest.raises(objectstore.ObjectNotFound):
        store.read("a/missing.m3u8")
    for key in ("../secret", "a/../../secret", "/etc/passwd"):
        with pytest.raises(objectstore.StorageError, match="not a key inside") as caught:
            store.read(key)
        assert caught.value.code == "InvalidKey"
    with pytest.raises(objectstore.ObjectNotFound) as caught:
        objectstore.DirectoryStore(tmp_path / "nowhere").read("a")
    assert caught.value.code == "NoSuchBucket"


def items(keys, store, prefix="copy"):
    return [
        objectstore.CopyItem(source=o, key=f"{prefix}/{o.key}", params={})
        for o in store.list("")
        if o.key in keys
    ]


def test_s3_to_directory_and_back_keeps_bytes_and_content_type(s3, tmp_path):
    for i in range(6):
        s3.put_object(Bucket=SOURCE, Key=f"r/{i}.ts", Body=bytes([i]) * 1000)
    bucket = objectstore.S3Store(objectstore.s3_client(), SOURCE)
    folder = objectstore.DirectoryStore(tmp_path)

    down = folder.copy_in(bucket, items({f"r/{i}.ts" for i in range(6)}, bucket), concurrency=8)
    params = {"ContentType": "video/mp2t", "MetadataDirective": "REPLACE"}
    up_items = [
        objectstore.CopyItem(source=o, key=f"back/{o.key}", params=params) for o in folder.list("copy/")
    ]
    up = objectstore.S3Store(objectstore.s3_client(), CDN).copy_in(folder, up_items, concurrency=4)

    assert down == up == (6, 6000)
    assert (tmp_path / "copy/r/5.ts").read_bytes() == b"\x05" * 1000
    assert oct((tmp_path / "copy/r/5.ts").stat().st_mode & 0o777) == "0o644"
    body = s3.get_object(Bucket=CDN, Key="back/copy/r/3.ts")
    assert (body["Body"].read(), body["ContentType"]) == (b"\x03" * 1000, "video/mp2t")


def test_a_failed_directory_copy_leaves_no_partial_file(tmp_path):
    write(tmp_path, "src/a.ts", b"a" * 10)
    source = objectstore.DirectoryStore(tmp_path)

    class Broken:
        def __init__(self, body):
            self.body = body

        def read(self, *args):
            raise OSError(5, "Input/output error")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.body.close()

    class FailingSource(objectstore.DirectoryStore):
        def open(self, key):
            return Broken(super().open(key))

    with pytest.raises(objectstore.StorageError, match="Input/output error"):
        source.copy_in(FailingSource(tmp_path), items({"src/a.ts"}, source), concurrency=1)

    assert sorted(p.name for p in (tmp_path / "copy/src").iterdir()) == []


def test_the_copy_engine_stops_at_the_first_failure(tmp_path):
    started, lock = [], threading.Lock()

    def copy(item):
        with lock:
            started.append(item.key)
        if item.key == "k3":
            raise objectstore.AccessDenied("Copying k3: AccessDenied", code="AccessDenied")
        return item.source.size

    work = [objectstore.CopyItem(objectstore.StoredObject(f"s{i}", 1, ""), f"k{i}", {}) for i in range(100)]

    with pytest.raises(objectstore.AccessDenied):
        objectstore.run_copies(work, copy, concurrency=1)

    assert len(started) < 10
