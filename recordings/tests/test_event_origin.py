"""Recording events are trusted only when they are IVS's, in Liveshop's account, about one of
its channels, with a prefix of that channel and the configured recordings bucket (issue #12,
finding 10). Every mismatch is a 400 from the webhook and a CommandError from the ingest task,
with no row, no task and no S3 call: the other bucket below holds a real recording that
today's code would have copied."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.webhooks import SECRET_HEADER
from liveshop.video import eventbridge as ivs_events
from recordings.models import Recording
from recordings.tests.conftest import CHANNEL_ARN, REGION, SOURCE, STARTED_AT
from recordings.tests.recording_tree import RecordingSpec, write_recording
from recordings.tests.test_events import recording_event

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"
OTHER_BUCKET = "someone-elses-bucket"
OTHER_ACCOUNT = "210987654321"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LIVESHOP_WEBHOOK_SECRET = SECRET


@pytest.fixture
def other_bucket(s3):
    """A bucket that is not IVS_RECORDINGS_BUCKET_NAME, holding a complete recording."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    s3.create_bucket(Bucket=OTHER_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return lambda key, body: backend.put_object(OTHER_BUCKET, key, body)


@pytest.fixture
def queued(monkeypatch):
    """The ingestion tasks queued (none may be)."""
    from recordings.tasks import ingest_recording_task

    calls = []
    monkeypatch.setattr(ingest_recording_task, "delay", lambda *args: calls.append(args))
    return calls


def other_account_spec() -> RecordingSpec:
    return RecordingSpec(
        channel_arn=CHANNEL_ARN.replace("123456789012", OTHER_ACCOUNT), started_at=STARTED_AT
    )


def _foreign_bucket(spec):
    return recording_event(spec, recording_s3_bucket_name=OTHER_BUCKET)


def _foreign_source(spec):
    return {**recording_event(spec), "source": "my.app"}


def _arn_in_other_account(spec):
    """Envelope, ARN and prefix all say the other account; the channel id is ours."""
    other = other_account_spec()
    return {**recording_event(other), "account": OTHER_ACCOUNT, "resources": [other.channel_arn]}


def _envelope_account_disagrees(spec):
    return {**recording_event(spec), "account": OTHER_ACCOUNT}


def _region_disagrees(spec):
    return {**recording_event(spec), "region": "eu-west-1"}


def _prefix_of_other_account(spec):
    prefix = other_account_spec().prefix
    return recording_event(spec, recording_s3_key_prefix=prefix)


def _prefix_of_other_channel(spec):
    prefix = spec.prefix.replace(spec.channel_id, "OtherChannel1")
    return recording_event(spec, recording_s3_key_prefix=prefix)


def _local_shape(spec):
    body = recording_event(spec)
    return {**body, "account": "local", "region": "local", "resources": [spec.channel_id]}


REFUSED = {
    "other bucket": (_foreign_bucket, "is not Liveshop's recordings bucket"),
    "other source": (_foreign_source, "'source' is 'my.app'"),
    "ARN in another account": (_arn_in_other_account, "is not in Liveshop's AWS account"),
    "account disagrees with ARN": (_envelope_account_disagrees, "is not the channel ARN's account"),
    "region disagrees with ARN": (_region_disagrees, "is not the channel ARN's region"),
    "prefix of another account": (_prefix_of_other_account, "is not of channel"),
    "prefix of another channel": (_prefix_of_other_channel, "is not of channel"),
    "local media server's shape": (_local_shape, "is not an IVS channel ARN"),
}


def post(client, body):
    return client.post(
        "/hooks/ivs/", data=json.dumps(body), content_type="application/json", headers={SECRET_HEADER: SECRET}
    )


@pytest.mark.parametrize("case", REFUSED)
def test_the_webhook_refuses_recording_events_not_ours(
    client, s3, other_bucket, spec, show, s3_client_factory, queued, django_capture_on_commit_callbacks, case
):
    make, reason = REFUSED[case]
    body = make(spec)
    write_recording(other_bucket, spec)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body)

    assert response.status_code == 400, response.content
    assert reason in response.json()["error"]
    assert not Recording.objects.exists()
    assert queued == []
    assert s3_client_factory["clients"] == []  # no S3 client was even made


@pytest.mark.parametrize("case", REFUSED)
def test_the_ingest_task_refuses_recording_events_not_ours(
    s3, other_bucket, spec, show, s3_client_factory, monkeypatch, case
):
    make, reason = REFUSED[case]
    write_recording(other_bucket, spec)
    monkeypatch.setenv("LIVESHOP_EVENT", json.dumps(make(spec)))

    with pytest.raises(CommandError, match=reason):
        call_command(
            "ingest_recording", "--event-env", "LIVESHOP_EVENT", stdout=io.StringIO(), stderr=io.StringIO()
        )

    assert not Recording.objects.exists()
    assert s3_client_factory["clients"] == []


def test_without_a_configured_account_the_channels_arns_give_it(
    client, s3, spec, show, queued, settings, django_capture_on_commit_callbacks
):
    settings.IVS_ACCOUNT_ID = ""
    settings.IVS_RECORDING_CONFIGURATION_ARN = ""

    refused = post(client, _arn_in_other_account(spec))
    with django_capture_on_commit_callbacks(execute=True):
        accepted = post(client, recording_event(spec))

    assert refused.status_code == 400
    assert "is not in Liveshop's AWS account" in refused.json()["error"]
    assert accepted.json() == {"result": "queued"}
    assert len(queued) == 1


def test_the_recording_configuration_arn_gives_the_account(client, s3, spec, show, queued, settings):
    settings.IVS_ACCOUNT_ID = ""
    settings.IVS_RECORDING_CONFIGURATION_ARN = (
        f"arn:aws:ivs:{REGION}:{OTHER_ACCOUNT}:recording-configuration/AbCdEf123456"
    )

    response = post(client, recording_event(spec))  # the channel is in 123456789012

    assert response.status_code == 400
    assert not Recording.objects.exists()


def test_no_configured_recordings_bucket_refuses_every_recording_event(
    client, s3, spec, show, queued, settings
):
    settings.IVS_RECORDINGS_BUCKET_NAME = ""

    response = post(client, recording_event(spec))

    assert response.status_code == 400
    assert "IVS_RECORDINGS_BUCKET_NAME is not set" in response.json()["error"]
    assert not Recording.objects.exists() and queued == []


def test_an_unknown_recording_status_of_our_channel_is_ignored_without_a_row(client, s3, spec, show, queued):
    response = post(client, recording_event(spec, "Recording Paused"))

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}
    assert not Recording.objects.exists() and queued == []


def test_our_own_event_is_still_queued(client, s3, spec, show, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, recording_event(spec))

    assert response.json() == {"result": "queued"}
    assert queued == [(SOURCE, spec.prefix)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recording_session_id", "s" * 65),
        ("recording_session_stream_ids", ["st-" + "y" * 70]),
        ("recording_s3_key_prefix", "ivs/v1/123456789012/AsXego4U6tnj/2026/11/23/18/0/" + "r" * 400),
    ],
)
def test_recording_event_ids_longer_than_their_columns_are_400(client, show, field, value):
    """The webhook's limits for recording fields come from recordings' columns
    (events.extensions.recording_detail_limits): a longer value is a 400 and no row."""
    body = ivs_events.recording_state_change(
        CHANNEL_ARN,
        "Recording Start Failure",
        "st-1A2b3c4D5e6F78ghij9Klmn",
        at=STARTED_AT,
        recording_s3_bucket_name="liveshop-ivs-recordings",
        **{"recording_session_id": "abcd1234", field: value},
    )

    response = post(client, body)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]
    assert not Recording.objects.exists()
