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

import contextlib
import functools
import logging
import posixpath
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from events.models import LiveEvent, StreamSession
from liveshop import objectstore
from liveshop.objectstore import CopyItem, CopyProgress, ObjectStore, StoredObject
from recordings import exceptions
from recordings.models import Recording, new_media_prefix
from recordings.playlists import MediaPlaylist, PlaylistError, Timeline, parse_master, parse_media
from recordings.services.manifest import (
    ENDED,
    EVENTS_FOLDER,
    FAILED,
    STARTED,
    RecordingManifest,
    RecordingPrefix,
    channel_id_of,
    parse_manifest,
    parse_prefix,
)
from recordings.services.product_cues import sync_product_cues

logger = logging.getLogger(__name__)

Status = Recording.Status
SEGMENT_CACHE = "public, max-age=31536000, immutable"  # a segment never changes once written
PLAYLIST_CACHE = "public, max-age=300"  # playlists, the latest thumbnail
THUMBNAIL = re.compile(r"thumb(\d+)\.jpe?g$")
# pg_try_advisory_lock(namespace, recording id): one ingestion of a recording at a time.
LOCK_NAMESPACE = zlib.crc32(b"recordings.ingest") & 0x7FFFFFFF
# The "bucket" of recordings from the local media server: the folder local_recordings_root().
# (Not a bucket IVS could record into: Liveshop's is named by IVS_RECORDINGS_BUCKET_NAME.)
LOCAL_SOURCE = "local"
# RECORDINGS_INGEST_MODE's values.
COPY, REFERENCE = "copy", "reference"


@dataclass
class Media:
    """The recording's objects (by path relative to the prefix) and what its playlists say."""

    objects: dict[str, StoredObject]
    renditions: list[dict]
    thumbnails: list[str]
    timeline: Timeline
    duration_ms: int


@dataclass
class CopyResult:
    objects: int = 0  # objects of the replay (at the destination once done)
    bytes: int = 0
    copied: int = 0  # copied by this run
    bytes_copied: int = 0
    skipped: int = 0  # already at the destination
    destination: str = ""


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
    with _failures_recorded(existing):
        manifest = read_manifest(source, location=location)
    recording = _get_or_create(event, bucket, location, stream_ids, session_id, copy=not referenced)
    with _exclusive(recording), _failures_recorded(recording):
        recording.refresh_from_db()
        if recording.is_ready and not force:
            return recording  # another process finished it while this one read the metadata
        _begin(recording, manifest)
        if manifest.failed:
            return _mark_failed(recording, manifest.failure_reason)
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
        recording = _complete(recording, manifest=manifest, media=media, copy=copy, referenced=referenced)
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


def ingest_mode(bucket: str) -> str:
    """COPY or REFERENCE for a recording in ``bucket``: RECORDINGS_INGEST_MODE, but the local
    media server's recordings (LOCAL_SOURCE) are always copied. RecordingsNotConfigured for an
    unknown mode (before any row or S3 request)."""
    mode = (settings.RECORDINGS_INGEST_MODE or COPY).strip().lower()
    if mode not in (COPY, REFERENCE):
        raise exceptions.RecordingsNotConfigured(
            f"RECORDINGS_INGEST_MODE must be {COPY} or {REFERENCE}, not {settings.RECORDINGS_INGEST_MODE!r}"
        )
    return COPY if bucket == LOCAL_SOURCE else mode


def local_recordings_root() -> Path:
    """Where local recordings are converted to (and ingested from): in IVS's layout, below
    ``MEDIA_SERVER_DIR/recordings/``."""
    return Path(settings.MEDIA_SERVER_DIR) / "recordings"


def source_store(bucket: str, s3: Callable[[], object]) -> ObjectStore:
    """The store to ingest from: the local recordings folder for LOCAL_SOURCE, else the bucket."""
    if bucket == LOCAL_SOURCE:
        return objectstore.DirectoryStore(local_recordings_root())
    return objectstore.S3Store(s3(), bucket)


def get_event_for_channel(channel_id: str) -> LiveEvent:
    """The live event whose channel ARN ends with ``channel_id``; UnknownChannel otherwise."""
    events = list(
        LiveEvent.objects.filter(Q(channel_id__endswith=f"/{channel_id}") | Q(channel_id=channel_id))[:2]
    )
    if len(events) != 1:
        problem = "no live event uses" if not events else "several live events use"
        raise exceptions.UnknownChannel(f"{problem} the IVS channel {channel_id}")
    return events[0]


def read_manifest(source: ObjectStore, *, location: RecordingPrefix) -> RecordingManifest:
    """recording-ended.json, else recording-failed.json, parsed and checked against the prefix."""
    for name in (ENDED, FAILED):
        try:
            data = source.read(location.key(name))
        except objectstore.ObjectNotFound as exc:
            if exc.code == "NoSuchBucket":
                raise exceptions.RecordingNotFound(_missing_root(source)) from None
            continue
        except objectstore.StorageError as exc:
            raise _translated(exc) from None
        manifest = parse_manifest(data, where=source.url(location.key(name)))
        if channel_id_of(manifest.channel_arn) not in (location.channel_id, None):
            raise exceptions.MalformedRecording(
                f"{source.url(location.key(name))} belongs to {manifest.channel_arn}, "
                f"not to channel {location.channel_id} of its prefix"
            )
        return manifest
    where = source.url(location.key(""))
    if _exists(source, location.key(STARTED)):
        raise exceptions.RecordingNotEnded(f"{where} has started but not ended (no {ENDED} yet)")
    raise exceptions.RecordingNotFound(f"No recording under {where} (no {ENDED})")


def _missing_root(source: ObjectStore) -> str:
    if isinstance(source, objectstore.S3Store):
        return f"The bucket {source.bucket} does not exist"
    return f"The folder {source.url('')} does not exist"


def _exists(source: ObjectStore, key: str) -> bool:
    try:
        return any(o.key == key for o in source.list(key))
    except objectstore.StorageError as exc:
        raise _translated(exc) from None


def read_media(source: ObjectStore, *, location: RecordingPrefix, manifest: RecordingManifest) -> Media:
    """List the prefix (every object but events/) and read the playlists the metadata names:
    each must exist and parse, and each segment a playlist lists must be there."""
    with storage_errors():
        listed = source.list(location.key(""))
        objects = {o.key[len(location.prefix) + 1 :]: o for o in listed}
    objects = {path: o for path, o in objects.items() if not path.startswith(EVENTS_FOLDER)}
    variants = {
        posixpath.normpath(posixpath.join(manifest.hls_path, v.uri)): v
        for v in _read_playlist(source, location, objects, manifest.master_key, parse_master)
    }
    renditions, first = [], None
    for rendition in manifest.renditions:
        key = manifest.rendition_key(rendition)
        playlist = _read_playlist(source, location, objects, key, parse_media)
        folder = posixpath.dirname(key)
        missing = [s.uri for s in playlist.segments if posixpath.join(folder, s.uri) not in objects]
        if missing:
            raise exceptions.RecordingIncomplete(
                f"{len(missing)} segment(s) of {source.url(location.key(key))} are missing, e.g. {missing[0]}"
            )
        first = first or playlist
        renditions.append(_rendition(rendition, variants.get(key), playlist, key))
    return _media(objects, renditions, first, manifest)


def read_referenced_media(
    source: ObjectStore, *, location: RecordingPrefix, manifest: RecordingManifest
) -> Media:
    """What a referenced (zero-copy) replay needs without listing its segments: the playlists
    the metadata names, read and parsed, each rendition's last segment present, the thumbnails'
    folder listed (one page for hours of IVS's thumbnails). ``objects`` holds only those. The
    requests run side by side (two round trips after the metadata, whatever the renditions)."""
    thumbnails = manifest.thumbnails_path or manifest.latest_thumbnail
    keys = [manifest.rendition_key(rendition) for rendition in manifest.renditions]
    with ThreadPoolExecutor(max_workers=len(keys) + 2) as pool:
        listing = pool.submit(_listed, source, location, thumbnails) if thumbnails else None
        master = pool.submit(_read_referenced, source, location, manifest.master_key, parse_master)
        playlists = [pool.submit(_read_rendition, source, location, key) for key in keys]
        variants = {posixpath.normpath(posixpath.join(manifest.hls_path, v.uri)): v for v in master.result()}
        renditions = [
            _rendition(rendition, variants.get(key), future.result(), key)
            for rendition, key, future in zip(manifest.renditions, keys, playlists, strict=True)
        ]
        objects = listing.result() if listing else {}
    return _media(objects, renditions, playlists[0].result(), manifest)


def _media(
    objects: dict[str, StoredObject],
    renditions: list[dict],
    first: MediaPlaylist,
    manifest: RecordingManifest,
) -> Media:
    """The Media of a recording whose playlists were read: renditions best first, the duration
    from the metadata (else the first rendition's playlist), the cue timeline."""
    renditions.sort(key=lambda r: (r["height"] or 0, r["bandwidth"] or 0), reverse=True)
    duration_ms = manifest.duration_ms or first.duration_ms
    return Media(
        objects=objects,
        renditions=renditions,
        thumbnails=_thumbnails(objects, manifest),
        timeline=Timeline(first, started_at=manifest.started_at, duration_ms=duration_ms),
        duration_ms=duration_ms,
    )


def _read_rendition(source: ObjectStore, location: RecordingPrefix, key: str) -> MediaPlaylist:
    """A rendition's playlist, parsed, once its last segment is known to be there."""
    playlist = _read_referenced(source, location, key, parse_media)
    if playlist.segments:
        last = posixpath.join(posixpath.dirname(key), playlist.segments[-1].uri)
        if not _exists(source, location.key(last)):
            where = source.url(location.key(last))
            raise exceptions.RecordingIncomplete(f"The last segment of a playlist, {where}, is missing")
    return playlist


def _listed(source: ObjectStore, location: RecordingPrefix, path: str) -> dict[str, StoredObject]:
    """The objects under ``path`` (relative to the prefix), by their path relative to it."""
    with storage_errors():
        return {o.key[len(location.prefix) + 1 :]: o for o in source.list(location.key(path))}


def _read_referenced(source: ObjectStore, location: RecordingPrefix, path: str, parse: Callable):
    """Read and parse the playlist at ``path`` without a listing: a missing one is
    RecordingIncomplete, like read_media's."""
    where = source.url(location.key(path))
    try:
        text = source.read(location.key(path))
    except objectstore.ObjectNotFound:
        raise exceptions.RecordingIncomplete(f"The playlist {where} is missing") from None
    except objectstore.StorageError as exc:
        raise _translated(exc) from None
    try:
        return parse(text.decode("utf-8"))
    except (PlaylistError, UnicodeDecodeError) as exc:
        raise exceptions.MalformedRecording(f"{where}: {exc}") from None


def _read_playlist(
    source: ObjectStore,
    location: RecordingPrefix,
    objects: dict[str, StoredObject],
    path: str,
    parse: Callable,
):
    """Read and parse the playlist at ``path`` (relative to the prefix); clear errors otherwise."""
    where = source.url(location.key(path))
    if path not in objects:
        raise exceptions.RecordingIncomplete(f"The playlist {where} is missing")
    with storage_errors():
        text = source.read(location.key(path))
    try:
        return parse(text.decode("utf-8"))
    except (PlaylistError, UnicodeDecodeError) as exc:
        raise exceptions.MalformedRecording(f"{where}: {exc}") from None


def _rendition(rendition, variant, playlist: MediaPlaylist, key: str) -> dict:
    width, height = rendition.width, rendition.height
    if (width is None or height is None) and variant and "x" in variant.resolution:
        width, height = (int(n) for n in variant.resolution.split("x", 1))
    return {
        "name": rendition.path,
        "resolution": f"{width}x{height}" if width and height else "",
        "width": width,
        "height": height,
        "bandwidth": variant.bandwidth if variant else None,
        "codecs": variant.codecs if variant else "",
        "frame_rate": variant.frame_rate if variant else None,
        "duration_ms": playlist.duration_ms,
        "playlist": key,  # relative to the prefix until _complete
    }


def _thumbnails(objects: dict[str, StoredObject], manifest: RecordingManifest) -> list[str]:
    folder = manifest.thumbnails_path.rstrip("/") + "/" if manifest.thumbnails_path else None
    numbered = []
    for path in objects:
        match = THUMBNAIL.search(path)
        if folder and path.startswith(folder) and match:
            numbered.append((int(match[1]), path))
    thumbnails = [path for _, path in sorted(numbered)]
    if not thumbnails and manifest.latest_thumbnail in objects:
        thumbnails = [manifest.latest_thumbnail]
    return thumbnails


def object_params(path: str) -> dict:
    """CopyObject's metadata for an object of a replay: its type, and how long caches keep it."""
    mutable = path.endswith(".m3u8") or path.endswith(".json") or "latest_thumbnail/" in path
    return {
        "ContentType": objectstore.content_type(path),
        "CacheControl": PLAYLIST_CACHE if mutable else SEGMENT_CACHE,
        "MetadataDirective": "REPLACE",
    }


def copy_recording(
    source: ObjectStore,
    *,
    s3: Callable[[], object],
    media: Media,
    cdn_prefix: str,
    progress: Callable[[CopyProgress], None] | None = None,
    cancel: objectstore.Cancellation | None = None,
) -> CopyResult:
    """Copy every object of ``media`` missing in the "recordings" storage (one listing of it),
    playlists last. Returns the numbers; a failure stops the copy and raises (what was copied
    stays), and so does ``cancel`` (IngestionInterrupted). ``s3()`` gives the S3 client when the
    destination is a bucket."""
    target, location_prefix = objectstore.destination_store("recordings", s3)
    if target is None:
        raise exceptions.RecordingsNotConfigured(
            "No bucket to copy recordings to: set AWS_RECORDINGS_BUCKET_NAME (and AWS_STORAGE_BUCKET_NAME)"
        )
    if not cdn_prefix:  # never copy into the bucket's root
        raise exceptions.RecordingError("The recording has no CDN prefix to copy to")
    destination = objectstore.join_key(location_prefix, cdn_prefix)
    with storage_errors():
        there = {o.key: o for o in target.list(f"{destination}/")}
    items = [
        CopyItem(source=obj, key=f"{destination}/{path}", params=object_params(path))
        for path, obj in sorted(media.objects.items(), key=lambda item: (item[0].endswith(".m3u8"), item[0]))
        if not objectstore.same_object(obj, there.get(f"{destination}/{path}"))
    ]
    with storage_errors():
        try:
            copied, bytes_copied = target.copy_in(
                source,
                items,
                concurrency=settings.RECORDINGS_COPY_CONCURRENCY,
                progress=progress,
                cancel=cancel,
            )
        except objectstore.CopyCancelled as exc:
            raise exceptions.IngestionInterrupted(
                f"Interrupted with {len(items) - exc.done} of {len(media.objects)} objects left to "
                "copy; ingesting it again copies only those"
            ) from None
    return CopyResult(
        objects=len(media.objects),
        bytes=sum(o.size for o in media.objects.values()),
        copied=copied,
        bytes_copied=bytes_copied,
        skipped=len(media.objects) - len(items),
        destination=target.url(f"{destination}/"),
    )


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
        with _exclusive(recording):
            return _mark_failed(recording, reason)
    except exceptions.IngestionInProgress:
        return recording


def record_failure(
    *, event: LiveEvent, bucket: str, prefix: str, reason: str, stream_ids: Sequence[str] = ()
) -> Recording:
    """The recording of ``bucket``/``prefix`` (created if need be) marked failed with ``reason``,
    unless it is ready: for what fails before ingestion can start (a local recording ffmpeg
    cannot convert). A later successful ingestion of the same prefix makes it ready."""
    recording = _get_or_create(event, bucket, parse_prefix(prefix), stream_ids, "", copy=True)
    return _mark_failed(recording, reason)


@transaction.atomic
def _get_or_create(
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


def _begin(recording: Recording, manifest: RecordingManifest) -> None:
    if not recording.is_ready:  # a forced re-run leaves a working replay ready until it fails
        recording.status = Status.COPYING
    recording.failure_reason = ""
    recording.started_at = manifest.started_at
    recording.ended_at = manifest.ended_at
    recording.save(update_fields=["status", "failure_reason", "started_at", "ended_at", "updated_at"])


@transaction.atomic
def _complete(
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
    recording.save()
    recording.sessions.set(_sessions_of(recording))
    sync_product_cues(recording=recording, timeline=media.timeline)
    return recording


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
def _mark_failed(recording: Recording, reason: str) -> Recording:
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
def _failures_recorded(recording: Recording | None) -> Iterator[None]:
    """Mark ``recording`` (if any) failed with the reason of any error raised inside."""
    try:
        yield
    except (exceptions.IngestionInProgress, exceptions.RecordingNotEnded):
        raise  # not the recording's failure: it is being ingested, or still being recorded
    except Exception as exc:
        if recording is not None:
            reason = str(exc) if isinstance(exc, exceptions.RecordingError) else f"Unexpected error: {exc!r}"
            _mark_failed(recording, reason)
        raise


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except objectstore.StorageError as exc:
        raise _translated(exc) from None


def _translated(exc: objectstore.StorageError) -> exceptions.RecordingError:
    if isinstance(exc, objectstore.AccessDenied):
        return exceptions.StorageAccessDenied(f"{exc} (check the IAM and bucket policies)")
    if isinstance(exc, objectstore.StorageUnavailable):
        return exceptions.StorageUnavailable(str(exc))
    if isinstance(exc, objectstore.ObjectNotFound):
        return exceptions.RecordingIncomplete(str(exc))
    return exceptions.RecordingError(str(exc))


@contextlib.contextmanager
def _exclusive(recording: Recording) -> Iterator[None]:
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
