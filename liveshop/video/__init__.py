"""The video gateway: ``get_video_backend()`` returns the backend named by VIDEO_BACKEND."""

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from liveshop.video.base import (
    BackendUnavailable,
    Channel,
    ChannelNotFound,
    ChannelNotLive,
    InvalidMetadata,
    KnowsMediaTime,
    PayloadTooLarge,
    RevokesViewerSessions,
    StreamState,
    Throttled,
    VideoBackend,
    VideoBackendError,
)

BACKENDS = {
    "ivs": "liveshop.video.ivs.IVSBackend",
    "local": "liveshop.video.local.LocalBackend",
    "fake": "liveshop.video.fake.FakeVideoBackend",
}

__all__ = [
    "BackendUnavailable",
    "Channel",
    "ChannelNotFound",
    "ChannelNotLive",
    "InvalidMetadata",
    "KnowsMediaTime",
    "PayloadTooLarge",
    "RevokesViewerSessions",
    "StreamState",
    "Throttled",
    "VideoBackend",
    "VideoBackendError",
    "get_video_backend",
    "warm_up",
]


@functools.cache
def get_video_backend() -> VideoBackend:
    """The configured backend, built on first use (like Django's get_connection); tests call
    ``get_video_backend.cache_clear()`` after changing the setting."""
    name = settings.VIDEO_BACKEND
    return import_string(BACKENDS.get(name, name))()


def warm_up() -> None:
    """Build the backend and its cloud client now (ASGI start-up), not on the host's first click:
    loading boto3's IVS service model costs ~0.6 s, which the first Feature of a show would pay."""
    warm = getattr(get_video_backend(), "warm", None)
    if warm is not None:
        warm()
