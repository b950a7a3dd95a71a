"""Where ingestion reads from and how store errors read: the ingest mode, the local recordings
folder or an IVS bucket, and objectstore errors as RecordingErrors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings

from liveshop import objectstore
from liveshop.objectstore import ObjectStore
from recordings import exceptions

# The "bucket" of recordings from the local media server: the folder local_recordings_root().
# (Not a bucket IVS could record into: Liveshop's is named by IVS_RECORDINGS_BUCKET_NAME.)
LOCAL_SOURCE = "local"
# RECORDINGS_INGEST_MODE's values.
COPY, REFERENCE = "copy", "reference"


def ingest_mode(bucket: str) -> str:
    """COPY or REFERENCE for a recording in ``bucket``: RECORDINGS_INGEST_MODE, but the local
    media server's recordings (LOCAL_SOURCE) are always copied. RecordingsNotConfigured for an
    unknown mode (before any row or S3 request)."""
    mode = (settings.RECORDINGS_INGEST_MODE or COPY).strip().lower()
    if mode not in (COPY, REFERENCE):
        raise exceptions.RecordingsNotConfigured(
            f"LIVESHOP_RECORDINGS_INGEST_MODE must be {COPY} or {REFERENCE}, "
            f"not {settings.RECORDINGS_INGEST_MODE!r}"
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


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except objectstore.StorageError as exc:
        raise translated_error(exc) from None


def translated_error(exc: objectstore.StorageError) -> exceptions.RecordingError:
    if isinstance(exc, objectstore.AccessDenied):
        return exceptions.StorageAccessDenied(f"{exc} (check the IAM and bucket policies)")
    if isinstance(exc, objectstore.StorageUnavailable):
        return exceptions.StorageUnavailable(str(exc))
    if isinstance(exc, objectstore.ObjectNotFound):
        return exceptions.RecordingIncomplete(str(exc))
    return exceptions.RecordingError(str(exc))
