"""A CDN that records what it was asked to forget (tests), and can be told to fail."""

from __future__ import annotations

from recordings.invalidation.base import CdnError


class FakeCdnBackend:
    def __init__(self):
        self.calls: list[list[str]] = []
        self.failures: list[CdnError] = []  # raised one per call, first first

    def invalidate(self, paths: list[str]) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.calls.append(list(paths))
        return f"FAKE{len(self.calls)}"
