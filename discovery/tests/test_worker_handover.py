"""A discovery worker stopped during a show (a deploy, a scale-in) hands its sampler over: the real
``docker/start-discovery-worker`` (Celery, threads pool) samples a live show, gets SIGTERM, and
exits within ECS's stop timeout for the discovery service (30 s) with the show's sampler queued
again for another worker, instead of holding the shutdown until the show ends and being killed
with its sampler lost until the next go-live."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest
import redis
from celery import Celery
from django.conf import settings

from events.models import LiveEvent
from tests import celery_worker
from tests.media import ROOT, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed"),
]

STOP_TIMEOUT = 30  # deploy/cloudformation.yaml: the discovery container's StopTimeout


def queued_samplers(client: redis.Redis) -> list[str]:
    """The tasks waiting in the discovery queue, as name(args)."""
    messages = [json.loads(raw) for raw in client.lrange(settings.DISCOVERY_QUEUE, 0, -1)]
    return [f"{m['headers']['task']}{m['headers']['argsrepr']}" for m in messages]


def test_a_discovery_worker_stopped_during_a_show_hands_its_sampler_over(event, tmp_path):
    LiveEvent.objects.filter(pk=event.pk).update(
        status=LiveEvent.Status.LIVE, backend="local", channel_id="handover-show"
    )
    broker = celery_worker.broker_url(11)  # nothing else in the run queues there
    client = redis.Redis.from_url(broker)
    client.flushdb()
    env = celery_worker.worker_env(
        broker,
        VIDEO_BACKEND="local",
        LIVESHOP_MEDIA_SERVER_RTMP_PORT="9",  # nothing listens: the sampler keeps reopening
        LIVESHOP_DISCOVERY_SAMPLERS="2",
    )
    log = tmp_path / "discovery-worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(ROOT / "docker" / "start-discovery-worker")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    output = lambda: log.read_text(errors="replace")  # noqa: E731
    try:
        sender = Celery("sender", broker=broker, set_as_current=False)  # never the tasks' app
        sender.send_task("discovery.tasks.run_sampler_task", args=[event.pk], queue=settings.DISCOVERY_QUEUE)
        sender.close()
        wait_for(lambda: f"Sampling event {event.pk}" in output(), timeout=120, what="the sampler to start")
        assert queued_samplers(client) == []  # the worker took it

        worker.send_signal(signal.SIGTERM)  # what ECS sends when it stops the task
        assert worker.wait(timeout=STOP_TIMEOUT) == 0, output()[-3000:]

        assert f"Sampler of event {event.pk} handed over" in output()
        assert queued_samplers(client) == [f"discovery.tasks.run_sampler_task({event.pk},)"]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        client.flushdb()
