"""Recording state events ("IVS Recording State Change", shared/reference/ivs.md, section 3):
checked, noted on the Recording row, and turned into an ingestion task. EventBridge delivers at
least once and out of order; every handler here is idempotent and keyed by bucket + prefix (or
the recording session id when IVS recorded nothing and sent no prefix)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.exceptions import MalformedStreamEvent
from events.models import StreamSession
from events.stream_state import check_origin
from liveshop.tasks import enqueue, enqueue_on_commit
from liveshop.video import eventbridge as ivs_events
from recordings import exceptions
from recordings.models import Recording
from recordings.services.ingest import (
    COPY,
    cdn_prefix_for,
    get_event_for_channel,
    ingest_mode,
    merge_event_details,
)
from recordings.services.manifest import parse_prefix

logger = logging.getLogger(__name__)

START = "Recording Start"
END = "Recording End"
START_FAILURE = "Recording Start Failure"
END_FAILURE = "Recording End Failure"
STATUSES = (START, END, START_FAILURE, END_FAILURE)
# A recording another worker has been copying for less than this is left to it.
BUSY_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class RecordingEvent:
    status: str
    channel_arn: str
    channel_id: str
    bucket: str
    prefix: str  # "" for Recording Start Failure
    session_id: str
    stream_ids: tuple[str, ...]
    reason: str


class UnknownRecordingStatus(exceptions.MalformedRecordingEvent):
    """A recording_status IVS does not document, in an event otherwise ours: the webhook
    ignores it (no row), the ingest task refuses it."""


def parse_recording_event(payload: object) -> RecordingEvent:
    """Check an "IVS Recording State Change" event, and that it is ours: from IVS in Liveshop's
    account (events.stream_state.check_origin), its prefix in the channel's account and folder,
    its bucket IVS_RECORDINGS_BUCKET_NAME. MalformedRecordingEvent says what is wrong; nothing
    is read or written before these checks pass."""
    if not isinstance(payload, dict) or not isinstance(payload.get("detail"), dict):
        raise exceptions.MalformedRecordingEvent(
            "Not an EventBridge event (an object with a 'detail' object)."
        )
    if payload.get("detail-type") != ivs_events.RECORDING_STATE_CHANGE:
        raise exceptions.MalformedRecordingEvent(f"Not an '{ivs_events.RECORDING_STATE_CHANGE}' event.")
    resources = payload.get("resources")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise exceptions.MalformedRecordingEvent("Missing 'resources' (the channel ARN).")
    origin = _origin(payload)
    detail = payload["detail"]
    status = detail.get("recording_status")
    if status not in STATUSES:
        raise UnknownRecordingStatus(f"Unknown detail.recording_status {status!r}.")
    bucket, prefix = detail.get("recording_s3_bucket_name"), detail.get("recording_s3_key_prefix") or ""
    if not isinstance(bucket, str) or not bucket or not isinstance(prefix, str):
        raise exceptions.MalformedRecordingEvent("Missing detail.recording_s3_bucket_name or key prefix.")
    _check_bucket(bucket)
    return RecordingEvent(
        status=status,
        channel_arn=origin.channel,
        channel_id=origin.channel_id,
        bucket=bucket,
        prefix="" if status == START_FAILURE else _checked_prefix(prefix, origin),
        session_id=str(detail.get("recording_session_id") or ""),
        stream_ids=_stream_ids(detail),
        reason=str(detail.get("recording_status_reason") or ""),
    )


def _origin(payload: dict) -> ivs_events.Origin:
    try:
        return check_origin(payload)
    except MalformedStreamEvent as exc:
        raise exceptions.MalformedRecordingEvent(str(exc)) from None


def _check_bucket(bucket: str) -> None:
    """IVS records only into IVS_RECORDINGS_BUCKET_NAME: ingestion reads no other bucket."""
    expected = settings.IVS_RECORDINGS_BUCKET_NAME
    if not expected:
        raise exceptions.MalformedRecordingEvent(
            "IVS_RECORDINGS_BUCKET_NAME is not set: recording events cannot be checked, so none is accepted."
        )
    if bucket != expected:
        raise exceptions.MalformedRecordingEvent(
            f"detail.recording_s3_bucket_name {bucket[:63]!r} is not Liveshop's recordings bucket."
        )


def _checked_prefix(prefix: str, origin: ivs_events.Origin) -> str:
    try:
        location = parse_prefix(prefix)
    except exceptions.InvalidRecordingPrefix as exc:
        raise exceptions.MalformedRecordingEvent(f"detail.recording_s3_key_prefix: {exc}") from None
    if (location.account, location.channel_id) != (origin.account, origin.channel_id):
        raise exceptions.MalformedRecordingEvent(
            f"The prefix {prefix!r} is not of channel {origin.channel} (its account and channel id)."
        )
    return location.prefix


def _stream_ids(detail: dict) -> tuple[str, ...]:
    """The stream ids IVS merged (Recording End), else the event's own stream id."""
    stream_ids = detail.get("recording_session_stream_ids") or []
    if not isinstance(stream_ids, list) or not all(isinstance(s, str) for s in stream_ids):
        raise exceptions.MalformedRecordingEvent("detail.recording_session_stream_ids must be a list of ids.")
    own = detail.get("stream_id")
    return tuple(s for s in stream_ids if s) or ((own,) if isinstance(own, str) and own else ())


def handle_recording_event(payload: dict) -> str:
    """Apply one recording event and say what happened: "queued" (Recording End, End Failure:
    the ingestion task runs after commit), "recording" (Start: a pending row), "failed" (Start
    Failure), "unchanged" (already known, ready or being copied), "unknown channel", "ignored" (a
    status IVS does not document)."""
    try:
        event = parse_recording_event(payload)
    except UnknownRecordingStatus:
        logger.info("Recording event ignored: unknown status")
        return "ignored"
    try:
        live_event = get_event_for_channel(event.channel_id)
    except exceptions.UnknownChannel:
        logger.info("Recording event for an unknown channel", extra={"channel_id": event.channel_arn})
        return "unknown channel"
    if event.status == START_FAILURE:
        return record_start_failure(live_event=live_event, event=event)
    return note_recording(live_event=live_event, event=event)


@transaction.atomic
def note_recording(*, live_event, event: RecordingEvent) -> str:
    """Create or update the recording's row; for an end, queue its ingestion after commit unless
    it is ready or another worker is copying it now."""
    recording, created = Recording.objects.select_for_update().get_or_create(
        source_bucket=event.bucket,
        source_prefix=event.prefix,
        defaults={
            "event": live_event,
            "organization_id": live_event.organization_id,
            "status": Recording.Status.PENDING,
            # A zero-copy replay (RECORDINGS_INGEST_MODE=reference) has no folder in the CDN bucket.
            "cdn_prefix": cdn_prefix_for(live_event, parse_prefix(event.prefix))
            if ingest_mode(event.bucket) == COPY
            else "",
        },
    )
    busy = recording.status == Recording.Status.COPYING and recording.updated_at > timezone.now() - BUSY_FOR
    fields = merge_event_details(recording, stream_ids=event.stream_ids, session_id=event.session_id)
    if fields:
        recording.save(update_fields=[*fields, "updated_at"])
    if event.status == START:
        return "recording" if created else "unchanged"
    if recording.is_ready or busy:
        return "unchanged"
    enqueue_on_commit("recordings.tasks.ingest_recording_task", event.bucket, event.prefix)
    return "queued"


def link_late_session(session: StreamSession) -> None:
    """Ingestion links a recording to the sessions it names when it completes; a session made
    afterwards (its events were delivered late) is linked here, as it would have been
    (events.extensions.stream_session_created)."""
    ready = Recording.objects.filter(event_id=session.event_id, status=Recording.Status.READY)
    naming = [r for r in ready.only("pk", "stream_ids") if session.stream_id in (r.stream_ids or [])]
    if naming:
        session.recordings.add(*naming)


def queue_local_ingestion(*, path: str, stream_id: str) -> None:
    """The local media server saved a recording (events.extensions.local_recording_saved, after
    commit): convert and ingest it off the callback's request."""
    enqueue("recordings.tasks.ingest_local_recording_task", path, stream_id)


def detail_limits() -> dict[str, int]:
    """The recording detail fields the webhook refuses beyond their columns' lengths
    (events.webhooks.check_event_input, through events.extensions.recording_detail_limits)."""
    return {
        "recording_session_id": Recording._meta.get_field("session_id").max_length,
        "recording_s3_bucket_name": Recording._meta.get_field("source_bucket").max_length,
        # IVS's are ~60 characters (ivs/v1/<account>/<channel>/<y>/<m>/<d>/<h>/<min>/<id>); the
        # 200 leaves room for any IVS prefix and stays far under source_prefix's 512 characters.
        "recording_s3_key_prefix": 200,
    }


@transaction.atomic
def record_start_failure(*, live_event, event: RecordingEvent) -> str:
    """IVS recorded nothing (no prefix): a failed row keyed by the recording session id."""
    reason = f"IVS could not start the recording ({event.reason or 'no reason given'})"
    if not event.session_id:
        logger.warning("Recording Start Failure without a session id", extra={"reason": reason})
        return "unchanged"
    _, created = Recording.objects.get_or_create(
        session_id=event.session_id,
        defaults={
            "event": live_event,
            "organization_id": live_event.organization_id,
            "source_bucket": event.bucket,
            "status": Recording.Status.FAILED,
            "failure_reason": reason,
            "stream_ids": list(event.stream_ids),
        },
    )
    return "failed" if created else "unchanged"
