"""Graceful drain of a web process: its viewers move to other processes a few at a time.

A rolling deploy (or a scale-in) stops a web process while viewers watch. Closing every socket
at once would send all of them back through the load balancer in the same second. Instead, when
the drain starts the process stops accepting connections, then sends each of its sockets a
``{"type": "reconnect", "jitterMs": ...}`` frame at a random moment spread over
``LIVESHOP_DRAIN_SECONDS``; the page (static/js/lib/socket.js) opens a new socket, which the
balancer routes to another process, and lets the old one go once the new one has its snapshot, so
the card never blanks and nothing published meanwhile is missed (the new socket joins before its
snapshot is read). A socket still open ``grace`` seconds after its frame is closed; then the
server shuts down as usual.

What starts it (``install()``, from the ASGI lifespan's startup, under uvicorn only):
- SIGTERM: the drain runs first, then uvicorn's own shutdown. (SIGINT stays uvicorn's: Ctrl-C.)
- On ECS, the task's desired status turning STOPPED in the task metadata endpoint: ECS deregisters
  the task from the load balancer and waits for the target group's deregistration delay *before*
  it sends SIGTERM, and the balancer drops the sockets still open when that delay ends, so the
  drain must run inside that delay. ``LIVESHOP_DRAIN_SECONDS`` is then a little shorter than the
  deregistration delay (deploy/cloudformation.yaml sets both); the later SIGTERM finds nothing
  left to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import urllib.request

from django.conf import settings

from events.realtime.hub import SEND_DEADLINE, get_hub
from events.realtime.publishing import encode

logger = logging.getLogger(__name__)

CLIENT_JITTER_MS = 1000  # each page adds up to this before it reconnects (the server spreads the rest)
GRACE = 5.0  # seconds a socket keeps after its reconnect frame before the server closes it
SWEEP_AFTER = 0.5  # seconds after the last frame to look for sockets that joined meanwhile
ECS_POLL_INTERVAL = 2.0  # seconds between reads of the ECS task metadata
ECS_METADATA = "ECS_CONTAINER_METADATA_URI_V4"


class Drain:
    """One process's drain: started once (by a signal or ECS), then shuts the server down."""

    def __init__(self, server=None):
        self.server = server  # uvicorn's Server (its listeners and its exit flag), or None
        self.task: asyncio.Task | None = None
        self.watcher: asyncio.Task | None = None
        self.exit_after = False
        self.moved = 0

    def start(self, then_exit: bool) -> None:
        """Begin draining (once); ``then_exit`` asks for the server's shutdown when it is done."""
        self.exit_after = self.exit_after or then_exit
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        elif self.task.done() and then_exit:
            self._exit()

    async def _run(self) -> None:
        window = settings.LIVESHOP_DRAIN_SECONDS
        logger.warning("Draining: viewers move to other processes over %.0f s", window)
        for listener in getattr(self.server, "servers", ()):
            listener.close()  # no new connections: the balancer (or nginx) sends them elsewhere
        try:
            self.moved = await move_sockets(get_hub(), window, grace=min(GRACE, window / 2 + 1))
        except Exception:
            logger.exception("The drain failed; the server shuts down as usual")
        logger.warning("Drained: %d sockets asked to reconnect", self.moved)
        if self.exit_after:
            self._exit()

    def _exit(self) -> None:
        if self.server is not None:
            self.server.handle_exit(signal.SIGTERM, None)


async def move_sockets(hub, window: float, *, grace: float) -> int:
    """Send every local socket the reconnect frame, at random moments spread over ``window``
    seconds, and close each ``grace`` seconds later (if the page has not). Sockets that joined
    meanwhile (handshakes under way when the listener closed) are swept at the end; a process
    without sockets is done at once. Returns how many were asked."""
    loop = asyncio.get_running_loop()
    text = encode("reconnect", {"jitterMs": CLIENT_JITTER_MS})
    asked: set = set()
    closing: list[asyncio.Task] = []
    start = loop.time()
    sinks = _sinks(hub, asked)
    for sink, at in zip(sinks, sorted(random.uniform(0, window) for _ in sinks), strict=True):
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        closing.append(loop.create_task(_ask(sink, text, grace)))
        asked.add(sink)
    await asyncio.sleep(SWEEP_AFTER)
    for sink in _sinks(hub, asked):
        closing.append(loop.create_task(_ask(sink, text, grace)))
        asked.add(sink)
    await asyncio.gather(*closing, return_exceptions=True)
    return len(asked)


def _sinks(hub, skip: set) -> list:
    """Every local socket not in ``skip``, once each, in random order. Sinks that are not sockets
    (``moved_by_drain = False``: chat's RecentMessages) stay: asked, one would hold a process with
    no viewer for up to the window and the grace."""
    found = {
        sink: None
        for members in list(hub.topics.values())
        for sink in members
        if sink not in skip and getattr(sink, "moved_by_drain", True)
    }
    sinks = list(found)
    random.shuffle(sinks)
    return sinks


async def _ask(sink, text: str, grace: float) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(SEND_DEADLINE):
            await sink.deliver(text)
    await asyncio.sleep(grace)
    with contextlib.suppress(Exception):
        await sink.drop()


# Installing it -------------------------------------------------------------------------------


def install() -> Drain | None:
    """Under uvicorn (its Server holds SIGTERM), drain on SIGTERM before uvicorn's shutdown, and
    on ECS as soon as the task is being stopped. Elsewhere (daphne, runserver, tests) nothing."""
    if settings.LIVESHOP_DRAIN_SECONDS <= 0:
        return None
    handler = signal.getsignal(signal.SIGTERM)
    server = getattr(handler, "__self__", None)
    if not (hasattr(server, "should_exit") and hasattr(server, "handle_exit")):  # its listeners come later
        return None
    loop = asyncio.get_running_loop()
    drain = Drain(server)
    signal.signal(signal.SIGTERM, lambda sig, frame: loop.call_soon_threadsafe(drain.start, True))
    if os.environ.get(ECS_METADATA):
        drain.watcher = loop.create_task(watch_ecs(drain, os.environ[ECS_METADATA]))
    return drain


async def watch_ecs(drain: Drain, metadata_uri: str) -> None:
    """Start the drain (without exiting: ECS sends SIGTERM after the deregistration delay) once
    the task metadata says ECS wants this task STOPPED."""
    while drain.task is None:
        await asyncio.sleep(ECS_POLL_INTERVAL)
        try:
            status = await asyncio.to_thread(_desired_status, metadata_uri)
        except Exception as exc:  # the agent is busy or restarting: ask again
            logger.debug("No task metadata (%s)", exc)
            continue
        if status == "STOPPED":
            drain.start(False)


def _desired_status(metadata_uri: str) -> str:
    with urllib.request.urlopen(f"{metadata_uri}/task", timeout=2) as response:  # noqa: S310 (ECS's URI)
        return json.load(response).get("DesiredStatus", "")
