"""A real ASGI server for browser tests that need websockets (pytest-django's ``live_server`` is
WSGI). ``start_asgi_server()`` runs daphne in a subprocess on a free port against the current test
database and Redis; ``tests.asgi_server:application`` is what it serves: the project's ASGI
application with static files served too (runserver does that in development, daphne does not).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.media import ROOT, free_port, http_get, stop, wait_for


def __getattr__(name: str):
    # Built on first access, in the server process only: importing this module in the test process
    # (for the helpers below) must not set up an ASGI application there.
    if name == "application":
        return _application()
    raise AttributeError(name)


def _application():
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from liveshop import asgi

    return ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(asgi.django_asgi_app),
            "websocket": asgi.application.application_mapping["websocket"],
        }
    )


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (pytest-django's ``test_…`` one)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


@dataclass
class AsgiServer:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop(self.process)


def start_asgi_server(
    directory: Path, *, env: dict[str, str] | None = None, port: int | None = None, timeout: float = 90
) -> AsgiServer:
    """daphne serving ``tests.asgi_server:application`` on ``port`` (default: a free one), with the
    test settings and the current test database (call it inside a ``django_db(transaction=True)``
    test, so the server sees committed rows); ``env`` overrides its environment. Returns once
    /healthz/ answers; the caller must ``stop()`` it."""
    from django.conf import settings
    from django.db import connection

    port = port or free_port()
    log = directory / "asgi_server.out"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "VIDEO_BACKEND": "fake",
        "LIVESHOP_WS_CONNECT_LIMIT": "1000",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "tests.asgi_server:application",
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = AsgiServer(port, process, log)
    try:
        wait_for(
            lambda: process.poll() is not None or http_get(port, "/healthz/")[0] == 200,
            timeout=timeout,
            what="the ASGI server's /healthz/",
        )
    except AssertionError:
        server.stop()
        raise AssertionError(f"The ASGI server did not start:\n{server.output()}") from None
    if process.poll() is not None:
        raise AssertionError(f"The ASGI server exited with code {process.returncode}:\n{server.output()}")
    return server
