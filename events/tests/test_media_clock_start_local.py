"""The media clock's origin read at the session's start (events.media_clock.watch_session_start,
started by the on_publish callback) against the real local media server (nginx-rtmp + ffmpeg):
a slow encoder whose clock starts an hour in, read for the first time only when the host clicks.
Marked "media" with the other ffmpeg/nginx tests; skipped where they are missing."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from catalog.tests.factories import ProductFactory
from events import media_clock
from tests import media

pytestmark = pytest.mark.media

OFFSET_MS = 3_600_000  # the encoder's clock starts an hour in (ffmpeg -output_ts_offset 3600)


@pytest.fixture(scope="module")
def media_server(live_server, tmp_path_factory):
    reason = media.missing_tools()
    if reason:
        pytest.skip(reason)
    from django.conf import settings as django_settings

    server = media.start_media_server(
        tmp_path_factory.mktemp("media-server"),
        callback_url=live_server.url.replace("localhost", "127.0.0.1"),
        env={"DJANGO_SECRET_KEY": django_settings.SECRET_KEY},
    )
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_the_origin_is_read_at_the_first_frames_so_a_late_first_click_gets_the_media_time(
    media_server, settings, tmp_path
):
    """ffmpeg at half real time from 3,600 s. Nothing reads the media clock until the click 4 s
    in; the origin was read at the stream's first frames (on_publish comes ~0.3 s before them),
    so the click is stamped with the ~1.9 s of media sent, where the click's own first reading
    would have taken the encoder's lag until then for its origin (the wall clock's 4 s)."""
    from django.utils import timezone

    from accounts.tests.factories import OrganizationFactory, member
    from events import services as event_services
    from liveshop import crypto
    from liveshop.video import get_video_backend

    media_server.use_in(settings, recordings=tmp_path / "recordings")
    media_clock.forget()
    host = member(OrganizationFactory())
    organization = host.memberships.get().organization
    product = ProductFactory(organization=organization)
    event = event_services.create_event(
        organization=organization,
        title="Offset",
        scheduled_start=timezone.now(),
        by=host,
        products=[product],
        is_recorded=False,  # its record_done discards the file: no ingestion racing the teardown
    )
    key = crypto.decrypt(event.stream_key_encrypted)
    slow = ["-readrate", "0.5"] + [a for a in media.FFMPEG_TEST_SOURCE if a != "-re"]
    ffmpeg = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *slow, "-pix_fmt", "yuv420p", "-t", "6",
         "-output_ts_offset", str(OFFSET_MS // 1000), "-f", "flv",
         media_server.ingest(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        started = media.wait_for(
            lambda: event.sessions.filter(started_at__isnull=False).values_list("pk", "started_at").first(),
            what=f"the event to go live\n{media_server.output()}",
        )
        origin = media.wait_for(
            lambda: media_clock.origin_ms(started), what="the origin read at the first frames"
        )
        media.wait_for(lambda: timezone.now() - started[1] > timedelta(seconds=4), what="4 s of stream")
        event.refresh_from_db()
        featured = event_services.feature_product(event=event, product=product, by=host)
        raw = media_clock.media_time_ms(event)
        wall_ms = (featured.created_at - started[1]).total_seconds() * 1000
    finally:
        media.stop(ffmpeg)
        media_server.wait_for_stream_end(event, key)  # before the test's database goes away
        get_video_backend.cache_clear()
        media_clock.forget()

    print(
        f"origin {origin - OFFSET_MS:+d} ms from the encoder's start; click stamped {featured.offset_ms} ms"
        f" (media {raw - origin} ms after it) at {wall_ms:.0f} ms of wall clock"
    )
    # The first frames' timestamp (audio may start a frame early), read within a poll of them.
    assert OFFSET_MS - 50 <= origin <= OFFSET_MS + 300, origin
    # The media sent by the click, from the first frame: about half the wall clock.
    assert featured.offset_ms == pytest.approx(raw - origin, abs=400), (featured.offset_ms, raw, origin)
    assert featured.offset_ms <= wall_ms - 1_500, (featured.offset_ms, wall_ms)
