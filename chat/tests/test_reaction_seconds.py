"""Reactions across processes: every process adds its taps of a second in Redis and the first of
them sends the second's one frame; each second's taps are kept for the replay."""

import time

import pytest

from chat import reactions
from chat.models import ReactionSecond


@pytest.mark.django_db(transaction=True)
def test_two_processes_taps_in_one_second_make_one_frame_and_one_row(event, settings, monkeypatch):
    assert settings.REDIS_URL  # the real Redis of the test run
    sent = []
    monkeypatch.setattr(reactions, "_publish", lambda event_id, counts, totals: sent.append((counts, totals)))
    deadline = time.monotonic() + 20
    while True:  # the two flushes inside one wall-clock second (again if they straddle two)
        sent.clear()
        ReactionSecond.objects.all().delete()
        reactions._redis().delete(f"liveshop:reactions:{event.pk}")
        second = int(time.time())
        reactions.flush(event.pk, {"heart": 3})
        reactions.flush(event.pk, {"heart": 2, "wow": 1})  # another process, same second
        if int(time.time()) == second or time.monotonic() > deadline:
            break
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent == [({"heart": 5, "wow": 1}, {"heart": 5, "wow": 1})]
    row = ReactionSecond.objects.get()
    assert (row.heart, row.wow, row.fire) == (5, 1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_second_of_a_slow_encoders_show_is_kept_at_its_moment_in_the_stream(live_event, video, monkeypatch):
    from events import media_clock

    media_clock.forget()
    monkeypatch.setattr(reactions, "_publish", lambda event_id, counts, totals: None)
    video.go_live(live_event.channel_id)
    video.set_media_time(live_event.channel_id, 61_250)  # 90 s into the session, 61.25 s were sent
    session = live_event.sessions.get()

    reactions.flush(live_event.pk, {"heart": 3})
    reactions.record_second(live_event.pk, {"heart": 1}, at=ReactionSecond.objects.get().at)  # unknown
    media_clock.forget()

    row = ReactionSecond.objects.get()
    assert (row.heart, row.session, row.offset_ms) == (4, session, 61_250)
