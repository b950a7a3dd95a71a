"""Parts on the web server's disk (LIVESHOP_UPLOAD_PARTS_DIR), for the demo and CI: one file of
the upload's size that each part is written into at its offset, and a marker per part written
whole (so a part cut off by a dropped connection is sent again). Completing moves the file into
the default storage (a rename with FileSystemStorage)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import storages
from django.urls import reverse

from recordings.multipart.base import Part, PartStoreError, UploadGone

COPY_CHUNK = 1024 * 1024


class _WholeFile(File):
    """The joined file, with a path: FileSystemStorage moves it instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.name


class DirectoryPartStore:
    min_part_bytes = 1

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _folder(self, store_id: str) -> Path:
        if not store_id or "/" in store_id or store_id.startswith("."):
            raise UploadGone("This upload is not known.")
        return self.root / store_id

    def start(self, *, key: str, name: str, size: int, content_type: str) -> str:
        folder = self._folder(key)
        (folder / "parts").mkdir(parents=True, exist_ok=True)
        with open(folder / "data", "wb") as data:
            data.truncate(size)  # sparse: the parts fill it in any order
        return key

    def part_url(self, *, key: str, name: str, store_id: str, number: int, size: int) -> str:
        return reverse("videos:upload-part", args=[key, number])

    def write_part(self, *, store_id: str, number: int, offset: int, size: int, body: BinaryIO) -> None:
        folder = self._folder(store_id)
        marker = folder / "parts" / str(number)
        try:
            with open(folder / "data", "r+b") as data:
                data.seek(offset)
                written = _copy(body, data, size)
                data.flush()
                os.fsync(data.fileno())
        except FileNotFoundError:
            raise UploadGone("This upload is not known.") from None
        if written != size:
            raise PartStoreError(f"Part {number} ended after {written} of its {size} bytes; send it again.")
        marker.write_text(str(size))

    def parts(self, *, name: str, store_id: str) -> list[Part]:
        folder = self._folder(store_id) / "parts"
        if not folder.is_dir():
            raise UploadGone("This upload is not known.")
        found = [Part(int(p.name), int(p.read_text() or 0)) for p in folder.iterdir() if p.name.isdigit()]
        return sorted(found, key=lambda part: part.number)

    def complete(self, *, name: str, store_id: str, count: int) -> None:
        folder = self._folder(store_id)
        if not (folder / "data").is_file():
            raise UploadGone("This upload is not known.")
        with _WholeFile(open(folder / "data", "rb"), name=str(folder / "data")) as whole:
            saved = storages["default"].save(name, whole)
        if saved != name:  # the storage picked another name: the key is random, so never expected
            storages["default"].delete(saved)
            raise PartStoreError("The video could not be stored under its name; upload it again.")
        shutil.rmtree(folder, ignore_errors=True)

    def abort(self, *, name: str, store_id: str) -> None:
        shutil.rmtree(self._folder(store_id), ignore_errors=True)


def _copy(source: BinaryIO, target: BinaryIO, size: int) -> int:
    """Copy at most ``size`` bytes; returns how many came."""
    written = 0
    while written < size:
        chunk = source.read(min(COPY_CHUNK, size - written))
        if not chunk:
            break
        target.write(chunk)
        written += len(chunk)
    return written
