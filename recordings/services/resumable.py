"""Resumable uploads: a video sent in parts that survives a dropped connection or a page reload.

The page starts an upload (type and total size checked before a byte is sent), asks which parts
have arrived and where to PUT the missing ones (recordings.multipart: presigned S3 ``UploadPart``
URLs, or our own PUT on disk), sends them, and completes: the parts are joined in the default
storage, the file is checked like any upload (type, size, ffprobe, duration) and becomes a pending
Recording whose transcode is queued after commit. A bad file is deleted with its upload; the page
is told why. Every step checks the brand permission (accounts.permissions), so a part, a status
or a completion for another brand's upload is refused."""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext

from accounts import permissions
from accounts.models import Organization
from accounts.permissions import Action
from recordings import multipart
from recordings.exceptions import InvalidUpload
from recordings.models import Recording, ResumableUpload, upload_path
from recordings.services import uploads

logger = logging.getLogger(__name__)

PARTS_PER_ANSWER = 20  # part URLs per status answer: presigned ones expire, so a few at a time
EXPIRE_AFTER = timedelta(days=7)  # as the bucket's AbortIncompleteMultipartUpload rule


@dataclass(frozen=True)
class UploadState:
    """What the page needs to go on: the parts that arrived and where to PUT the next missing ones."""

    upload: ResumableUpload
    received: list[int]
    next_parts: list[tuple[int, str]]

    @property
    def received_bytes(self) -> int:
        return sum(self.upload.part_bytes(n) for n in self.received)

    @property
    def is_complete(self) -> bool:
        return len(self.received) == self.upload.part_count


def part_size_for(size: int, *, minimum: int = 1) -> int:
    """LIVESHOP_UPLOAD_PART_BYTES, or more for a file that would need over 10,000 parts, and at
    least the store's smallest part (S3: 5 MiB)."""
    return max(settings.LIVESHOP_UPLOAD_PART_BYTES, math.ceil(size / multipart.MAX_PARTS), minimum)


def max_part_bytes() -> int:
    """The largest part any upload has: the part view reads no larger body."""
    return part_size_for(uploads.max_upload_bytes())


def start_resumable_upload(
    *, organization: Organization, title: str, filename: str, size: int, content_type: str, by
) -> ResumableUpload:
    """Check the file's name, type and size (InvalidUpload) and begin its upload in the part
    store. PermissionDenied unless ``by`` may edit the brand's recordings."""
    permissions.require(by, Action.EDIT_RECORDING, organization)
    uploads.check_file_meta(name=filename, size=size, content_type=content_type)
    store = multipart.get_part_store()
    upload = ResumableUpload(
        id=uuid.uuid4(), organization=organization, created_by=by, title=title.strip(),
        filename=filename, content_type=content_type, size=size,
        part_size=part_size_for(size, minimum=store.min_part_bytes),
        name=upload_path(Recording(organization=organization), get_valid_filename(filename)),
    )  # fmt: skip
    upload.full_clean(exclude=["store_id"])
    upload.store_id = _store_call(
        store.start, key=str(upload.pk), name=upload.name, size=size, content_type=content_type
    )
    try:
        upload.save(force_insert=True)
    except BaseException:
        store.abort(name=upload.name, store_id=upload.store_id)
        raise
    logger.info("Resumable upload started", extra={"upload": str(upload.pk), "size": size, "by": by.pk})
    return upload


def upload_state(*, upload: ResumableUpload) -> UploadState:
    """The parts that arrived (asked of the store: the truth after any drop) and URLs for the next
    PARTS_PER_ANSWER missing ones. InvalidUpload when the store forgot the upload."""
    store = multipart.get_part_store()
    try:
        parts = store.parts(name=upload.name, store_id=upload.store_id)
    except multipart.UploadGone:
        upload.delete()
        raise InvalidUpload(gettext("This upload has expired; upload the video again.")) from None
    except multipart.PartStoreError as exc:
        raise InvalidUpload(str(exc)) from None
    arrived = {
        p.number
        for p in parts
        if 1 <= p.number <= upload.part_count and p.size == upload.part_bytes(p.number)
    }
    missing = [n for n in range(1, upload.part_count + 1) if n not in arrived][:PARTS_PER_ANSWER]
    urls = [
        (n, _store_call(store.part_url, key=str(upload.pk), name=upload.name, store_id=upload.store_id,
                        number=n, size=upload.part_bytes(n)))
        for n in missing
    ]  # fmt: skip
    return UploadState(upload=upload, received=sorted(arrived), next_parts=urls)


def check_part(*, upload: ResumableUpload, number: int, length: int | None) -> None:
    """Before its body is read: part ``number`` exists and ``length`` is its exact size."""
    if not 1 <= number <= upload.part_count:
        raise InvalidUpload(
            gettext("This upload has parts 1 to %(count)s, not %(number)s.")
            % {"count": upload.part_count, "number": number}
        )
    expected = upload.part_bytes(number)
    if length != expected:
        raise InvalidUpload(
            gettext("Part %(number)s is %(expected)s bytes; this request says %(length)s.")
            % {"number": number, "expected": expected, "length": length}
        )


def receive_part(*, upload: ResumableUpload, number: int, length: int | None, body: BinaryIO) -> None:
    """Write part ``number`` to the disk store (check_part first). InvalidUpload when the store
    is S3 (parts go straight to the bucket) or the body ends early."""
    check_part(upload=upload, number=number, length=length)
    store = multipart.get_part_store()
    if not hasattr(store, "write_part"):
        raise InvalidUpload(gettext("Parts of this upload go straight to storage, not to this server."))
    offset = (number - 1) * upload.part_size
    _store_call(
        store.write_part, store_id=upload.store_id, number=number, offset=offset, size=length, body=body
    )


def complete_resumable_upload(*, upload: ResumableUpload, by) -> Recording:
    """Join the parts into the default storage, check the file as any upload and make it a
    pending Recording (transcode queued after commit); the upload row goes. InvalidUpload for
    missing parts (the upload stays: send them) or a bad file (deleted, with the upload)."""
    permissions.require(by, Action.EDIT_RECORDING, upload)
    state = upload_state(upload=upload)
    if not state.is_complete:
        missing = upload.part_count - len(state.received)
        raise InvalidUpload(
            gettext("%(missing)s of the %(count)s parts have not arrived yet; send them first.")
            % {"missing": missing, "count": upload.part_count}
        )
    store = multipart.get_part_store()
    _store_call(store.complete, name=upload.name, store_id=upload.store_id, count=upload.part_count)
    try:
        size = _check_stored(upload)
        return _create_recording(upload, size=size, by=by)
    except InvalidUpload:
        if not Recording.objects.filter(upload=upload.name).exists():  # not a second Complete's
            storages["default"].delete(upload.name)
        ResumableUpload.objects.filter(pk=upload.pk).delete()
        raise


def _check_stored(upload: ResumableUpload) -> int:
    storage = storages["default"]
    size = storage.size(upload.name)
    uploads.check_file_meta(name=upload.filename, size=size, content_type=upload.content_type)
    if size != upload.size:
        raise InvalidUpload(
            gettext("The file arrived with %(size)s bytes instead of %(expected)s; upload it again.")
            % {"size": size, "expected": upload.size}
        )
    with uploads.stored_copy(storage, upload.name) as path:
        uploads.probe_video(path, upload=str(upload.pk))
    return size


@transaction.atomic
def _create_recording(upload: ResumableUpload, *, size: int, by) -> Recording:
    if not ResumableUpload.objects.select_for_update().filter(pk=upload.pk).exists():
        raise InvalidUpload(gettext("This upload has already been added."))  # a second Complete meanwhile
    recording = Recording(
        organization=upload.organization, backend=Recording.Backend.UPLOAD, title=upload.title
    )
    recording.upload.name = upload.name
    recording = uploads.save_pending(recording, upload_size=size, by=by)
    upload.delete()
    return recording


def abort_resumable_upload(*, upload: ResumableUpload, by) -> None:
    """Give an upload up: its parts and row go. Idempotent in the store."""
    permissions.require(by, Action.EDIT_RECORDING, upload)
    _discard(upload)
    logger.info("Resumable upload abandoned", extra={"upload": str(upload.pk), "by": by.pk})


def expire_resumable_uploads(*, now=None) -> int:
    """Uploads started more than EXPIRE_AFTER ago and never completed: parts and rows go (the
    periodic job check calls this). Returns how many."""
    stale = ResumableUpload.objects.filter(created_at__lt=(now or timezone.now()) - EXPIRE_AFTER)
    count = 0
    for upload in stale.iterator():
        _discard(upload)
        count += 1
    return count


def _discard(upload: ResumableUpload) -> None:
    try:
        multipart.get_part_store().abort(name=upload.name, store_id=upload.store_id)
    except multipart.PartStoreError:
        logger.warning("Parts not thrown away", extra={"upload": str(upload.pk)}, exc_info=True)
    upload.delete()


def _store_call(method, **kwargs):
    """A part store call with its errors as sentences for the page (InvalidUpload)."""
    try:
        return method(**kwargs)
    except multipart.PartStoreError as exc:
        raise InvalidUpload(str(exc)) from None
