"""Chat's people and things: viewers with display names, a live show, the frames published."""

import json

import pytest


@pytest.fixture(scope="session", autouse=True)
def _no_reactions_of_an_earlier_run():
    """Shows' ids start again with each test database, so a local run would read the reaction
    totals an earlier run left in the same Redis db (chat.reactions keeps them a week); CI's Redis
    is new each time."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for pattern in ("liveshop:reactions:*", "liveshop:reactions-sender:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()


@pytest.fixture
def chat_frames(monkeypatch):
    """What chat publishes (decoded), in order: each is ``{"topic": ..., "type": ..., ...}``."""
    from chat import realtime

    sent = []

    def publish(topic, text):
        sent.append({"topic": topic, **json.loads(text)})

    monkeypatch.setattr(realtime, "publish", publish)
    return sent


def make_viewer(name="Ada", **fields):
    """A viewer account as the sign-up page makes one: no brand, not staff."""
    from accounts.tests.factories import UserFactory

    return UserFactory(first_name=name, is_staff=False, **fields)


@pytest.fixture
def viewer(db):
    return make_viewer("Ada")


@pytest.fixture
def live_event(event):
    """``event`` live, with an open stream session that started 90 s ago."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import LiveEvent
    from events.tests.factories import StreamSessionFactory

    event.status = LiveEvent.Status.LIVE
    event.save(update_fields=["status"])
    StreamSessionFactory(event=event, started_at=timezone.now() - timedelta(seconds=90))
    return event
