"""Why a browser may not go live (each carries the socket close code the page reads)."""

from __future__ import annotations


class PublishRefused(Exception):
    """The browser may not publish: ``code`` is the websocket close code, ``str()`` the sentence
    the console shows."""

    code = 4400

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class NotAllowed(PublishRefused):
    code = 4403


class EventNotFound(PublishRefused):
    code = 4404


class AlreadyPublishing(PublishRefused):
    code = 4409


class WrongVideoBackend(PublishRefused):
    code = 4422
