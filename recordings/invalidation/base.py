"""The CDN gateway: tell the CDN in front of the "recordings" storage to forget what it cached of
a folder whose files were deleted (a deleted video, a replaced video's old version), so no edge
keeps serving them until their max-age runs out. CloudFront (CreateInvalidation) in production;
the local default does nothing (nothing caches Django's media); the fake records calls."""

from __future__ import annotations

from typing import Protocol


class CdnError(Exception):
    """The CDN refused or could not be reached. ``transient`` errors pass when tried again."""

    transient = False


class CdnThrottled(CdnError):
    """Too many invalidations at once (CloudFront allows 15 wildcard paths in progress), or a
    throttled call: try again later."""

    transient = True


class CdnBackend(Protocol):
    def invalidate(self, paths: list[str]) -> str:
        """Forget the cached copies of ``paths`` (``/recordings/private/<key>/*``; a trailing ``*``
        covers a folder). Returns the CDN's id for the request ("" when there is none).
        Idempotent: the same paths again are the same request."""
