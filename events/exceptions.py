"""Errors the events services raise; each message is safe to show a host."""


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
