"""The media clock against the real local media server (nginx-rtmp + ffmpeg): an encoder whose
timestamps do not start at 0 (ffmpeg -output_ts_offset, as OBS after a reconnect or ffmpeg
-copyts send) and that runs slower than real time. Marked "media" with the other ffmpeg/nginx
tests; skipped where they are missing."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from catalog.tests.factories import ProductFactory
from chat.tests.conftest import make_viewer
from events import media_clock
from tests import media

pytestmark = pytest.mark.media

OFFSET_S = 3_600  # the encoder's clock starts an hour in


# ``media_server``: the run's shared one (the root conftest), calling back the live server.


@pytest.mark.django_db(transaction=True)
def test_a_slow_encoder_whose_clock_starts_an_hour_in_is_stamped_with_its_media_time(
    media_server, settings, tmp_path
):
    """ffmpeg at half real time with -output_ts_offset 3600: nginx-rtmp reports its clock from
    3,600 s. The session's first reading (a chat message as the stream starts) fixes the origin;
    a click 6 s of wall clock in is stamped with the ~3 s of media sent, not the wall clock."""
    from django.utils import timezone

    from accounts.tests.factories import OrganizationFactory, member
    from chat import services as chat_services
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
        title="Offset show",
        scheduled_start=timezone.now(),
        by=host,
        products=[product],
        is_recorded=False,  # its record_done discards the file: no ingestion racing the teardown
    )
    key = crypto.decrypt(event.stream_key_encrypted)
    slow = ["-readrate", "0.5"] + [a for a in media.FFMPEG_TEST_SOURCE if a != "-re"]
    ffmpeg = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *slow, "-pix_fmt", "yuv420p", "-t", "6",
         "-output_ts_offset", str(OFFSET_S), "-f", "flv",
         media_server.ingest(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        session = media.wait_for(
            lambda: event.sessions.filter(started_at__isnull=False).first(),
            what=f"the event to go live\n{media_server.output()}",
        )
        event.refresh_from_db()
        raw = media.wait_for(lambda: media_clock.media_time_ms(event), what="a media time in /stat")
        message = chat_services.post_message(event=event, user=make_viewer(), body="Hello!")
        media.wait_for(
            lambda: timezone.now() - session.started_at > timedelta(seconds=6), what="6 s of stream"
        )
        featured = event_services.feature_product(event=event, product=product, by=host)
        late_raw = media_clock.media_time_ms(event)
        wall_ms = (featured.created_at - session.started_at).total_seconds() * 1000
    finally:
        media.stop(ffmpeg)
        media_server.wait_for_stream_end(event, key)  # before the test's database goes away
        get_video_backend.cache_clear()
        media_clock.forget()

    assert raw >= OFFSET_S * 1000, raw  # nginx-rtmp passes the encoder's clock on
    assert message.offset_ms <= 2_000, (raw, message.offset_ms)
    assert 1_500 <= featured.offset_ms <= wall_ms - 2_000, (raw, late_raw, featured.offset_ms, wall_ms)
