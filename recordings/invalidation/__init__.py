"""The CDN gateway (recordings.invalidation.base): ``get_cdn_backend()`` returns the backend named
by LIVESHOP_CDN_BACKEND (``local``, ``cloudfront``, ``fake``); ``folder_paths`` names a "recordings"
storage folder as the CDN sees it."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.files.storage import storages
from django.utils.module_loading import import_string

from recordings.invalidation.base import CdnBackend, CdnError, CdnThrottled

BACKENDS = {
    "local": "recordings.invalidation.local.LocalCdnBackend",
    "cloudfront": "recordings.invalidation.cloudfront.CloudFrontCdnBackend",
    "fake": "recordings.invalidation.fake.FakeCdnBackend",
}

__all__ = ["CdnBackend", "CdnError", "CdnThrottled", "folder_paths", "get_cdn_backend"]


@functools.cache
def _backend(name: str) -> CdnBackend:
    try:
        path = BACKENDS[name]
    except KeyError:
        raise CdnError(f"LIVESHOP_CDN_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}.") from None
    return import_string(path)()


def get_cdn_backend() -> CdnBackend:
    """The backend LIVESHOP_CDN_BACKEND names, built once per name (``_backend.cache_clear()`` forgets)."""
    return _backend(settings.LIVESHOP_CDN_BACKEND)


def folder_paths(folder: str) -> list[str]:
    """The CDN paths of everything under ``folder`` of the "recordings" storage: its objects'
    keys (the storage's location first) with a wildcard, e.g. ``/recordings/private/<key>/*``."""
    location = (getattr(storages["recordings"], "location", "") or "").strip("/")
    if not hasattr(storages["recordings"], "bucket_name"):
        location = ""  # on disk, the location is a folder of this machine, not part of any URL
    key = "/".join(part for part in (location, folder.strip("/")) if part)
    return [f"/{key}/*"]
