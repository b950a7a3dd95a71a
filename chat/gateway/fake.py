"""A chat backend in memory for tests: every call is recorded in ``calls`` (like mail.outbox),
with IVS Chat's checks; ``fail_next(method, error)`` makes the next call of ``method`` fail."""

from __future__ import annotations

import itertools
from typing import Any

from chat.gateway.base import (
    EVENT_NAME_MAX,
    REASON_MAX,
    ChatToken,
    Room,
    RoomNotFound,
    check_attributes,
    check_text,
    check_token_request,
)


class FakeChatBackend:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rooms: set[str] = set()
        self._ids = itertools.count(1)
        self._failures: dict[str, Exception] = {}

    def fail_next(self, method: str, error: Exception) -> None:
        self._failures[method] = error

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in call.items() if k != "method"}
            for call in self.calls
            if call["method"] == method
        ]

    def _call(self, method: str, **fields) -> None:
        self.calls.append({"method": method, **fields})
        error = self._failures.pop(method, None)
        if error is not None:
            raise error

    def _room(self, room_id: str) -> None:
        if room_id not in self.rooms:
            raise RoomNotFound("No such chat room.")

    def create_room(self, name: str) -> Room:
        self._call("create_room", name=name)
        room = Room(id=f"arn:aws:ivschat:us-west-2:123456789012:room/fake{next(self._ids):08d}")
        self.rooms.add(room.id)
        return room

    def delete_room(self, room_id: str) -> None:
        self._call("delete_room", room_id=room_id)
        self.rooms.discard(room_id)

    def create_token(self, room_id, user_id, *, capabilities, attributes, minutes) -> ChatToken:
        check_token_request(user_id, capabilities, minutes)
        check_attributes(attributes)
        self._call(
            "create_token",
            room_id=room_id,
            user_id=user_id,
            capabilities=sorted(capabilities),
            attributes=attributes,
            minutes=minutes,
        )
        self._room(room_id)
        return ChatToken(f"token-{next(self._ids)}", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z")

    def send_event(self, room_id: str, name: str, attributes: dict[str, str]) -> None:
        check_text(name, EVENT_NAME_MAX, "An event name")
        check_attributes(attributes)
        self._call("send_event", room_id=room_id, name=name, attributes=attributes)
        self._room(room_id)

    def delete_message(self, room_id: str, message_id: str, reason: str) -> None:
        check_text(reason, REASON_MAX, "A reason")
        self._call("delete_message", room_id=room_id, message_id=message_id, reason=reason)
        self._room(room_id)

    def disconnect_user(self, room_id: str, user_id: str, reason: str) -> None:
        check_text(reason, REASON_MAX, "A reason")
        self._call("disconnect_user", room_id=room_id, user_id=user_id, reason=reason)
        self._room(room_id)
