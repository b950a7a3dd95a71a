"""POST /hooks/ivs/ trusts a stream event only when it is IVS's, in Liveshop's account, about
one of its channels (issue #12, finding 10): anything else is a 400 with the reason and no row.
An event name IVS does not document, for one of our channels, is ignored without a row. The
local media server's own events (account "local") still apply, but never through the webhook."""

import json
from datetime import UTC, datetime

import pytest

from events import stream_state
from events.exceptions import MalformedStreamEvent
from events.models import LiveEvent, StreamSession
from events.tests.factories import LiveEventFactory
from events.webhooks import SECRET_HEADER
from liveshop.video import eventbridge as ivs_events

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
OURS = "123456789012"
OTHER = "210987654321"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LIVESHOP_WEBHOOK_SECRET = SECRET


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def _post(body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/hooks/ivs/",
                data=json.dumps(body),
                content_type="application/json",
                headers={SECRET_HEADER: SECRET},
            )

    return _post


@pytest.fixture
def event():
    return LiveEventFactory(channel_id=f"arn:aws:ivs:us-west-2:{OURS}:channel/AbCdEf123456")


def start(channel_id, **changes):
    body = ivs_events.stream_state_change(channel_id, ivs_events.STREAM_START, "st-1", at=T0)
    return {**body, **changes}


def assert_refused(response, reason, event):
    assert response.status_code == 400, response.content
    assert reason in response.json()["error"]
    assert not StreamSession.objects.exists()
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.SCHEDULED


@pytest.mark.parametrize("source", ["aws.ivs.fake", "my.app", None, 7])
def test_a_source_other_than_aws_ivs_is_refused(post, event, source):
    assert_refused(post(start(event.channel_id, source=source)), "'source'", event)


@pytest.mark.parametrize("setting", [OURS, ""])
def test_a_channel_in_another_account_is_refused(post, event, settings, setting):
    """With IVS_ACCOUNT_ID, or without it (then the accounts of our channels' ARNs count)."""
    settings.IVS_ACCOUNT_ID = setting
    settings.IVS_RECORDING_CONFIGURATION_ARN = ""
    foreign = event.channel_id.replace(OURS, OTHER)  # the same channel id, another account

    assert_refused(post(start(foreign)), "is not in Liveshop's AWS account", event)


def test_an_account_that_disagrees_with_the_arn_is_refused(post, event):
    assert_refused(post(start(event.channel_id, account=OTHER)), "is not the channel ARN's account", event)


def test_a_region_that_disagrees_with_the_arn_is_refused(post, event):
    assert_refused(
        post(start(event.channel_id, region="eu-west-1")), "is not the channel ARN's region", event
    )


@pytest.mark.parametrize("resources", [["not-an-arn"], [], ["arn:aws:ivs:us-west-2:123456789012:stage/x"]])
def test_resources_that_are_not_one_channel_arn_are_refused(post, event, resources):
    response = post(start(event.channel_id, resources=resources))

    assert response.status_code == 400
    assert not StreamSession.objects.exists()


def test_the_local_media_servers_shape_is_refused_by_the_webhook(post):
    local = LiveEventFactory(backend="local", channel_id="ch_0123456789abcdef0123")
    body = start(local.channel_id)
    assert body["account"] == "local"

    assert_refused(post(body), "is not an IVS channel ARN", local)


def test_the_local_media_servers_own_events_still_apply(broadcasts):
    local = LiveEventFactory(backend="local", channel_id="ch_0123456789abcdef0123")

    result = stream_state.handle_event(start(local.channel_id), local_allowed=True)

    assert result == "applied"
    local.refresh_from_db()
    assert local.status == LiveEvent.Status.LIVE
    with pytest.raises(MalformedStreamEvent):
        stream_state.handle_event(start(local.channel_id))  # not from the media server


def test_an_unknown_event_name_of_our_channel_is_ignored_without_a_row(post, event):
    body = ivs_events.stream_state_change(event.channel_id, "Stream Teleported", "st-1", at=T0)

    response = post(body)

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}
    assert not StreamSession.objects.exists()


def test_our_own_event_still_applies(post, event):
    response = post(start(event.channel_id))

    assert response.json() == {"result": "applied"}
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.LIVE
