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
