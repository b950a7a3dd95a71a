"""S3 helpers that django-storages lacks: listing with size and ETag, reading a small object, and
server-side copying of many objects at once (CopyObject; the bytes never pass through Liveshop).

Every SDK error leaves this module as a ``StorageError`` subclass that says what was being done,
so callers can tell a denied request (permanent) from an unavailable service (retry later).
The boto3 client is thread-safe once built; ``copy_objects`` shares one across its threads.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings
from django.core.files.storage import storages

logger = logging.getLogger(__name__)

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
HLS_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
    ".aac": "audio/aac",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".json": "application/json",
}
# A playlist or a metadata file is a few MB at most; anything larger is not what was expected.
MAX_READ_BYTES = 32 * 1024 * 1024


class StorageError(Exception):
    """An S3 request failed; the message names the request and S3's error code."""

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code


class ObjectNotFound(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class StorageUnavailable(StorageError):
    """Throttling, a 5xx or a network error: worth retrying later."""


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str  # as S3 lists it, quotes stripped


@dataclass(frozen=True)
class CopyItem:
    source: S3Object
    key: str  # destination key
    params: dict  # extra CopyObject parameters (ContentType, CacheControl, ...)


@dataclass(frozen=True)
class CopyProgress:
    done: int  # objects copied so far in this call
    total: int  # objects this call copies
    bytes_done: int
    bytes_total: int
    elapsed: float  # seconds


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


def storage_location(alias: str) -> tuple[str, str]:
    """The bucket and key prefix behind ``storages[alias]`` (an S3Storage), so that objects copied
    to ``<prefix>/<name>`` are served by ``storages[alias].url(name)``. Any other storage (the
    in-memory one of tests, local files): AWS_RECORDINGS_BUCKET_NAME and no prefix."""
    storage = storages[alias]
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        return bucket, (getattr(storage, "location", "") or "").strip("/")
    return settings.AWS_RECORDINGS_BUCKET_NAME, ""


def join_key(*parts: str) -> str:
    """``parts`` joined with "/", empty parts and stray slashes left out."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def content_type(key: str) -> str:
    """The Content-Type to serve ``key`` with (HLS types first: mimetypes does not know them all)."""
    extension = posixpath.splitext(key)[1].lower()
    return HLS_TYPES.get(extension) or mimetypes.guess_type(key)[0] or "binary/octet-stream"


def _error(exc: Exception, action: str) -> StorageError:
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
        raise _error(exc, action) from exc


def list_objects(client, *, bucket: str, prefix: str) -> Iterator[S3Object]:
    """Every object under ``prefix`` (ListObjectsV2, 1,000 a page), with size and ETag."""
    action = f"Listing s3://{bucket}/{prefix}"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for item in page.get("Contents", ()):
                yield S3Object(key=item["Key"], size=item["Size"], etag=item.get("ETag", "").strip('"'))
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc, action) from exc


def list_folders(client, *, bucket: str, prefix: str) -> Iterator[str]:
    """The "folders" directly under ``prefix`` (which ends with "/"), each ending with "/"."""
    action = f"Listing s3://{bucket}/{prefix}"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    try:
        for page in pages:
            for item in page.get("CommonPrefixes", ()):
                yield item["Prefix"]
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc, action) from exc


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
        raise _error(exc, action) from exc


def same_object(source: S3Object, existing: S3Object | None) -> bool:
    """Is ``existing`` a finished copy of ``source``? Size and ETag match. A multipart ETag
    ("<md5>-<parts>") cannot survive a single-request CopyObject, so those compare by size."""
    if existing is None or existing.size != source.size:
        return False
    return "-" in source.etag or existing.etag == source.etag


def copy_objects(
    client,
    *,
    source_bucket: str,
    bucket: str,
    items: Iterable[CopyItem],
    concurrency: int,
    progress: Callable[[CopyProgress], None] | None = None,
) -> tuple[int, int]:
    """Server-side copy of every item (CopyObject), ``concurrency`` requests at a time. Returns
    (objects, bytes) copied. Stops at the first failure: nothing more starts, requests already
    running finish (their objects are complete), and that failure is raised as a StorageError."""
    items = list(items)
    total, bytes_total = len(items), sum(item.source.size for item in items)
    done = bytes_done = 0
    started = time.monotonic()

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

    def report() -> None:
        if progress is not None:
            progress(CopyProgress(done, total, bytes_done, bytes_total, time.monotonic() - started))

    report()
    # A bounded window of submitted copies rather than all of them: a failure then leaves at
    # most ``concurrency`` queued requests to cancel, and memory stays flat for 30,000 objects.
    pending: set[Future] = set()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="s3-copy") as pool:
        try:
            for item in items:
                if len(pending) >= 2 * concurrency:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        bytes_done += future.result()
                        done += 1
                    report()
                pending.add(pool.submit(copy, item))
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    bytes_done += future.result()
                    done += 1
                report()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return done, bytes_done
