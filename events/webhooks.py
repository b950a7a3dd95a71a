"""POST /hooks/ivs/: IVS events delivered by an EventBridge API destination.

The destination's connection sends the shared secret in the X-Liveshop-Webhook-Secret header
(API-key authorization); the body is one EventBridge event."""

import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import stream_state
from events.exceptions import MalformedStreamEvent
from liveshop import secrets

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Liveshop-Webhook-Secret"


def _authorized(request: HttpRequest) -> bool:
    expected = settings.LIVESHOP_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    return bool(expected) and secrets.same(given, expected)


@csrf_exempt
@require_POST
def ivs_webhook(request: HttpRequest) -> JsonResponse:
    if not _authorized(request):
        logger.warning("Rejected IVS webhook call: missing or wrong secret")
        return JsonResponse({"error": f"Missing or wrong {SECRET_HEADER} header."}, status=401)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    try:
        outcome = stream_state.handle_event(payload)
    except MalformedStreamEvent as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"result": outcome})
