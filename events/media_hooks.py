"""POST /hooks/media/*: nginx-rtmp's callbacks from the local media server.

nginx posts form-encoded fields (app, name, clientid, addr, call; record_done adds path) to the
URLs ``manage.py media_server`` renders (``?rtmp_port=N``), through a loopback location of its own
http server that adds the callback secret in the X-Liveshop-Media-Secret header (never in a URL,
which access logs keep); a call without that header is refused (403).
In app "live" the stream's name is the secret stream key: it is only hashed and compared, never
logged. Stream state goes through events.stream_state.handle_event as the events IVS sends, so
the local server and IVS move events through one code path."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import local_streams, stream_state
from events.models import LiveEvent
from liveshop import crypto
from liveshop.video import events as ivs_events
from liveshop.video import local

logger = logging.getLogger(__name__)

Status = LiveEvent.Status
# events.services.end_event closes the sessions with this reason; the host's "end" is final.


@csrf_exempt
@require_POST
def on_publish(request: HttpRequest) -> HttpResponse:
    """Accept a publish whose key belongs to an event that may go live: the session starts and
    nginx is redirected to relay the stream under the channel id. Anything else: 403."""
    if not _authorized(request):
        return _forbidden("Missing or wrong callback secret.")
    client_id = request.POST.get("clientid", "")
    local.remember_publisher(client_id, None)  # a refused publish leaves no record behind
    if request.POST.get("app") != local.LIVE_APP:
        logger.warning("Publish refused: not the ingest app", extra={"app": request.POST.get("app")})
        return _forbidden(f"Publish to the {local.LIVE_APP!r} application.")
    event = local_streams.event_for_key(request.POST.get("name", ""))
    if event is None or not event.may_go_live:
        reason = "unknown stream key" if event is None else f"event is {event.status}"
        extra = {"event_id": event.pk if event else None, "addr": request.POST.get("addr", "")}
        logger.warning("Publish refused: %s", reason, extra=extra)
        return _forbidden("Unknown stream key, or the event is over.")
    publisher = local.Publisher(event.channel_id, local.new_stream_id(), event.stream_key_digest)
    local.remember_publisher(client_id, publisher)
    _emit(publisher, ivs_events.SESSION_CREATED, ivs_events.STREAM_START)
    logger.info("Publish accepted", extra={"event_id": event.pk, "stream_id": publisher.stream_id})
    response = HttpResponse(status=302)  # not HttpResponseRedirect: it refuses rtmp:// URLs
    response["Location"] = f"rtmp://127.0.0.1:{_rtmp_port(request)}/{local.SHOW_APP}/{event.channel_id}"
    return response


@csrf_exempt
@require_POST
def on_publish_done(request: HttpRequest) -> HttpResponse:
    """The publisher left: its stream (and session) ends. Idempotent."""
    if not _authorized(request):
        return _forbidden("Missing or wrong callback secret.")
    if request.POST.get("app") != local.LIVE_APP:
        return HttpResponse("ignored")
    publisher = _publisher(request.POST)
    if publisher is None:
        logger.info("Publish done for an unknown stream")
        return HttpResponse("unknown stream")
    _emit(publisher, ivs_events.STREAM_END, ivs_events.SESSION_ENDED)
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def on_record_done(request: HttpRequest) -> HttpResponse:
    """A recording is complete: rename it off the key (``rec/<channel id>-<unix time>.flv``) and
    queue its conversion and ingestion, or delete it when the event is not recorded."""
    if not _authorized(request):
        return _forbidden("Missing or wrong callback secret.")
    publisher = _publisher(request.POST) if request.POST.get("app") == local.LIVE_APP else None
    if publisher is None:
        logger.warning("Recording of an unknown stream left as it is")
        return HttpResponse("unknown stream")
    path = local_streams.save_recording(
        path=request.POST.get("path", ""), key=request.POST.get("name", ""), publisher=publisher
    )
    return HttpResponse("not renamed" if path is None else "ok")


@csrf_exempt
@require_POST
def on_server_reset(request: HttpRequest) -> HttpResponse:
    """``manage.py media_server`` started nginx, or saw it stop (nginx itself then sends no
    publish_done): the streams it had end at ``at`` (unix time) and their recordings are saved.
    With ``call=server_check``: the streams of the channels ``gone`` from nginx's /stat since
    ``seen_at`` end."""
    if not _authorized(request):
        return _forbidden("Missing or wrong callback secret.")
    at = _unix_time(request.POST.get("at", ""))
    if at is None:
        return HttpResponse("Missing or invalid 'at' (unix time).", status=400, content_type="text/plain")
    if request.POST.get("call") == "server_check":  # the supervisor read nginx's /stat
        gone = [channel for channel in request.POST.get("gone", "").split(",") if channel]
        seen_at = _unix_time(request.POST.get("seen_at", ""))
        if seen_at is None:
            return HttpResponse("Missing or invalid 'seen_at'.", status=400, content_type="text/plain")
        result = local_streams.end_gone_streams(at=at, gone=gone, seen_at=seen_at)
    else:
        result = local_streams.reset_media_server(at=at)
    return HttpResponse(f"ended {len(result.ended)}, saved {len(result.recordings)}")


def _unix_time(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _authorized(request: HttpRequest) -> bool:
    return crypto.same(request.headers.get(local.CALLBACK_HEADER, ""), local.callback_secret())


def _forbidden(message: str) -> HttpResponse:
    return HttpResponse(message, status=403, content_type="text/plain")


def _rtmp_port(request: HttpRequest) -> int:
    port = request.GET.get("rtmp_port", "")
    return int(port) if port.isdigit() else settings.MEDIA_SERVER_RTMP_PORT


def _publisher(form: QueryDict) -> local.Publisher | None:
    """Which channel and stream a callback is about: the record on_publish made for this client
    (it survives a key rotation), else the event that still has this key and its latest session."""
    key = form.get("name", "")
    publisher = local.recall_publisher(form.get("clientid", ""), key_digest=crypto.digest(key))
    if publisher is not None:
        return publisher
    event = local_streams.event_for_key(key)
    session = event.sessions.order_by("-created_at").first() if event else None
    if session is None:
        return None
    return local.Publisher(event.channel_id, session.stream_id, event.stream_key_digest)


def _emit(publisher: local.Publisher, *event_names: str) -> None:
    at = timezone.now()
    for name in event_names:
        stream_state.handle_event(
            ivs_events.stream_state_change(publisher.channel_id, name, publisher.stream_id, at=at),
            local_allowed=True,
        )
