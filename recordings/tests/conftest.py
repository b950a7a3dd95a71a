"""S3 in moto (the real boto3 calls, no network), an event on an IVS channel with products, and
a recording of it written in IVS's layout."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from catalog.tests.factories import ProductFactory
from events.models import Highlight
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from recordings.tests.recording_tree import RecordingSpec, write_recording
from recordings.tests.upload_media import (  # noqa: F401 (fixtures)
    broken_files,
    media_s3,
    on_disk,
    phone_video,
    sample_video,
    short_video,
    tiny_portrait,
)

SOURCE = "liveshop-ivs-recordings"
CDN = "liveshop-cdn"
REGION = "us-west-2"
CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/AsXego4U6tnj"
STARTED_AT = datetime(2024, 6, 23, 20, 12, 3, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _ivs_account(settings):
    """Liveshop's IVS account and recordings bucket: recording events of others are refused."""
    settings.IVS_ACCOUNT_ID = "123456789012"
    settings.IVS_RECORDINGS_BUCKET_NAME = SOURCE


@pytest.fixture
def s3(monkeypatch, settings):
    """A moto S3 with the IVS recordings bucket and the CDN bucket; settings point at them."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_S3_ENDPOINT_URL = None
    settings.AWS_RECORDINGS_BUCKET_NAME = CDN
    settings.RECORDINGS_COPY_CONCURRENCY = 8
    settings.RECORDINGS_CDN_PREFIX = "replays"
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (SOURCE, CDN):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


@pytest.fixture
def show(db):
    """An event on CHANNEL_ARN with two products and a stream session."""
    event = LiveEventFactory(channel_id=CHANNEL_ARN, backend="ivs")
    products = ProductFactory.create_batch(2, organization=event.organization)
    StreamSessionFactory(event=event, stream_id="st-1A2b3c4D5e6F78ghij9Klmn", started_at=STARTED_AT)
    return event, products


def highlight(event, product, at: datetime) -> Highlight:
    """A highlight made at ``at`` (created_at is auto_now_add: set it afterwards)."""
    h = Highlight.objects.create(event=event, product=product)
    Highlight.objects.filter(pk=h.pk).update(created_at=at)
    h.refresh_from_db()
    return h


def at(seconds: float) -> datetime:
    return STARTED_AT + timedelta(seconds=seconds)


@pytest.fixture
def spec():
    """A 6-minute recording: 4 renditions of 30 twelve-second segments each."""
    return RecordingSpec(channel_arn=CHANNEL_ARN, started_at=STARTED_AT)


@pytest.fixture
def put_source(s3):
    """``put(key, body)`` straight into moto's source bucket: test data is set up ten times
    faster than through PutObject; ingestion itself makes real boto3 calls."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return lambda key, body: backend.put_object(SOURCE, key, body)


@pytest.fixture
def recording_tree(put_source, spec):
    """The recording written to the source bucket; returns its objects by relative key."""
    return write_recording(put_source, spec)


@pytest.fixture
def highlights(show):
    """Featured A at 30 s, B at 95.5 s, cleared at 150 s, A again at 200 s (open to the end);
    one before and one after the recording, which make no cue."""
    event, (a, b) = show
    return [
        highlight(event, a, at(-20)),
        highlight(event, a, at(30)),
        highlight(event, b, at(95.5)),
        highlight(event, None, at(150)),
        highlight(event, a, at(200)),
        highlight(event, b, at(400)),
    ]


class CountingClient:
    """A boto3 S3 client that counts CopyObject calls per destination key, and can fail the
    (n+1)-th call and every later one (a run killed halfway)."""

    def __init__(self, client, *, fail_after: int | None = None, copies: dict | None = None):
        self._client = client
        self.fail_after = fail_after
        self.copies = copies if copies is not None else {}
        self.calls = 0
        self._lock = threading.Lock()

    def copy_object(self, **params):
        with self._lock:
            self.calls += 1
            fail = self.fail_after is not None and self.calls > self.fail_after
        if fail:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "killed"}}, "CopyObject")
        response = self._client.copy_object(**params)
        with self._lock:
            self.copies[params["Key"]] = self.copies.get(params["Key"], 0) + 1
        return response

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def s3_client_factory(monkeypatch):
    """Replace liveshop.objectstore.s3_client with a factory of CountingClients (shared counts)."""
    from liveshop import objectstore

    real = objectstore.s3_client
    state = {"fail_after": None, "copies": {}, "clients": []}

    def factory(**kwargs):
        client = CountingClient(real(**kwargs), fail_after=state["fail_after"], copies=state["copies"])
        state["clients"].append(client)
        return client

    monkeypatch.setattr(objectstore, "s3_client", factory)
    return state
