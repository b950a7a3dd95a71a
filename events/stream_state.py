"""The one handler for stream-state events, whichever backend sent them (IVS through EventBridge,
the local media server through its callbacks). EventBridge delivers at least once and out of
order, so every change is keyed by the event's own time, never its arrival: a session keeps its
earliest start and end, and the event's status is computed from all its sessions; the same events
in any order, or twice, leave the same state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.dateparse import parse_datetime

from events import extensions, reminders
from events.exceptions import MalformedStreamEvent
from events.models import LiveEvent, StreamSession
from events.realtime import broadcast_to_event_on_commit, broadcast_to_studio
from liveshop.video import VideoBackendError, get_video_backend
from liveshop.video import eventbridge as ivs_events

logger = logging.getLogger(__name__)

Status = LiveEvent.Status

STARTS = {ivs_events.STREAM_START}
ENDS = {ivs_events.STREAM_END, ivs_events.STREAM_FAILURE}
# IVS's "IVS Stream Health Change" events: a live stream starves (too little data reaches IVS)
# and recovers. The local media server sends none; its consoles ask nginx (``stream_health``).
STREAM_HEALTH_CHANGE = ivs_events.STREAM_HEALTH_CHANGE
HEALTH_AFTER = {"Starvation Start": "starving", "Starvation End": "healthy"}


@dataclass(frozen=True)
class StreamEvent:
    detail_type: str
    channel_id: str
    event_name: str
    stream_id: str
    at: datetime
    detail: dict


def parse_event(payload: object) -> StreamEvent:
    """Check the EventBridge envelope; MalformedStreamEvent says what is missing."""
    if not isinstance(payload, dict):
        raise MalformedStreamEvent("The body must be a JSON object (one EventBridge event).")
    detail = payload.get("detail")
    resources = payload.get("resources")
    at = parse_datetime(payload["time"]) if isinstance(payload.get("time"), str) else None
    if not isinstance(payload.get("detail-type"), str) or not isinstance(detail, dict):
        raise MalformedStreamEvent("Missing 'detail-type' or 'detail'.")
    if at is None or at.tzinfo is None:
        raise MalformedStreamEvent("Missing or invalid 'time' (ISO 8601 with a time zone).")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise MalformedStreamEvent("Missing 'resources' (the channel ARN).")
    if payload["detail-type"] == ivs_events.STREAM_STATE_CHANGE and not detail.get("stream_id"):
        raise MalformedStreamEvent("A stream state change needs 'detail.stream_id'.")
    return StreamEvent(
        detail_type=payload["detail-type"],
        channel_id=resources[0],
        event_name=str(detail.get("event_name") or detail.get("recording_status") or ""),
        stream_id=str(detail.get("stream_id") or ""),
        at=at,
        detail=detail,
    )


def handle_event(payload: object, *, local_allowed: bool = False) -> str:
    """Apply one EventBridge-shaped event; returns what happened ("applied", "unchanged",
    "unknown channel", "ignored": an event name IVS does not document) for the caller's log and
    response. MalformedStreamEvent for a body that is not an event of ours (check_origin);
    ``local_allowed`` for the local media server's own events."""
    event = parse_event(payload)
    check_origin(payload, local_allowed=local_allowed)
    if event.detail_type == ivs_events.RECORDING_STATE_CHANGE:
        return extensions.recording_event(payload)
    if event.detail_type == STREAM_HEALTH_CHANGE:
        return apply_health_event(event)
    if event.event_name not in ivs_events.STREAM_EVENT_NAMES:
        logger.info("Stream event ignored", extra={"event_name": event.event_name[:40]})
        return "ignored"
    return apply_stream_event(event)


def check_origin(payload: object, *, local_allowed: bool = False) -> ivs_events.Origin:
    """Refuse, with MalformedStreamEvent, an event that is not from IVS in Liveshop's AWS account
    (another source or detail type, an account or region the channel ARN disagrees with, a
    channel of another account) or, with ``local_allowed``, from the local media server.
    Liveshop's account is ivs_events.configured_account(), else any account one of its stored
    channel ARNs is in."""
    if not isinstance(payload, dict):
        raise MalformedStreamEvent("The body must be a JSON object (one EventBridge event).")
    try:
        origin = ivs_events.parse_origin(payload, local_allowed=local_allowed)
    except ivs_events.UntrustedEvent as exc:
        raise MalformedStreamEvent(str(exc)) from None
    if not origin.local and not _is_our_account(origin):
        raise MalformedStreamEvent(
            f"The channel {origin.channel[:160]} is not in Liveshop's AWS account (IVS_ACCOUNT_ID)."
        )
    return origin


def _is_our_account(origin: ivs_events.Origin) -> bool:
    account = ivs_events.configured_account()
    if account:
        return origin.account == account
    arns = f"arn:aws:ivs:{origin.region}:{origin.account}:channel/"
    return LiveEvent.objects.filter(channel_id__startswith=arns).exists()


@transaction.atomic
def apply_stream_event(event: StreamEvent) -> str:
    """Record the event on its stream session, then set the live event's status from all its
    sessions (status_after_sessions), so any delivery order ends where the events' times say.
    Locks the event row so concurrent deliveries apply one at a time. A session created late
    (its Stream Start came after the recording was ingested) joins the recordings naming it
    (extensions.stream_session_created)."""
    live_event = LiveEvent.objects.select_for_update().filter(channel_id=event.channel_id).first()
    if live_event is None:
        logger.info("Stream event for an unknown channel", extra={"channel_id": event.channel_id})
        return "unknown channel"
    session, created = StreamSession.objects.get_or_create(event=live_event, stream_id=event.stream_id)
    changed = _update_session(session, event) or created
    if created:
        extensions.stream_session_created(session)
    if event.event_name not in STARTS | ENDS:
        return "applied" if changed else "unchanged"
    fields = []
    if live_event.status_changed_at is None or event.at > live_event.status_changed_at:
        live_event.status_changed_at = event.at  # the newest stream news, even without a change
        fields.append("status_changed_at")
    new_status, stream_id = status_after_sessions(live_event)
    if new_status and new_status != live_event.status:
        live_event.status = new_status
        fields.append("status")
        broadcast_to_event_on_commit(
            live_event.pk, "stream.state", {"status": new_status, "streamId": stream_id}
        )
        if new_status == Status.LIVE:
            reminders.queue_reminders_on_commit(live_event.pk)  # e-mails, after the commit
        changed = True
    if fields:
        live_event.save(update_fields=fields)
    return "applied" if changed else "unchanged"


def _update_session(session: StreamSession, event: StreamEvent) -> bool:
    """The earliest start and the earliest end win, whichever arrives first."""
    fields = []
    if event.event_name in STARTS and (session.started_at is None or event.at < session.started_at):
        session.started_at = event.at
        fields.append("started_at")
    if event.event_name in ENDS and (session.ended_at is None or event.at < session.ended_at):
        session.ended_at = event.at
        session.end_reason = str(event.detail.get("reason") or event.event_name.lower())[:200]
        fields += ["ended_at", "end_reason"]
    if fields:
        session.save(update_fields=fields)
    return bool(fields)


def status_after_sessions(live_event: LiveEvent) -> tuple[str | None, str]:
    """The status the event's stream sessions give, and the stream that decides it; None when
    they do not move it (cancelled, no channel, ended by its host, or no stream started yet).
    Live when the newest stream to start has not ended and no stream whose start is still on
    its way ended after it; ended otherwise. A function of the sessions alone, so the status
    after a set of events does not depend on the order they came in."""
    if live_event.status == Status.NEEDS_CHANNEL or not live_event.may_go_live:
        return None, ""
    sessions = list(live_event.sessions.exclude(started_at=None, ended_at=None))
    started = [s for s in sessions if s.started_at is not None]
    if not started:
        ended = live_event.status == Status.LIVE and any(s.ended_at for s in sessions)
        return (Status.ENDED, sessions[0].stream_id) if ended else (None, "")
    newest = max(started, key=lambda s: (s.started_at, s.stream_id))
    start_unknown = [s for s in sessions if s.started_at is None]
    if newest.ended_at is None and not any(s.ended_at > newest.started_at for s in start_unknown):
        return Status.LIVE, newest.stream_id
    return Status.ENDED, newest.stream_id


def apply_health_event(event: StreamEvent) -> str:
    """Tell the event's host consoles that its live stream starves or is healthy again (a
    ``stream.state`` frame with ``health`` and the news's time, so a console keeps the newest).
    Stores nothing: a console asks the video service on connect. News about anything but the
    live stream is "unchanged"."""
    health = HEALTH_AFTER.get(event.event_name)
    if health is None:
        return "ignored"
    live_event = LiveEvent.objects.filter(channel_id=event.channel_id).first()
    if live_event is None:
        return "unknown channel"
    session = (
        live_event.sessions.filter(ended_at=None, started_at__isnull=False).order_by("-started_at").first()
    )
    if live_event.status != Status.LIVE or session is None or event.stream_id not in ("", session.stream_id):
        return "unchanged"
    payload = {
        "status": Status.LIVE,
        "streamId": session.stream_id,
        "health": health,
        "healthAt": event.at.isoformat(),
    }
    broadcast_to_studio(live_event.pk, "stream.state", payload)
    return "applied"


def stream_health(event: LiveEvent) -> str:
    """The live stream's health as the video service reports it now ("healthy", "starving" or
    "unknown"; "offline" when the event is not live). One gateway call: for consoles' snapshots,
    never for viewers."""
    if event.status != Status.LIVE or not event.channel_id:
        return "offline"
    try:
        stream = get_video_backend().get_stream(event.channel_id)
    except VideoBackendError:
        return "unknown"
    return stream.health if stream is not None and stream.live else "unknown"
