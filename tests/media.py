"""Running the real local media server and ffmpeg from tests (and bench/): start, wait, stop.

Nothing here sleeps for a fixed time: ``wait_for`` polls a condition until a deadline."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from liveshop.media import ffmpeg

ROOT = Path(__file__).resolve().parent.parent
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
FFMPEG_TEST_SOURCE = [
    "-re",
    "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30",
    "-f", "lavfi", "-i", "sine",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
    "-c:a", "aac",
]  # fmt: skip


def missing_tools() -> str | None:
    """Why the media server cannot run here (a skip reason), or None."""
    if not shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])):
        return "nginx is not installed (apt-get install nginx libnginx-mod-rtmp)"
    if not RTMP_MODULE.exists():
        return f"nginx-rtmp is not installed at {RTMP_MODULE} (apt-get install libnginx-mod-rtmp)"
    if not ffmpeg.installed():
        return f"ffmpeg is not installed ({ffmpeg.INSTALL})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, *, timeout: float = 30, interval: float = 0.1, what: str = "the condition"):
    """Poll ``condition()`` until it returns something truthy (returned), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")
        time.sleep(interval)


def http_get(
    port: int, path: str, host: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except OSError:
        return 0, {}, b""
    finally:
        connection.close()


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process outlives ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class CallbackRelay:
    """A small HTTP relay in the test process between a media server shared by many tests and the
    Django server of the test running now: ``target`` ("http://127.0.0.1:PORT"), set by
    ``MediaServer.calling_back``. nginx's callback URLs are fixed when it starts, the tests'
    servers are not (pytest-django's live server, or a test's own ASGI subprocess).

    With no target (between tests), a server reset is answered 204 (the supervisor would retry it
    into a later test, which it would take for nginx restarting) and any other callback 403 (a
    publish refused, a late publish_done or record_done of a finished test dropped)."""

    HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "proxy-connection"}
    TIMEOUT = 300  # on_record_done converts the recording in the request with eager Celery

    def __init__(self, log: Path | None = None) -> None:
        self.target: str | None = None
        self.log = log  # a line per callback: when, path, where it went, the answer, how long
        self._lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                relay._relay(self)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, name="media-callback-relay", daemon=True)
        thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _relay(self, request: BaseHTTPRequestHandler) -> None:
        started = time.time()
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        target = self.target
        if target is None:
            status, headers, answer = (204 if "on_server_reset" in request.path else 403), [], b""
        else:
            status, headers, answer = self._forward(target, request, body)
        if self.log is not None:  # the path holds no secret (it travels in a header)
            line = f"{started:.3f} {request.path} -> {target} {status} {time.time() - started:.2f} s\n"
            with self._lock, self.log.open("a") as out:
                out.write(line)
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in self.HOP_HEADERS | {"content-length"}:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

    def _forward(self, target: str, request: BaseHTTPRequestHandler, body: bytes):
        host, port = target.removeprefix("http://").rstrip("/").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=self.TIMEOUT)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in self.HOP_HEADERS}
        try:
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except OSError:
            return 502, [], b""  # the test's server is not up (yet): nginx retries nothing but resets
        finally:
            connection.close()


@dataclass
class MediaServer:
    directory: Path
    rtmp_port: int
    http_port: int
    process: subprocess.Popen
    log: Path
    relay: CallbackRelay | None = None  # when its callbacks go through one (a shared server)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ingest(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{key}"

    def output(self) -> str:
        nginx_log = self.directory / "logs" / "error.log"
        relay_log = self.relay.log if self.relay is not None else None
        return (
            self.log.read_text(errors="replace")
            + (nginx_log.read_text() if nginx_log.exists() else "")
            + (relay_log.read_text() if relay_log is not None and relay_log.exists() else "")
        )

    def wait_for_stream_end(self, event, key: str) -> None:
        """After a test's encoder stopped: its stream's publish_done and record_done have been
        handled (the session ended, nginx's recording gone), so none of their database work races
        the test database's teardown."""
        wait_for(
            lambda: (
                event.sessions.filter(ended_at__isnull=False).exists()
                and not list((self.directory / "rec").glob(f"{key}-*.flv"))
            ),
            what="publish_done and record_done",
        )

    def stop(self) -> None:
        stop(self.process)
        if self.relay is not None:
            self.relay.close()

    @contextlib.contextmanager
    def calling_back(self, url: str):
        """While the block runs, this (shared) server's callbacks reach the Django server at
        ``url``; after it, none do (see CallbackRelay)."""
        assert self.relay is not None, "a server started with a callback_url calls back only there"
        self.relay.target = url.replace("localhost", "127.0.0.1")  # nginx would try ::1 first
        try:
            yield self
        finally:
            self.relay.target = None

    def use_in(self, settings, *, recordings: Path | None = None) -> None:
        """Point a test's ``settings`` at this server (the local video backend on its ports and
        folder); with ``recordings``, replays are written to that folder."""
        from liveshop.video import get_video_backend

        settings.VIDEO_BACKEND = "local"
        settings.MEDIA_SERVER_RTMP_PORT = self.rtmp_port
        settings.MEDIA_SERVER_HTTP_PORT = self.http_port
        settings.MEDIA_SERVER_PUBLIC_URL = self.public_url
        settings.MEDIA_SERVER_DIR = self.directory
        if recordings is not None:
            storage = {"location": recordings, "base_url": "/media/recordings/"}
            settings.STORAGES = {
                **settings.STORAGES,
                "recordings": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": storage},
            }
        get_video_backend.cache_clear()


def start_media_server(
    directory: Path, *, callback_url: str | None = None, env: dict[str, str] | None = None
) -> MediaServer:
    """``manage.py media_server`` on free ports, in ``directory``, calling back ``callback_url``,
    or without one through a CallbackRelay (``calling_back`` chooses the target, test by test);
    returns once nginx answers /stat. The caller must ``stop()`` it."""
    relay = CallbackRelay(log=directory / "relay.log") if callback_url is None else None
    callback_url = callback_url or relay.url
    rtmp_port, http_port = free_port(), free_port()
    log = directory / "media_server.out"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "liveshop.settings.test"),
        "LIVESHOP_MEDIA_SERVER_HOST": "127.0.0.1",
        "LIVESHOP_MEDIA_SERVER_RTMP_PORT": str(rtmp_port),
        "LIVESHOP_MEDIA_SERVER_HTTP_PORT": str(http_port),
        "LIVESHOP_MEDIA_SERVER_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "LIVESHOP_MEDIA_SERVER_CALLBACK_URL": callback_url,
        "LIVESHOP_MEDIA_SERVER_DIR": str(directory),
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "media_server"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = MediaServer(directory, rtmp_port, http_port, process, log, relay)
    try:
        wait_for(
            lambda: process.poll() is not None or http_get(http_port, "/stat")[0] == 200,
            timeout=30,
            what="nginx's /stat",
        )
    except AssertionError:
        server.stop()
        raise
    if process.poll() is not None:
        server.stop()
        raise AssertionError(f"media_server exited with code {process.returncode}:\n{server.output()}")
    return server


def publish(url: str, *, seconds: float = 30, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """ffmpeg publishing a test pattern with a tone to ``url`` for at most ``seconds``."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *FFMPEG_TEST_SOURCE,
         "-t", str(seconds), *extra, "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def media_test_video(
    path: Path, *, seconds: float, size: str = "320x180", rate: int = 30, tone: bool = True
) -> Path:
    """Write a test pattern (with a sine tone unless ``tone`` is False) of ``seconds`` to ``path``
    (H.264/AAC, not yet encoded for streaming: see ``manage.py preencode``); returns ``path``."""
    audio = ["-f", "lavfi", "-i", "sine=frequency=440"] if tone else []
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", *audio, "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", *(["-c:a", "aac"] if tone else []), str(path)],
        check=True,
    )  # fmt: skip
    return path
