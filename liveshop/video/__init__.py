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
    PayloadTooLarge,
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
    "PayloadTooLarge",
    "StreamState",
    "Throttled",
    "VideoBackend",
    "VideoBackendError",
    "get_video_backend",
]


@functools.cache
def get_video_backend() -> VideoBackend:
    """The configured backend, built on first use (like Django's get_connection); tests call
    ``get_video_backend.cache_clear()`` after changing the setting."""
    name = settings.VIDEO_BACKEND
    return import_string(BACKENDS.get(name, name))()
