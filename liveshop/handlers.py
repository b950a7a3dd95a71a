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
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler


class OneHopASGIHandler(ASGIHandler):
    """``ASGIHandler`` with the middleware chain loaded in sync mode and run in one hop."""

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> OneHopASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``: set Django up, return the HTTP app."""
    django.setup(set_prefix=False)
    return OneHopASGIHandler()
