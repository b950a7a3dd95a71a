"""Errors the events services raise; each message is safe to show a host."""

from collections.abc import Iterable
from typing import NamedTuple

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


class EventError(Exception):
    pass


class ProductNotInBrand(EventError):
    pass


class ProductNotInLineup(EventError):
    pass


class ChannelUnavailable(EventError):
    """The video backend failed; the event keeps its previous state."""


class EventNotEditable(EventError):
    pass


class PublishRefused(EventError):
    """The local media server may not take this publish (wrong app, unknown key, event over)."""


class MalformedStreamEvent(EventError):
    """A stream-state event without the fields EventBridge always sends."""


class EventNotPrivate(EventError):
    """Invitations are for private events only (a public one is open to everyone)."""


class InviteLinkInvalid(EventError):
    """The invite link is unknown, revoked, expired or used up; the message says which."""


class StreamingError(Exception):
    """A pre-recorded show's video cannot be streamed or encoded (events.prerecorded); the message
    says why, to be shown as is, and holds no secret. Not an EventError: the streamer catches
    those from the services it calls."""


class SrtProblem(NamedTuple):
    """One problem with product cues: ``line`` in the SRT file (0: not from a file)."""

    line: int
    message: str

    def __str__(self) -> str:
        return (
            gettext("line %(line)s: %(problem)s") % {"line": self.line, "problem": self.message}
            if self.line
            else self.message
        )


class InvalidCues(EventError):
    """Product cues that cannot be saved; ``problems`` lists every one. Nothing was written."""

    summary = _("The product cues have problems; nothing was saved")

    def __init__(self, problems: Iterable[SrtProblem]):
        self.problems: list[SrtProblem] = sorted(problems, key=lambda problem: problem.line)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        listed = "\n".join(str(problem) for problem in self.problems)
        problems = ngettext("%(count)s problem", "%(count)s problems", count) % {"count": count}
        return f"{self.summary} ({problems}):\n{listed}"


class SrtImportError(InvalidCues, ValueError):
    """An SRT file of product cues is malformed or names products the brand does not have."""

    summary = _("The SRT file has problems; nothing was imported")
