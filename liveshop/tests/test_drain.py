"""A rolling deploy keeps every viewer: a web process told to stop (SIGTERM, or ECS stopping its
task) stops accepting, asks its viewers to reconnect a few at a time over LIVESHOP_DRAIN_SECONDS
(events/realtime/drain.py), and they move to another process with the card on screen, a product
featured during the move included. Real processes: docker/start-web twice, the test database and
Redis, real websocket clients doing what static/js/lib/socket.js does with the frame."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from websockets.asyncio.client import connect

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct
from events.tests.factories import LiveEventFactory
from tests.asgi_server import database_url
from tests.media import ROOT, free_port, http_get, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

VIEWERS = 30
WINDOW = 4.0  # LIVESHOP_DRAIN_SECONDS of the stopping server
TIMEOUT = 60


def start_web(tmp_path, port: int | None = None, **env) -> tuple[subprocess.Popen, int]:
    """docker/start-web (uvicorn with the lifespan, as in production) on ``port`` (default: a
    free one); its output in ``tmp_path/web-<port>.log``."""
    from django.conf import settings
    from django.db import connection

    port = port or free_port()
    environment = {
        **os.environ,
        "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "LIVESHOP_WS_CONNECT_LIMIT": "1000",
        "LIVESHOP_DRAIN_SECONDS": str(WINDOW),
        **env,
    }
    log = (tmp_path / f"web-{port}.log").open("wb")
    script = [str(ROOT / "docker" / "start-web")]
    process = subprocess.Popen(script, cwd=ROOT, env=environment, stdout=log, stderr=log)
    up = lambda: process.poll() is not None or http_get(port, "/healthz/")[0] == 200  # noqa: E731
    wait_for(up, timeout=90, what="docker/start-web")
    assert process.poll() is None, (tmp_path / f"web-{port}.log").read_text()
    return process, port


@pytest.fixture
def show():
    event = LiveEventFactory()
    products = [ProductFactory(organization=event.organization) for _ in range(2)]
    EventProduct.objects.bulk_create(
        EventProduct(event=event, product=p, position=i) for i, p in enumerate(products)
    )
    host = member(event.organization, role=Membership.Role.HOST)
    services.feature_product(event=event, product=products[0], by=host)
    return event, products, host


def card(frame: dict) -> int | None:
    """The product on screen after ``frame`` (None: the frame says nothing about it)."""
    if frame["type"] == "snapshot":
        return (frame["highlight"] or {}).get("product", {}).get("id")
    if frame["type"] == "product_featured":
        return frame["product"]["id"]
    return None


class Viewer:
    """A page: on the reconnect frame it waits up to jitterMs, opens a socket to ``elsewhere`` and
    closes the old one once the new one has sent its snapshot (socket.js's moveOver)."""

    def __init__(self, port: int, event_id: int):
        self.path = f"/ws/events/{event_id}/"
        self.port = port
        self.card = None
        self.asked_at = None
        self.moved = asyncio.Event()

    async def open(self, port: int):
        socket = await connect(f"ws://127.0.0.1:{port}{self.path}", origin="http://localhost")
        self.apply(json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT)))
        return socket

    def apply(self, frame: dict) -> None:
        product = card(frame)
        if product is not None:
            self.card = product

    async def run(self, elsewhere: int) -> None:
        old = await self.open(self.port)
        self.ready = True
        async for text in old:
            frame = json.loads(text)
            if frame["type"] == "reconnect":
                self.asked_at = time.monotonic()
                await asyncio.sleep(random.uniform(0, frame["jitterMs"] / 1000))
                new = await self.open(elsewhere)
                await old.close()
                self.moved.set()
                async for text in new:
                    self.apply(json.loads(text))
                return
            self.apply(frame)


@pytest.mark.asyncio
async def test_sigterm_moves_every_viewer_to_another_server_gradually_with_the_card(tmp_path, show):
    event, products, host = show
    old, old_port = await asyncio.to_thread(start_web, tmp_path)
    new, new_port = await asyncio.to_thread(start_web, tmp_path)
    viewers = [Viewer(old_port, event.pk) for _ in range(VIEWERS)]
    tasks = [asyncio.create_task(v.run(new_port)) for v in viewers]
    try:
        async with asyncio.timeout(TIMEOUT):
            while not all(getattr(v, "ready", False) for v in viewers):
                await asyncio.sleep(0.05)
        assert {v.card for v in viewers} == {products[0].pk}

        signalled = time.monotonic()
        old.send_signal(signal.SIGTERM)
        # The stopping server takes no new connections (the balancer sends them elsewhere) ...
        closed = lambda: http_get(old_port, "/healthz/")[0] != 200  # noqa: E731
        await asyncio.to_thread(wait_for, closed, timeout=10, what="the listener to close")
        # ... and a product featured mid-move reaches every viewer, before or after its move.
        await asyncio.sleep(WINDOW / 3)
        await asyncio.to_thread(services.feature_product, event=event, product=products[1], by=host)

        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*(v.moved.wait() for v in viewers))
            while {v.card for v in viewers} != {products[1].pk}:
                await asyncio.sleep(0.05)
        await asyncio.to_thread(old.wait, TIMEOUT)  # it exits once drained

        asked = sorted(v.asked_at - signalled for v in viewers)
        assert asked[-1] <= WINDOW + 2
        assert asked[-1] - asked[0] >= WINDOW / 2  # spread over the window ...
        busiest = max(sum(1 for a in asked if start <= a < start + 0.5) for start in asked)
        assert busiest <= VIEWERS / 3  # ... not a herd: at most a third in any half second
    finally:
        for task in tasks:
            task.cancel()
        stop(old)
        stop(new)


class EcsMetadata(BaseHTTPRequestHandler):
    """The ECS task metadata endpoint (v4) as a Fargate task sees it."""

    desired = "RUNNING"

    def do_GET(self):
        body = (
            {"DesiredStatus": type(self).desired}
            if self.path == "/task"
            else {"Networks": [{"IPv4Addresses": ["127.0.0.1"]}]}
        )
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.mark.asyncio
async def test_on_ecs_the_drain_starts_when_the_task_is_being_stopped_before_any_sigterm(tmp_path, show):
    """ECS deregisters the task and waits out the balancer's deregistration delay before SIGTERM:
    the drain starts when the metadata says STOPPED. The balancer's health checks name the task's
    address as the host, which start-web allows from the same metadata."""
    event = show[0]
    metadata = ThreadingHTTPServer(("127.0.0.1", 0), EcsMetadata)
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{metadata.server_port}"
    old, old_port = await asyncio.to_thread(
        start_web,
        tmp_path,
        ECS_CONTAINER_METADATA_URI_V4=uri,
        DJANGO_ALLOWED_HOSTS="shop.example.com,localhost",
    )
    try:
        assert http_get(old_port, "/healthz/")[0] == 200  # Host: 127.0.0.1, the task's address
        viewer = await connect(f"ws://127.0.0.1:{old_port}/ws/events/{event.pk}/", origin="http://localhost")
        assert json.loads(await viewer.recv())["type"] == "snapshot"

        EcsMetadata.desired = "STOPPED"
        async with asyncio.timeout(TIMEOUT):
            while (frame := json.loads(await viewer.recv()))["type"] != "reconnect":
                pass
        assert frame["jitterMs"] > 0
        assert old.poll() is None  # still up: ECS sends SIGTERM after the deregistration delay

        old.send_signal(signal.SIGTERM)  # nothing left to drain: it exits promptly
        await asyncio.to_thread(old.wait, TIMEOUT)
    finally:
        EcsMetadata.desired = "RUNNING"
        metadata.shutdown()
        stop(old)
