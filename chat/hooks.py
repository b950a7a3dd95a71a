"""IVS Chat's message review, answered by Liveshop (CHAT_BACKEND=ivs): the review-handler Lambda
(deploy/ivschat_review/handler.py) forwards each message IVS Chat is about to deliver here, and
the answer is post_message's, the service every entry point calls: ALLOW with the cleaned text
(stored, with its moment for the replay), or DENY with the reason (nothing stored; a message with a
listed word held for review is stored held and denied until a moderator approves it). The Lambda
authenticates with the webhook secret (X-Liveshop-Webhook-Secret)."""

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
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "The body is not an IVS Chat review input."}, status=400)
    if (
        not all(isinstance(value, str) for value in (content, room_arn, user_id))
        or len(content) > 4 * BODY_MAX
    ):
        return JsonResponse({"error": "The body is not an IVS Chat review input."}, status=400)
    room = ChatRoom.objects.select_related("event__organization").filter(backend_room_id=room_arn).first()
    user = get_user_model().objects.filter(pk=int(user_id)).first() if user_id.isdigit() else None
    if room is None or user is None:
        return deny("not_allowed")
    try:
        message = services.post_message(event=room.event, user=user, body=content)
    except MessageRefused as exc:
        return deny(exc.reason)
    if message.held:
        return deny("held_for_review")
    return JsonResponse(
        {
            "ReviewResult": "ALLOW",
            "Content": message.body,
            "Attributes": {
                "messageId": str(message.pk),
                "name": message.author_name,
                "role": message.author_role,
            },
        }
    )
