"""The default chat backend: chat travels over our own viewer socket and per-process hub
(chat.realtime), so there is no room to make, no token to hand out and nothing to mirror:
every call succeeds without doing anything."""

from __future__ import annotations

from chat.gateway.base import ChatToken, Room, check_attributes, check_token_request


class LocalChatBackend:
    name = "local"

    def create_room(self, name: str) -> Room:
        return Room(id=f"local:{name}")

    def delete_room(self, room_id: str) -> None:
        return None

    def create_token(self, room_id, user_id, *, capabilities, attributes, minutes) -> ChatToken | None:
        check_token_request(user_id, capabilities, minutes)
        check_attributes(attributes)
        return None

    def send_event(self, room_id: str, name: str, attributes: dict[str, str]) -> None:
        check_attributes(attributes)

    def delete_message(self, room_id: str, message_id: str, reason: str) -> None:
        return None

    def disconnect_user(self, room_id: str, user_id: str, reason: str) -> None:
        return None
