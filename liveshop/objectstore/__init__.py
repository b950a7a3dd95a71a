"""The object-store gateway: what django-storages lacks for recordings (listing with size and
ETag, reading a small object, copying many objects, server-side between buckets), behind one
``ObjectStore`` interface with two backends: ``S3Store`` (a bucket) and ``DirectoryStore`` (a
folder: the local media server's recordings, or a FileSystemStorage). One ingestion code path then
serves IVS and the local media server. ``destination_store(alias, ...)`` gives the store behind a
``STORAGES`` alias; tests run the S3 backend against moto and the directory backend on tmp_path.

``s3_client`` is looked up on this package at call time (``objectstore.s3_client(...)``), so
tests and benchmarks can wrap it in one place.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from liveshop.objectstore.base import (
    HLS_TYPES,
    MAX_READ_BYTES,
    AccessDenied,
    Cancellation,
    CopyCancelled,
    CopyItem,
    CopyProgress,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    StoredObject,
    content_type,
    join_key,
    same_object,
)
from liveshop.objectstore.copying import CANCEL_GRACE, run_copies
from liveshop.objectstore.directory import DirectoryStore
from liveshop.objectstore.s3 import S3Store, copy_objects, list_folders, list_objects, read_object, s3_client

__all__ = [
    "CANCEL_GRACE",
    "HLS_TYPES",
    "MAX_READ_BYTES",
    "AccessDenied",
    "Cancellation",
    "CopyCancelled",
    "CopyItem",
    "CopyProgress",
    "DirectoryStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3Store",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "content_type",
    "copy_objects",
    "destination_store",
    "join_key",
    "list_folders",
    "list_objects",
    "read_object",
    "run_copies",
    "s3_client",
    "same_object",
    "storage_location",
]


def storage_location(alias: str) -> tuple[str, str]:
    """The bucket and key prefix behind ``storages[alias]`` (an S3Storage), so that objects copied
    to ``<prefix>/<name>`` are served by ``storages[alias].url(name)``. Any other storage (the
    in-memory one of tests, local files): AWS_RECORDINGS_BUCKET_NAME and no prefix."""
    storage = storages[alias]
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        return bucket, (getattr(storage, "location", "") or "").strip("/")
    return settings.AWS_RECORDINGS_BUCKET_NAME, ""


def destination_store(alias: str, s3_client: Callable[[], object]) -> tuple[ObjectStore | None, str]:
    """The store and key prefix behind ``storages[alias]``, so that objects copied to
    ``<prefix>/<name>`` are served by ``storages[alias].url(name)``: its bucket for an S3Storage,
    its folder for a FileSystemStorage; any other storage (the in-memory one of tests),
    AWS_RECORDINGS_BUCKET_NAME; None when there is none. ``s3_client()`` is called only for S3."""
    storage = storages[alias]
    if isinstance(storage, FileSystemStorage) and not getattr(storage, "bucket_name", None):
        return DirectoryStore(storage.location), ""
    bucket, prefix = storage_location(alias)
    if not bucket:
        return None, ""
    return S3Store(s3_client(), bucket), prefix
