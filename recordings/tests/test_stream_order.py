"""EventBridge delivers at least once and in any order (issue #12, finding 11): a show whose
encoder dropped and came back (two streams, one recording, as IVS merges reconnects within its
window) must end in the same state, sessions, event status and recording, whatever order its
events arrive in. Every permutation of the sequence is delivered and compared with the
in-order result. (Here, with recordings: events.stream_state hands recording events and late
sessions to recordings through events.extensions.)"""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from events import stream_state
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory
from liveshop.video import eventbridge as ivs_events
from recordings.models import Recording

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"
CHANNEL_ID = "AsXego4U6tnj"
ARN = f"arn:aws:ivs:us-west-2:{ACCOUNT}:channel/{CHANNEL_ID}"
BUCKET = "liveshop-ivs-recordings"
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
PREFIX = f"ivs/v1/{ACCOUNT}/{CHANNEL_ID}/2026/11/23/18/0/j8Z9O91ndcVs"
A, B = "st-AAAAAAAAAAAAAAAAAAAAAAAA", "st-BBBBBBBBBBBBBBBBBBBBBBBB"


@pytest.fixture(autouse=True)
def _ours(settings):
    settings.IVS_ACCOUNT_ID = ACCOUNT
    settings.IVS_RECORDINGS_BUCKET_NAME = BUCKET


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stream(name, stream_id, minutes):
    return ivs_events.stream_state_change(ARN, name, stream_id, at=at(minutes))


def recording(status, stream_id, minutes, **detail):
    return ivs_events.recording_state_change(
        ARN,
        status,
        stream_id,
        at=at(minutes),
        recording_s3_bucket_name=BUCKET,
        recording_s3_key_prefix=PREFIX,
        recording_session_id="a6RfV23ES97iyfoQ",
        **detail,
    )


# Stream A runs 0-10 min, drops; the encoder is back at 10.5 min as stream B, which ends at 30.
# IVS merges both into one recording (Recording End names both streams).
SHOW = [
    stream(ivs_events.STREAM_START, A, 0),
    stream(ivs_events.STREAM_END, A, 10),
    stream(ivs_events.STREAM_START, B, 10.5),
    stream(ivs_events.STREAM_END, B, 30),
    recording("Recording End", B, 31, recording_session_stream_ids=[A, B]),
]  # 120 orders (Recording Start, left out for time, only adds a stream id Recording End names)


def state(event: LiveEvent) -> dict:
    event.refresh_from_db()
    return {
        "status": event.status,
        "status_changed_at": event.status_changed_at,
        "sessions": sorted(
            (s.stream_id, s.started_at, s.ended_at, s.end_reason) for s in event.sessions.all()
        ),
        "recordings": sorted(
            (
                r.status,
                r.source_prefix,
                tuple(sorted(r.stream_ids)),
                r.session_id,
                tuple(sorted(r.sessions.values_list("stream_id", flat=True))),
            )
            for r in Recording.objects.filter(event=event)
        ),
    }


def deliver(event: LiveEvent, order) -> dict:
    """Deliver ``order`` in a savepoint rolled back afterwards; the state it left. (The
    ingestion task Recording End queues runs after commit: it does not run here.)"""
    with transaction.atomic():
        for payload in order:
            stream_state.handle_event(payload)
        result = state(event)
        transaction.set_rollback(True)
    return result


def test_every_delivery_order_ends_where_the_in_order_delivery_does():
    event = LiveEventFactory(channel_id=ARN)
    in_order = deliver(event, SHOW)
    assert in_order["status"] == LiveEvent.Status.ENDED
    assert [s[:3] for s in in_order["sessions"]] == [(A, at(0), at(10)), (B, at(10.5), at(30))]
    assert in_order["recordings"] == [("pending", PREFIX, (A, B), "a6RfV23ES97iyfoQ", ())]

    different = {}
    for order in itertools.permutations(SHOW):
        result = deliver(event, order)
        if result != in_order:
            different[
                tuple(p["detail"].get("event_name") or p["detail"]["recording_status"] for p in order)
            ] = result

    assert different == {}, f"{len(different)} of 120 orders differ, e.g. {next(iter(different.items()))}"


def test_every_order_of_the_streams_after_ingestion_links_both_sessions():
    """The recording was ingested (ready) before some stream events came: each session it names
    joins it when it is created, as ingestion would have linked it."""
    event = LiveEventFactory(channel_id=ARN)
    Recording.objects.create(
        event=event,
        organization=event.organization,
        source_bucket=BUCKET,
        source_prefix=PREFIX,
        status=Recording.Status.READY,
        stream_ids=[A, B],
    )
    streams = SHOW[:4]
    in_order = deliver(event, streams)
    assert in_order["recordings"][0][-1] == (A, B)

    for order in itertools.permutations(streams):
        assert deliver(event, order) == in_order, [p["detail"]["event_name"] for p in order]
