"""The media server's reset (events.local_streams, POST /hooks/media/on_server_reset): nginx
stopped or is starting, so the streams it carried end, as IVS reports a dropped stream, and
the recordings it left named by the key are saved. The supervisor that posts it:
events.media_supervisor."""

import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from events import extensions, local_streams, media_supervisor
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop import crypto
from liveshop.video import local

pytestmark = pytest.mark.django_db

KEY = "sk_the-secret-stream-key-0123456789"
Status = LiveEvent.Status


@pytest.fixture
def event():
    return LiveEventFactory(
        backend="local",
        channel_id="ch_0123456789abcdef0123",
        stream_key_encrypted=crypto.encrypt(KEY),
        stream_key_digest=crypto.digest(KEY),
    )


@pytest.fixture
def live(event):
    """The event live on a stream that started a minute ago."""
    started = timezone.now() - timedelta(minutes=1)
    session = StreamSessionFactory(event=event, started_at=started)
    event.status, event.status_changed_at = Status.LIVE, started
    event.save()
    return session


@pytest.fixture
def rec(settings, tmp_path):
    settings.MEDIA_SERVER_DIR = tmp_path
    (tmp_path / "rec").mkdir()
    return tmp_path / "rec"


@pytest.fixture
def queued(monkeypatch):
    """The local recordings handed on for ingestion (events.extensions.local_recording_saved,
    which recordings fills): (path, stream id)."""
    calls = []
    saved = lambda *, path, stream_id: calls.append((path, stream_id))  # noqa: E731
    monkeypatch.setattr(extensions.local_recording_saved, "implementation", saved)
    return calls


def reset(client, at: datetime | str, *, secret=None):
    at = f"{at.timestamp():.6f}" if isinstance(at, datetime) else at
    return client.post(
        reverse("events:media-on-server-reset"),
        data=urlencode({"call": "server_reset", "at": at}),
        content_type="application/x-www-form-urlencoded",
        headers={local.CALLBACK_HEADER: local.callback_secret() if secret is None else secret},
    )


def test_a_reset_ends_the_live_stream_as_ivs_reports_a_dropped_one(
    client, event, live, broadcasts, rec, django_capture_on_commit_callbacks
):
    at = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        response = reset(client, at)

    assert response.status_code == 200
    event.refresh_from_db()
    live.refresh_from_db()
    assert event.status == Status.ENDED and event.ended_by_host_at is None  # the encoder may return
    assert (live.ended_at, live.end_reason) == (at, local_streams.SERVER_STOPPED)
    assert broadcasts[-1]["payload"] == {"status": "ended", "streamId": live.stream_id}


def test_a_late_reset_leaves_a_stream_that_started_after_it_live(client, event, live, rec):
    before_reconnect = timezone.now()
    live.ended_at = before_reconnect - timedelta(seconds=5)
    live.save()
    reconnected = StreamSessionFactory(event=event, started_at=before_reconnect + timedelta(seconds=1))

    reset(client, before_reconnect)

    reconnected.refresh_from_db()
    assert reconnected.ended_at is None


def test_a_reset_twice_changes_nothing_more(client, event, live, rec):
    at = timezone.now()
    reset(client, at)

    assert reset(client, at + timedelta(seconds=1)).content == b"ended 0, saved 0"

    live.refresh_from_db()
    assert live.ended_at == at


def test_a_reset_leaves_ivs_streams_alone(client, rec):
    ivs = StreamSessionFactory(event=LiveEventFactory(backend="ivs", channel_id="arn:aws:ivs:x:1:channel/a"))

    reset(client, timezone.now() + timedelta(seconds=1))

    ivs.refresh_from_db()
    assert ivs.ended_at is None


def test_a_reset_saves_the_recording_nginx_left_under_the_key(
    client, event, live, rec, queued, django_capture_on_commit_callbacks
):
    opened = int(live.started_at.timestamp())
    left = rec / f"{KEY}-{opened}.flv"
    left.write_bytes(b"FLV")
    newer = rec / f"{KEY}-{opened + 3600}.flv"  # a publish after the reset: still being written
    newer.write_bytes(b"FLV")

    with django_capture_on_commit_callbacks(execute=True):
        response = reset(client, timezone.now())

    assert response.content == b"ended 1, saved 1"
    saved = rec / f"{event.channel_id}-{opened}.flv"
    assert saved.exists() and newer.exists() and not left.exists()
    assert queued == [(str(saved), live.stream_id)]


def test_a_reset_discards_the_left_recording_of_an_unrecorded_event(client, event, live, rec, queued):
    event.is_recorded = False
    event.save()
    (rec / f"{KEY}-{int(live.started_at.timestamp())}.flv").write_bytes(b"FLV")

    reset(client, timezone.now())

    assert list(rec.iterdir()) == [] and queued == []


def test_a_late_reset_leaves_the_recording_of_a_stream_that_started_after_it(client, event, rec, queued):
    reset_at = timezone.now()
    publish = reset_at + timedelta(milliseconds=300)  # within the same second, or not
    StreamSessionFactory(event=event, started_at=publish)
    recording = rec / f"{KEY}-{int(publish.timestamp())}.flv"
    recording.write_bytes(b"FLV")

    reset(client, reset_at)

    assert list(rec.iterdir()) == [recording] and queued == []


def test_a_reset_leaves_recordings_of_unknown_keys_and_renamed_ones(client, event, live, rec, queued):
    opened = int(live.started_at.timestamp())
    files = {rec / f"sk_some-other-key-{opened}.flv", rec / f"{event.channel_id}-{opened}.flv"}
    for path in files:
        path.write_bytes(b"FLV")

    reset(client, timezone.now())

    assert set(rec.iterdir()) == files and queued == []


@pytest.mark.parametrize("at", ["", "yesterday", "1e400"])
def test_a_reset_needs_its_time(client, live, rec, at):
    assert reset(client, at).status_code == 400
    live.refresh_from_db()
    assert live.ended_at is None


def test_a_reset_needs_the_callback_secret(client, live, rec):
    assert reset(client, timezone.now(), secret="wrong").status_code == 403
    live.refresh_from_db()
    assert live.ended_at is None


def test_the_supervisor_retries_a_reset_until_django_answers(monkeypatch):
    supervisor = media_supervisor.Supervisor(["true"], reset_url="http://127.0.0.1:9/", log=lambda _: None)
    answers = iter([False, False, True])
    posted = []
    monkeypatch.setattr(supervisor, "_post", lambda reset, timeout: posted.append(reset.at) or next(answers))
    at = time.time()

    supervisor._report(at)
    for _ in range(2):
        supervisor.pending[0].next_try = 0  # due now
        supervisor._deliver()

    assert posted == [at, at, at] and supervisor.pending == []


def test_the_supervisor_gives_up_a_reset_when_it_stops(monkeypatch):
    logged = []
    supervisor = media_supervisor.Supervisor(["true"], reset_url="http://127.0.0.1:9/", log=logged.append)
    monkeypatch.setattr(supervisor, "_post", lambda reset, timeout: False)
    supervisor._report(0.0)

    supervisor._deliver(final=True)

    assert supervisor.pending == [] and "may stay live" in logged[-1]


def check(client, *, at: datetime, seen_at: datetime, gone: str):
    fields = {"call": "server_check", "at": f"{at.timestamp():.6f}", "seen_at": f"{seen_at.timestamp():.6f}"}
    return client.post(
        reverse("events:media-on-server-reset"),
        data=urlencode({**fields, "gone": gone}),
        content_type="application/x-www-form-urlencoded",
        headers={local.CALLBACK_HEADER: local.callback_secret()},
    )


def test_a_check_ends_the_stream_of_a_channel_gone_from_nginx(client, event, live, rec):
    seen_at = timezone.now() - timedelta(seconds=2)

    assert check(client, at=timezone.now(), seen_at=seen_at, gone=event.channel_id).status_code == 200

    event.refresh_from_db()
    live.refresh_from_db()
    assert event.status == Status.ENDED
    assert (live.ended_at, live.end_reason) == (seen_at, local_streams.PUBLISHER_GONE)


def test_a_check_keeps_the_reconnected_stream_live_and_ends_the_one_before(client, event, live, rec):
    seen_at = timezone.now() - timedelta(seconds=2)
    reconnected = StreamSessionFactory(event=event, started_at=seen_at + timedelta(seconds=1))
    event.status_changed_at = reconnected.started_at
    event.save()

    check(client, at=timezone.now(), seen_at=seen_at, gone=event.channel_id)

    live.refresh_from_db()
    reconnected.refresh_from_db()
    event.refresh_from_db()
    assert live.ended_at == seen_at and reconnected.ended_at is None
    assert event.status == Status.LIVE


def test_a_check_leaves_the_channels_still_publishing(client, event, live, rec):
    now = timezone.now()

    check(client, at=now, seen_at=now - timedelta(seconds=2), gone="ch_another")

    live.refresh_from_db()
    assert live.ended_at is None


def test_the_supervisor_reports_streams_gone_from_stat_or_younger_than_before(monkeypatch):
    supervisor = media_supervisor.Supervisor(["true"], reset_url="", stat_url="http://stat", log=print)
    reads = iter([{"ch_a": 4_000, "ch_b": 4_000}, {"ch_a": 6_000, "ch_b": 500}, {"ch_b": 2_500}, {}])
    monkeypatch.setattr(media_supervisor, "read_publishing", lambda url: next(reads))
    seen = []
    for _ in range(4):
        supervisor.next_check = 0
        supervisor._check_stat()
        seen.append(supervisor.checked_at)

    assert [(r.gone, r.seen_at) for r in supervisor.pending] == [
        (("ch_b",), seen[0]), (("ch_a",), seen[1]), (("ch_b",), seen[2])
    ]  # fmt: skip
