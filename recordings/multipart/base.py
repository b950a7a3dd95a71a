"""The part store: where a resumable upload's parts go until the whole file is in the default
storage. One small protocol, two backends: S3 multipart uploads with presigned ``UploadPart``
URLs (the browser sends each part straight to the bucket) and a folder on the web server's disk
that our own PUT view writes into (the demo, CI). The page speaks the same protocol to both: ask
which parts are missing and where to PUT them, PUT them, complete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

# S3: every part but the last at least 5 MiB, at most 10,000 parts.
S3_MIN_PART_BYTES = 5 * 1024**2
MAX_PARTS = 10_000


class PartStoreError(Exception):
    """The store failed (unreachable, refused); the message says so in a sentence."""


class UploadGone(PartStoreError):
    """The store no longer knows the upload (completed, aborted, or expired)."""


@dataclass(frozen=True)
class Part:
    """A part the store holds: its number (from 1) and size in bytes."""

    number: int
    size: int


class PartStore(Protocol):
    min_part_bytes: int  # every part but the last at least this large

    def start(self, *, key: str, name: str, size: int, content_type: str) -> str:
        """Begin an upload of ``size`` bytes to ``name`` in the default storage; returns the
        store's id for it. ``key`` is the upload's own id (the local store's URLs use it)."""

    def part_url(self, *, key: str, name: str, store_id: str, number: int, size: int) -> str:
        """Where the browser PUTs part ``number`` of exactly ``size`` bytes."""

    def parts(self, *, name: str, store_id: str) -> list[Part]:
        """The parts that have arrived whole, by number. UploadGone when the store forgot it."""

    def complete(self, *, name: str, store_id: str, count: int) -> None:
        """Join parts 1..``count`` into ``name`` in the default storage (the caller has checked
        that all are there with their sizes). UploadGone when the store forgot it."""

    def abort(self, *, name: str, store_id: str) -> None:
        """Throw the parts away. Idempotent."""


class WritablePartStore(PartStore, Protocol):
    """A store whose part URLs are our own server's: it writes what that view receives."""

    def write_part(self, *, store_id: str, number: int, offset: int, size: int, body: BinaryIO) -> None:
        """Write part ``number`` (``size`` bytes from ``body``) at ``offset``; it counts as
        arrived only once all of it is written. PartStoreError when the body ends early."""
