"""What a viewer socket's chat frames do (chat.realtime parses them and calls ``handle`` in a
database thread): each calls one service and answers with a frame for that socket alone, or
None when the broadcast that follows says it all."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext

from chat import payloads, services
from chat.exceptions import ChatError, ModerationRefused
from chat.models import BODY_MAX, ChatMessage
from events.models import LiveEvent

Answer = tuple[str, dict] | None


def too_fast() -> dict:
    return payloads.error_payload(
        "rate_limited", gettext("You are sending messages too fast. Wait a few seconds.")
    )


def too_long() -> dict:
    return payloads.error_payload(
        "too_long", gettext("Messages are at most %(max)s characters.") % {"max": BODY_MAX}
    )


def unavailable() -> dict:
    return payloads.error_payload(
        "unavailable", gettext("Chat is not available right now. Try again in a moment.")
    )


def handle(user_of: Callable[[], object], event_id: int, frame: dict) -> Answer:
    """Run ``frame`` (its type is one of HANDLERS) for the socket's user (``user_of()``, read
    from the session only now: joining costs viewers nothing)."""
    event = LiveEvent.objects.select_related("organization").filter(pk=event_id).first()
    try:
        if event is None:
            raise ChatError(gettext("This chat is not open to you."), reason="not_allowed")
        return HANDLERS[frame["type"]](event, user_of(), frame)
    except ChatError as exc:
        return "chat.error", payloads.error_payload(exc.reason, exc.message, exc.retry_after)
    except PermissionDenied:
        return "chat.error", payloads.error_payload(
            "forbidden", gettext("Only the brand's moderators can do that.")
        )


def _post(event: LiveEvent, user, frame: dict) -> Answer:
    message = services.post_message(
        event=event, user=user, body=frame.get("body"), reply_to=frame.get("replyTo")
    )
    if message.held:
        return "chat.sent", {"id": message.pk, "held": True}
    return "chat.sent", {"id": message.pk}


def _message(event: LiveEvent, frame: dict) -> ChatMessage:
    message_id = frame.get("id")
    message = None
    if isinstance(message_id, int):
        message = ChatMessage.objects.select_related("author").filter(pk=message_id, event=event).first()
    if message is None:
        raise ModerationRefused(gettext("That message is not in this chat."), reason="not_found")
    return message


def _hide(event: LiveEvent, user, frame: dict) -> Answer:
    services.hide_message(message=_message(event, frame), by=user)
    return None


def _time_out(event: LiveEvent, user, frame: dict) -> Answer:
    message = _message(event, frame)
    minutes = frame.get("minutes")
    services.time_out(
        event=event, user=message.author, minutes=minutes if isinstance(minutes, int) else 0, by=user
    )
    return "chat.moderated", {"action": "timeout", "id": message.pk, "minutes": minutes}


def _ban(event: LiveEvent, user, frame: dict) -> Answer:
    message = _message(event, frame)
    services.ban(event=event, user=message.author, by=user)
    return "chat.moderated", {"action": "ban", "id": message.pk}


def _pin(event: LiveEvent, user, frame: dict) -> Answer:
    services.pin_message(message=_message(event, frame), by=user)
    return None


def _unpin(event: LiveEvent, user, frame: dict) -> Answer:
    services.unpin(event=event, by=user)
    return None


def _slow_mode(event: LiveEvent, user, frame: dict) -> Answer:
    seconds = frame.get("seconds")
    seconds = seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else -1
    services.set_slow_mode(event=event, seconds=seconds, by=user)
    return "chat.moderated", {"action": "slow_mode", "seconds": seconds}


HANDLERS: dict[str, Callable[[LiveEvent, object, dict], Answer]] = {
    "chat_post": _post,
    "chat_hide": _hide,
    "chat_timeout": _time_out,
    "chat_ban": _ban,
    "chat_slow_mode": _slow_mode,
    "chat_pin": _pin,
    "chat_unpin": _unpin,
}
