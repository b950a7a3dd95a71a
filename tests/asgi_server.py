"""The one way tests start a real ASGI server (pytest-django's ``live_server`` is WSGI and has no
websockets): ``start_asgi_server()`` (or the ``running_asgi_server()`` block) runs uvicorn, the
production server, in a subprocess on a free port against the current test database and Redis.
What it serves is ``tests.asgi_server:application``: the project's ASGI application with static
files served too (runserver does that in development, uvicorn does not) and, with
``disk_storages=True``, both storages on disk under MEDIA_ROOT (``recordings`` served from
MEDIA_URL/recordings/, as in local mode) instead of the test settings' memory.
"""

from __future__ import annotations

import contextlib
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


DISK_STORAGES = "TESTS_ASGI_DISK_STORAGES"  # set in the server's environment by disk_storages=True


def _application():
    if os.environ.get(DISK_STORAGES):
        _storages_on_disk()

    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from liveshop import asgi

    return ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(asgi.django_asgi_app),
            "websocket": asgi.application.application_mapping["websocket"],
        }
    )


def _storages_on_disk() -> None:
    """Before Django reads its settings: "default" and "recordings" on disk under MEDIA_ROOT."""
    import liveshop.settings.test as test_settings

    root = Path(test_settings.MEDIA_ROOT)
    test_settings.STORAGES = {
        **test_settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root / "recordings", "base_url": f"{test_settings.MEDIA_URL}recordings/"},
        },
    }


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
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    disk_storages: bool = False,
    timeout: float = 90,
) -> AsgiServer:
    """uvicorn serving ``tests.asgi_server:application`` on ``port`` (default: a free one), with the
    test settings, the current test database and the tests' Redis (call it inside a
    ``django_db(transaction=True)`` test, so the server sees committed rows); ``env`` overrides its
    environment (the fake video backend lives in one process's memory: a server that must share
    a backend with the test uses ``VIDEO_BACKEND=local``). Returns once /healthz/ answers; the
    caller must ``stop()`` it (or use ``running_asgi_server()``)."""
    from django.conf import settings
    from django.db import connection

    port = port or free_port()
    log = directory / f"asgi_server-{port}.out"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "VIDEO_BACKEND": "fake",
        "LIVESHOP_WS_CONNECT_LIMIT": "1000",
        "PYTHONUNBUFFERED": "1",
        **({DISK_STORAGES: "1"} if disk_storages else {}),
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "tests.asgi_server:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
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


@contextlib.contextmanager
def running_asgi_server(directory: Path, **options):
    """``start_asgi_server(directory, **options)`` for the block; stopped when it exits."""
    server = start_asgi_server(directory, **options)
    try:
        yield server
    finally:
        server.stop()
