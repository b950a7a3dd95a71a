"""A host's click stamped against the stream's media time where the video backend knows it
(events.media_clock), on the fake backend: the local media server's reading of nginx-rtmp's /stat
is events/tests/test_local_backend.py, a real slow encoder recordings/tests/test_local_recordings.py;
chat messages and polls on the same clock are chat/tests/test_media_clock.py."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events import media_clock, services
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveEventFactory, StreamSessionFactory
from liveshop.video import BackendUnavailable

pytestmark = pytest.mark.django_db

WALL_S = 90  # the session started this long ago
ORIGIN_MS = 3_600_000  # an encoder whose clock starts here (ffmpeg -output_ts_offset 3600)


@pytest.fixture(autouse=True)
def _no_kept_readings():
    media_clock.forget()
    yield
    media_clock.forget()


@pytest.fixture
def show(video):
    event = LiveEventFactory(status=LiveEvent.Status.SCHEDULED)
    channel = video.create_channel("show")
    event.channel_id, event.status = channel.id, LiveEvent.Status.LIVE
    event.save()
    video.go_live(channel.id, stream_id="st-show")
    StreamSessionFactory(
        event=event, stream_id="st-show", started_at=timezone.now() - timedelta(seconds=WALL_S)
    )
    products = [ProductFactory(organization=event.organization) for _ in range(2)]
    EventProduct.objects.bulk_create(
        EventProduct(event=event, product=p, position=i) for i, p in enumerate(products)
    )
    return event, products, member(event.organization, role=Membership.Role.HOST)


def test_a_click_is_stamped_with_the_media_time_of_a_slow_encoder(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, 61_250)  # 90 s of wall clock, 61.25 s of media sent

    highlight = services.feature_product(event=event, product=product, by=host)
    cleared = services.clear_highlight(event=event, by=host)

    assert highlight.offset_ms == 61_250 and cleared.offset_ms == 61_250
    assert highlight.moment == highlight.session.started_at + timedelta(milliseconds=61_250)
    assert video.calls_to("media_time_ms")[0] == {
        "channel_id": event.channel_id,
        "timeout": media_clock.TIMEOUT_SECONDS,
    }


def test_without_a_media_time_the_wall_clock_stamps_it(show, video):
    event, (product, _), host = show

    highlight = services.feature_product(event=event, product=product, by=host)

    assert abs(highlight.offset_ms - WALL_S * 1000) < 5_000


def test_a_media_server_that_does_not_answer_costs_the_click_nothing(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, 1_000)
    video.fail_next("media_time_ms", BackendUnavailable("The local media server is not running."))

    highlight = services.feature_product(event=event, product=product, by=host)

    assert abs(highlight.offset_ms - WALL_S * 1000) < 5_000


def test_an_encoder_whose_clock_does_not_start_at_0_is_stamped_from_its_first_reading(show, video):
    """The session's first reading (here a chat message's, 5 s in) fixes where its clock began;
    the click 90 s in is stamped with the media time counted from there, not the wall clock."""
    event, (product, _), host = show
    session = event.sessions.values_list("pk", "started_at").get()
    first = media_clock.session_stamp_ms(
        event_id=event.pk,
        session=session,
        media_ms=ORIGIN_MS + 5_000,
        now=session[1] + timedelta(seconds=5),
    )
    video.set_media_time(event.channel_id, ORIGIN_MS + 61_250)  # a slow encoder since

    highlight = services.feature_product(event=event, product=product, by=host)

    assert first == 5_000 and highlight.offset_ms == 61_250


def test_a_click_that_is_the_first_reading_of_a_clock_not_from_0_takes_the_wall_clock(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, ORIGIN_MS + WALL_S * 1000)

    highlight = services.feature_product(event=event, product=product, by=host)

    assert abs(highlight.offset_ms - WALL_S * 1000) < 5_000


def test_the_origin_is_the_sessions_own_and_a_clock_that_goes_back_fixes_it_again():
    start = timezone.now() - timedelta(seconds=WALL_S)
    session, next_session = (1, start), (2, start + timedelta(seconds=1))

    def stamp(session, media_ms, at_s):
        return media_clock.session_stamp_ms(
            event_id=1, session=session, media_ms=media_ms, now=start + timedelta(seconds=at_s)
        )

    assert stamp(session, ORIGIN_MS + 10_000, 10) == 10_000  # the first reading: origin ORIGIN_MS
    assert stamp(session, ORIGIN_MS + 40_000, 50) == 40_000  # the encoder fell behind: its time
    assert stamp(session, ORIGIN_MS + 90_000, 60) == 60_000  # ahead of the wall clock: not its time
    assert stamp(next_session, 20_000, 21) == 20_000  # another session, a clock from 0
    assert stamp(session, 3_000, 70) == 3_000  # back before the origin (a restart): from 0 again
    assert stamp(session, 4_000, 71) == 4_000


def test_the_origin_is_shared_by_every_process_through_the_cache():
    start = timezone.now() - timedelta(seconds=WALL_S)
    session = (1, start)
    media_clock.session_stamp_ms(
        event_id=1, session=session, media_ms=ORIGIN_MS + 5_000, now=start + timedelta(seconds=5)
    )
    media_clock.forget()  # another process: its own first reading comes late, from a slow encoder

    stamp = media_clock.session_stamp_ms(
        event_id=1, session=session, media_ms=ORIGIN_MS + 60_000, now=start + timedelta(seconds=90)
    )

    assert stamp == 60_000


def test_a_caller_that_knows_the_moment_is_not_second_guessed(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, 10_000)

    highlight = services.feature_product(event=event, product=product, by=host, stream_offset_ms=4_000)

    assert highlight.offset_ms == 4_000 and video.calls_to("media_time_ms") == []


@pytest.mark.parametrize(
    ("media_ms", "origin_ms", "wall_ms", "stamp"),
    [
        (None, 0, 9_000, 9_000),
        (4_500, 0, 9_000, 4_500),
        (10_500, 0, 9_000, 10_500),
        (11_500, 0, 9_000, 9_000),
        (-1, 0, 9_000, 9_000),
        (ORIGIN_MS + 4_500, ORIGIN_MS, 9_000, 4_500),
        (ORIGIN_MS - 1, ORIGIN_MS, 9_000, 9_000),
    ],
)
def test_the_stamp_is_the_media_time_from_the_origin_when_plausible(media_ms, origin_ms, wall_ms, stamp):
    assert media_clock.stamp_ms(media_ms=media_ms, wall_ms=wall_ms, origin_ms=origin_ms) == stamp


def test_while_one_thread_asks_the_media_server_the_others_do_not_wait_for_it(monkeypatch):
    """A burst of chat messages in one process: one asks, the others meanwhile take the wall
    clock (no reading yet), and none waits on the media server."""
    event = LiveEvent(pk=10**9, status=LiveEvent.Status.LIVE, channel_id="ch-burst")
    session = (10**9, timezone.now() - timedelta(seconds=WALL_S))
    asking, answer = threading.Event(), threading.Event()
    calls = []

    def slow_media_server(event):
        calls.append(event.pk)
        asking.set()
        answer.wait(timeout=10)
        return 61_250

    monkeypatch.setattr(media_clock, "media_time_ms", slow_media_server)
    first = []
    asker = threading.Thread(
        target=lambda: first.append(media_clock.position_ms(event=event, session=session, now=timezone.now()))
    )
    asker.start()
    assert asking.wait(timeout=10)
    others = [media_clock.position_ms(event=event, session=session, now=timezone.now()) for _ in range(5)]
    answer.set()
    asker.join(timeout=10)
    after = media_clock.position_ms(event=event, session=session, now=timezone.now())

    assert calls == [event.pk]
    assert all(abs(offset - WALL_S * 1000) < 5_000 for offset in others)
    assert abs(first[0] - 61_250) < 1_000 and 61_250 <= after < 61_250 + 5_000
