"""``/ws/studio/events/<id>/publish/?tab=<id>``: a host's browser going live in local mode.

The page sends MediaRecorder's WebM chunks as binary frames; each socket runs one ffmpeg
(broadcast.relay) that publishes them to the local media server with the event's stream key,
which never leaves the server. The media server's callbacks then move the event to live, as for
any encoder (events.local_streams). Frames to the page are JSON: ``publishing`` once ffmpeg
runs, ``stopped`` after a ``{"type": "stop"}``, ``error`` (with the close code that follows).

Refused: another site's page (its Origin is not this host), anyone but the brand's hosts and
owners, an IVS event, an event that cannot go live, and a second tab for the same event (one
lease per event in the shared cache). Closing the socket kills its ffmpeg."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext

from broadcast import relay as relays
from broadcast import services
from broadcast.exceptions import PublishRefused
from events.consumers import session_user
from liveshop.i18n import language_of_scope
from liveshop.media import ffmpeg

logger = logging.getLogger(__name__)

CLOSE_TOO_MUCH = 4413  # a chunk too large, or the server fell behind (bounded buffer)
CLOSE_RELAY_FAILED = 4502  # ffmpeg stopped: the media server refused the stream, or it crashed
CLOSE_NO_FFMPEG = 4503  # ffmpeg is not installed on the server
TAB = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# The sockets publishing in this process, by event: a tab reconnecting replaces its old socket.
_publishing: dict[int, PublishConsumer] = {}


def same_origin(scope) -> bool:
    """Whether the page that opened the socket is this site (Origin's host:port is the Host the
    browser connected to). Browsers always send Origin on websockets; a missing one is refused."""
    headers = dict(scope.get("headers") or ())
    origin, host = headers.get(b"origin", b"").decode("latin-1"), headers.get(b"host", b"").decode("latin-1")
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class PublishConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "(none)"  # no channel layer: nothing is sent to this socket from outside

    relay: relays.Relay | None = None
    event_id: int | None = None
    tab = ""
    stopping = False

    async def connect(self):
        if not same_origin(self.scope):
            await self.close()  # the handshake is refused (HTTP 403): another site's page
            return
        await self.accept()
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.tab = (query.get("tab") or [""])[0]
        # The page records H.264 with the relay's keyframe interval when the browser can: copied as it is.
        self.copy_video = (query.get("video") or [""])[0] == "h264"
        try:
            with translation.override(language_of_scope(self.scope)):  # a refusal in the page's language
                if not TAB.match(self.tab):
                    raise PublishRefused(gettext("Reload the page (no tab id)."))
                target = await database_sync_to_async(self._target)()
                await services.claim_publishing(event_id=self.event_id, tab=self.tab)
        except PublishRefused as exc:
            self.tab = ""  # holds no lease
            await self.fail(str(exc), exc.code)
            return
        await self._replace_older_socket()
        await self._start(target)

    def _target(self) -> services.PublishTarget:
        user = self.scope.get("user") or session_user(self.scope)
        return services.publish_target(event_id=self.event_id, user=user)

    async def _replace_older_socket(self) -> None:
        older = _publishing.get(self.event_id)
        _publishing[self.event_id] = self
        if older is not None and older is not self:  # this tab's lost connection, still open here
            await older.end_relay()
            with contextlib.suppress(Exception):
                await older.close()

    async def _start(self, target: services.PublishTarget) -> None:
        command = relays.relay_command(target.ingest_url, copy_video=self.copy_video)
        self.relay = relays.Relay(command, secret=target.stream_key)
        try:
            await self.relay.start()
        except ffmpeg.ToolMissing:
            self.relay = None
            await self.fail(
                f"Going live from the browser needs ffmpeg on the server, and it is not installed "
                f"({ffmpeg.INSTALL}).",
                CLOSE_NO_FFMPEG,
            )
            return
        except ffmpeg.CannotStart as exc:
            self.relay = None
            await self.fail(str(exc), CLOSE_NO_FFMPEG)
            return
        logger.info("Browser publishing started", extra={"event_id": self.event_id, "pid": self.relay.pid})
        self._watchers = [asyncio.create_task(self._watch_relay()), asyncio.create_task(self._keep_lease())]
        await self.send_json({"type": "publishing", "eventId": self.event_id})

    async def receive(self, text_data=None, bytes_data=None):
        if self.relay is None or self.stopping:
            return
        if bytes_data is not None:
            try:
                self.relay.feed(bytes_data)
            except relays.Overflow as exc:
                await self.fail(str(exc), CLOSE_TOO_MUCH)
        elif text_data and _frame_type(text_data) == "stop":
            self.stopping = True
            await self.relay.stop()
            logger.info("Browser publishing stopped", extra={"event_id": self.event_id})
            await self._release()
            await self.send_json({"type": "stopped"})
            await self.close(code=1000)

    async def disconnect(self, code):
        await self.end_relay()
        for task in getattr(self, "_watchers", ()):
            task.cancel()
        await self._release()

    async def _release(self) -> None:
        """Leave this process's registry and give the event's lease up (once)."""
        if _publishing.get(self.event_id) is self:
            del _publishing[self.event_id]
        tab, self.tab = self.tab, ""
        if tab:
            await services.release_publishing(event_id=self.event_id, tab=tab)

    async def end_relay(self) -> None:
        """Kill this socket's ffmpeg (the stream ends at the media server). Idempotent."""
        self.stopping = True
        if self.relay is not None:
            await self.relay.kill()

    async def fail(self, message: str, code: int) -> None:
        """Stop ffmpeg and give the lease up (another tab may start at once), then tell the page."""
        await self.end_relay()
        await self._release()
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "error": message, "code": code})
            await self.close(code=code)

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content))

    async def _watch_relay(self) -> None:
        await self.relay.done
        if not self.stopping:
            logger.warning(
                "Browser relay stopped", extra={"event_id": self.event_id, "reason": self.relay.failure()}
            )
            await self.fail(self.relay.failure(), CLOSE_RELAY_FAILED)

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(services.LEASE_SECONDS / 3)
            if not await services.renew_publishing(event_id=self.event_id, tab=self.tab):
                await self.fail("Another tab took over this event's broadcast.", 4409)
                return


def _frame_type(text: str) -> str:
    try:
        frame = json.loads(text)
    except ValueError:
        return ""
    return frame.get("type", "") if isinstance(frame, dict) else ""
