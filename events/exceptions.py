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


class MalformedStreamEvent(EventError):
    """A stream-state event without the fields EventBridge always sends."""
