"""Resumable uploads' part store (recordings.multipart.base): S3 multipart when the default
storage is S3, else a folder on disk (LIVESHOP_UPLOAD_PARTS_DIR). Chosen at call time, as
Django's get_connection() does, so tests that switch storages get the matching store."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages

from recordings.multipart.base import (
    MAX_PARTS,
    S3_MIN_PART_BYTES,
    Part,
    PartStore,
    PartStoreError,
    UploadGone,
    WritablePartStore,
)

__all__ = [
    "MAX_PARTS",
    "S3_MIN_PART_BYTES",
    "Part",
    "PartStore",
    "PartStoreError",
    "UploadGone",
    "WritablePartStore",
    "get_part_store",
]


def get_part_store() -> PartStore:
    storage = storages["default"]
    if hasattr(storage, "bucket_name"):
        from recordings.multipart.s3 import S3PartStore

        return S3PartStore(storage)
    from recordings.multipart.local import DirectoryPartStore

    return DirectoryPartStore(settings.LIVESHOP_UPLOAD_PARTS_DIR)
