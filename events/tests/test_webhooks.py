"""POST /hooks/ivs/ as an EventBridge API destination calls it."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from events.models import LiveEvent, StreamSession
from events.tests.factories import LiveEventFactory
from events.webhooks import SECRET_HEADER
from liveshop.video import eventbridge as ivs_events

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LIVESHOP_WEBHOOK_SECRET = SECRET
    settings.IVS_ACCOUNT_ID = "123456789012"
    settings.IVS_RECORDINGS_BUCKET_NAME = "liveshop-ivs-recordings"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a body as EventBridge would, running what the request queued after commit."""

    def _post(body, secret=SECRET):
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/hooks/ivs/", data=data, content_type="application/json", headers=headers)

    return _post


def state(event, name, stream_id="st-1A2b3c4D5e6F78ghij9Klmn", at=T0, **detail):
    return ivs_events.stream_state_change(event.channel_id, name, stream_id, at=at, **detail)


def test_stream_start_makes_the_event_live_and_opens_a_session(post, broadcasts):
    event = LiveEventFactory()

    response = post(state(event, ivs_events.STREAM_START))

    assert response.status_code == 200
    assert response.json() == {"result": "applied"}
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.LIVE
    session = StreamSession.objects.get(event=event)
    assert (session.stream_id, session.started_at, session.ended_at) == (
        "st-1A2b3c4D5e6F78ghij9Klmn",
        T0,
        None,
    )
    assert broadcasts == [
        {
            "event_id": event.pk,
            "type": "stream.state",
            "payload": {"status": "live", "streamId": "st-1A2b3c4D5e6F78ghij9Klmn"},
        }
    ]


def test_stream_end_ends_the_event_and_closes_the_session(post):
    event = LiveEventFactory()
    post(state(event, ivs_events.STREAM_START))

    post(state(event, ivs_events.STREAM_END, at=T0 + timedelta(minutes=30)))

    event.refresh_from_db()
    assert event.status == LiveEvent.Status.ENDED
    session = StreamSession.objects.get(event=event)
    assert session.ended_at == T0 + timedelta(minutes=30)
    assert session.end_reason == "stream end"


def test_stream_failure_keeps_its_reason(post):
    event = LiveEventFactory()
    post(state(event, ivs_events.STREAM_START))

    post(
        state(
            event,
            ivs_events.STREAM_FAILURE,
            at=T0 + timedelta(seconds=5),
            reason="Transcode capacity exceeded.",
        ),
    )

    assert StreamSession.objects.get(event=event).end_reason == "Transcode capacity exceeded."
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.ENDED


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_missing_or_wrong_secret_is_401_and_changes_nothing(post, secret):
    event = LiveEventFactory()

    response = post(state(event, ivs_events.STREAM_START), secret=secret)

    assert response.status_code == 401
    assert SECRET_HEADER in response.json()["error"]
    event.refresh_from_db()
    assert event.status == LiveEvent.Status.SCHEDULED
    assert not StreamSession.objects.exists()


def test_unconfigured_secret_refuses_everything(post, settings):
    settings.LIVESHOP_WEBHOOK_SECRET = ""
    event = LiveEventFactory()

    assert post(state(event, ivs_events.STREAM_START), secret="").status_code == 401


def test_replayed_event_changes_nothing_the_second_time(post, broadcasts):
    event = LiveEventFactory()
    body = state(event, ivs_events.STREAM_START)

    first, second = post(body), post(body)

    assert first.json() == {"result": "applied"}
    assert second.json() == {"result": "unchanged"}
    assert StreamSession.objects.filter(event=event).count() == 1
    assert len(broadcasts) == 1


def test_end_before_start_leaves_the_event_not_live(post):
    event = LiveEventFactory()

    post(state(event, ivs_events.STREAM_END, at=T0 + timedelta(minutes=10)))
    post(state(event, ivs_events.STREAM_START, at=T0))

    event.refresh_from_db()
    assert event.status != LiveEvent.Status.LIVE
    session = StreamSession.objects.get(event=event)
    assert (session.started_at, session.ended_at) == (T0, T0 + timedelta(minutes=10))


def test_older_end_of_a_previous_stream_does_not_end_a_newer_one(post):
    event = LiveEventFactory()
    post(state(event, ivs_events.STREAM_START, stream_id="st-old", at=T0))
    post(state(event, ivs_events.STREAM_START, stream_id="st-new", at=T0 + timedelta(minutes=5)))

    # The first stream's end was delayed in delivery and is older than the second start.
    post(state(event, ivs_events.STREAM_END, stream_id="st-old", at=T0 + timedelta(minutes=4)))

    event.refresh_from_db()
    assert event.status == LiveEvent.Status.LIVE
    assert StreamSession.objects.get(stream_id="st-old").ended_at == T0 + timedelta(minutes=4)


def test_unknown_channel_is_acknowledged_and_logged(post, caplog):
    body = ivs_events.stream_state_change(
        "arn:aws:ivs:us-west-2:123456789012:channel/unknown00000", ivs_events.STREAM_START, "st-x", at=T0
    )

    response = post(body)

    assert response.status_code == 200
    assert response.json() == {"result": "unknown channel"}
    assert "unknown channel" in caplog.text
    assert not StreamSession.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (
            {"detail-type": "IVS Stream State Change", "time": "2026-11-23T18:00:00Z", "resources": ["x"]},
            "detail",
        ),
        ({"detail-type": "IVS Stream State Change", "detail": {}, "resources": ["x"]}, "time"),
        (
            {"detail-type": "IVS Stream State Change", "detail": {}, "time": "2026-11-23T18:00:00Z"},
            "resources",
        ),
        (
            {
                "detail-type": "IVS Stream State Change",
                "detail": {"event_name": "Stream Start"},
                "time": "2026-11-23T18:00:00Z",
                "resources": ["x"],
            },
            "stream_id",
        ),
    ],
)
def test_malformed_body_is_400_with_a_reason(post, body, reason):
    response = post(body)

    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_detail_types_no_rule_routes_here_are_refused(post):
    event = LiveEventFactory()
    body = state(event, "Ingest Bitrate")
    body["detail-type"] = "IVS Limit Breach"

    response = post(body)

    assert response.status_code == 400
    assert "'detail-type' 'IVS Limit Breach' is not one Liveshop subscribes to" in response.json()["error"]


def test_starvation_news_is_applied_only_to_the_live_stream(post):
    body = state(LiveEventFactory(), "Starvation Start")  # the event is not live
    body["detail-type"] = "IVS Stream Health Change"

    assert post(body).json() == {"result": "unchanged"}


def test_get_is_not_allowed(client):
    assert client.get("/hooks/ivs/").status_code == 405


def test_cancelled_event_does_not_go_live(post):
    event = LiveEventFactory(status=LiveEvent.Status.CANCELLED)

    post(state(event, ivs_events.STREAM_START))

    event.refresh_from_db()
    assert event.status == LiveEvent.Status.CANCELLED


def test_recording_events_go_to_ingestion(post):
    body = ivs_events.recording_state_change(
        "arn:aws:ivs:us-west-2:123456789012:channel/nobodyHas123",
        "Recording End",
        "st-x",
        at=T0,
        recording_s3_bucket_name="liveshop-ivs-recordings",
        recording_s3_key_prefix="ivs/v1/123456789012/nobodyHas123/2026/11/23/18/0/abcd1234",
        recording_duration_ms=1000,
        recording_session_id="abcd1234",
    )

    response = post(body)

    assert response.status_code == 200
    assert response.json() == {"result": "unknown channel"}
