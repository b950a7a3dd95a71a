"""The chat gateway's protocol: what chat needs from a chat service (a room per event, tokens for
viewers' clients, server events, moderation), its answers and its errors. Backends: ``local``
(the default: our own socket and hub carry chat, so rooms and tokens are not needed), ``ivs``
(Amazon IVS Chat) and ``fake`` (records calls, for tests). Limits are checked here before any call
(shared/reference/wave2-apis.md, section 1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

CAPABILITIES = frozenset({"SEND_MESSAGE", "DELETE_MESSAGE", "DISCONNECT_USER"})
MAX_ATTRIBUTES_BYTES = 1024  # token and event attributes, all keys and values together
USER_ID_MAX = 128
EVENT_NAME_MAX = 100
REASON_MAX = 256
SESSION_MINUTES = (1, 180)


class ChatBackendError(Exception):
    """A chat service call failed; the message is safe to log and to show the brand's staff."""


class RoomNotFound(ChatBackendError):
    pass


class Throttled(ChatBackendError):
    pass


class InvalidRequest(ChatBackendError):
    """Refused before any call: a limit of the service (sizes, names, capabilities)."""


@dataclass(frozen=True)
class Room:
    id: str  # IVS: the room's ARN


@dataclass(frozen=True)
class ChatToken:
    token: str
    token_expires_at: str  # ISO 8601, as the service answers
    session_expires_at: str


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def create_room(self, name: str) -> Room:
        """A room for one event's chat."""

    def delete_room(self, room_id: str) -> None:
        """Delete a room (its clients are disconnected). Idempotent: an unknown room is not an error."""

    def create_token(
        self,
        room_id: str,
        user_id: str,
        *,
        capabilities: frozenset[str],
        attributes: dict[str, str],
        minutes: int,
    ) -> ChatToken | None:
        """A token for one person's client in the room, with ``capabilities`` (none: read only).
        None where the backend needs no token (local: our socket carries chat)."""

    def send_event(self, room_id: str, name: str, attributes: dict[str, str]) -> None:
        """A server event every client of the room receives (a poll, a setting)."""

    def delete_message(self, room_id: str, message_id: str, reason: str) -> None:
        """Take a message away from every client of the room."""

    def disconnect_user(self, room_id: str, user_id: str, reason: str) -> None:
        """Close every connection of ``user_id`` to the room (a ban, a time-out)."""


def check_attributes(attributes: dict[str, str]) -> None:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
        raise InvalidRequest("Chat attributes are strings.")
    if len(json.dumps(attributes, separators=(",", ":")).encode()) > MAX_ATTRIBUTES_BYTES:
        raise InvalidRequest(f"Chat attributes are at most {MAX_ATTRIBUTES_BYTES} bytes.")


def check_token_request(user_id: str, capabilities: frozenset[str], minutes: int) -> None:
    if not 1 <= len(user_id) <= USER_ID_MAX:
        raise InvalidRequest(f"A chat user id is 1 to {USER_ID_MAX} characters.")
    if not capabilities <= CAPABILITIES:
        raise InvalidRequest(f"Unknown chat capabilities: {sorted(capabilities - CAPABILITIES)}.")
    if not SESSION_MINUTES[0] <= minutes <= SESSION_MINUTES[1]:
        raise InvalidRequest(f"A chat session lasts {SESSION_MINUTES[0]} to {SESSION_MINUTES[1]} minutes.")


def check_text(value: str, limit: int, what: str) -> None:
    if not 1 <= len(value) <= limit:
        raise InvalidRequest(f"{what} is 1 to {limit} characters.")
