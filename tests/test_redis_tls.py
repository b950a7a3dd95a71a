"""Production Redis over TLS (rediss://, as ElastiCache's in-transit encryption needs): the cache,
the channel layer, Celery's broker and the realtime hub's clients all take a rediss:// REDIS_URL
and check the server's certificate; LIVESHOP_REDIS_TLS=required refuses a clear-text URL. The
last test runs them against a real redis-server with TLS on (a throwaway CA and certificate)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.media import free_port, wait_for
from tests.test_settings import run_django

PROBE = """
import json, django
from django.conf import settings
django.setup()
from liveshop.celery import app
print(json.dumps({
    "cache": settings.CACHES["default"]["LOCATION"],
    "layer": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
    "broker": app.conf.broker_url,
    "broker_ssl": app.conf.broker_use_ssl,
}))
"""

# Each Redis client Liveshop uses, over the URL in the environment; prints what each got back.
ROUND_TRIP = """
import asyncio, json, django
from django.conf import settings
django.setup()
import redis, redis.asyncio
from channels.layers import get_channel_layer
from django.core.cache import cache
from liveshop.celery import app

out = {}
cache.set("tls-probe", "cached", 30)
out["cache"] = cache.get("tls-probe")

async def layer():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe", "text": "layered"})
    return (await layer.receive(channel))["text"]
out["layer"] = asyncio.run(layer())

with app.connection_for_write() as connection:
    queue = connection.SimpleQueue("tls-probe")
    queue.put({"text": "brokered"})
    out["broker"] = queue.get(timeout=10).payload["text"]
    queue.close()

out["hub"] = redis.Redis.from_url(settings.REDIS_URL).ping()
async def hub():  # as events.realtime's hub builds its clients: a blocking pool and pub/sub
    pool = redis.asyncio.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=2)
    client = redis.asyncio.Redis(connection_pool=pool)
    feed = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    pubsub = feed.pubsub()
    try:
        await pubsub.subscribe("tls-probe")
        await pubsub.get_message(timeout=5)  # the subscribe confirmation
        await client.publish("tls-probe", "published")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        return message["data"].decode()
    finally:
        await pubsub.aclose()
        await feed.aclose()
        await client.aclose()
        await pool.aclose()
out["hub_async"] = asyncio.run(hub())
print(json.dumps(out))
"""

BASE_ENV = {"DJANGO_SETTINGS_MODULE": "liveshop.settings.base", "VIDEO_BACKEND": "fake"}


def probe(url: str, **extra) -> dict:
    result = run_django(PROBE, {**BASE_ENV, "REDIS_URL": url, **extra})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_rediss_url_gives_every_client_tls_with_certificate_checks():
    url = "rediss://:token@master.liveshop.abc123.use1.cache.amazonaws.com:6379/0"

    values = probe(url)

    assert values["cache"] == url
    assert values["layer"] == [url]
    assert values["broker"].startswith("rediss://")
    # kombu alone would skip the certificate check for a bare rediss:// URL (CERT_NONE).
    assert values["broker_ssl"] == {"ssl_cert_reqs": 2}  # ssl.CERT_REQUIRED


def test_a_private_ca_in_the_url_reaches_the_broker_too():
    values = probe("rediss://cache.internal:6379/0?ssl_ca_certs=/etc/liveshop/redis-ca.pem")

    assert values["broker_ssl"] == {"ssl_cert_reqs": 2, "ssl_ca_certs": "/etc/liveshop/redis-ca.pem"}


def test_plain_redis_has_no_ssl_options():
    assert probe("redis://cache.internal:6379/0")["broker_ssl"] is None


def test_required_tls_refuses_a_clear_text_redis_url():
    result = run_django(
        PROBE, {**BASE_ENV, "REDIS_URL": "redis://cache.internal:6379/0", "LIVESHOP_REDIS_TLS": "required"}
    )

    assert result.returncode != 0
    assert "REDIS_URL must start with rediss://" in result.stderr
    assert probe("rediss://cache.internal:6379/0", LIVESHOP_REDIS_TLS="required")["broker_ssl"]


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """A throwaway redis-server accepting TLS only, with a certificate for localhost from a
    throwaway CA; yields (port, CA file)."""
    if not (shutil.which("redis-server") and shutil.which("openssl")):
        pytest.skip("needs redis-server and openssl")
    folder = tmp_path_factory.mktemp("tls")
    _certificates(folder)
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(folder / "server.pem"), "--tls-key-file", str(folder / "server.key"),
         "--tls-ca-cert-file", str(folder / "ca.pem"), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(
            lambda: process.poll() is not None or _listening(port), timeout=20, what="redis-server (TLS)"
        )
        assert process.poll() is None, "redis-server has no TLS support"
        yield port, folder / "ca.pem"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _certificates(folder: Path) -> None:
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=Liveshop test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "san.cnf")  # fmt: skip


def test_cache_channel_layer_broker_and_hub_work_over_tls(tls_redis):
    port, ca = tls_redis
    url = f"rediss://localhost:{port}/0?ssl_ca_certs={ca}"

    result = run_django(ROUND_TRIP, {**BASE_ENV, "REDIS_URL": url})

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "cache": "cached",
        "layer": "layered",
        "broker": "brokered",
        "hub": True,
        "hub_async": "published",
    }


def test_the_broker_refuses_a_server_whose_certificate_it_cannot_verify(tls_redis):
    port, _ = tls_redis
    code = (
        "import django; django.setup()\n"
        "from liveshop.celery import app\n"
        "with app.connection_for_write() as c:\n"
        "    c.ensure_connection(max_retries=1)\n"
        "    c.default_channel.client.ping()\n"
    )

    result = run_django(code, {**BASE_ENV, "REDIS_URL": f"rediss://localhost:{port}/0"})

    assert result.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate verify failed" in result.stderr


def test_the_stack_asks_for_redis_tls_and_passes_it_to_its_task():
    import yaml

    from tests.test_deploy import TEMPLATE, CloudFormationLoader

    template = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (safe loader + tags)
    parameter = template["Parameters"]["RedisTls"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("required", ["required", "optional"])
    container = template["Resources"]["IngestTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    # All in: the stack's own ElastiCache always has TLS; bring your own: the parameter says.
    tls = {"Fn::If": ["AllIn", "required", {"Ref": "RedisTls"}]}
    assert {"Name": "LIVESHOP_REDIS_TLS", "Value": tls} in container["Environment"]
