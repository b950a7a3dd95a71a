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


# The origin read at the session's start (fix_origin_at_start), with a fake clock ----------------


class _FakeClock:
    """time.monotonic and time.sleep for fix_origin_at_start: sleeping moves the clock."""

    def __init__(self):
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _start(readings, *, clock=None, session=None, deadline_s=media_clock.START_DEADLINE_SECONDS):
    """fix_origin_at_start over ``readings`` (a value, None: no frame yet, or an error to raise),
    the last one repeated."""
    clock = clock or _FakeClock()
    session = session or (1, timezone.now() - timedelta(seconds=WALL_S))
    readings = list(readings)

    def read():
        value = readings.pop(0) if len(readings) > 1 else readings[0]
        if isinstance(value, Exception):
            raise value
        return value

    origin = media_clock.fix_origin_at_start(
        session=session, read=read, sleep=clock.sleep, clock=clock, deadline_s=deadline_s
    )
    return origin, session


def test_the_origin_is_the_encoders_clock_at_the_sessions_first_frames():
    """No frame for three polls (offline, then nginx's 0 before the first frame), then the
    encoder's clock an hour in: that is the origin, for every process, and a slow encoder's
    first click 90 s in is stamped with the media sent since (its lag is not taken as origin)."""
    origin, session = _start([None, None, None, ORIGIN_MS + 67])
    media_clock.forget()  # another process

    stamp = media_clock.session_stamp(
        event_id=1, session=session, media_ms=ORIGIN_MS + 67 + 40_000, now=session[1] + timedelta(seconds=90)
    )

    assert origin == ORIGIN_MS + 67 and media_clock.origin_ms(session) == ORIGIN_MS + 67
    assert stamp == media_clock.Stamp(40_000, ORIGIN_MS + 67)


def test_without_the_starts_reading_a_slow_encoder_read_late_counts_its_lag_as_origin():
    """What the start's reading fixes: the first reading 90 s in of an encoder 50 s behind is
    taken for an encoder that kept up (the wall clock stamps)."""
    session = (1, timezone.now() - timedelta(seconds=WALL_S))

    stamp = media_clock.session_stamp(
        event_id=1, session=session, media_ms=ORIGIN_MS + 40_000, now=session[1] + timedelta(seconds=90)
    )

    assert stamp.offset_ms == 90_000 and media_clock.origin_ms(session) == ORIGIN_MS - 50_000


def test_a_clock_that_starts_at_0_has_its_origin_at_0():
    origin, session = _start([None, 40])

    assert origin == 0 and media_clock.origin_ms(session) == 0
    assert (
        media_clock.session_stamp_ms(
            event_id=1, session=session, media_ms=30_000, now=session[1] + timedelta(seconds=60)
        )
        == 30_000
    )


def test_the_starts_reading_replaces_an_origin_a_reading_fixed_before_it(monkeypatch):
    """A click before the start's reading (a busy machine) fixed a provisional origin from the
    wall clock; once the start's reading is in the cache, every process takes it (this one after
    REFRESH_SECONDS)."""
    now = [0.0]
    monkeypatch.setattr(media_clock, "_monotonic", lambda: now[0])
    session = (1, timezone.now() - timedelta(seconds=WALL_S))
    early = media_clock.session_stamp_ms(
        event_id=1, session=session, media_ms=ORIGIN_MS + 5_000, now=session[1] + timedelta(seconds=3)
    )
    media_clock._origins.clear()  # the start's reading in another process
    _start([ORIGIN_MS + 1_000], session=session)
    media_clock._origins[session] = media_clock._Origin(ORIGIN_MS + 2_000, False, 0.0)  # this one's

    during = media_clock.session_stamp_ms(
        event_id=1, session=session, media_ms=ORIGIN_MS + 8_000, now=session[1] + timedelta(seconds=10)
    )
    now[0] = media_clock.REFRESH_SECONDS
    after = media_clock.session_stamp_ms(
        event_id=1, session=session, media_ms=ORIGIN_MS + 8_000, now=session[1] + timedelta(seconds=10)
    )

    assert (early, during, after) == (3_000, 6_000, 7_000)


def test_no_frame_before_the_deadline_fixes_nothing():
    clock = _FakeClock()
    origin, session = _start([None], clock=clock, deadline_s=5)

    assert origin is None and media_clock.origin_ms(session) is None
    assert 5 <= clock.now - 1_000 < 5 + 2 * media_clock.START_POLL_SECONDS


def test_a_media_server_that_does_not_answer_is_asked_again_less_often():
    clock = _FakeClock()
    origin, _ = _start([BackendUnavailable("busy"), None, ORIGIN_MS + 30], clock=clock)

    assert origin == ORIGIN_MS + 30
    assert clock.now - 1_000 == pytest.approx(
        media_clock.START_ERROR_WAIT_SECONDS + media_clock.START_POLL_SECONDS
    )


def test_a_reading_long_after_the_last_one_without_frames_fixes_nothing():
    """The thread was held up between two polls: how much media came before the reading is not
    known, so the origin is left to the readings."""
    clock = _FakeClock()
    readings = iter([None, ORIGIN_MS + 900])

    def read():
        value = next(readings)
        if value is not None:
            clock.now += media_clock.START_GAP_SECONDS + 0.1  # held up
        return value

    session = (1, timezone.now())
    origin = media_clock.fix_origin_at_start(session=session, read=read, sleep=clock.sleep, clock=clock)

    assert origin is None and media_clock.origin_ms(session) is None


def test_ivs_says_no_media_time_so_its_stamps_stay_on_the_wall_clock():
    """IVS has no API for a stream's media time (its replays place stamps by the recording's
    program date-times, its live cues are in-band): only the local media server tells it."""
    from liveshop.video import KnowsMediaTime
    from liveshop.video.ivs import IVSBackend
    from liveshop.video.local import LocalBackend

    assert not issubclass(IVSBackend, KnowsMediaTime)
    assert issubclass(LocalBackend, KnowsMediaTime)
