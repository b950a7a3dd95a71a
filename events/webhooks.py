"""POST /hooks/ivs/: IVS events delivered by an EventBridge API destination.

The destination's connection sends the shared secret in the X-Liveshop-Webhook-Secret header
(API-key authorization); the body is one EventBridge event. The secret is not enough: the event
must be IVS's, in Liveshop's account, about its channels and recordings bucket
(events.stream_state.check_origin, recordings.services.recording_events), else a 400 says why."""

import logging
from datetime import UTC

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import extensions, stream_state
from events.exceptions import MalformedStreamEvent
from events.models import StreamSession
from liveshop import crypto, jsoninput

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Liveshop-Webhook-Secret"
# An EventBridge event nests four levels deep; anything far deeper is not one.
MAX_DEPTH = jsoninput.MAX_DEPTH
STREAM_ID_LIMIT = StreamSession._meta.get_field("stream_id").max_length


def detail_limits() -> dict[str, int]:
    """The detail fields the handlers store, with their columns' lengths: a longer value is not
    what IVS sends and would fail at the database (PostgreSQL refuses over-long values and NUL).
    The recording fields' limits come from recordings (extensions.recording_detail_limits)."""
    return {"stream_id": STREAM_ID_LIMIT, **extensions.recording_detail_limits()}


def _authorized(request: HttpRequest) -> bool:
    expected = settings.LIVESHOP_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    return bool(expected) and crypto.same(given, expected)


@csrf_exempt
@require_POST
def ivs_webhook(request: HttpRequest) -> JsonResponse:
    if not _authorized(request):
        logger.warning("Rejected IVS webhook call: missing or wrong secret")
        return JsonResponse({"error": f"Missing or wrong {SECRET_HEADER} header."}, status=401)
    try:
        payload = jsoninput.loads(request.body, max_depth=MAX_DEPTH)
    except jsoninput.JSONInputError as exc:
        return JsonResponse({"error": f"The body is not an EventBridge event: {exc}."}, status=400)
    except ValueError:
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    try:
        check_event_input(payload)
        outcome = stream_state.handle_event(payload)
    except MalformedStreamEvent as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"result": outcome})


def check_event_input(payload: object) -> None:
    """Refuse, with MalformedStreamEvent, values no IVS event carries and the handlers cannot
    store: NUL characters, an impossible or unstorable ``time``, detail ids longer than their
    columns (jsoninput.loads has limited the nesting). The shape is the handlers' business."""
    _check_values(payload, depth=0)
    if not isinstance(payload, dict):
        return
    if isinstance(payload.get("time"), str):
        _check_time(payload["time"])
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        return
    for name, limit in detail_limits().items():
        _check_id(f"detail.{name}", detail.get(name), limit)
    stream_ids = detail.get("recording_session_stream_ids")
    if isinstance(stream_ids, list):
        for stream_id in stream_ids:
            _check_id("detail.recording_session_stream_ids", stream_id, STREAM_ID_LIMIT)


def _check_values(value: object, *, depth: int) -> None:
    if depth > MAX_DEPTH:  # jsoninput.loads refused deeper bodies; this keeps the walk bounded
        raise MalformedStreamEvent(f"The body is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, str) and "\x00" in value:
        raise MalformedStreamEvent("The body contains a NUL character.")
    if isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    else:
        children = value if isinstance(value, list) else []
    for child in children:
        _check_values(child, depth=depth + 1)


def _check_time(text: str) -> None:
    try:
        at = parse_datetime(text)
        if at is not None and at.tzinfo is not None:
            at.astimezone(UTC)  # stored in UTC: an offset past year 9999 cannot be
    except (ValueError, OverflowError):
        raise MalformedStreamEvent(f"Invalid 'time' {text[:40]!r}: not a real date and time.") from None


def _check_id(name: str, value: object, limit: int) -> None:
    if value is None or value == "":
        return
    if not isinstance(value, str):
        raise MalformedStreamEvent(f"{name} must be a string.")
    if len(value) > limit:
        raise MalformedStreamEvent(f"{name} is {len(value)} characters long; at most {limit} are allowed.")
