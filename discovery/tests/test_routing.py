"""A sampler holds its worker slot for a whole show: Celery routes it to its own queue, which only
the discovery worker consumes (docker/start-discovery-worker, in the Procfile, the demo and the
deploy template's discovery service), so the ordinary worker's tasks never wait behind samplers."""

import json
import re
from pathlib import Path

import pytest
import redis
import yaml
from django.conf import settings

from discovery import tasks
from liveshop.celery import app
from tests.test_deploy import CloudFormationLoader

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = settings.DISCOVERY_QUEUE


def processes(procfile: str) -> dict[str, str]:
    lines = (ROOT / procfile).read_text().splitlines()
    return {
        name: command.strip()
        for name, _, command in (line.partition(":") for line in lines if line[:1].isalpha())
    }


@pytest.fixture
def broker():
    """The Celery app publishing for real to the tests' Redis (not eager); yields that Redis, a
    connection and each queue's length before; the messages the test published are removed."""
    url = settings.REDIS_URL
    client = redis.Redis.from_url(url)
    before = {name: client.llen(name) for name in (QUEUE, "celery")}
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with app.connection_for_write(url) as connection:
            yield client, connection, before
    finally:
        app.conf.task_always_eager = eager
        for name, length in before.items():
            if client.llen(name) > length:
                client.lpop(name, client.llen(name) - length)


def task_names(client, queue: str, since: int) -> list[str]:
    """The tasks published to ``queue`` since it held ``since`` messages (kombu pushes on the left)."""
    new = client.lrange(queue, 0, client.llen(queue) - since - 1) if client.llen(queue) > since else []
    return [json.loads(raw)["headers"]["task"] for raw in new]


def test_the_sampler_goes_to_its_own_queue_and_other_tasks_to_the_default_one(broker):
    client, connection, before = broker
    tasks.run_sampler_task.apply_async(args=[42], connection=connection)
    tasks.index_product_task.apply_async(args=[7], connection=connection)

    assert task_names(client, QUEUE, before[QUEUE]) == ["discovery.tasks.run_sampler_task"]
    assert task_names(client, "celery", before["celery"]) == ["discovery.tasks.index_product_task"]


def test_only_the_discovery_worker_consumes_the_samplers_queue():
    ordinary = (ROOT / "docker" / "start-worker").read_text()
    discovery = (ROOT / "docker" / "start-discovery-worker").read_text().replace("\\\n", " ")

    assert "--queues" not in ordinary and " -Q" not in ordinary  # the default queue only
    assert re.search(rf"exec celery -A liveshop worker .*--queues {QUEUE}\b", discovery)
    # Celery's own default for a worker without -Q: what it declared at start, never a queue a
    # route created later in the process (so an ordinary worker that queues a sampler never runs it).
    queues = app.amqp.Queues(app.conf.task_queues)  # as a worker starts: the default queue
    queues[QUEUE]  # a route to it creates it
    assert QUEUE not in queues.consume_from
    assert processes("Procfile")["discovery"] == "docker/start-discovery-worker"
    assert "docker/start-discovery-worker" in processes("Procfile.demo")["samplers"]


def test_the_deploy_templates_discovery_service_runs_a_discovery_worker():
    template = yaml.load((ROOT / "deploy" / "cloudformation.yaml").read_text(), Loader=CloudFormationLoader)  # noqa: S506
    resources = template["Resources"]
    workers = {c["Name"]: c for c in resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"]}
    (discovery,) = resources["DiscoveryTaskDefinition"]["Properties"]["ContainerDefinitions"]

    assert resources["DiscoveryService"]["Properties"]["TaskDefinition"] == {"Ref": "DiscoveryTaskDefinition"}
    assert list(workers) == ["worker"]  # samplers never take the ordinary worker's slots
    assert workers["worker"]["Command"] == ["docker/start-worker"]
    assert discovery["Command"] == ["docker/start-discovery-worker"]
    assert discovery["Image"] == workers["worker"]["Image"]
    secret_names = {s["Name"] for s in discovery["Secrets"] if isinstance(s, dict) and "Name" in s}
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= secret_names
