"""Counting rules, on a fake clock: two tabs, a refresh, a pause, a viewer who leaves and comes
back, replay apart from live, late and future items, duplicated batches, a flush run twice."""

import pytest

from analytics import services
from analytics.models import DroppedBeacon, FlushedBatch, Source, WatchMinute
from analytics.selectors import show_figures
from analytics.tests.helpers import T0, heartbeat, send
from events.models import LiveEvent

pytestmark = pytest.mark.django_db
S = 1000


def watched(stream: str) -> dict[str, int]:
    rows = WatchMinute.objects.filter(stream=stream).values_list("viewer", "watched_ms")
    totals: dict[str, int] = {}
    for viewer, ms in rows:
        totals[viewer] = totals.get(viewer, 0) + ms
    return totals


def dropped(stream: str) -> dict[str, int]:
    return dict(DroppedBeacon.objects.filter(stream=stream).values_list("reason", "count"))


def test_a_viewer_watching_four_minutes_counts_once_with_the_time_played(live_event):
    target = {"event": live_event.pk}
    for i in range(16):  # a heartbeat every 15 s
        send("id:alice", target, now=T0 + i * 15 * S, seq=i, items=[heartbeat(at=T0 + i * 15 * S)])
    services.flush_buffer()
    figures = show_figures(live_event)
    assert figures.live.unique_viewers == 1
    # the first heartbeat credits what it says (15 s), each later one the 15 s since the last
    assert sum(watched(f"live:{live_event.pk}").values()) == 16 * 15 * S
    assert figures.live.peak == 1 and len(figures.live.curve) in (4, 5)


def test_two_tabs_of_one_viewer_are_one_viewer_and_never_more_time_than_passed(live_event):
    target = {"event": live_event.pk}
    for i in range(8):
        now = T0 + i * 15 * S
        send("id:bob", target, tab="tab-one-xxxx", seq=i, now=now, items=[heartbeat(at=now)])
        # the second tab runs 3 s behind: closer than the 5 s gap, refused
        send("id:bob", target, tab="tab-two-xxxx", seq=i, now=now + 3 * S, items=[heartbeat(at=now + 3 * S)])
    services.flush_buffer()
    stream = f"live:{live_event.pk}"
    assert list(watched(stream).values()) == [8 * 15 * S]
    assert dropped(stream) == {"too_frequent": 8}
    assert show_figures(live_event).live.unique_viewers == 1


def test_two_tabs_out_of_step_still_credit_at_most_the_wall_time(live_event):
    target = {"event": live_event.pk}
    for i in range(8):
        now = T0 + i * 15 * S
        send("id:bob", target, tab="tab-one-xxxx", seq=i, now=now, items=[heartbeat(at=now)])
        send("id:bob", target, tab="tab-two-xxxx", seq=i, now=now + 7 * S, items=[heartbeat(at=now + 7 * S)])
    services.flush_buffer()
    total = sum(watched(f"live:{live_event.pk}").values())
    assert total <= 15 * S + 7 * 15 * S + 7 * S  # first credit + the wall time to the last heartbeat


def test_a_refresh_is_the_same_viewer(live_event):
    target = {"event": live_event.pk}
    send("id:carol", target, tab="before-refresh", seq=0, items=[heartbeat()])
    # the reloaded page starts a new tab id and sequence, 20 s later
    send("id:carol", target, tab="after-refresh", seq=0, now=T0 + 20 * S, items=[heartbeat(at=T0 + 20 * S)])
    services.flush_buffer()
    assert show_figures(live_event).live.unique_viewers == 1


def test_paused_time_is_not_counted(live_event):
    target = {"event": live_event.pk}
    send("id:dan", target, seq=0, items=[heartbeat(played_ms=15 * S)])
    # paused for 2 minutes: the player sends nothing, then 5 s of play in the next 15 s
    send("id:dan", target, seq=1, now=T0 + 135 * S, items=[heartbeat(at=T0 + 135 * S, played_ms=5 * S)])
    services.flush_buffer()
    assert sum(watched(f"live:{live_event.pk}").values()) == 20 * S


def test_a_viewer_who_leaves_and_returns_is_one_viewer_with_a_gap(live_event):
    target = {"event": live_event.pk}
    send("id:erin", target, seq=0, items=[heartbeat()])
    send(
        "id:erin",
        target,
        tab="came-back-later",
        seq=0,
        now=T0 + 5 * 60 * S,
        items=[heartbeat(at=T0 + 5 * 60 * S)],
    )
    send("id:frank", target, seq=0, now=T0 + 5 * 60 * S, items=[heartbeat(at=T0 + 5 * 60 * S)])
    services.flush_buffer()
    figures = show_figures(live_event)
    assert figures.live.unique_viewers == 2
    assert [n for _, n in figures.live.curve] == [1, 2]
    # coming back after 5 minutes credits the heartbeat's own 15 s, not the 5 minutes away
    assert sorted(watched(f"live:{live_event.pk}").values()) == [15 * S, 30 * S]


def test_replay_is_counted_apart_from_live(live_event):
    from recordings.tests.test_replay_views import ready_recording

    replay = ready_recording(live_event)
    send("id:gina", {"event": live_event.pk}, seq=0, items=[heartbeat()])
    send("id:gina", {"recording": replay.pk}, seq=1, items=[heartbeat(positionMs=300 * S)])
    services.flush_buffer()
    figures = show_figures(live_event)
    assert (figures.live.unique_viewers, figures.replay.unique_viewers, figures.unique_viewers) == (1, 1, 1)
    row = WatchMinute.objects.get(stream=f"replay:{replay.pk}")
    assert (row.source, row.event_id, row.recording_id, row.position_s) == (
        Source.REPLAY,
        live_event.pk,
        replay.pk,
        300,
    )


def test_late_and_future_items_are_dropped_and_counted(live_event):
    target = {"event": live_event.pk}
    outcome = send(
        "id:hal",
        target,
        seq=0,
        items=[heartbeat(at=T0 + 60 * S), {"type": "impression", "at": T0 - 11 * 60 * S, "highlightId": 1}],
    )
    assert outcome.stored == 0 and outcome.dropped == {"future": 1, "late": 1}
    services.flush_buffer()
    assert dropped(f"live:{live_event.pk}") == {"future": 1, "late": 1}
    assert not WatchMinute.objects.exists()


def test_a_duplicated_batch_counts_once(live_event):
    target = {"event": live_event.pk}
    send("id:ivy", target, seq=7, items=[heartbeat()])
    again = send("id:ivy", target, seq=7, now=T0 + 30 * S, items=[heartbeat()])
    assert again.stored == 0 and again.dropped == {"duplicate_batch": 1}
    services.flush_buffer()
    assert sum(watched(f"live:{live_event.pk}").values()) == 15 * S


def test_heartbeats_of_a_show_that_is_not_live_are_dropped(event):
    outcome = send("id:jo", {"event": event.pk}, seq=0, items=[heartbeat()])
    assert outcome.dropped == {"not_playing": 1}


def test_a_flush_run_twice_counts_once(live_event, analytics_buffer):
    send("id:kim", {"event": live_event.pk}, seq=0, items=[heartbeat()])
    analytics_buffer.seal("batch-one")
    records = [__import__("json").loads(r) for r in analytics_buffer.read("batch-one")]
    # a worker wrote the batch and died before forgetting it: the next run must not count it again
    assert services.write_batch("batch-one", records) is True
    result = services.flush_buffer()
    assert (result.batches, result.skipped) == (0, 1)
    assert WatchMinute.objects.get().watched_ms == 15 * S
    assert FlushedBatch.objects.count() == 1
    assert analytics_buffer.batches() == []


def test_the_live_grace_after_the_end_counts_the_last_beacons(live_event):
    from django.utils import timezone

    LiveEvent.objects.filter(pk=live_event.pk).update(
        status=LiveEvent.Status.ENDED, status_changed_at=timezone.now()
    )
    outcome = send("id:lee", {"event": live_event.pk}, seq=0, items=[heartbeat()])
    assert outcome.stored == 1


def test_the_memory_buffer_of_the_one_process_demo_counts_as_redis_does(live_event, settings):
    from analytics.buffer import MemoryBuffer, get_buffer

    settings.REDIS_URL = ""  # the demo without Redis
    get_buffer.cache_clear()
    assert isinstance(get_buffer(), MemoryBuffer)
    target = {"event": live_event.pk}
    send("id:max", target, tab="tab-one-xxxx", seq=0, items=[heartbeat()])
    send("id:max", target, tab="tab-two-xxxx", seq=0, now=T0 + 2 * S, items=[heartbeat(at=T0 + 2 * S)])
    send("id:max", target, tab="tab-one-xxxx", seq=0, now=T0 + 20 * S, items=[heartbeat(at=T0 + 20 * S)])
    send("id:max", target, tab="tab-one-xxxx", seq=1, now=T0 + 20 * S, items=[heartbeat(at=T0 + 20 * S)])
    services.flush_buffer()
    services.flush_buffer()
    stream = f"live:{live_event.pk}"
    assert list(watched(stream).values()) == [15 * S + 15 * S]  # the second: 20 s passed, 15 s played
    assert dropped(stream) == {"too_frequent": 1, "duplicate_batch": 1}
    get_buffer.cache_clear()


def test_a_beacon_asks_for_a_flush_at_most_once_per_interval(live_event, settings, monkeypatch):
    from analytics import ingest

    settings.ANALYTICS_SCHEDULE_FLUSH = True  # eager Celery in tests: the flush runs at once
    monkeypatch.setattr(ingest, "_flush_asked_at", -1e9)
    send("id:nia", {"event": live_event.pk}, seq=0, items=[heartbeat()])
    assert WatchMinute.objects.get().watched_ms == 15 * S  # rolled up without anyone flushing by hand
    send("id:nia", {"event": live_event.pk}, seq=1, now=T0 + 15 * S, items=[heartbeat(at=T0 + 15 * S)])
    assert WatchMinute.objects.get().watched_ms == 15 * S  # the next flush comes after the interval
