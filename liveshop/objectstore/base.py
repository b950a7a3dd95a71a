"""The object-store gateway's contract: what a store does (``ObjectStore``), what it returns
(frozen dataclasses), and the errors every backend raises (``StorageError`` and its kinds), so
callers tell a denied request (permanent) from an unavailable service (retry later) whatever the
backend. Backends: ``s3.S3Store`` (a bucket) and ``directory.DirectoryStore`` (a folder); the copy
engine they share is ``copying.run_copies``.
"""

from __future__ import annotations

import mimetypes
import posixpath
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

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
    """A store request failed; the message names the request and the error (S3's code, or the
    operating system's reason for a folder)."""

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
class StoredObject:
    """An object as a store lists it."""

    key: str
    size: int
    etag: str  # as S3 lists it, quotes stripped (a folder: the file's MD5)


@dataclass(frozen=True)
class CopyItem:
    source: StoredObject
    key: str  # destination key
    params: dict  # extra CopyObject parameters (ContentType, CacheControl, ...)


@dataclass(frozen=True)
class CopyProgress:
    done: int  # objects copied so far in this call
    total: int  # objects this call copies
    bytes_done: int
    bytes_total: int
    elapsed: float  # seconds


def join_key(*parts: str) -> str:
    """``parts`` joined with "/", empty parts and stray slashes left out."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def content_type(key: str) -> str:
    """The Content-Type to serve ``key`` with (HLS types first: mimetypes does not know them all)."""
    extension = posixpath.splitext(key)[1].lower()
    return HLS_TYPES.get(extension) or mimetypes.guess_type(key)[0] or "binary/octet-stream"


def same_object(source: StoredObject, existing: StoredObject | None) -> bool:
    """Is ``existing`` a finished copy of ``source``? Size and ETag match. A multipart ETag
    ("<md5>-<parts>") cannot survive a single-request CopyObject, so those compare by size."""
    if existing is None or existing.size != source.size:
        return False
    return "-" in source.etag or existing.etag == source.etag


class ObjectStore(Protocol):
    """Objects by key (``/``-separated), as ingestion needs them from a source and a destination."""

    def url(self, key: str) -> str:
        """Where ``key`` is, for messages (``s3://bucket/key``, a file path)."""

    def list(self, prefix: str) -> Iterator[StoredObject]:
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
        """Copy each item from ``source`` into this store; (objects, bytes) copied, as
        ``copying.run_copies``, which also says how a failure or ``cancel`` stops it."""
