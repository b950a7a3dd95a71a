"""An event's room in the chat service (chat.gateway), for CHAT_BACKEND=ivs: made on first need,
tokens for viewers' clients with capabilities from their role, moderation mirrored into it. With
the local backend (the default) our own socket carries chat and these calls cost nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext

from accounts import permissions
from chat import selectors
from chat.exceptions import MessageRefused
from chat.gateway import ChatBackendError, ChatToken, get_chat_backend
from chat.models import ChatMessage, ChatRestriction, ChatRoom
from events.models import LiveEvent

logger = logging.getLogger(__name__)

TOKEN_MINUTES = 60
STAFF_CAPABILITIES = frozenset({"SEND_MESSAGE", "DELETE_MESSAGE", "DISCONNECT_USER"})
VIEWER_CAPABILITIES = frozenset({"SEND_MESSAGE"})


@dataclass(frozen=True)
class Access:
    backend: str
    room_id: str = ""
    token: ChatToken | None = None
    capabilities: frozenset[str] = frozenset()


@transaction.atomic
def ensure_room(event: LiveEvent) -> str:
    """The event's room id in the chat service, made once (locks the event's ChatRoom row)."""
    room, _ = ChatRoom.objects.select_for_update().get_or_create(event=event)
    if not room.backend_room_id:
        room.backend_room_id = get_chat_backend().create_room(f"liveshop-event-{event.pk}").id
        room.save(update_fields=["backend_room_id"])
    return room.backend_room_id


def chat_access(*, event: LiveEvent, user) -> Access:
    """What ``user``'s client needs to chat in ``event`` (CHAT_BACKEND=ivs: the room and a token):
    the brand's people may send, delete and disconnect; viewers send; a banned or timed-out viewer
    only reads. Refused (MessageRefused) for anonymous people, people who may not watch, and a
    show that is over. Raises ChatBackendError when the service fails."""
    if not getattr(user, "is_authenticated", False):
        raise MessageRefused(gettext("Sign in to chat."), reason="sign_in")
    if not permissions.may_watch(user, event):
        raise MessageRefused(gettext("This chat is not open to you."), reason="not_allowed")
    if event.is_closed:
        raise MessageRefused(gettext("This show is over: its chat is closed."), reason="closed")
    backend = get_chat_backend()
    if backend.name == "local":
        return Access(backend="local")
    role = selectors.author_role(user, event.organization_id)
    if role:
        capabilities = STAFF_CAPABILITIES
    elif selectors.active_restriction(event.organization_id, user) is not None:
        capabilities = frozenset()
    else:
        capabilities = VIEWER_CAPABILITIES
    room_id = ensure_room(event)
    attributes = {"name": selectors.display_name(user, role), "role": role}
    token = backend.create_token(
        room_id, str(user.pk), capabilities=capabilities, attributes=attributes, minutes=TOKEN_MINUTES
    )
    return Access(backend=backend.name, room_id=room_id, token=token, capabilities=capabilities)


def send_event_on_commit(event_id: int, name: str, attributes: dict[str, str]) -> None:
    """After commit, a server event to the event's room in the chat service, if it has one (a
    poll opened or closed: ids only, the 1 KB attribute limit holds whatever the text)."""
    room_id = ChatRoom.objects.filter(event_id=event_id).values_list("backend_room_id", flat=True).first()
    if not room_id:
        return

    def send() -> None:
        try:
            get_chat_backend().send_event(room_id, name, attributes)
        except ChatBackendError:
            logger.warning("A chat room event was not sent", exc_info=True)

    transaction.on_commit(send)


def disconnect_on_commit(restriction: ChatRestriction, event: LiveEvent) -> None:
    """After a ban or time-out commits, close the person's connections to the event's room in the
    chat service, if it has one (their next token has no SEND_MESSAGE)."""
    room_id = ChatRoom.objects.filter(event=event).values_list("backend_room_id", flat=True).first()
    if not room_id:
        return
    reason = "Banned" if restriction.kind == ChatRestriction.Kind.BAN else "Timed out"
    user_id = str(restriction.user_id)

    def disconnect() -> None:
        try:
            get_chat_backend().disconnect_user(room_id, user_id, reason)
        except ChatBackendError:
            logger.warning("A restricted person was not disconnected from the chat room", exc_info=True)

    transaction.on_commit(disconnect)


def delete_message_on_commit(message: ChatMessage) -> None:
    """After a hide commits, take the message from the clients of the event's room in the chat
    service too (DeleteMessage needs the service's id, stored from its review), if it went there."""
    if not message.backend_message_id:
        return
    room_id = (
        ChatRoom.objects.filter(event_id=message.event_id).values_list("backend_room_id", flat=True).first()
    )
    if not room_id:
        return
    message_id = message.backend_message_id

    def delete() -> None:
        try:
            get_chat_backend().delete_message(room_id, message_id, "Removed by a moderator")
        except ChatBackendError:
            logger.warning("A hidden message was not deleted from the chat room", exc_info=True)

    transaction.on_commit(delete)
