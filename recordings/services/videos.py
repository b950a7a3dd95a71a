"""An uploaded video after its upload: delete it (a failed or unwanted one) with its files, or
replace its source file keeping its page, publication and product cues.

Files go after commit, by a task (an S3 folder holds hundreds of segments): the original upload in
the default storage and the HLS folder (``cdn_prefix``) in the "recordings" storage. A replacement
transcodes into a new random folder, so no cache (the CDN's, a viewer's) can serve an old segment
under a new playlist; the old folder is deleted with the old original. Once a folder's files are
deleted the CDN is told to forget it (recordings.invalidation: CloudFront CreateInvalidation, a
task retried while CloudFront is busy), so no edge serves them to cookies still valid.
"""

from __future__ import annotations

import contextlib
import logging
import os

from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext

from accounts import permissions
from accounts.permissions import Action
from liveshop.tasks import enqueue_on_commit
from recordings import invalidation
from recordings.exceptions import InvalidUpload
from recordings.models import Recording, new_media_prefix, upload_path
from recordings.services.uploads import check_file

logger = logging.getLogger(__name__)

Status = Recording.Status
BUSY = (Status.PENDING, Status.PROCESSING)


@transaction.atomic
def delete_video(*, recording: Recording, by) -> None:
    """Delete an uploaded video in any state, with its cues (row locked); its files are deleted
    after commit (delete_video_files_task). A transcode still running on it stops at its next
    progress report and removes what it stored. PermissionDenied unless ``by`` may edit the
    brand's recordings; InvalidUpload for an event's recording."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if not recording.is_upload:
        raise InvalidUpload(gettext("Only uploaded videos can be deleted here."))
    upload, folder = recording.upload.name, recording.cdn_prefix
    recording.delete()
    enqueue_on_commit("recordings.tasks.delete_video_files_task", upload, folder)
    logger.info("Video deleted", extra={"recording": recording.pk, "by": getattr(by, "pk", None)})


def replace_source(*, recording: Recording, file, by) -> Recording:
    """Check ``file`` as an upload and make it the video's source: the video goes back to pending
    (its page shows "processing" until the new version is ready) with a new folder for its HLS,
    its title, slug, publication and cues kept; the transcode is queued and the old files deleted
    after commit. InvalidUpload (nothing stored) for a bad file or a video still processing."""
    permissions.require(by, Action.EDIT_RECORDING, recording)
    if not recording.is_upload:
        raise InvalidUpload(gettext("Only an uploaded video's file can be replaced."))
    check_file(file)
    storage = Recording._meta.get_field("upload").storage
    name = storage.save(upload_path(recording, get_valid_filename(file.name)), file)
    try:
        return _point_at_new_source(recording, upload=name, size=file.size)
    except BaseException:
        storage.delete(name)
        raise


@transaction.atomic
def _point_at_new_source(recording: Recording, *, upload: str, size: int) -> Recording:
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.status in BUSY:
        raise InvalidUpload(
            gettext("This video is still being processed; replace it once that has finished.")
        )
    old_upload, old_folder = recording.upload.name, recording.cdn_prefix
    recording.upload.name, recording.upload_size = upload, size
    recording.cdn_prefix = new_media_prefix(private=True)
    recording.status, recording.progress, recording.attempts = Status.PENDING, 0, 0
    recording.failure_reason = ""
    recording.master_path, recording.renditions, recording.thumbnails = "", [], []
    fields = ["upload", "upload_size", "cdn_prefix", "status", "progress", "attempts", "failure_reason"]
    recording.save(update_fields=[*fields, "master_path", "renditions", "thumbnails", "updated_at"])
    enqueue_on_commit("recordings.tasks.transcode_upload_task", recording.pk)
    enqueue_on_commit("recordings.tasks.delete_video_files_task", old_upload, old_folder)
    logger.info("Video source replaced", extra={"recording": recording.pk})
    return recording


def delete_video_files(*, upload: str, folder: str) -> int:
    """Delete an original upload (default storage) and an HLS folder ("recordings" storage, every
    object under it); returns how many objects went. Idempotent: what is gone is skipped."""
    deleted = 0
    if upload:
        storages["default"].delete(upload)
        deleted += 1
    if folder.strip("/"):  # never the storage's root
        deleted += delete_folder(storages["recordings"], folder.strip("/"))
        enqueue_on_commit("recordings.tasks.invalidate_cdn_folder_task", folder.strip("/"))
    logger.info("Video files deleted", extra={"upload": upload, "folder": folder, "objects": deleted})
    return deleted


def invalidate_cdn_folder(*, folder: str) -> str:
    """Tell the CDN (LIVESHOP_CDN_BACKEND) to forget what it cached under a deleted folder of the
    "recordings" storage; returns its id for the request. Idempotent. CdnError (``transient``
    ones are worth retrying)."""
    return invalidation.get_cdn_backend().invalidate(invalidation.folder_paths(folder))


def delete_folder(storage: Storage, folder: str) -> int:
    """Delete every file under ``folder`` in ``storage`` (and, on disk, its emptied folders)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in files:
        storage.delete(f"{folder}/{name}")
    deleted = len(files) + sum(delete_folder(storage, f"{folder}/{sub}") for sub in folders)
    with contextlib.suppress(NotImplementedError, OSError):  # not on disk (S3, memory), or not empty
        os.rmdir(storage.path(folder))
    return deleted
