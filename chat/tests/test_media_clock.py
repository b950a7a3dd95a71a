"""Chat messages and polls stamped on the stream's media clock, as highlights are
(events.media_clock), on the fake backend: a replay of a show whose encoder ran slower than real
time puts them where its picture was. A chat message does not ask the media server itself: the
process's last reading is used, refreshed at most every REFRESH_SECONDS."""

import pytest

from chat import polls, services
from chat.tests.conftest import make_viewer
from events import media_clock

pytestmark = pytest.mark.django_db

MEDIA_MS = 61_250  # the session began 90 s ago (chat's live_event); the encoder sent 61.25 s


@pytest.fixture(autouse=True)
def _no_kept_readings():
    media_clock.forget()
    yield
    media_clock.forget()


@pytest.fixture
def slow_show(live_event, video):
    video.go_live(live_event.channel_id)
    video.set_media_time(live_event.channel_id, MEDIA_MS)
    return live_event


@pytest.fixture
def clock(monkeypatch):
    """The media clock's monotonic time, moved by the test."""
    now = [1_000.0]
    monkeypatch.setattr(media_clock, "_monotonic", lambda: now[0])
    return now


def test_a_message_is_stamped_with_the_media_time_of_a_slow_encoder(slow_show, viewer, video):
    message = services.post_message(event=slow_show, user=viewer, body="That one!")

    assert message.session == slow_show.sessions.get()
    assert message.offset_ms == MEDIA_MS
    assert video.calls_to("media_time_ms") == [
        {"channel_id": slow_show.channel_id, "timeout": media_clock.TIMEOUT_SECONDS}
    ]


def test_a_burst_of_messages_asks_the_media_server_once_per_refresh(slow_show, video, clock):
    viewers = [make_viewer(f"Viewer {n}") for n in range(4)]

    burst = [services.post_message(event=slow_show, user=v, body=f"{n}") for n in range(2) for v in viewers]
    video.set_media_time(slow_show.channel_id, MEDIA_MS + 1_000)  # the encoder sent 1 s more since
    clock[0] += media_clock.REFRESH_SECONDS
    later = services.post_message(event=slow_show, user=viewers[0], body="and now")

    assert len(video.calls_to("media_time_ms")) == 2
    # Between readings the media clock's lag is applied to the wall clock: the picture's time, not 90 s.
    assert all(MEDIA_MS <= m.offset_ms < MEDIA_MS + 5_000 for m in burst)
    assert later.offset_ms == MEDIA_MS + 1_000


def test_without_a_media_time_messages_take_the_wall_clock_and_ask_once_per_refresh(
    live_event, viewer, video
):
    messages = [services.post_message(event=live_event, user=viewer, body=f"{n}") for n in range(3)]

    assert all(89_000 <= m.offset_ms <= 95_000 for m in messages)
    assert len(video.calls_to("media_time_ms")) == 1


def test_a_click_reading_serves_the_messages_after_it(slow_show, host, viewer, video):
    from events import services as event_services

    product = slow_show.products.first()
    highlight = event_services.feature_product(event=slow_show, product=product, by=host)
    message = services.post_message(event=slow_show, user=viewer, body="want")

    assert highlight.offset_ms == MEDIA_MS and MEDIA_MS <= message.offset_ms < MEDIA_MS + 5_000
    assert len(video.calls_to("media_time_ms")) == 1


def test_a_poll_is_stamped_with_the_media_time_of_a_slow_encoder(slow_show, host, video):
    poll = polls.open_poll(
        event=slow_show, question="Which colour next?", options=["Rose", "Plum"], duration_seconds=30, by=host
    )

    assert poll.session == slow_show.sessions.get() and poll.offset_ms == MEDIA_MS
    assert video.calls_to("media_time_ms") == [
        {"channel_id": slow_show.channel_id, "timeout": media_clock.TIMEOUT_SECONDS}
    ]
