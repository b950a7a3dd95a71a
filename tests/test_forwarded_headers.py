"""docker/start-web believes X-Forwarded-For only from LIVESHOP_TRUSTED_PROXIES: a client that
claims other addresses is still one address to the websocket connect limit (issue #12, finding 2).
The real start script runs here, with uvicorn and the test database."""

import asyncio
import os
import secrets
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from events.tests.factories import LiveEventFactory
from tests.asgi_server import database_url
from tests.media import ROOT, free_port, http_get, stop, wait_for

LIMIT = 5


def start_web(tmp_path, trusted: str):
    from django.conf import settings
    from django.db import connection

    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "LIVESHOP_WS_CONNECT_LIMIT": str(LIMIT),
        "LIVESHOP_WS_CONNECT_WINDOW": "60",
        "LIVESHOP_TRUSTED_PROXIES": trusted,
    }
    log = (tmp_path / f"web-{port}.log").open("wb")
    script = str(ROOT / "docker" / "start-web")
    process = subprocess.Popen([script], cwd=ROOT, env=env, stdout=log, stderr=log)
    up = lambda: process.poll() is not None or http_get(port, "/healthz/")[0] == 200  # noqa: E731
    wait_for(up, timeout=90, what="docker/start-web")
    assert process.poll() is None, (tmp_path / f"web-{port}.log").read_text()
    return port, process


async def accepted(port: int, event_id: int, addresses: list[str]) -> int:
    """How many connects, each claiming another address, got their snapshot."""
    count = 0
    for address in addresses:
        try:
            async with connect(
                f"ws://127.0.0.1:{port}/ws/events/{event_id}/",
                origin="http://localhost",
                additional_headers={"X-Forwarded-For": address},
            ) as socket:
                if '"type":"snapshot"' in await asyncio.wait_for(socket.recv(), 10):
                    count += 1
        except (ConnectionClosed, InvalidStatus):  # refused before the handshake completes: a 403
            pass
    return count


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("trusted", "expected"), [("10.0.0.0/8", LIMIT), ("127.0.0.1", 3 * LIMIT)])
def test_forwarded_addresses_count_only_from_trusted_proxies(tmp_path, trusted, expected):
    event = LiveEventFactory(id=10**9 + secrets.randbelow(10**9))
    port, process = start_web(tmp_path, trusted)
    try:
        addresses = [f"198.51.100.{n}" for n in range(1, 3 * LIMIT + 1)]
        assert asyncio.run(accepted(port, event.pk, addresses)) == expected
    finally:
        stop(process)
