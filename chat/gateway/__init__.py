"""The chat gateway: ``get_chat_backend()`` returns the backend named by CHAT_BACKEND (``local``,
the default: our own socket carries chat; ``ivs``: Amazon IVS Chat; ``fake``: tests)."""

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from chat.gateway.base import (
    ChatBackend,
    ChatBackendError,
    ChatToken,
    InvalidRequest,
    Room,
    RoomNotFound,
    Throttled,
)

BACKENDS = {
    "local": "chat.gateway.local.LocalChatBackend",
    "ivs": "chat.gateway.ivs.IVSChatBackend",
    "fake": "chat.gateway.fake.FakeChatBackend",
}

__all__ = [
    "ChatBackend",
    "ChatBackendError",
    "ChatToken",
    "InvalidRequest",
    "Room",
    "RoomNotFound",
    "Throttled",
    "get_chat_backend",
]


@functools.cache
def get_chat_backend() -> ChatBackend:
    """The configured backend, built on first use; tests call ``get_chat_backend.cache_clear()``."""
    name = settings.CHAT_BACKEND
    return import_string(BACKENDS.get(name, name))()
