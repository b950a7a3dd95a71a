"""The Recording row through an ingestion: created or found, one ingestion at a time (an advisory
lock), completed in one transaction with its sessions and product cues, or marked failed."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator, Sequence

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from events.models import LiveEvent, StreamSession
from liveshop import objectstore
from recordings import exceptions
from recordings.models import Recording, new_media_prefix
from recordings.playlists import Timeline
from recordings.services.ingest.copying import CopyResult
from recordings.services.ingest.reading import Media
from recordings.services.ingest.sources import LOCAL_SOURCE
from recordings.services.manifest import (
    RecordingManifest,
    RecordingPrefix,
    parse_prefix,
)
from recordings.services.product_cues import sync_product_cues
from recordings.services.replays import announce_replay_on_commit

logger = logging.getLogger(__name__)

Status = Recording.Status
# pg_try_advisory_lock(namespace, recording id): one ingestion of a recording at a time.
LOCK_NAMESPACE = zlib.crc32(b"recordings.ingest") & 0x7FFFFFFF


def record_interruption(*, bucket: str, prefix: str, reason: str) -> Recording | None:
    """After an ingestion of ``bucket``/``prefix`` was interrupted outside its copy (the copy
    records its own interruption): its recording, if it has a row, marked failed with ``reason``
    so that the next run or --pending resumes it; left alone when ready or when another process
    is ingesting it (holds its lock)."""
    location = parse_prefix(prefix)
    recording = Recording.objects.filter(source_bucket=bucket, source_prefix=location.prefix).first()
    if recording is None:
        return None
    try:
        with exclusive(recording):
            return mark_failed(recording, reason)
    except exceptions.IngestionInProgress:
        return recording


def record_failure(
    *, event: LiveEvent, bucket: str, prefix: str, reason: str, stream_ids: Sequence[str] = ()
) -> Recording:
    """The recording of ``bucket``/``prefix`` (created if need be) marked failed with ``reason``,
    unless it is ready: for what fails before ingestion can start (a local recording ffmpeg
    cannot convert). A later successful ingestion of the same prefix makes it ready."""
    recording = get_or_create_recording(event, bucket, parse_prefix(prefix), stream_ids, "", copy=True)
    return mark_failed(recording, reason)


@transaction.atomic
def get_or_create_recording(
    event: LiveEvent,
    bucket: str,
    location: RecordingPrefix,
    stream_ids: Sequence[str],
    session_id: str,
    *,
    copy: bool = True,
) -> Recording:
    recording, _ = Recording.objects.select_for_update().get_or_create(
        source_bucket=bucket,
        source_prefix=location.prefix,
        defaults={
            "event": event,
            "organization_id": event.organization_id,
            "backend": Recording.Backend.LOCAL if bucket == LOCAL_SOURCE else Recording.Backend.IVS,
            "status": Status.PENDING,
        },
    )
    fields = merge_event_details(recording, stream_ids=stream_ids, session_id=session_id)
    # Set once, when copying: a resumed copy must find what the last run copied. A referenced
    # recording has none (nothing of it is in the CDN bucket).
    if copy and not recording.cdn_prefix:
        recording.cdn_prefix = cdn_prefix_for(event, location)
        fields.append("cdn_prefix")
    if fields:
        recording.save(update_fields=[*fields, "updated_at"])
    return recording


def cdn_prefix_for(event: LiveEvent, location: RecordingPrefix) -> str:
    """Where a new recording's replay goes in the "recordings" storage: a random key (never the
    event's id nor the recording's, which can be guessed), under the private prefix for a private
    event (the CDN asks for signed cookies there). Stored once on the row, so stable for it."""
    return new_media_prefix(private=event.is_private)


def merge_event_details(recording: Recording, *, stream_ids: Sequence[str], session_id: str) -> list[str]:
    """Add what a Recording End event tells (merged stream ids, session id) to ``recording``;
    returns the changed fields. Later events only add: nothing known is forgotten."""
    fields = []
    merged = list(dict.fromkeys([*recording.stream_ids, *stream_ids]))
    if merged != recording.stream_ids:
        recording.stream_ids = merged
        fields.append("stream_ids")
    taken = Recording.objects.filter(session_id=session_id).exclude(pk=recording.pk)
    if session_id and not recording.session_id and not taken.exists():
        recording.session_id = session_id
        fields.append("session_id")
    return fields


def begin_ingestion(recording: Recording, manifest: RecordingManifest) -> None:
    if not recording.is_ready:  # a forced re-run leaves a working replay ready until it fails
        recording.status = Status.COPYING
    recording.failure_reason = ""
    recording.started_at = manifest.started_at
    recording.ended_at = manifest.ended_at
    recording.save(update_fields=["status", "failure_reason", "started_at", "ended_at", "updated_at"])


@transaction.atomic
def complete_recording(
    recording: Recording, *, manifest: RecordingManifest, media: Media, copy: CopyResult, referenced: bool
) -> Recording:
    """Everything the replay needs, in one transaction: the recording's fields, its stream
    sessions and its product cues. Paths are names in the "recordings" storage, or for a
    ``referenced`` recording the IVS bucket's keys (its source prefix)."""
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    base = recording.source_prefix if referenced else objectstore.join_key(recording.cdn_prefix)
    recording.files = Recording.Files.REFERENCED if referenced else Recording.Files.COPIED
    recording.status = Status.READY
    recording.failure_reason = ""
    recording.started_at, recording.ended_at = manifest.started_at, manifest.ended_at
    recording.duration_ms = media.duration_ms
    recording.renditions = [{**r, "playlist": f"{base}/{r['playlist']}"} for r in media.renditions]
    recording.master_path = f"{base}/{manifest.master_key}"
    recording.thumbnails = [f"{base}/{path}" for path in media.thumbnails]
    recording.objects_copied, recording.bytes_copied = copy.objects, copy.bytes
    recording.ingested_at = timezone.now()
    recording.full_clean(validate_unique=False, validate_constraints=False)
    sessions = list(_sessions_of(recording))
    recording.session_positions = session_positions(sessions, media.timeline)
    recording.save()
    recording.sessions.set(sessions)
    sync_product_cues(recording=recording, timeline=media.timeline)
    announce_replay_on_commit(recording)
    return recording


def session_positions(sessions, timeline: Timeline) -> dict[str, int]:
    """Where each started session begins in the video, by the playlist's program date-times (as
    product cues are placed): a moment in the gap before a merged stream maps to its first
    segment, so the second stream starts at the first one's media length."""
    return {str(s.pk): timeline.position_ms(s.started_at) for s in sessions if s.started_at is not None}


def _sessions_of(recording: Recording):
    """The event's stream sessions this recording spans: by the stream ids IVS merged into it,
    or, without them, those that overlap its start and end."""
    sessions = StreamSession.objects.filter(event_id=recording.event_id)
    if recording.stream_ids:
        return sessions.filter(stream_id__in=recording.stream_ids)
    return sessions.filter(started_at__lte=recording.ended_at).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=recording.started_at)
    )


@transaction.atomic
def mark_failed(recording: Recording, reason: str) -> Recording:
    """Status failed with ``reason``, unless the recording is ready: a failed re-run (forced, or
    with the source expired) must not hide a replay that works."""
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.is_ready:
        logger.warning(
            "Re-ingesting a ready recording failed", extra={"recording": recording.pk, "reason": reason}
        )
        return recording
    recording.status, recording.failure_reason = Status.FAILED, reason
    recording.save(update_fields=["status", "failure_reason", "updated_at"])
    return recording


@contextlib.contextmanager
def failures_recorded(recording: Recording | None) -> Iterator[None]:
    """Mark ``recording`` (if any) failed with the reason of any error raised inside."""
    try:
        yield
    except (exceptions.IngestionInProgress, exceptions.RecordingNotEnded):
        raise  # not the recording's failure: it is being ingested, or still being recorded
    except Exception as exc:
        if recording is not None:
            reason = str(exc) if isinstance(exc, exceptions.RecordingError) else f"Unexpected error: {exc!r}"
            mark_failed(recording, reason)
        raise


@contextlib.contextmanager
def exclusive(recording: Recording) -> Iterator[None]:
    """One ingestion of a recording at a time (PostgreSQL advisory lock on this connection,
    released if the process dies); IngestionInProgress when another holds it."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, recording.pk])
        if not cursor.fetchone()[0]:
            raise exceptions.IngestionInProgress(
                f"Another process is ingesting s3://{recording.source_bucket}/{recording.source_prefix} now"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, recording.pk])
