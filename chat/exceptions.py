"""Why chat refused something: ``reason`` is a stable code for pages and tests, the message is
safe to show to the person refused."""

from __future__ import annotations


class ChatError(Exception):
    """Base of chat's refusals."""

    reason = "invalid"

    def __init__(self, message: str, *, reason: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.retry_after = retry_after  # seconds until trying again may work, where that is known


class MessageRefused(ChatError):
    """A message was not posted (empty, too long, banned, timed out, rate limited, slow mode,
    blocked word, not signed in, not allowed to watch, closed); nothing was stored."""


class ModerationRefused(ChatError):
    """A moderation step cannot be done (its target is the brand's own, an unknown length)."""
