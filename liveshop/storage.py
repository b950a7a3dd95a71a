"""S3 helpers that django-storages lacks: listing with size and ETag, reading a small object, and
server-side copying of many objects at once (CopyObject; the bytes never pass through Liveshop).

Every SDK error leaves this module as a ``StorageError`` subclass that says what was being done,
so callers can tell a denied request (permanent) from an unavailable service (retry later).
The boto3 client is thread-safe once built; ``copy_objects`` shares one across its threads.

Ingestion reads and copies through a small ``ObjectStore`` interface (list with size and ETag,
read, open, copy in) with two implementations: ``S3Store`` (a bucket; S3 to S3 copies stay
server-side CopyObject) and ``DirectoryStore`` (a folder on disk: the local media server's
recordings, and the "recordings" storage when it is a FileSystemStorage), so one ingestion code
path serves IVS and the local media server.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import os
import posixpath
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

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
# A cancelled copy waits this long for the requests already running (their objects then count
# as copied) before it returns; how often the waiting thread looks at the cancellation.
CANCEL_GRACE = 2.0
POLL_SECONDS = 0.1


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


class CopyCancelled(StorageError):
    """The copy stopped because its Cancellation was set: ``done`` of ``total`` objects were
    copied, ``running`` copies were still under way when it gave up waiting for them."""

    def __init__(self, message: str, *, done: int, total: int, running: int = 0):
        super().__init__(message, code="Cancelled")
        self.done, self.total, self.running = done, total, running


class Cancellation(threading.Event):
    """Asks copies (``run_copies``) to stop: ``set()`` it from a signal handler or another
    thread. ``watchers`` counts the copies checking it now: when none is, setting it stops
    nothing by itself, and a signal handler must interrupt the main thread another way."""

    def __init__(self):
        super().__init__()
        self.watchers = 0


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


def run_copies(
    items: Iterable[CopyItem],
    copy: Callable[[CopyItem], int],
    *,
    concurrency: int,
    progress: Callable[[CopyProgress], None] | None = None,
    cancel: Cancellation | None = None,
) -> tuple[int, int]:
    """``copy(item)`` (which returns the bytes copied) for every item, ``concurrency`` at a time.
    Returns (objects, bytes) copied. Stops at the first failure: nothing more starts, copies
    already running finish, and that failure is raised.

    Stops soon after ``cancel`` is set (workers check it between objects), and on an exception
    that is not an error (KeyboardInterrupt) raised in this thread: nothing more starts, copies
    already running get CANCEL_GRACE seconds to finish (those that do are counted), then
    CopyCancelled (or that exception) is raised; a copy still running is left to finish on its
    own. The waiting thread only ever blocks on a SimpleQueue, never on a lock an exception from
    a signal handler could leave held."""
    items = list(items)
    total, bytes_total = len(items), sum(item.source.size for item in items)
    done = bytes_done = 0
    started = time.monotonic()
    stop = threading.Event()  # set: workers start nothing more
    results: queue.SimpleQueue = queue.SimpleQueue()  # (number, bytes or None if skipped, error)
    running: dict[int, Future] = {}

    def work(number: int, item: CopyItem) -> None:
        if stop.is_set() or (cancel is not None and cancel.is_set()):
            results.put((number, None, None))
            return
        try:
            results.put((number, copy(item), None))
        except BaseException as exc:  # handed to the waiting thread, raised there
            results.put((number, None, exc))

    def collect(timeout: float | None) -> bool:
        """Count one finished copy (raising its error); False when none finished in time."""
        nonlocal done, bytes_done
        try:
            number, size, error = results.get(timeout=timeout)
        except queue.Empty:
            return False
        running.pop(number, None)
        if error is not None:
            raise error
        if size is not None:
            done, bytes_done = done + 1, bytes_done + size
            report()
        return True

    def report() -> None:
        if progress is not None:
            progress(CopyProgress(done, total, bytes_done, bytes_total, time.monotonic() - started))

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise CopyCancelled(
                f"Cancelled with {total - done} of {total} objects not copied", done=done, total=total
            )

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="object-copy")
    if cancel is not None:
        cancel.watchers += 1
    try:
        report()
        # A bounded window of submitted copies rather than all of them: a failure then leaves at
        # most ``2 * concurrency`` queued requests to cancel, and memory stays flat for 30,000.
        for number, item in enumerate(items):
            while len(running) >= 2 * concurrency:
                collect(POLL_SECONDS)
                check()
            check()
            running[number] = pool.submit(work, number, item)
        while running:
            collect(POLL_SECONDS)
            check()
    except BaseException as exc:
        stop.set()
        for number, future in list(running.items()):
            if future.cancel():
                del running[number]
        pool.shutdown(wait=False, cancel_futures=True)
        # An error: the copies already running finish. A cancellation: they get a short grace.
        grace = None if isinstance(exc, Exception) and not isinstance(exc, CopyCancelled) else CANCEL_GRACE
        deadline = None if grace is None else time.monotonic() + grace
        while running:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            with contextlib.suppress(Exception):  # the first exception is the one raised
                collect(left)
        if isinstance(exc, CopyCancelled):
            exc.done, exc.running = done, len(running)
        raise
    finally:
        if cancel is not None:
            cancel.watchers -= 1
    pool.shutdown(wait=True)
    return done, bytes_done


# Object stores ----------------------------------------------------------------------------------


class ObjectStore(Protocol):
    """Objects by key (``/``-separated), as ingestion needs them from a source and a destination."""

    def url(self, key: str) -> str:
        """Where ``key`` is, for messages (``s3://bucket/key``, a file path)."""

    def list(self, prefix: str) -> Iterator[S3Object]:
        """Every object whose key starts with ``prefix``, with its size and ETag (MD5)."""

    def read(self, key: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """A small object's body; ObjectNotFound when it is missing."""

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object (the caller closes it)."""

    def copy_in(
        self,
        source: ObjectStore,
        items: Iterable[CopyItem],
        *,
        concurrency: int,
        progress: Callable[[CopyProgress], None] | None = None,
        cancel: Cancellation | None = None,
    ) -> tuple[int, int]:
        """Copy each item from ``source`` into this store; (objects, bytes) as copy_objects, which
        also says how a failure or ``cancel`` stops it."""


class S3Store:
    """A bucket. Copies from another bucket are server-side (CopyObject); from anywhere else
    they are uploads (PutObject) with the same Content-Type and Cache-Control."""

    def __init__(self, client, bucket: str):
        self.client, self.bucket = client, bucket

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list(self, prefix: str) -> Iterator[S3Object]:
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


class DirectoryStore:
    """A folder on disk; keys are paths relative to it. An object is written under a temporary
    name and renamed into place, so a key never holds half a file. ETags are MD5s, as S3's for
    objects uploaded in one part."""

    PARTIAL = ".partial"

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def url(self, key: str) -> str:
        return str(self.root / key) if key else f"{self.root}/"

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if key.startswith("/") or ".." in parts:
            raise StorageError(f"{key!r} is not a key inside {self.root}", code="InvalidKey")
        return self.root.joinpath(*[p for p in parts if p])

    def list(self, prefix: str) -> Iterator[S3Object]:
        """As S3 lists: nothing (not an error) when the folder or the root is missing."""
        folder = prefix.rpartition("/")[0]
        try:
            yield from self._walk(self.path(folder) if folder else self.root, folder, prefix)
        except OSError as exc:
            raise _os_error(exc, f"Listing {self.url(prefix)}") from exc

    def _walk(self, directory: Path, relative: str, prefix: str) -> Iterator[S3Object]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            key = f"{relative}/{entry.name}" if relative else entry.name
            if entry.name.startswith(".") or entry.name.endswith(self.PARTIAL):
                continue
            if entry.is_dir(follow_symlinks=False):
                if key.startswith(prefix) or prefix.startswith(f"{key}/"):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif entry.is_file() and key.startswith(prefix):
                yield S3Object(key=key, size=entry.stat().st_size, etag=_md5(entry.path))

    def read(self, key: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
        with self.open(key) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise StorageError(f"Reading {self.url(key)}: more than {max_bytes} bytes, more than expected")
        return data

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not self.root.is_dir():
                raise ObjectNotFound(f"{self.root} does not exist", code="NoSuchBucket") from exc
            raise _os_error(exc, f"Reading {self.url(key)}") from exc

    def copy_in(self, source, items, *, concurrency, progress=None, cancel=None) -> tuple[int, int]:
        def copy(item: CopyItem) -> int:
            target = self.path(item.key)
            action = f"Copying {source.url(item.source.key)} to {target}"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with (
                    source.open(item.source.key) as body,
                    tempfile.NamedTemporaryFile(
                        dir=target.parent, prefix=f".{target.name}.", suffix=self.PARTIAL, delete=False
                    ) as out,
                ):
                    try:
                        shutil.copyfileobj(body, out, 1024 * 1024)
                    except BaseException:
                        os.unlink(out.name)
                        raise
                os.chmod(out.name, 0o644)  # served as media files: readable like any upload
                os.replace(out.name, target)
            except OSError as exc:
                raise _os_error(exc, action) from exc
            return item.source.size

        # Disk, not network: a few threads keep it busy.
        return run_copies(items, copy, concurrency=min(concurrency, 4), progress=progress, cancel=cancel)


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _os_error(exc: OSError, action: str) -> StorageError:
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return ObjectNotFound(f"{action}: {reason}", code="NoSuchKey")
    if isinstance(exc, PermissionError):
        return AccessDenied(f"{action}: {reason}", code="PermissionDenied")
    return StorageError(f"{action}: {reason}", code=type(exc).__name__)


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
