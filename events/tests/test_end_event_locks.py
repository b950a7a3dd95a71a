"""Ending a show while the media server's stream news for it is being applied: both lock the
event's row before its sessions, so one waits for the other instead of deadlocking (PostgreSQL
then aborts one of them: the callback answered nginx with a 500, or the host's End failed)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from events import services
from events.models import LiveEvent, StreamSession
from events.tests.factories import StreamSessionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_for_a_lock(deadline_s: float = 30) -> bool:
    """True once another connection waits for a row lock (the End behind the news's)."""
    end = time.monotonic() + deadline_s
    with connections["default"].cursor() as cursor:
        while time.monotonic() < end:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction it is kept
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def test_the_hosts_end_waits_for_stream_news_holding_the_event_instead_of_deadlocking(brand, host, video):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    event = services.create_event(
        organization=brand, by=host, title="Spring drop", scheduled_start=timezone.now() + timedelta(hours=1)
    )
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.LIVE)
    event.refresh_from_db()
    session = StreamSessionFactory(event=event)
    outcome = {}
    stopped, locked = threading.Event(), threading.Event()
    stop_stream = video.stop_stream

    def stop_then_let_the_news_in(channel_id):
        """The stream stops (the key is stored): nginx's publish_done comes in now and locks the event."""
        stop_stream(channel_id)
        stopped.set()
        locked.wait(30)

    video.stop_stream = stop_then_let_the_news_in

    def end():
        try:
            services.end_event(event=event, by=host)
            outcome["end"] = "ended"
        except Exception as error:  # a deadlock's OperationalError, say
            outcome["end"] = repr(error)
        finally:
            connections.close_all()

    ending = threading.Thread(target=end)
    ending.start()
    assert stopped.wait(30)
    # The stream news's order (stream_state.apply_stream_event): the event's row, then a session.
    with transaction.atomic(using="default"):
        LiveEvent.objects.select_for_update().get(pk=event.pk)
        locked.set()
        assert waiting_for_a_lock(), f"the End did not wait for the event's row: {outcome}"
        StreamSession.objects.filter(pk=session.pk).update(
            end_reason="publish_done"
        )  # not blocked by the End
    ending.join(timeout=30)

    assert outcome == {"end": "ended"}
    event.refresh_from_db()
    session.refresh_from_db()
    assert event.status == LiveEvent.Status.ENDED
    assert session.ended_at is not None and session.end_reason == "ended by host"
