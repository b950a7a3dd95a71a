"""Ingesting a recording in IVS's layout: the one code path behind the Celery tasks, the ECS
command and ``--pending``. Read the metadata IVS wrote, check the playlists, copy the prefix to
the "recordings" storage (server-side between buckets), then store everything (and the product
cues) in one transaction.

The source is an S3 bucket (IVS), or ``LOCAL_SOURCE``: the folder where recordings.services.local
converts the local media server's recordings into the same layout. The destination is the
"recordings" storage's bucket, or its folder when it is a FileSystemStorage (local mode). Both go
through liveshop.objectstore's ObjectStore, so everything below is the same for both.

Zero-copy (RECORDINGS_INGEST_MODE=reference): nothing is copied and nothing is listed but the
thumbnails' folder. Ingestion reads the metadata and the playlists, checks each rendition's last
segment, and stores the IVS keys themselves: CloudFront serves the IVS recordings bucket under
``/ivs/*`` (its second origin), so the replay is ready as soon as the database is written, however
long the recording. IVS writes Recording End only once every file is written (reference/ivs.md
3.2), which is what lets it skip the listing of every segment. The local media server's recordings
are always copied (LOCAL_SOURCE has no CDN origin).

The copy state lives in the destination, not in the database: each run lists the destination
once and copies only what is missing there (same size and ETag = done), so a run killed halfway
and started again copies only the rest. A ready recording is returned at once without touching
the source or the destination.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db.models import Q

from events.models import LiveEvent
from liveshop import objectstore
from liveshop.objectstore import CopyProgress
from recordings import exceptions
from recordings.models import Recording
from recordings.services.ingest.copying import (
    PLAYLIST_CACHE,
    SEGMENT_CACHE,
    CopyResult,
    copy_recording,
    object_params,
)
from recordings.services.ingest.reading import Media, read_manifest, read_media, read_referenced_media
from recordings.services.ingest.rows import (
    LOCK_NAMESPACE,
    begin_ingestion,
    cdn_prefix_for,
    complete_recording,
    exclusive,
    failures_recorded,
    get_or_create_recording,
    mark_failed,
    merge_event_details,
    record_failure,
    record_interruption,
)
from recordings.services.ingest.sources import (
    COPY,
    LOCAL_SOURCE,
    REFERENCE,
    ingest_mode,
    local_recordings_root,
    source_store,
    storage_errors,
)
from recordings.services.manifest import parse_prefix

__all__ = [
    "COPY",
    "LOCAL_SOURCE",
    "LOCK_NAMESPACE",
    "PLAYLIST_CACHE",
    "REFERENCE",
    "SEGMENT_CACHE",
    "CopyResult",
    "Media",
    "cdn_prefix_for",
    "copy_recording",
    "get_event_for_channel",
    "get_or_create_recording",
    "ingest_mode",
    "ingest_recording",
    "local_recordings_root",
    "merge_event_details",
    "object_params",
    "read_manifest",
    "read_media",
    "read_referenced_media",
    "record_failure",
    "record_interruption",
    "source_store",
    "storage_errors",
]

logger = logging.getLogger(__name__)


def ingest_recording(
    *,
    bucket: str,
    prefix: str,
    stream_ids: Sequence[str] = (),
    session_id: str = "",
    force: bool = False,
    progress: Callable[[CopyProgress], None] | None = None,
    cancel: objectstore.Cancellation | None = None,
) -> Recording:
    """Make the recording at s3://``bucket``/``prefix`` (or, with ``bucket`` LOCAL_SOURCE, in the
    local recordings folder) a ready replay, or record why not. Setting ``cancel`` stops the copy
    within seconds: IngestionInterrupted, the recording failed with a reason saying so, and the
    lock released; running it again copies only what is missing.

    Idempotent and resumable (see the module docstring); ``force`` copies what is missing and
    redoes the cues of a ready recording. Raises a RecordingError for bad input or S3 failures:
    no row is created then, and an existing one is marked failed with the reason (never a ready
    one). IVS's own failure (recording-failed.json) returns the recording, status failed."""
    location = parse_prefix(prefix)
    referenced = ingest_mode(bucket) == REFERENCE
    event = get_event_for_channel(location.channel_id)
    existing = Recording.objects.filter(source_bucket=bucket, source_prefix=location.prefix).first()
    if existing is not None and existing.is_ready and not force:
        return existing
    # One S3 client for both sides, made only when a side is S3 (and never for a ready replay).
    s3 = functools.cache(
        lambda: objectstore.s3_client(max_pool_connections=settings.RECORDINGS_COPY_CONCURRENCY + 4)
    )
    source = source_store(bucket, s3)
    with failures_recorded(existing):
        manifest = read_manifest(source, location=location)
    recording = get_or_create_recording(event, bucket, location, stream_ids, session_id, copy=not referenced)
    with exclusive(recording), failures_recorded(recording):
        recording.refresh_from_db()
        if recording.is_ready and not force:
            return recording  # another process finished it while this one read the metadata
        begin_ingestion(recording, manifest)
        if manifest.failed:
            return mark_failed(recording, manifest.failure_reason)
        if referenced:
            media = read_referenced_media(source, location=location, manifest=manifest)
            copy = CopyResult(destination=source.url(location.key("")))
        else:
            media = read_media(source, location=location, manifest=manifest)
            copy = copy_recording(
                source,
                s3=s3,
                media=media,
                cdn_prefix=recording.cdn_prefix,
                progress=progress,
                cancel=cancel,
            )
        recording = complete_recording(
            recording, manifest=manifest, media=media, copy=copy, referenced=referenced
        )
    logger.info(
        "Recording ingested",
        extra={
            "recording": recording.pk,
            "copied": copy.copied,
            "skipped": copy.skipped,
            "to": copy.destination,
            "referenced": referenced,
        },
    )
    return recording


def get_event_for_channel(channel_id: str) -> LiveEvent:
    """The live event whose channel ARN ends with ``channel_id``; UnknownChannel otherwise."""
    events = list(
        LiveEvent.objects.filter(Q(channel_id__endswith=f"/{channel_id}") | Q(channel_id=channel_id))[:2]
    )
    if len(events) != 1:
        problem = "no live event uses" if not events else "several live events use"
        raise exceptions.UnknownChannel(f"{problem} the IVS channel {channel_id}")
    return events[0]
