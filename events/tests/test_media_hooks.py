"""nginx-rtmp's callbacks (events.media_hooks), driven with the bodies nginx sends."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from events.models import LiveEvent, StreamSession
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop import crypto
from liveshop.video import local

pytestmark = pytest.mark.django_db

KEY = "sk_the-secret-stream-key-0123456789"
RTMP_PORT = 19350
Status = LiveEvent.Status


@pytest.fixture(autouse=True)
def _private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    cache.clear()


@pytest.fixture
def event():
    return LiveEventFactory(
        backend="local",
        channel_id="ch_0123456789abcdef0123",
        stream_key_encrypted=crypto.encrypt(KEY),
        stream_key_digest=crypto.digest(KEY),
    )


def call(client, hook, *, secret=None, **fields):
    """POST what nginx-rtmp posts (form-encoded fields) as its proxy location passes it on: the
    secret in the X-Liveshop-Media-Secret header."""
    query = {"rtmp_port": RTMP_PORT}
    body = {"app": "live", "flashver": "FMLE/3.0", "addr": "192.0.2.7", "clientid": "7", **fields}
    return client.post(
        f"{reverse(f'events:media-{hook}')}?{urlencode(query)}",
        data=urlencode(body),
        content_type="application/x-www-form-urlencoded",
        headers={local.CALLBACK_HEADER: local.callback_secret() if secret is None else secret},
    )


def publish(client, name=KEY, **fields):
    return call(client, "on-publish", call="publish", name=name, type="live", **fields)


def publish_done(client, name=KEY, **fields):
    return call(client, "on-publish-done", call="publish_done", name=name, **fields)


def test_right_key_redirects_to_the_channel_id_and_goes_live(
    client, event, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = publish(client)

    assert response.status_code == 302
    assert response["Location"] == f"rtmp://127.0.0.1:{RTMP_PORT}/show/{event.channel_id}"
    event.refresh_from_db()
    assert event.status == Status.LIVE
    session = event.sessions.get()
    assert re.fullmatch(r"st-[A-Za-z0-9]{23}", session.stream_id)
    assert session.started_at is not None and session.ended_at is None
    assert broadcasts[-1]["payload"] == {"status": "live", "streamId": session.stream_id}
    assert local.recall_publisher("7") == local.Publisher(
        event.channel_id, session.stream_id, event.stream_key_digest
    )


def test_each_publish_gets_its_own_stream_id(client, event):
    publish(client, clientid="7")
    publish_done(client, clientid="7")
    publish(client, clientid="9")

    assert len({session.stream_id for session in event.sessions.all()}) == 2


@pytest.mark.parametrize("name", ["sk_wrong-key", "", KEY.upper()])
def test_wrong_key_is_refused_and_starts_nothing(client, event, name):
    response = publish(client, name=name)

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.status == Status.SCHEDULED
    assert not StreamSession.objects.exists()
    assert local.recall_publisher("7") is None


def test_digest_match_with_a_different_stored_key_is_refused(client, event):
    event.stream_key_encrypted = crypto.encrypt("sk_another-key")
    event.save()

    assert publish(client).status_code == 403


def test_publishing_the_key_into_the_public_app_is_refused(client, event):
    assert publish(client, app="show").status_code == 403
    assert not StreamSession.objects.exists()


@pytest.mark.parametrize("secret", ["", "wrong", "0" * 64])
@pytest.mark.parametrize("hook", ["on-publish", "on-publish-done", "on-record-done"])
def test_missing_or_wrong_callback_secret_is_refused(client, event, hook, secret):
    response = call(client, hook, secret=secret, name=KEY, path="/nowhere/rec/x.flv")

    assert response.status_code == 403
    assert not StreamSession.objects.exists()


def test_hooks_accept_post_only(client):
    url = reverse("events:media-on-publish")

    assert client.get(url, headers={local.CALLBACK_HEADER: local.callback_secret()}).status_code == 405


def test_a_cancelled_event_cannot_go_live(client, event):
    event.status = Status.CANCELLED
    event.save()

    assert publish(client).status_code == 403
    assert not StreamSession.objects.exists()


def test_an_event_its_host_ended_cannot_go_live_again(client, event):
    StreamSessionFactory(event=event, ended_at=timezone.now(), end_reason="ended by host")
    event.status, event.ended_by_host_at = Status.ENDED, timezone.now()
    event.save()

    assert publish(client).status_code == 403


def test_an_event_ended_without_ever_going_live_cannot_go_live(client, event):
    event.status, event.ended_by_host_at = Status.ENDED, timezone.now()
    event.save()

    assert publish(client).status_code == 403


def test_an_event_its_host_ended_after_the_stream_dropped_cannot_go_live_again(client, event):
    # end_event drops the publisher; nginx's publish_done may end the session first.
    dropped = timezone.now() - timedelta(seconds=1)
    StreamSessionFactory(event=event, started_at=dropped, ended_at=dropped, end_reason="stream end")
    event.status, event.status_changed_at = Status.ENDED, timezone.now()
    event.ended_by_host_at = event.status_changed_at
    event.save()

    assert publish(client).status_code == 403


def test_an_event_whose_stream_dropped_goes_live_again_when_the_encoder_reconnects(client, event):
    started = timezone.now() - timedelta(minutes=5)
    StreamSessionFactory(event=event, started_at=started, ended_at=started, end_reason="stream end")
    event.status, event.status_changed_at = Status.ENDED, started
    event.save()

    assert publish(client).status_code == 302
    event.refresh_from_db()
    assert event.status == Status.LIVE


def test_publish_done_ends_the_session(client, event):
    publish(client)

    response = publish_done(client)

    assert response.status_code == 200
    event.refresh_from_db()
    assert event.status == Status.ENDED
    session = event.sessions.get()
    assert session.ended_at is not None and session.end_reason == "stream end"


def test_publish_done_after_a_key_rotation_ends_the_right_session(client, event):
    publish(client)
    event.stream_key_encrypted = crypto.encrypt("sk_rotated")
    event.stream_key_digest = crypto.digest("sk_rotated")
    event.save()

    publish_done(client)

    assert event.sessions.get().ended_at is not None


def test_publish_done_without_the_publisher_record_finds_the_event_by_key(client, event):
    publish(client)
    cache.clear()

    publish_done(client)

    assert event.sessions.get().ended_at is not None


def test_publish_done_ignores_a_record_made_for_another_key(client, event):
    publish(client)
    local.remember_publisher("7", local.Publisher("ch_other", "st-x", crypto.digest("sk_other")))

    publish_done(client)

    assert event.sessions.get().ended_at is not None


def test_publish_done_for_the_public_app_or_an_unknown_key_changes_nothing(client, event):
    publish(client)

    assert publish_done(client, app="show", name=event.channel_id).status_code == 200
    assert publish_done(client, name="sk_unknown", clientid="8").status_code == 200

    event.refresh_from_db()
    assert event.status == Status.LIVE


def record_done(client, path, name=KEY):
    return call(client, "on-record-done", call="record_done", recorder="", name=name, path=str(path))


def test_record_done_renames_the_recording_off_the_key(client, event, tmp_path):
    recording = tmp_path / "rec" / f"{KEY}-1700000000.flv"
    recording.parent.mkdir()
    recording.write_bytes(b"FLV")
    publish(client)
    publish_done(client)

    assert record_done(client, recording).status_code == 200

    assert [p.name for p in recording.parent.iterdir()] == [f"{event.channel_id}-1700000000.flv"]


def test_record_done_discards_the_recording_of_an_unrecorded_event(client, event, tmp_path):
    event.is_recorded = False
    event.save()
    recording = tmp_path / "rec" / f"{KEY}-1700000000.flv"
    recording.parent.mkdir()
    recording.write_bytes(b"FLV")
    publish(client)

    assert record_done(client, recording).status_code == 200

    assert list(recording.parent.iterdir()) == []


def test_record_done_leaves_files_that_are_not_this_streams_recording(client, event, tmp_path):
    other = tmp_path / "rec" / "somebody-else-1700000000.flv"
    other.parent.mkdir()
    other.write_bytes(b"FLV")
    publish(client)

    assert record_done(client, other).status_code == 200
    assert record_done(client, tmp_path / "rec" / f"{KEY}-missing.flv").status_code == 200

    assert other.exists()


def test_the_key_is_never_logged(client, event, tmp_path, caplog):
    caplog.set_level("DEBUG")
    recording = tmp_path / "rec" / f"{KEY}-1700000000.flv"
    recording.parent.mkdir()
    recording.write_bytes(b"FLV")

    publish(client, name=KEY + "x")  # refused
    publish(client, app="show")  # refused
    publish(client)
    publish_done(client)
    record_done(client, recording)
    record_done(client, recording)  # already renamed: an error is logged

    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(vars(record))
