"""The directory backend: a folder on disk as an object store (the local media server's
recordings, and the "recordings" storage when it is a FileSystemStorage)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from liveshop.objectstore.base import (
    MAX_READ_BYTES,
    AccessDenied,
    CopyItem,
    ObjectNotFound,
    StorageError,
    StoredObject,
)
from liveshop.objectstore.copying import run_copies


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

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """As S3 lists: nothing (not an error) when the folder or the root is missing."""
        folder = prefix.rpartition("/")[0]
        try:
            yield from self._walk(self.path(folder) if folder else self.root, folder, prefix)
        except OSError as exc:
            raise _os_error(exc, f"Listing {self.url(prefix)}") from exc

    def _walk(self, directory: Path, relative: str, prefix: str) -> Iterator[StoredObject]:
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
                yield StoredObject(key=key, size=entry.stat().st_size, etag=_md5(entry.path))

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
