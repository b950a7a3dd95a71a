"""POST /hooks/media/*: nginx-rtmp's callbacks from the local media server, thin views over
events.local_streams (which owns the key's lookup, the files and the work after commit).

nginx posts form-encoded fields (app, name, clientid, addr, call; record_done adds path) to the
URLs ``manage.py media_server`` renders (``?rtmp_port=N``), through a loopback location of its own
http server that adds the callback secret in the X-Liveshop-Media-Secret header (never in a URL,
which access logs keep); a call without that header is refused (403). In app "live" the stream's
name is the secret stream key: it is only hashed and compared, never logged."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import local_streams
from events.exceptions import PublishRefused
from liveshop import crypto
from liveshop.video import local


def media_server_callback(
    view: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A POST from the media server (CSRF-exempt): 403 without the right callback secret."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        if not _authorized(request):
            return _text("Missing or wrong callback secret.", status=403)
        return view(request)

    return checked


@media_server_callback
def on_publish(request: HttpRequest) -> HttpResponse:
    """Accept a publish whose key belongs to an event that may go live: the session starts and
    nginx is redirected to relay the stream under the channel id. Anything else: 403."""
    try:
        publisher = local_streams.accept_publish(
            client_id=request.POST.get("clientid", ""),
            app=request.POST.get("app", ""),
            key=request.POST.get("name", ""),
            addr=request.POST.get("addr", ""),
        )
    except PublishRefused as exc:
        return _text(str(exc), status=403)
    response = HttpResponse(status=302)  # not HttpResponseRedirect: it refuses rtmp:// URLs
    response["Location"] = f"rtmp://127.0.0.1:{_rtmp_port(request)}/{local.SHOW_APP}/{publisher.channel_id}"
    return response


@media_server_callback
def on_publish_done(request: HttpRequest) -> HttpResponse:
    """The publisher left: its stream (and session) ends. Idempotent."""
    form = request.POST
    return HttpResponse(
        local_streams.end_publish(
            client_id=form.get("clientid", ""), app=form.get("app", ""), key=form.get("name", "")
        )
    )


@media_server_callback
def on_record_done(request: HttpRequest) -> HttpResponse:
    """A recording is complete: rename it off the key (``rec/<channel id>-<unix time>.flv``) and
    queue its conversion and ingestion, or delete it when the event is not recorded."""
    form = request.POST
    outcome = local_streams.keep_recording(
        client_id=form.get("clientid", ""),
        app=form.get("app", ""),
        key=form.get("name", ""),
        path=form.get("path", ""),
    )
    return HttpResponse(outcome)


@media_server_callback
def on_server_reset(request: HttpRequest) -> HttpResponse:
    """``manage.py media_server`` started nginx, or saw it stop (nginx itself then sends no
    publish_done): the streams it had end at ``at`` (unix time) and their recordings are saved.
    With ``call=server_check``: the streams of the channels ``gone`` from nginx's /stat since
    ``seen_at`` end."""
    at, seen_at = _unix_time(request.POST.get("at", "")), _unix_time(request.POST.get("seen_at", ""))
    if at is None:
        return _text("Missing or invalid 'at' (unix time).", status=400)
    if request.POST.get("call") != "server_check":
        result = local_streams.reset_media_server(at=at)
    elif seen_at is None:
        return _text("Missing or invalid 'seen_at'.", status=400)
    else:  # the supervisor read nginx's /stat
        gone = [channel for channel in request.POST.get("gone", "").split(",") if channel]
        result = local_streams.end_gone_streams(at=at, gone=gone, seen_at=seen_at)
    return HttpResponse(f"ended {len(result.ended)}, saved {len(result.recordings)}")


def _unix_time(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _authorized(request: HttpRequest) -> bool:
    return crypto.same(request.headers.get(local.CALLBACK_HEADER, ""), local.callback_secret())


def _text(message: str, *, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


def _rtmp_port(request: HttpRequest) -> int:
    port = request.GET.get("rtmp_port", "")
    return int(port) if port.isdigit() else settings.MEDIA_SERVER_RTMP_PORT
