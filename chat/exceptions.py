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


class PollRefused(ChatError):
    """A poll was not opened or a vote not counted (bad question or answers, a second open poll,
    the show or poll over, a second vote); nothing was stored. ``status`` is the HTTP answer."""

    STATUS = {"sign_in": 401, "not_allowed": 403, "poll_open": 409, "poll_closed": 409, "already_voted": 409}

    @property
    def status(self) -> int:
        return self.STATUS.get(self.reason, 400)
