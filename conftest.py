"""Wiring fixtures shared by every app's tests."""

import pytest


@pytest.fixture(autouse=True)
def _media_in_memory(settings):
    """Each test gets empty in-memory storages."""
    from django.core.files.storage import default_storage, storages
    from django.utils.functional import empty

    storages._storages = {}
    default_storage._wrapped = empty
    yield
    storages._storages = {}
    default_storage._wrapped = empty


@pytest.fixture(autouse=True)
def _fresh_snapshot_cache():
    """Each test starts with no shared event snapshot (events.snapshot_cache)."""
    from events import snapshot_cache

    snapshot_cache.clear()
    yield
    snapshot_cache.clear()


@pytest.fixture
def video(settings):
    """A fresh in-memory video backend (it records every call in ``video.calls``)."""
    from liveshop.video import get_video_backend

    settings.VIDEO_BACKEND = "fake"
    get_video_backend.cache_clear()
    yield get_video_backend()
    get_video_backend.cache_clear()


@pytest.fixture
def broadcasts(monkeypatch):
    """What events.realtime publishes, each message JSON round-tripped; messages for host
    consoles carry ``"audience": "studio"``."""
    import json

    from events import realtime

    sent = []

    def capture(audience):
        def _capture(event_id, message_type, payload):
            message = {"event_id": event_id, "type": message_type, "payload": json.loads(json.dumps(payload))}
            if audience == "studio":
                message["audience"] = "studio"
            sent.append(message)

        return _capture

    monkeypatch.setattr(realtime, "broadcast_to_event", capture("viewers"))
    monkeypatch.setattr(realtime, "broadcast_to_studio", capture("studio"))
    return sent
