"""What the local media server's callbacks do (events.media_hooks stays a thin view module):
accept_publish, end_publish, keep_recording, reset_media_server and end_gone_streams own the
stream key's lookup and decryption, the recordings' files and the work after commit.

In app "live" the stream's name is the secret stream key: it is only hashed and compared, never
logged. Stream state goes through events.stream_state.handle_event as the events IVS sends, so
the local server and IVS move events through one code path.

nginx-rtmp sends no on_publish_done and no on_record_done when it stops, whether it is killed,
crashes or shuts down on SIGTERM (checked: reference/local-media-server.md's setup, nginx 1.22 +
libnginx-mod-rtmp 1.2.2). ``manage.py media_server`` supervises nginx and posts
``on_server_reset`` when nginx starts and whenever it stops: ``reset_media_server`` then ends the
streams nginx dropped, as IVS reports a dropped stream (Stream End, Session Ended, through
events.stream_state), and saves the recordings nginx left under the stream key. An encoder that
reconnects is a new stream (a new session, as on IVS); recordings.services.local merges its
recording with the one before when it came back within the recording reconnect window.

While nginx runs, the supervisor also watches its /stat: when a stream disappears from it (a
worker crashed, or Django missed the publish_done) it posts a check naming the channels gone,
whose streams end the same way (end_gone_streams)."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events import extensions, media_clock, stream_state
from events.exceptions import PublishRefused
from events.models import LiveEvent, StreamSession
from liveshop import crypto
from liveshop.video import eventbridge as ivs_events
from liveshop.video import get_video_backend, local

logger = logging.getLogger(__name__)

SERVER_STOPPED = "media server stopped"  # the end reason of the streams a reset ends
PUBLISHER_GONE = "publisher gone"  # ... and of those a check of nginx's /stat no longer finds
# nginx-rtmp's "<record_path>/<name>-<unix time>.flv"; a key may hold "-" and "_".
RECORDED = re.compile(r"(?P<name>.+)-(?P<time>\d{9,11})\.flv")


def accept_publish(*, client_id: str, app: str, key: str, addr: str = "") -> local.Publisher:
    """Start a stream for a publish whose key belongs to an event that may go live (a new
    session: Session Created and Stream Start) and remember its publisher for the callbacks
    after it. PublishRefused otherwise; a refused publish leaves no record behind."""
    local.remember_publisher(client_id, None)
    if app != local.LIVE_APP:
        logger.warning("Publish refused: not the ingest app", extra={"app": app})
        raise PublishRefused(f"Publish to the {local.LIVE_APP!r} application.")
    event = event_for_key(key)
    if event is None or not event.may_go_live:
        reason = "unknown stream key" if event is None else f"event is {event.status}"
        logger.warning(
            "Publish refused: %s", reason, extra={"event_id": event.pk if event else None, "addr": addr}
        )
        raise PublishRefused("Unknown stream key, or the event is over.")
    publisher = local.Publisher(event.channel_id, local.new_stream_id(), event.stream_key_digest)
    local.remember_publisher(client_id, publisher)
    _emit(publisher, ivs_events.SESSION_CREATED, ivs_events.STREAM_START)
    logger.info("Publish accepted", extra={"event_id": event.pk, "stream_id": publisher.stream_id})
    _watch_session_start(event, publisher)
    return publisher


def _watch_session_start(event: LiveEvent, publisher: local.Publisher) -> None:
    """Fix the new session's media clock origin at its first frames, from a thread (the
    encoder's clock, which need not start at 0: events.media_clock); nginx does not wait."""
    if not isinstance(get_video_backend(), local.LocalBackend):
        return  # the fake in tests that post the callbacks themselves
    session = event.sessions.filter(stream_id=publisher.stream_id).values_list("pk", "started_at").first()
    if session is not None and session[1] is not None:
        media_clock.watch_session_start(channel_id=publisher.channel_id, session=session)


def end_publish(*, client_id: str, app: str, key: str) -> str:
    """The publisher left: its stream (and session) ends (Stream End, Session Ended). Idempotent.
    Returns what happened: "ok", "ignored" (not the ingest app) or "unknown stream"."""
    if app != local.LIVE_APP:
        return "ignored"
    publisher = publisher_of(client_id=client_id, key=key)
    if publisher is None:
        logger.info("Publish done for an unknown stream")
        return "unknown stream"
    _emit(publisher, ivs_events.STREAM_END, ivs_events.SESSION_ENDED)
    return "ok"


def keep_recording(*, client_id: str, app: str, key: str, path: str) -> str:
    """A recording is complete: save it (save_recording). Returns "ok", "not renamed" or
    "unknown stream" (the file is left as it is)."""
    publisher = publisher_of(client_id=client_id, key=key) if app == local.LIVE_APP else None
    if publisher is None:
        logger.warning("Recording of an unknown stream left as it is")
        return "unknown stream"
    return "not renamed" if save_recording(path=path, key=key, publisher=publisher) is None else "ok"


def publisher_of(*, client_id: str, key: str) -> local.Publisher | None:
    """Which channel and stream a callback is about: the record accept_publish made for this
    client (it survives a key rotation), else the event that still has this key and its latest
    session."""
    publisher = local.recall_publisher(client_id, key_digest=crypto.digest(key))
    if publisher is not None:
        return publisher
    event = event_for_key(key)
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


@dataclass(frozen=True)
class ResetResult:
    ended: list[str]  # stream ids
    recordings: list[Path]  # saved (renamed off the key) and queued or discarded


def reset_media_server(*, at: datetime) -> ResetResult:
    """The media server had no publisher at ``at`` (it had just stopped, or was starting): end
    every open stream session of a local event that began before ``at`` (Stream End and Session
    Ended at ``at``, through the one stream-state handler), then save the recordings nginx left
    named by their keys. Idempotent; a late reset never ends a stream that started after it."""
    sessions = StreamSession.objects.filter(event__backend="local", ended_at=None).filter(
        Q(started_at__lt=at) | Q(started_at=None, created_at__lt=at)
    )
    return _end_streams(sessions, at=at, reason=SERVER_STOPPED)


def end_gone_streams(*, at: datetime, gone: Collection[str], seen_at: datetime) -> ResetResult:
    """The streams of the channels ``gone`` that nginx's /stat listed at ``seen_at`` were no
    longer there at ``at`` (or a newer stream was), yet no publish_done ended them (a worker
    crashed, or the callback was lost): end their open sessions that began before ``seen_at``,
    as reset_media_server does. They end at ``seen_at``, the last moment known: before any
    stream their encoder started since, which stays live. Idempotent."""
    sessions = StreamSession.objects.filter(
        event__backend="local", event__channel_id__in=list(gone), ended_at=None, started_at__lt=seen_at
    )
    return _end_streams(sessions, at=seen_at, reason=PUBLISHER_GONE, files_before=at)


def _end_streams(sessions, *, at: datetime, reason: str, files_before: datetime | None = None) -> ResetResult:
    ended = []
    for channel_id, stream_id in sessions.values_list("event__channel_id", "stream_id"):
        for name in (ivs_events.STREAM_END, ivs_events.SESSION_ENDED):
            stream_state.handle_event(
                ivs_events.stream_state_change(channel_id, name, stream_id, at=at, reason=reason),
                local_allowed=True,
            )
        ended.append(stream_id)
    if ended:
        logger.info("Streams ended: %s", reason, extra={"stream_ids": ended})
    saved = save_left_recordings(before=files_before or at, stream_ids=ended)
    return ResetResult(ended=ended, recordings=saved)


def save_left_recordings(*, before: datetime, stream_ids: Collection[str]) -> list[Path]:
    """Save each recording in ``rec/`` still named by a stream key, opened before ``before``, of
    one of the streams ``stream_ids`` that just ended without nginx's callbacks (so no
    on_record_done will come): see save_recording."""
    saved = []
    folder = Path(settings.MEDIA_SERVER_DIR) / "rec"
    for path in sorted(folder.glob("*.flv")) if folder.is_dir() else ():
        match = RECORDED.fullmatch(path.name)
        if match is None or int(match["time"]) >= before.timestamp():
            continue
        if LiveEvent.objects.filter(channel_id=match["name"]).exists():
            continue  # renamed already: on_record_done came
        event = event_for_key(match["name"])
        session = _session_recorded(event, at=int(match["time"])) if event else None
        if session is None or session.stream_id not in stream_ids:
            # A key rotated since, or no session: left for an operator. Another session is a
            # publish after ``before`` (file names have whole seconds) that nginx is writing,
            # or one whose on_record_done comes.
            continue
        publisher = local.Publisher(event.channel_id, session.stream_id, event.stream_key_digest)
        if save_recording(path=str(path), key=match["name"], publisher=publisher) is not None:
            saved.append(path)
    return saved


def _session_recorded(event: LiveEvent, *, at: int) -> StreamSession | None:
    """The event's session that was publishing when nginx opened a file at unix time ``at``."""
    sessions = event.sessions.exclude(started_at=None).order_by("-started_at")
    return next((s for s in sessions if s.started_at.timestamp() <= at + 1), None)


def save_recording(*, path: str, key: str, publisher: local.Publisher) -> Path | None:
    """Rename a finished recording off the key (``rec/<channel id>-<unix time>.flv``) and queue
    its conversion and ingestion after commit, or delete it when the event is not recorded.
    Returns the new path, or None when the file is not one of this stream's recordings."""
    event = LiveEvent.objects.filter(channel_id=publisher.channel_id).first()
    extra = {"event_id": event.pk if event else None, "stream_id": publisher.stream_id}
    try:
        renamed = local.rename_recording(path, key, publisher)
    except (OSError, ValueError) as exc:
        # An OSError's str() holds the file name, which holds the key: log its reason alone.
        logger.error("Recording not renamed: %s", getattr(exc, "strerror", None) or exc, extra=extra)
        return None
    if event is None or not event.is_recorded:
        renamed.unlink()
        logger.info("Recording discarded: the event is not recorded", extra=extra)
        return renamed
    logger.info("Recording saved", extra={**extra, "path": str(renamed)})
    # Converted (ffmpeg) and ingested like an IVS recording, off the callback's request.
    transaction.on_commit(lambda: _queue_ingestion(str(renamed), publisher.stream_id, extra))
    return renamed


def _queue_ingestion(path: str, stream_id: str, extra: dict) -> None:
    try:
        extensions.local_recording_saved(path=path, stream_id=stream_id)
    except Exception:  # the broker is down: the file stays; `ingest_recording --local-file` takes it
        logger.exception("Recording ingestion not queued", extra={**extra, "path": path})


def event_for_key(key: str) -> LiveEvent | None:
    """The event whose stored stream key is ``key``: found by its digest, then compared with the
    decrypted key in constant time."""
    if not key:
        return None
    event = LiveEvent.objects.filter(stream_key_digest=crypto.digest(key)).exclude(stream_key_encrypted="")
    event = event.first()
    if event is None:
        return None
    try:
        stored = crypto.decrypt(event.stream_key_encrypted)
    except ValueError:
        logger.error("Stream key cannot be decrypted", extra={"event_id": event.pk})
        return None
    return event if crypto.same(stored, key) else None
