"""Servers a test (or bench/chaos.py) owns and may break: a Redis and a PostgreSQL it can stop,
freeze and start again on the same port, as a restart, a deploy or a managed failover does.
Never the machine's shared servers: each is a throwaway one in its own temporary folder."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.services import _as_postgres_user, _free_port, _postgres_bindir, _wait_for_port


class RedisServer:
    """A throwaway redis-server on a fixed port (kept across restarts), nothing on disk."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "Redis")
        return self

    def stop(self) -> None:
        """Shut down the way a crash or a failover looks to clients: connections closed at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: sockets stay open but nothing answers (a half-open link, a hung primary)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)  # the outage itself, not a wait for a condition
        self.start()


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, no fsync) that can be restarted on its port."""

    def __init__(self):
        self.bindir = _postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.prefix, uid = _as_postgres_user()
        self.root = tempfile.mkdtemp(prefix="liveshop-chaos-pg-")
        if uid is not None:
            os.chown(self.root, uid, -1)
        self.datadir = os.path.join(self.root, "data")
        subprocess.run(
            [*self.prefix, str(self.bindir / "initdb"), "-D", self.datadir, "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        args = [
            *self.prefix, str(self.bindir / "postgres"), "-D", self.datadir, "-p", str(self.port),
            "-k", self.root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "PostgreSQL")
        return self

    def stop(self) -> None:
        """Immediate shutdown: every connection is cut, as in a crash or a failover. (pg_ctl,
        since as root the child is ``runuser``, which would not pass a signal on.)"""
        if self.process is None:
            return
        if self.process.poll() is None:
            pg_ctl = [str(self.bindir / "pg_ctl"), "-D", self.datadir, "-m", "immediate", "-w", "stop"]
            subprocess.run([*self.prefix, *pg_ctl], capture_output=True, timeout=60)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)  # the outage itself
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# A whole deployment to break: PostgreSQL, Redis and N uvicorn processes with production settings,
# one live show seeded, viewers that reconnect as the page does, and a host's console. -----------

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

SEED = """
import json, sys
sys.path.insert(0, {bench!r})
import _common
_common.setup_django({{}})
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
event, products, host = _common.seed_show()
session = SessionStore()
session[SESSION_KEY] = str(host.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = host.get_session_auth_hash()
session.create()
print(json.dumps({{"event": event.pk, "slug": event.slug, "products": [p.pk for p in products],
                  "session": session.session_key}}))
"""


UPLOAD = """
import sys
sys.path.insert(0, {bench!r})
import _common
_common.setup_django({{}})
from accounts.models import Organization
from recordings.models import Recording
from recordings.tasks import transcode_upload_task
brand = Organization.objects.get(slug="bench-brand")
video = Recording.objects.create(
    organization=brand, backend="upload", title="Chaos upload",
    slug="chaos-upload-" + str(Recording.objects.count()), upload={name!r}, status="pending",
)
transcode_upload_task.delay(video.pk)
print(video.pk)
"""


def _bench_common():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import _common

    return _common


class Stack:
    """PostgreSQL + Redis (both owned, restartable) + ``web`` uvicorn processes (docker/start-web's
    command, DJANGO_DEBUG=false) sharing them, with the bench's live show seeded."""

    def __init__(self, directory: Path, *, web: int = 2, **env: str):
        common = _bench_common()
        self.directory = directory
        self.postgres = PostgresServer().start()
        self.redis = RedisServer().start()
        database = self.database = self.postgres.url("liveshop_chaos")
        self.scratch = directory / "tmp"
        self.scratch.mkdir(exist_ok=True)
        common.ensure_database(database)
        self.env = common.server_env(database, self.redis.url, **env)
        common.migrate(self.env)
        seeded = subprocess.run(
            [common.PYTHON, "-c", SEED.format(bench=str(BENCH))],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        self.show = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.ports = [_free_port() for _ in range(web)]
        self.web: list[subprocess.Popen | None] = [None] * web
        for index in range(web):
            self.start_web(index)

    def start_worker(self, name: str) -> subprocess.Popen:
        """A Celery worker with its embedded beat (the stale-job check every second, 20 s leases),
        in a process group of its own, on this stack's Redis, database and media folder."""
        env = {
            **self.env,
            "DJANGO_MEDIA_ROOT": str(self.directory / "media"),
            "TMPDIR": str(self.scratch),
            "LIVESHOP_RECORDINGS_JOB_LEASE_SECONDS": "20",
            "LIVESHOP_RECORDINGS_STALE_CHECK_SECONDS": "1",
        }
        log = (self.directory / f"worker-{name}.log").open("ab")
        try:
            return subprocess.Popen(
                [_bench_common().PYTHON, "-m", "celery", "-A", "liveshop", "worker", "-B", "-n", f"{name}@%h",
                 "--concurrency", "2", "-l", "info", "-s", str(self.directory / f"beat-{name}"),
                 "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()

    def worker_log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.directory.glob("worker-*.log")))

    def upload_video(self, seconds: int) -> int:
        """A video uploaded to the stack's brand (generated with ffmpeg), its transcode queued;
        returns the recording's id."""
        media = self.directory / "media"
        name = f"uploads/chaos-{int(time.time())}.mp4"
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
             "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             str(media / name)],
            check=True,
        )  # fmt: skip
        created = subprocess.run(
            [_bench_common().PYTHON, "-c", UPLOAD.format(bench=str(BENCH), name=name)],
            cwd=ROOT, env={**self.env, "DJANGO_MEDIA_ROOT": str(media)}, check=True, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        return int(created.stdout.strip().splitlines()[-1])

    def job(self, recording_id: int) -> dict:
        """The recording's job columns, read straight from the database."""
        import psycopg

        with psycopg.connect(self.database) as connection:
            row = connection.execute(
                "SELECT status, progress, attempts, lease_owner FROM recordings_recording WHERE id = %s",
                [recording_id],
            ).fetchone()
        return dict(zip(("status", "progress", "attempts", "lease_owner"), row, strict=True))

    def start_web(self, index: int) -> None:
        log = self.directory / f"web-{index}.log"
        self.web[index] = _bench_common().start_uvicorn(self.ports[index], self.env, None, log)

    def kill_web(self, index: int) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost host does: no shutdown, no goodbyes."""
        process = self.web[index]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
        self.web[index] = None

    def log(self, index: int) -> str:
        path = self.directory / f"web-{index}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def feature(self, port: int, product_id: int, timeout: float = 30) -> tuple[int, dict]:
        """The host's Feature click (the console's fetch): status and JSON body."""
        boundary = "----liveshopchaos"
        field = f'Content-Disposition: form-data; name="product_id"\r\n\r\n{product_id}'
        body = f"--{boundary}\r\n{field}\r\n--{boundary}--\r\n"
        path = f"/studio/events/{self.show['slug']}/feature/"
        origin = f"https://127.0.0.1:{port}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request(
                "POST",
                path,
                body=body.encode(),
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Accept": "application/json",
                    "X-CSRFToken": "chaoscsrftokenchaoscsrftoken0123",
                    "Cookie": f"sessionid={self.show['session']}; csrftoken=chaoscsrftokenchaoscsrftoken0123",
                    "Origin": origin,
                    "Referer": origin + path,
                    "X-Forwarded-Proto": "https",
                },
            )
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            return 0, {"error": str(exc)}
        finally:
            connection.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, {"raw": data[:300].decode(errors="replace")}

    def close(self) -> None:
        for index, process in enumerate(self.web):
            if process is not None:
                _bench_common().stop(process)
                self.web[index] = None
        self.redis.stop()
        self.postgres.remove()


class Viewer:
    """A viewer's page reduced to its socket: connects to one of ``ports`` (a load balancer's
    choice), reconnects with jittered backoff as viewer.js does, and keeps what the page shows."""

    BACKOFF = (0.5, 30.0)

    def __init__(self, ports: list[int], event_id: int, home: int):
        self.ports, self.event_id, self.home = ports, event_id, home
        self.highlight: int | None = None
        self.count: int | None = None
        self.feed = "ok"
        self.connected = False
        self.connects = 0
        self.closes = 0
        self.frames = 0
        self.last_error = ""
        self._stop = False

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        attempt = 0
        while not self._stop:
            port = self.ports[(self.home + attempt) % len(self.ports)]
            try:
                async with connect(
                    f"ws://127.0.0.1:{port}/ws/events/{self.event_id}/", origin=f"http://127.0.0.1:{port}",
                    open_timeout=20, ping_interval=None,
                ) as socket:  # fmt: skip
                    async for text in socket:
                        self.frames += 1
                        if self._on(json.loads(text)):
                            attempt = 0
            except Exception as exc:  # any loss (refused, reset, closed): reconnect, as the page does
                self.last_error = repr(exc)
            if self.connected:
                self.closes += 1
            self.connected = False
            if self._stop:
                return
            first, most = self.BACKOFF
            ceiling = min(most, first * 2**attempt)
            attempt += 1
            await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)

    def _on(self, frame: dict) -> bool:
        kind = frame.get("type")
        if kind == "snapshot":
            self.connected = True
            self.connects += 1
            self.feed = "ok"
            self.highlight = (frame.get("highlight") or {}).get("highlightId")
            self.count = frame.get("viewerCount")
            return True
        if kind == "product_featured":
            self.highlight = frame.get("highlightId")
        elif kind == "product_cleared":
            self.highlight = None
        elif kind == "viewer_count":
            self.count = frame["count"]
        elif kind in ("feed_status", "heartbeat"):
            self.feed = frame.get("status") or frame.get("feed")
        return False

    def stop(self) -> None:
        self._stop = True
