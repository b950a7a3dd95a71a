"""Copying a recording's objects into the "recordings" storage: only what is missing there
(same size and ETag = done), playlists last, with their Content-Type and Cache-Control."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from liveshop import objectstore
from liveshop.objectstore import CopyItem, CopyProgress, ObjectStore
from recordings import exceptions
from recordings.services.ingest.reading import Media
from recordings.services.ingest.sources import storage_errors

SEGMENT_CACHE = "public, max-age=31536000, immutable"  # a segment never changes once written
PLAYLIST_CACHE = "public, max-age=300"  # playlists, the latest thumbnail


@dataclass
class CopyResult:
    objects: int = 0  # objects of the replay (at the destination once done)
    bytes: int = 0
    copied: int = 0  # copied by this run
    bytes_copied: int = 0
    skipped: int = 0  # already at the destination
    destination: str = ""


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
