"""Websockets: viewers (``/ws/events/<id>/``) and host consoles (``/ws/studio/events/<id>/``).

Consumers only join and leave this process's hub (events.realtime.hub), which writes each
already-encoded message to their socket; they handle no per-message dispatch and use no channel
layer. On connect and on every hub reconnect a socket gets a fresh snapshot first.

A viewer of a public event joins with no database, session or Redis work at all: the connect
limit is counted in the process (liveshop.ratelimit), the snapshot is the event's shared one
(events.snapshot_cache) and the watch rule asks nothing of the user. The user is read from the
session cookie only when something needs it (a private event, a host console), in a database
thread, once per socket."""

from __future__ import annotations

import json
import logging
import time
from importlib import import_module
from types import SimpleNamespace

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils import translation

from accounts.permissions import may_watch
from events import extensions, snapshot_cache
from events.realtime import event_group_name, studio_group_name
from events.realtime.hub import get_hub
from events.realtime.uvicorn_fast_path import FrameWriter, frame_writer
from events.selectors import event_state_snapshot, studio_snapshot
from liveshop.i18n import language_of_scope

CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the page reconnects with backoff
RESYNCS_PER_MINUTE = 6  # a client's own "resync" requests; more is abuse, not a lost frame
ANONYMOUS = AnonymousUser()

logger = logging.getLogger(__name__)


def client_ip(scope) -> str:
    client = scope.get("client") or ("unknown", 0)
    return client[0]


def session_user(scope):
    """The user of the socket's session cookie (AnonymousUser without one), as Django's
    AuthenticationMiddleware finds it: the session's user id, backend and auth hash. Sync:
    call it in a database thread."""
    from django.contrib.auth import get_user

    headers = dict(scope.get("headers") or ())
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return ANONYMOUS
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    return get_user(SimpleNamespace(session=session))


class HubConsumer(AsyncWebsocketConsumer):
    """A socket fed by the hub. Frames arriving before the snapshot is sent wait behind it,
    so a client never applies a snapshot older than a message it already has."""

    channel_layer = None  # delivery is the hub's, not a channel-layer group
    groups = ()
    topic = ""
    write_frame: FrameWriter | None = None  # the hub's fast path, set once frames go out
    after_snapshot: list[str] | tuple = ()  # frames sent right after each snapshot (chat's state)
    _frame_writer: FrameWriter | None = None

    async def __call__(self, scope, receive, send):
        """Channels' consumer loop for a consumer without a channel layer: each message is
        received and handled in place, with no task per socket waiting on ``receive``."""
        self.scope = scope
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a thread hop per
        # frame; every database read here runs in database_sync_to_async, which does it anyway.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message):
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self):
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        self._pending: list[str] | None = []
        hub = get_hub()
        limit, window = settings.LIVESHOP_WS_CONNECT_LIMIT, settings.LIVESHOP_WS_CONNECT_WINDOW
        if not await hub.allow_connection(client_ip(self.scope), limit, window):
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        # Join first (frames wait in _pending), then read the snapshot: nothing falls between.
        self.topic = self.topic_for(self.event_id)
        await hub.join(self.topic, self)
        snapshot = await self.snapshot()
        if snapshot is None:
            await hub.leave(self.topic, self)
            self.topic = ""
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        self._frame_writer = frame_writer(self.base_send)
        await self.send_snapshot(snapshot)

    async def disconnect(self, code):
        if self.topic:
            await get_hub().leave(self.topic, self)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "resync":  # a client that suspects it missed something
            if self._resync_allowed():
                await self.resync()
            else:
                await self.close(code=CLOSE_RATE_LIMITED)
        elif text_data and text_data.startswith("{"):
            await self.receive_frame(text_data)

    async def receive_frame(self, text: str) -> None:
        """A JSON frame from the page (a feature's: chat); ignored unless a subclass handles it."""

    def _resync_allowed(self) -> bool:
        """At most RESYNCS_PER_MINUTE client resyncs per socket: each costs database reads."""
        now = time.monotonic()
        recent = [t for t in getattr(self, "_resyncs", ()) if now - t < 60]
        recent.append(now)
        self._resyncs = recent
        return len(recent) <= RESYNCS_PER_MINUTE

    def user(self):
        """The socket's user: the scope's, else its session's (read once). Sync: database threads only."""
        user = self.scope.get("user")
        if user is None:
            user = self.scope["user"] = session_user(self.scope)
        return user

    async def send_snapshot(self, snapshot: dict) -> None:
        snapshot["viewerCount"] = get_hub().viewer_count(self.event_id)
        await self.base_send({"type": "websocket.send", "text": json.dumps(snapshot, separators=(",", ":"))})
        for text in self.after_snapshot:
            await self.base_send({"type": "websocket.send", "text": text})
        pending, self._pending = self._pending or [], None
        for text in pending:
            await self.base_send({"type": "websocket.send", "text": text})
        self.write_frame = self._frame_writer

    # The hub's side (events.realtime.hub.Sink)

    async def deliver(self, text: str) -> None:
        if self._pending is not None:
            self._pending.append(text)
        else:
            await self.base_send({"type": "websocket.send", "text": text})

    async def resync(self, shared: dict | None = None) -> None:
        """A fresh snapshot, then the frames that arrived meanwhile. ``shared`` lets a wave of
        resyncs (the hub's reconnect) build each event's snapshot once. If the database cannot
        answer, the socket is closed "try again later" and the page reconnects with backoff."""
        self.write_frame = None  # frames wait in _pending again, behind the new snapshot
        self._pending = []
        try:
            snapshot = await self.snapshot(shared)
        except Exception:
            logger.warning("No snapshot for a resync; the socket reconnects", exc_info=True)
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        if snapshot is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_snapshot(snapshot)

    async def drop(self) -> None:
        await self.close()

    # For subclasses

    def topic_for(self, event_id: int) -> str:
        raise NotImplementedError

    async def snapshot(self, shared: dict | None = None) -> dict | None:
        raise NotImplementedError


class ViewerConsumer(HubConsumer):
    """A viewer of an event page: anonymous for public events. Sends nothing private."""

    _language: str | None = None  # the page's (liveshop.i18n.language_of_scope), once read

    def topic_for(self, event_id: int) -> str:
        return event_group_name(event_id)

    async def snapshot(self, shared: dict | None = None) -> dict | None:
        """The event's snapshot, and the page's features' state to follow it (chat's recent
        messages: events.extensions.viewer_state), for a viewer allowed to watch."""
        snapshot = await self._event_snapshot(shared)
        self.after_snapshot = await extensions.viewer_state(self.event_id) if snapshot is not None else ()
        return snapshot

    async def receive_frame(self, text: str) -> None:
        # Answers (chat's refusals) in the page's language: Django's active language follows the
        # context into database_sync_to_async. The socket's language is read from its headers
        # once and switched to only when it is not the active one already: a show's viewers tap
        # reactions on this path a thousand times a second, on the loop that writes the card.
        language = self._language
        if language is None:
            language = self._language = language_of_scope(self.scope)
        if language == translation.get_language():
            await extensions.viewer_frame(self, text)
            return
        with translation.override(language):
            await extensions.viewer_frame(self, text)

    async def _event_snapshot(self, shared: dict | None) -> dict | None:
        entry = snapshot_cache.get(self.event_id)
        if entry is not None and not entry.event.is_private:
            # A public event's shared snapshot: the watch rule asks nothing of the user or the
            # database for a public event, so no session read, no thread hop, no query.
            return {**entry.snapshot} if may_watch(ANONYMOUS, entry.event) else None
        # A private event checks this user at every connect (invitations can be withdrawn).
        return await database_sync_to_async(self._snapshot_for_user)(shared)

    def _snapshot_for_user(self, shared: dict | None) -> dict | None:
        return event_state_snapshot(event_id=self.event_id, user=self.user(), shared=shared)


class StudioConsumer(HubConsumer):
    """A host console: the brand's people only. Gets cue states, viewer counts and everything
    viewers get (its own topic is joined beside the event's)."""

    counts_as_viewer = False  # it follows the event's topic too, but is nobody's audience

    def topic_for(self, event_id: int) -> str:
        return studio_group_name(event_id)

    async def connect(self):
        await super().connect()
        if self.topic:  # also follow what viewers see (status, highlights)
            await get_hub().join(event_group_name(self.event_id), self)

    async def disconnect(self, code):
        await get_hub().leave(event_group_name(self.event_id), self)
        await super().disconnect(code)

    async def snapshot(self, shared: dict | None = None) -> dict | None:
        return await database_sync_to_async(self._studio_snapshot)()

    def _studio_snapshot(self) -> dict | None:
        return studio_snapshot(event_id=self.event_id, user=self.user())
