"""Django's HTTP side under ASGI with one thread hop per request.

Django's own ASGI handler runs the middleware chain in async mode: every sync middleware
(``MiddlewareMixin``: security, whitenoise, CSP, session, common, CSRF, auth, messages,
clickjacking) then crosses to the request's executor thread for its ``process_request``, again
for its ``process_response``, once more for CSRF's ``process_view``, and the sync view once more:
~17 hand-offs between the event loop and that thread per request, each a scheduling point where a
busy machine adds its delay (the host console's click paid ~10 ms before its view started).
Every middleware and view of this project is sync, so this handler builds the chain in sync mode,
as under WSGI, and runs chain and view in one ``sync_to_async`` call (thread-sensitive: the same
per-request thread, so the request's database connection is the one the request-finished signal
releases). Reading the body and sending the response stay async. An async view would still work
(Django adapts it back onto the event loop), at the cost of two hand-offs.

Django's handler reads the whole request body before any middleware or view runs, so a view
cannot refuse a 2 GB upload before it has arrived. A body whose ``Content-Length`` is larger than
any view accepts (LIVESHOP_MAX_UPLOAD_BYTES and a form's envelope) is therefore withheld: the
request reaches Django with an empty body and its Content-Length, the upload views answer 413
with the reason, and the server never reads (nor asks for, with ``Expect: 100-continue``) a byte.
A view that reads a smaller body declares it (``max_body_bytes``: a resumable upload's part), and
a larger one is withheld the same way.

At most LIVESHOP_MAX_CONCURRENT_REQUESTS requests are inside Django at once (default: the
database pool's size). Django gives each request a thread of its own, so a burst of 1,000 buyers
started ~700 threads that fought over 10 pooled connections and mostly got the pool's 503 after
its 5 s wait (bench/checkout.py). Waiting requests now queue on the event loop, holding no thread
and no connection, and are served in arrival order; one that waits longer than
LIVESHOP_REQUEST_QUEUE_TIMEOUT gets a 503 with Retry-After. Websockets never queue here.
"""

from __future__ import annotations

import asyncio
import weakref

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.urls import Resolver404, resolve

BUSY_RETRY_AFTER_SECONDS = 2


class OneHopASGIHandler(ASGIHandler):
    """``ASGIHandler`` with the middleware chain loaded in sync mode and run in one hop."""

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._slots = weakref.WeakKeyDictionary()  # one semaphore per event loop (tests run several)

    async def get_response_async(self, request):
        slots = self._slots_for(asyncio.get_running_loop())
        try:
            async with asyncio.timeout(settings.LIVESHOP_REQUEST_QUEUE_TIMEOUT):
                await slots.acquire()
        except TimeoutError:
            return busy()
        try:
            return await sync_to_async(self.get_response, thread_sensitive=True)(request)
        finally:
            slots.release()

    def _slots_for(self, loop) -> asyncio.Semaphore:
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(settings.LIVESHOP_MAX_CONCURRENT_REQUESTS)
        return slots

    async def handle(self, scope, receive, send):
        if body_too_large(scope):
            receive = withheld_body()
        return await super().handle(scope, receive, send)


def busy() -> HttpResponse:
    """The answer to a request that waited its whole turn: try again shortly."""
    response = HttpResponse(
        b"The server is busy. Try again in a moment.\n", status=503, content_type="text/plain"
    )
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


FORM_ENVELOPE_BYTES = 64 * 1024  # a multipart form's boundaries, headers and other fields


def max_body_bytes() -> int:
    """The largest request body Django reads: the largest upload in its form."""
    return settings.LIVESHOP_MAX_UPLOAD_BYTES + FORM_ENVELOPE_BYTES


def body_too_large(scope) -> bool:
    """Is the request's body larger than its view reads? A view may declare the largest body it
    reads (``max_body_bytes``, a callable on the view class: a resumable upload's part); such a
    view also gets no body of unknown length (chunked). Any other: the largest upload and its form."""
    limit = declared_body_limit(scope)
    if limit is None:
        return content_length(scope) > max_body_bytes()
    return not has_content_length(scope) or content_length(scope) > limit


def declared_body_limit(scope) -> int | None:
    if scope.get("method") in {"GET", "HEAD", "OPTIONS"}:
        return None
    path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
    try:
        match = resolve(path)
    except Resolver404:
        return None
    declared = getattr(getattr(match.func, "view_class", None), "max_body_bytes", None)
    return declared() if callable(declared) else None


def has_content_length(scope) -> bool:
    return any(name == b"content-length" and value.isdigit() for name, value in scope.get("headers", ()))


def content_length(scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def withheld_body():
    """An ASGI ``receive`` for a request whose body is not read: empty, then nothing (the
    handler's wait for a disconnect is cancelled when the response has gone)."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Future()  # never: cancelled with the request

    return receive


def get_asgi_application() -> OneHopASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``: set Django up, return the HTTP app."""
    django.setup(set_prefix=False)
    return OneHopASGIHandler()
