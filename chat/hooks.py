"""IVS Chat's message review, answered by Liveshop (CHAT_BACKEND=ivs): the review-handler Lambda
(deploy/ivschat_review/handler.py) forwards each message IVS Chat is about to deliver here, and
the answer is post_message's, the service every entry point calls: ALLOW with the cleaned text
(stored, with its moment for the replay), or DENY with the reason (nothing stored; a message with a
listed word held for review is stored held and denied until a moderator approves it). IVS Chat's
MessageId is stored with the message, so a moderator's hide deletes it from the room too
(chat.rooms.delete_message_on_commit); a ``replyTo`` attribute (our message id) makes it a reply,
answered with ``replyTo`` among the attributes. The Lambda authenticates with the webhook secret
(X-Liveshop-Webhook-Secret)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import services
from chat.exceptions import MessageRefused
from chat.models import BODY_MAX, ChatRoom
from liveshop import crypto

SECRET_HEADER = "X-Liveshop-Webhook-Secret"
MAX_BODY = 16 * 1024  # a review input: a 500-code-point message and a few attributes
MESSAGE_ID_MAX = 64  # ChatMessage.backend_message_id (IVS Chat's are 12 characters)


def deny(reason: str) -> JsonResponse:
    return JsonResponse({"ReviewResult": "DENY", "Attributes": {"Reason": reason}})


@csrf_exempt
@require_POST
def ivschat_review(request: HttpRequest) -> JsonResponse:
    expected = settings.LIVESHOP_WEBHOOK_SECRET
    if not (expected and crypto.same(request.headers.get(SECRET_HEADER, ""), expected)):
        return JsonResponse({"error": f"Missing or wrong {SECRET_HEADER} header."}, status=401)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "A review input is at most 16 KB."}, status=400)
    try:
        data = json.loads(request.body)
        content, room_arn, user_id = data["Content"], data["RoomArn"], data["Sender"]["UserId"]
        message_id, attributes = data.get("MessageId", ""), data.get("Attributes") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return JsonResponse({"error": "The body is not an IVS Chat review input."}, status=400)
    if (
        not all(isinstance(value, str) for value in (content, room_arn, user_id, message_id))
        or not isinstance(attributes, dict)
        or len(content) > 4 * BODY_MAX
        or len(message_id) > MESSAGE_ID_MAX
    ):
        return JsonResponse({"error": "The body is not an IVS Chat review input."}, status=400)
    room = ChatRoom.objects.select_related("event__organization").filter(backend_room_id=room_arn).first()
    user = get_user_model().objects.filter(pk=int(user_id)).first() if user_id.isdigit() else None
    if room is None or user is None:
        return deny("not_allowed")
    try:
        message = services.post_message(
            event=room.event,
            user=user,
            body=content,
            reply_to=_reply_to(attributes.get("replyTo")),
            backend_message_id=message_id,
        )
    except MessageRefused as exc:
        return deny(exc.reason)
    if message.held:
        return deny("held_for_review")
    quoted = {"replyTo": str(message.reply_to_id)} if message.reply_to_id else {}
    return JsonResponse(
        {
            "ReviewResult": "ALLOW",
            "Content": message.body,
            "Attributes": {
                "messageId": str(message.pk),
                "name": message.author_name,
                "role": message.author_role,
                **quoted,
            },
        }
    )


def _reply_to(value) -> int | None:
    """The page's ``replyTo`` attribute (a string, as IVS Chat attributes are) as a message id;
    anything else is a reply to a message not in this chat (refused by post_message)."""
    if value is None or value == "":
        return None
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else -1
