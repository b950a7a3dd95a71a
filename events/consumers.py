"""Websockets: viewers (``/ws/events/<id>/``) and host consoles (``/ws/studio/events/<id>/``).

Consumers only join and leave this process's hub (events/realtime.py), which writes each
already-encoded message to their socket; they handle no per-message dispatch and use no channel
layer. On connect and on every hub reconnect a socket gets a fresh snapshot first."""

from __future__ import annotations

import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.permissions import may_watch
from events import realtime, snapshot_cache
from events.selectors import event_state_snapshot, studio_snapshot

CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the page reconnects with backoff
RESYNCS_PER_MINUTE = 6  # a client's own "resync" requests; more is abuse, not a lost frame

logger = logging.getLogger(__name__)


def client_ip(scope) -> str:
    client = scope.get("client") or ("unknown", 0)
    return client[0]


class HubConsumer(AsyncWebsocketConsumer):
    """A socket fed by the hub. Frames arriving before the snapshot is sent wait behind it,
    so a client never applies a snapshot older than a message it already has."""

    channel_layer_alias = None  # delivery is the hub's, not a channel-layer group
    topic = ""
    write_frame: realtime.FrameWriter | None = None  # the hub's fast path, set once frames go out
    _frame_writer: realtime.FrameWriter | None = None

    async def connect(self):
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        self._pending: list[str] | None = []
        hub = realtime.get_hub()
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
        self._frame_writer = realtime.frame_writer(self.base_send)
        await self.send_snapshot(snapshot)

    async def disconnect(self, code):
        if self.topic:
            await realtime.get_hub().leave(self.topic, self)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "resync":  # a client that suspects it missed something
            if self._resync_allowed():
                await self.resync()
            else:
                await self.close(code=CLOSE_RATE_LIMITED)

    def _resync_allowed(self) -> bool:
        """At most RESYNCS_PER_MINUTE client resyncs per socket: each costs database reads."""
        now = time.monotonic()
        recent = [t for t in getattr(self, "_resyncs", ()) if now - t < 60]
        recent.append(now)
        self._resyncs = recent
        return len(recent) <= RESYNCS_PER_MINUTE

    async def send_snapshot(self, snapshot: dict) -> None:
        snapshot["viewerCount"] = realtime.get_hub().viewer_count(self.event_id)
        await self.base_send({"type": "websocket.send", "text": json.dumps(snapshot, separators=(",", ":"))})
        pending, self._pending = self._pending or [], None
        for text in pending:
            await self.base_send({"type": "websocket.send", "text": text})
        self.write_frame = self._frame_writer

    # The hub's side (events.realtime.Sink)

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

    def topic_for(self, event_id: int) -> str:
        return realtime.event_group_name(event_id)

    async def snapshot(self, shared: dict | None = None) -> dict | None:
        entry = snapshot_cache.get(self.event_id)
        if entry is not None and not entry.event.is_private:
            # A public event's shared snapshot: no thread hop, no query (may_watch asks nothing
            # of the database for a public event).
            return {**entry.snapshot} if may_watch(self.scope["user"], entry.event) else None
        return await database_sync_to_async(event_state_snapshot)(
            event_id=self.event_id, user=self.scope["user"], shared=shared
        )


class StudioConsumer(HubConsumer):
    """A host console: the brand's people only. Gets cue states, viewer counts and everything
    viewers get (its own topic is joined beside the event's)."""

    counts_as_viewer = False  # it follows the event's topic too, but is nobody's audience

    def topic_for(self, event_id: int) -> str:
        return realtime.studio_group_name(event_id)

    async def connect(self):
        await super().connect()
        if self.topic:  # also follow what viewers see (status, highlights)
            await realtime.get_hub().join(realtime.event_group_name(self.event_id), self)

    async def disconnect(self, code):
        await realtime.get_hub().leave(realtime.event_group_name(self.event_id), self)
        await super().disconnect(code)

    async def snapshot(self, shared: dict | None = None) -> dict | None:
        return await database_sync_to_async(studio_snapshot)(event_id=self.event_id, user=self.scope["user"])
