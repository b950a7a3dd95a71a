"""Helpers shared by the benchmarks in bench/ (not part of the application).

Also runnable as the stand-in for Amazon IVS: ``python bench/_common.py ivs-stub`` serves the IVS
REST API on a free loopback port (PutMetadata -> 204, anything else -> 200 ``{}``), prints
``{"port": N}`` and then one JSON line per request with its arrival time on the monotonic clock
(CLOCK_MONOTONIC, the same in every process on the machine) and the PutMetadata payload.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
UVICORN = str(ROOT / ".venv" / "bin" / "uvicorn")

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/liveshop_bench"
# A Redis database of its own (keys are removed at the end). Pub/sub channel names are global to
# the Redis server, so the seeded event gets an id no test database will reach (EVENT_ID).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
EVENT_ID = 7_000_001
EVENT_SLUG = "bench-live-show"
CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/abcdEFGH1234"
HOST_USERNAME = "bench-host"
HOST_PASSWORD = "bench-host-password-1"  # a throwaway user in the scratch database only


def raise_nofile() -> int:
    """Raise the open-files limit to the hard limit (10,000 sockets need it); children inherit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(cpu: int | None) -> None:
    """Pin this process to one core (None: leave it)."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def taskset(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def stop(proc: subprocess.Popen | None, timeout: float = 8) -> None:
    """Stop a process this bench started (its own process group, by id): SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# Django: production settings against a scratch database --------------------------------------


def server_env(db_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production deployment (DJANGO_DEBUG=false), on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LIVESHOP_", "IVS_", "AWS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="liveshop.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        VIDEO_BACKEND="fake",
        # Every viewer connects from 127.0.0.1: lift the per-IP connection limit.
        LIVESHOP_WS_CONNECT_LIMIT="100000000",
        LIVESHOP_WS_CONNECT_WINDOW="10",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def ivs_env(endpoint_url: str) -> dict[str, str]:
    """VIDEO_BACKEND=ivs with boto3 pointed at the local stand-in, dummy credentials."""
    return {
        "VIDEO_BACKEND": "ivs",
        "IVS_REGION": "us-west-2",
        "IVS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "AKIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench/secret/not/a/real/key/0000000000",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def ensure_database(db_url: str) -> None:
    """Create the scratch database if it is missing (reused otherwise)."""
    import psycopg

    name = db_url.rsplit("/", 1)[1].split("?")[0]
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )


def setup_django(env: dict[str, str]) -> None:
    """Set up Django in this process with ``env`` (call before importing project modules)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed_show():
    """Idempotent: a brand, a host, two products in the lineup of one live event (fixed id, IVS
    channel ARN) with an open stream session. Old highlights are removed. Two products because a
    repeat of the newest product within 2 s is a double click (the service returns it unchanged).
    Returns (event, products, host)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import Membership, Organization
    from catalog.models import Product
    from catalog.variants import ensure_default_variant
    from events.models import EventProduct, Highlight, LiveEvent, StreamSession

    org, _ = Organization.objects.get_or_create(slug="bench-brand", defaults={"name": "Bench Brand"})
    host, created = get_user_model().objects.get_or_create(
        username=HOST_USERNAME, defaults={"email": "host@bench.example", "is_staff": True}
    )
    if created:
        host.set_password(HOST_PASSWORD)
        host.save()
    Membership.objects.get_or_create(user=host, organization=org, defaults={"role": Membership.Role.HOST})
    products = []
    for sku, name in (("BENCH-1", "Trail Runner 2 (bench)"), ("BENCH-2", "Rain Shell Pro (bench)")):
        product, _ = Product.objects.get_or_create(
            organization=org,
            sku=sku,
            defaults={
                "name": name,
                "description": "A lightweight product used by the fan-out benchmark.",
                "price": "129.00",
                "external_url": "https://shop.example.com/products/" + sku.lower(),
            },
        )
        ensure_default_variant(product=product, stock=25)
        products.append(product)
    now = timezone.now()
    event, _ = LiveEvent.objects.update_or_create(
        pk=EVENT_ID,
        defaults={
            "organization": org,
            "title": "Bench live show",
            "slug": EVENT_SLUG,
            "scheduled_start": now - timedelta(minutes=5),
            "status": LiveEvent.Status.LIVE,
            "status_changed_at": now,
            "ended_by_host_at": None,
            "backend": "ivs",
            "channel_id": CHANNEL_ARN,
            "ingest_url": "rtmps://abcdefgh.global-contribute.live-video.net:443/app/",
            "playback_url": "https://abcdefgh.us-west-2.playback.live-video.net/api/video/v1/bench.m3u8",
            "created_by": host,
        },
    )
    for position, product in enumerate(products, 1):
        EventProduct.objects.get_or_create(event=event, product=product, defaults={"position": position})
    Highlight.objects.filter(event=event).delete()
    StreamSession.objects.filter(event=event).exclude(stream_id="st-bench").delete()
    StreamSession.objects.update_or_create(
        event=event, stream_id="st-bench", defaults={"started_at": now, "ended_at": None}
    )
    return event, products, host


def cleanup_redis(redis_url: str) -> None:
    """Remove the keys the application wrote in the bench's Redis database."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        patterns = (
            "liveshop:*",
            ":1:*",  # Django's cache
            "celery",  # a cue retry queued when the IVS stand-in was already gone (no worker runs)
            "_kombu.*",
        )
        keys = [key for pattern in patterns for key in client.scan_iter(match=pattern, count=1000)]
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


def start_uvicorn(
    port: int,
    env: dict[str, str],
    cpu: int | None,
    log_path: Path,
    ws: str = "websockets-sansio",
    app: str = "liveshop.asgi:application",
) -> subprocess.Popen:
    """The production ASGI command (docker/start-web) on loopback, pinned to ``cpu``."""
    # BENCH_PROFILE_DIR (for investigating, not for numbers): run the server under cProfile.
    # uvicorn re-raises SIGTERM after its shutdown; a no-op handler installed first lets the
    # profiler write its file.
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    profiler = (
        "import cProfile, signal, sys; signal.signal(signal.SIGTERM, lambda *a: None); "
        "from uvicorn.main import main; sys.argv[0] = 'uvicorn'; "
        f"cProfile.run('main()', '{profile_dir}/uvicorn-{port}.prof')"
    )
    cmd = [
        *taskset(cpu),
        *([PYTHON, "-c", profiler] if profile_dir else [UVICORN]),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--proxy-headers",
        "--forwarded-allow-ips=*",
        "--ws",
        ws,
    ]
    log = open(log_path, "ab")  # noqa: SIM115 (the child keeps it)
    try:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        log.close()
    try:
        wait_for_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc


# The stand-in for Amazon IVS ------------------------------------------------------------------


class IVSStub:
    """Runs ``python bench/_common.py ivs-stub`` in its own process and collects its lines."""

    def __init__(self, cpu: int | None = None):
        self.proc = subprocess.Popen(
            [*taskset(cpu), PYTHON, str(Path(__file__).resolve()), "ivs-stub"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        first = json.loads(self.proc.stdout.readline())
        self.port = first["port"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.requests.append(json.loads(line))
                self._cond.notify_all()

    def wait_for(self, predicate, timeout: float) -> dict | None:
        """The first recorded request matching ``predicate``, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        stop(self.proc)


class _IVSHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

    def do_POST(self):
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = self.path.strip("/").split("?")[0]
        record = {"t": arrived, "operation": operation}
        if operation == "PutMetadata":
            with contextlib.suppress(ValueError):
                record["metadata"] = json.loads(body).get("metadata", "")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._json(200, {})
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    def do_GET(self):
        self._json(200, {})

    def _json(self, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve_ivs_stub() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _IVSHandler)
    server.daemon_threads = True
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:] == ["ivs-stub"]:
        _serve_ivs_stub()
    else:
        sys.exit("usage: python bench/_common.py ivs-stub")
