"""POST /hooks/ivs/ with a valid secret but input no IVS event carries: always a 400 with a
reason, never a 500 and never a row (issue #12, finding 6)."""

import json
from datetime import UTC, datetime

import pytest

from events.models import LiveEvent, StreamSession
from events.tests.factories import LiveEventFactory
from events.webhooks import SECRET_HEADER
from liveshop.video import eventbridge as ivs_events

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
STREAM_ID = "st-1A2b3c4D5e6F78ghij9Klmn"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LIVESHOP_WEBHOOK_SECRET = SECRET


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def _post(body):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/hooks/ivs/", data=data, content_type="application/json", headers={SECRET_HEADER: SECRET}
            )

    return _post


@pytest.fixture
def event():
    return LiveEventFactory()


def start(event, **changes):
    body = ivs_events.stream_state_change(event.channel_id, ivs_events.STREAM_START, STREAM_ID, at=T0)
    body.update(changes)
    return body


def assert_refused(response, reason):
    assert response.status_code == 400, response.content
    assert reason in response.json()["error"]
    assert not StreamSession.objects.exists()


@pytest.mark.parametrize("time", ["2024-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-23T25:00:00Z"])
def test_an_impossible_time_is_400(post, event, time):
    assert_refused(post(start(event, time=time)), "time")
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.SCHEDULED


def test_a_time_that_cannot_be_stored_in_utc_is_400(post, event):
    assert_refused(post(start(event, time="9999-12-31T23:59:59-23:59")), "time")


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(post, event, depth):
    body = json.dumps(start(event))[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"

    assert_refused(post(body), "nested")


def test_a_stream_id_longer_than_64_characters_is_400(post, event):
    body = ivs_events.stream_state_change(event.channel_id, ivs_events.STREAM_START, "st-" + "x" * 62, at=T0)

    assert_refused(post(body), "stream_id")


@pytest.mark.parametrize("where", ["stream_id", "reason", "resources"])
def test_a_nul_character_is_400(post, event, where):
    body = ivs_events.stream_state_change(event.channel_id, ivs_events.STREAM_END, STREAM_ID, at=T0)
    if where == "resources":
        body["resources"] = [event.channel_id + "\x00"]
    else:
        body["detail"][where] = "st-\x00abc"

    assert_refused(post(body), "NUL")


def test_a_stream_id_that_is_not_a_string_is_400(post, event):
    body = start(event)
    body["detail"]["stream_id"] = ["st-" + "x" * 70]

    assert_refused(post(body), "stream_id")


def test_a_well_formed_event_still_applies(post, event):
    response = post(start(event))

    assert response.status_code == 200
    assert StreamSession.objects.filter(stream_id=STREAM_ID).exists()
