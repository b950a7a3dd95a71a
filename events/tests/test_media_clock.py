"""A host's click stamped against the stream's media time where the video backend knows it
(events.media_clock), on the fake backend: the local media server's reading of nginx-rtmp's /stat
is events/tests/test_local_backend.py, a real slow encoder recordings/tests/test_local_recordings.py."""

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


def test_a_media_time_ahead_of_the_wall_clock_is_not_this_sessions(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, (WALL_S + 60) * 1000)  # a publisher whose clock did not start at 0

    highlight = services.feature_product(event=event, product=product, by=host)

    assert abs(highlight.offset_ms - WALL_S * 1000) < 5_000


def test_a_caller_that_knows_the_moment_is_not_second_guessed(show, video):
    event, (product, _), host = show
    video.set_media_time(event.channel_id, 10_000)

    highlight = services.feature_product(event=event, product=product, by=host, stream_offset_ms=4_000)

    assert highlight.offset_ms == 4_000 and video.calls_to("media_time_ms") == []


@pytest.mark.parametrize(
    ("media_ms", "wall_ms", "stamp"),
    [
        (None, 9_000, 9_000),
        (4_500, 9_000, 4_500),
        (10_500, 9_000, 10_500),
        (11_500, 9_000, 9_000),
        (-1, 9_000, 9_000),
    ],
)
def test_the_stamp_is_the_media_time_when_plausible(media_ms, wall_ms, stamp):
    assert media_clock.stamp_ms(media_ms=media_ms, wall_ms=wall_ms) == stamp
