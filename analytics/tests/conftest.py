import pytest

from analytics import streams
from analytics.buffer import get_buffer


@pytest.fixture(autouse=True)
def analytics_buffer(settings):
    """An empty buffer (the test run's Redis), no automatic flush, fresh stream descriptions."""
    settings.ANALYTICS_SCHEDULE_FLUSH = False
    get_buffer.cache_clear()
    streams.clear_cache()
    buffer = get_buffer()
    buffer.clear()
    yield buffer
    buffer.clear()
    get_buffer.cache_clear()
    streams.clear_cache()


@pytest.fixture
def live_event(event):
    """``event`` (Spring drop, Acme) live now."""
    from django.utils import timezone

    from events.models import LiveEvent

    LiveEvent.objects.filter(pk=event.pk).update(
        status=LiveEvent.Status.LIVE, status_changed_at=timezone.now()
    )
    event.refresh_from_db()
    return event
