"""Moving private media stored before private folders (issue #12, finding 1) into one: a private
event's replay copied under the public prefix (``<RECORDINGS_CDN_PREFIX>/<event id>/<recording
id>/``, which the CDN serves to anyone) and an uploaded video under ``<prefix>/uploads/<id>/``
(an id in its name). Each moves to ``private/<random key>/``, which the CDN serves only with
signed cookies (recordings.cdn); ``manage.py move_private_media`` runs it for every such row.

Copy first (server-side between S3 keys, through liveshop.objectstore's ObjectStore), then point the
row at the copy in one transaction, then delete the old objects: a replay plays throughout. A run
that dies before the row moved leaves an unowned copy under ``private/`` (never served: no
recording owns it, and the CDN wants cookies no one is given) and the next run copies again."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q, QuerySet

from liveshop import objectstore
from liveshop.objectstore import CopyItem
from recordings import exceptions
from recordings.models import PRIVATE_MEDIA_PREFIX, Recording, new_media_prefix
from recordings.services.ingest import object_params, storage_errors

logger = logging.getLogger(__name__)


def list_misplaced_private_media() -> QuerySet[Recording]:
    """Recordings whose files are private media stored outside the private folder."""
    private = Q(backend=Recording.Backend.UPLOAD) | Q(event__is_private=True)
    return (
        Recording.objects.filter(private)
        .exclude(cdn_prefix="")
        .exclude(cdn_prefix__startswith=f"{PRIVATE_MEDIA_PREFIX}/")
        .exclude(files=Recording.Files.REFERENCED)  # served from the IVS bucket, behind the key group
        .order_by("pk")
    )


def move_to_private_folder(*, recording: Recording) -> Recording:
    """Copy ``recording``'s files to a new ``private/<key>`` folder, point the row (prefix,
    master, renditions, thumbnails) at it, and delete the old files. Idempotent: a recording
    already in a private folder (or with no files) is returned as it is."""
    old = recording.cdn_prefix
    if not old or old.startswith(f"{PRIVATE_MEDIA_PREFIX}/") or not recording.has_private_media:
        return recording
    new = new_media_prefix(private=True)
    names = _copy_folder(old, new)
    recording = _repoint(recording, old=old, new=new)
    for name in names:
        storages["recordings"].delete(f"{old}/{name}")
    logger.info("Private media moved", extra={"recording": recording.pk, "objects": len(names)})
    return recording


def _copy_folder(old: str, new: str) -> list[str]:
    """Copy every object under ``old`` to ``new``; returns their names relative to the folder."""
    s3 = functools.cache(
        lambda: objectstore.s3_client(max_pool_connections=settings.RECORDINGS_COPY_CONCURRENCY + 4)
    )
    target, location = objectstore.destination_store("recordings", s3)
    if target is None:
        raise exceptions.RecordingsNotConfigured("No recordings storage to move files in")
    source_folder, target_folder = objectstore.join_key(location, old), objectstore.join_key(location, new)
    with storage_errors():
        objects = list(target.list(f"{source_folder}/"))
        names = [o.key[len(source_folder) + 1 :] for o in objects]
        items = [
            CopyItem(source=o, key=f"{target_folder}/{name}", params=object_params(name))
            for o, name in zip(objects, names, strict=True)
        ]
        target.copy_in(target, items, concurrency=settings.RECORDINGS_COPY_CONCURRENCY)
    return names


@transaction.atomic
def _repoint(recording: Recording, *, old: str, new: str) -> Recording:
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.cdn_prefix != old:
        raise exceptions.RecordingError(f"Recording {recording.pk} moved meanwhile ({recording.cdn_prefix})")

    def moved(name: str) -> str:
        return f"{new}{name[len(old) :]}" if name.startswith(f"{old}/") else name

    recording.cdn_prefix = new
    recording.master_path = moved(recording.master_path)
    recording.renditions = [{**r, "playlist": moved(r.get("playlist") or "")} for r in recording.renditions]
    recording.thumbnails = [moved(name) for name in recording.thumbnails]
    recording.save(update_fields=["cdn_prefix", "master_path", "renditions", "thumbnails", "updated_at"])
    return recording
