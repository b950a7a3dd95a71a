"""The local video pipeline for real: ``manage.py media_server`` runs nginx-rtmp, whose callbacks
reach this test's live server; ffmpeg publishes; HLS is fetched from nginx.

They run with the rest of the suite (alone: ``pytest -m media``, without: ``-m "not media"``) and
skip when nginx, nginx-rtmp or ffmpeg is missing."""

import os
import re
import subprocess

import pytest
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from events import services
from events.models import LiveEvent, StreamSession
from liveshop import crypto
from liveshop.video import get_video_backend
from tests import media

pytestmark = [pytest.mark.media, pytest.mark.django_db(transaction=True)]

Status = LiveEvent.Status


@pytest.fixture(autouse=True)
def local_backend(settings, media_server):
    """The local video backend on the run's shared media server (``media_server``: the root
    conftest's, calling back the session's live server during the test)."""
    settings.VIDEO_BACKEND = "local"
    settings.MEDIA_SERVER_HOST = "127.0.0.1"
    settings.MEDIA_SERVER_RTMP_PORT = media_server.rtmp_port
    settings.MEDIA_SERVER_HTTP_PORT = media_server.http_port
    settings.MEDIA_SERVER_PUBLIC_URL = media_server.public_url
    settings.MEDIA_SERVER_DIR = media_server.directory
    get_video_backend.cache_clear()
    yield get_video_backend()
    get_video_backend.cache_clear()


@pytest.fixture
def publishers():
    """ffmpeg processes started by a test, all stopped at its end."""
    started = []
    yield started
    for process in started:
        media.stop(process)


@pytest.fixture
def host():
    return member(OrganizationFactory())


def new_event(host) -> LiveEvent:
    event = services.create_event(
        organization=host.memberships.get().organization,
        title="Spring drop",
        scheduled_start=timezone.now(),
        by=host,
    )
    assert event.backend == "local" and event.status == Status.SCHEDULED
    return event


def publish(media_server, publishers, key, **kwargs) -> subprocess.Popen:
    process = media.publish(media_server.ingest(key), **kwargs)
    publishers.append(process)
    return process


def is_live(event) -> bool:
    event.refresh_from_db()
    return event.status == Status.LIVE and event.sessions.filter(ended_at=None).exists()


def playlist(media_server, channel_id) -> str | None:
    status, headers, body = media.http_get(media_server.http_port, f"/hls/{channel_id}/index.m3u8")
    if status != 200 or b".ts" not in body:
        return None
    assert headers["content-type"] == "application/vnd.apple.mpegurl"
    assert headers["access-control-allow-origin"] == "*"
    return body.decode()


def files_under(directory) -> list[str]:
    return [os.path.join(root, name) for root, dirs, files in os.walk(directory) for name in dirs + files]


def test_a_playlist_rewritten_within_the_same_second_is_never_not_modified(media_server):
    """nginx-rtmp rewrites a live playlist every 0.5 s segment, often to the same length. nginx's
    validators are whole seconds (Last-Modified, and the ETag of mtime and size), so a player
    revalidating its cached copy (hls.js's XHR under ``Cache-Control: no-cache``) was told "304 Not
    Modified" about a newer playlist: it missed a segment, then stalled (bench/golive.py)."""
    folder = media_server.directory / "hls_public" / "ch_validators"
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.m3u8"
    index.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:0.500,\n7.ts\n")
    when = os.stat(index).st_mtime

    path = "/hls/ch_validators/index.m3u8"
    status, headers, first = media.http_get(media_server.http_port, path)
    assert status == 200 and b"7.ts" in first
    validators = {"If-Modified-Since": headers.get("last-modified"), "If-None-Match": headers.get("etag")}
    index.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:8\n#EXTINF:0.500,\n8.ts\n")  # the same length
    os.utime(index, (when, when))  # and the same second

    conditional = {k: v for k, v in validators.items() if v}
    status, headers, second = media.http_get(media_server.http_port, path, headers=conditional)
    assert status == 200 and b"8.ts" in second
    assert "no-cache" in headers["cache-control"] or "no-store" in headers["cache-control"]


def test_publishing_the_key_takes_the_event_live_with_hls_under_the_channel_id(
    media_server, local_backend, publishers, host
):
    event = new_event(host)
    key = crypto.decrypt(event.stream_key_encrypted)
    assert event.playback_url == f"{media_server.public_url}/hls/{event.channel_id}/index.m3u8"

    ffmpeg = publish(media_server, publishers, key)

    media.wait_for(lambda: is_live(event), what=f"the event to go live\n{media_server.output()}")
    text = media.wait_for(
        lambda: playlist(media_server, event.channel_id), what="an HLS playlist with segments"
    )
    segment = re.search(r"^\S+\.ts$", text, re.M).group(0)
    assert media.http_get(media_server.http_port, f"/hls/{event.channel_id}/{segment}")[0] == 200
    state = local_backend.get_stream(event.channel_id)
    assert state.live and state.stream_id == event.sessions.get().stream_id
    assert key not in text
    assert not [path for path in files_under(media_server.directory / "hls_public") if key in path]

    ffmpeg.terminate()

    media.wait_for(lambda: event.sessions.get().ended_at, what="the session to end")
    event.refresh_from_db()
    assert event.status == Status.ENDED
    recordings = media.wait_for(
        lambda: list((media_server.directory / "rec").glob(f"{event.channel_id}-*.flv")), what="the recording"
    )
    assert len(recordings) == 1
    assert not [path for path in files_under(media_server.directory) if key in path]


def test_a_wrong_key_is_refused(media_server, publishers, host):
    event = new_event(host)

    ffmpeg = publish(media_server, publishers, "sk_not-the-key-of-any-event")

    assert ffmpeg.wait(timeout=15) != 0
    assert not StreamSession.objects.exists()
    event.refresh_from_db()
    assert event.status == Status.SCHEDULED


def test_ending_the_event_cuts_the_encoder_off_and_keeps_it_off(
    media_server, local_backend, publishers, host
):
    event = new_event(host)
    old_key = crypto.decrypt(event.stream_key_encrypted)
    ffmpeg = publish(media_server, publishers, old_key)
    media.wait_for(lambda: is_live(event), what=f"the event to go live\n{media_server.output()}")

    services.end_event(event=event, by=host)

    assert ffmpeg.wait(timeout=15) != 0  # dropped by nginx's control module
    media.wait_for(lambda: local_backend.get_stream(event.channel_id) is None, what="the stream to stop")
    event.refresh_from_db()
    assert event.status == Status.ENDED and event.sessions.get().ended_at is not None
    new_key = services.reveal_stream_key(event=event, by=host)
    for key in (old_key, new_key):
        assert publish(media_server, publishers, key).wait(timeout=15) != 0
    assert event.sessions.count() == 1
