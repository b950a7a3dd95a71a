"""The S3 backend: listing with size and ETag, reading a small object, and server-side copying of
many objects at once (CopyObject; the bytes never pass through Liveshop). Every SDK error leaves
this module as a ``StorageError`` that says what was being done. The boto3 client is thread-safe
once built; ``copy_objects`` shares one across its threads. The only module that builds an "s3"
client (django-storages builds its own for serving).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

from liveshop.objectstore.base import (
    MAX_READ_BYTES,
    AccessDenied,
    Cancellation,
    CopyItem,
    CopyProgress,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    StoredObject,
)
from liveshop.objectstore.copying import run_copies

NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AccountProblem",
}
UNAVAILABLE = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "500",
    "503",
}


def s3_client(*, max_pool_connections: int = 10):
    """A new boto3 S3 client (AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL when set). Its own session,
    because boto3's default session is not thread-safe; size the pool to the threads using it."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max_pool_connections,
        connect_timeout=5,
        read_timeout=60,
        user_agent_extra="liveshop",
    )
    return boto3.session.Session().client(
        "s3",
        region_name=settings.AWS_S3_REGION_NAME,
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        config=config,
    )


def storage_error(exc: Exception, action: str) -> StorageError:
    """The StorageError kind for an SDK error: missing, denied, unavailable (retry) or other."""
    if isinstance(exc, NoCredentialsError):
        return AccessDenied(f"{action}: no AWS credentials found", code="NoCredentials")
    if isinstance(exc, BotoCoreError):  # connection refused or reset, timeouts
        return StorageUnavailable(f"{action}: {exc}", code=type(exc).__name__)
    error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
    code = str(error.get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if error else None
    message = f"{action}: {code or 'error'}" + (f" ({error['Message']})" if error.get("Message") else "")
    if code in NOT_FOUND or status == 404:
        return ObjectNotFound(message, code=code)
    if code in DENIED or status == 403:
        return AccessDenied(message, code=code)
    if code in UNAVAILABLE or (status or 0) >= 500:
        return StorageUnavailable(message, code=code)
    return StorageError(message, code=code)


def _call(action: str, operation: Callable, **params):
    try:
        return operation(**params)
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def list_objects(client, *, bucket: str, prefix: str) -> Iterator[StoredObject]:
    """Every object under ``prefix`` (ListObjectsV2, 1,000 a page), with size and ETag."""
    action = f"Listing s3://{bucket}/{prefix}"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for item in page.get("Contents", ()):
                yield StoredObject(key=item["Key"], size=item["Size"], etag=item.get("ETag", "").strip('"'))
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def list_folders(client, *, bucket: str, prefix: str) -> Iterator[str]:
    """The "folders" directly under ``prefix`` (which ends with "/"), each ending with "/"."""
    action = f"Listing s3://{bucket}/{prefix}"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    try:
        for page in pages:
            for item in page.get("CommonPrefixes", ()):
                yield item["Prefix"]
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def read_object(client, *, bucket: str, key: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The body of a small object; ObjectNotFound when it is missing."""
    action = f"Reading s3://{bucket}/{key}"
    response = _call(action, client.get_object, Bucket=bucket, Key=key)
    if response.get("ContentLength", 0) > max_bytes:
        response["Body"].close()
        raise StorageError(f"{action}: {response['ContentLength']} bytes, more than expected")
    try:
        return response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def copy_objects(
    client,
    *,
    source_bucket: str,
    bucket: str,
    items: Iterable[CopyItem],
    concurrency: int,
    progress: Callable[[CopyProgress], None] | None = None,
    cancel: Cancellation | None = None,
) -> tuple[int, int]:
    """Server-side copy of every item (CopyObject), ``concurrency`` requests at a time. Returns
    (objects, bytes) copied. Stops at the first failure: nothing more starts, requests already
    running finish (their objects are complete), and that failure is raised as a StorageError.
    Stops soon after ``cancel`` is set, raising CopyCancelled (see run_copies)."""

    def copy(item: CopyItem) -> int:
        _call(
            f"Copying s3://{source_bucket}/{item.source.key} to s3://{bucket}/{item.key}",
            client.copy_object,
            Bucket=bucket,
            Key=item.key,
            CopySource={"Bucket": source_bucket, "Key": item.source.key},
            **item.params,
        )
        return item.source.size

    return run_copies(items, copy, concurrency=concurrency, progress=progress, cancel=cancel)


class S3Store:
    """A bucket. Copies from another bucket are server-side (CopyObject); from anywhere else
    they are uploads (PutObject) with the same Content-Type and Cache-Control."""

    def __init__(self, client, bucket: str):
        self.client, self.bucket = client, bucket

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list(self, prefix: str) -> Iterator[StoredObject]:
        return list_objects(self.client, bucket=self.bucket, prefix=prefix)

    def read(self, key: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
        return read_object(self.client, bucket=self.bucket, key=key, max_bytes=max_bytes)

    def open(self, key: str) -> BinaryIO:
        return _call(f"Reading {self.url(key)}", self.client.get_object, Bucket=self.bucket, Key=key)["Body"]

    def copy_in(self, source, items, *, concurrency, progress=None, cancel=None) -> tuple[int, int]:
        if isinstance(source, S3Store):
            return copy_objects(
                self.client,
                source_bucket=source.bucket,
                bucket=self.bucket,
                items=items,
                concurrency=concurrency,
                progress=progress,
                cancel=cancel,
            )

        def upload(item: CopyItem) -> int:
            params = {k: v for k, v in item.params.items() if k != "MetadataDirective"}
            with source.open(item.source.key) as body:
                action = f"Uploading {source.url(item.source.key)} to {self.url(item.key)}"
                _call(action, self.client.put_object, Bucket=self.bucket, Key=item.key, Body=body, **params)
            return item.source.size

        return run_copies(items, upload, concurrency=concurrency, progress=progress, cancel=cancel)
