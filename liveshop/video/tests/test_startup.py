"""Every process that sends cues or calls IVS builds its gateway clients as it starts, so the
first click of a show does not wait ~0.6 s for boto3 (events.timed_metadata.warm_up)."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber
from celery import signals
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.tests.factories import ProductFactory
from events import services, timed_metadata
from events.models import EventProduct, Highlight, LiveEvent
from events.tests.factories import LiveNowEventFactory, StreamSessionFactory
from liveshop.video import get_video_backend, ivs

ROOT = Path(__file__).resolve().parents[3]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookup on the network
}


@pytest.fixture
def ivs_backend(settings, monkeypatch):
    """VIDEO_BACKEND=ivs, not built yet; ``built`` counts the boto3 clients made."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    settings.VIDEO_BACKEND = "ivs"
    settings.IVS_REGION = "us-west-2"
    settings.IVS_ENDPOINT_URL = ""
    built = []
    real = ivs.ivs_client
    monkeypatch.setattr(ivs, "ivs_client", lambda: built.append("ivs") or real())
    get_video_backend.cache_clear()
    yield built
    get_video_backend.cache_clear()


@pytest.mark.django_db
def test_after_warm_up_the_first_feature_of_a_show_builds_no_client(
    ivs_backend, django_capture_on_commit_callbacks
):
    event = LiveNowEventFactory(backend="ivs")
    StreamSessionFactory(event=event, started_at=timezone.now() - timedelta(seconds=30))
    product = ProductFactory(organization=event.organization)
    EventProduct.objects.create(event=event, product=product)
    host = member(event.organization, role=Membership.Role.HOST)

    timed_metadata.warm_up()
    assert ivs_backend == ["ivs"]

    with Stubber(get_video_backend().client) as stub:
        stub.add_response("put_metadata", {}, {"channelArn": event.channel_id, "metadata": ANY})
        with django_capture_on_commit_callbacks(execute=True):
            highlight = services.feature_product(event=event, product=product, by=host)
        stub.assert_no_pending_responses()

    assert ivs_backend == ["ivs"]  # the first cue used the client built at start-up
    assert Highlight.objects.get(pk=highlight.pk).cue_state == Highlight.CueState.SENT
    assert LiveEvent.objects.get(pk=event.pk).is_live


def test_the_web_process_builds_the_ivs_client_as_it_starts(tmp_path):
    script = tmp_path / "start_web.py"
    script.write_text(
        "import json\n"
        "from liveshop.video import ivs\n"
        "built = []\n"
        "real = ivs.ivs_client\n"
        "ivs.ivs_client = lambda: built.append(1) or real()\n"
        "import liveshop.asgi  # what uvicorn imports\n"
        "from celery import current_app\n"
        "from liveshop.video import get_video_backend\n"
        "print(json.dumps({'built': len(built), 'client': get_video_backend()._client is not None,\n"
        "    'retry task known': cues_task in current_app.tasks}))\n".replace(
            "cues_task", repr(timed_metadata.RETRY_TASK)
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        AWS_ENV,
        DJANGO_SETTINGS_MODULE="liveshop.settings.base",
        DJANGO_DEBUG="true",
        VIDEO_BACKEND="ivs",
        IVS_REGION="us-west-2",
        PYTHONPATH=str(ROOT),
    )

    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"built": 1, "client": True, "retry task known": True}


def test_each_worker_pool_process_builds_the_ivs_client_as_it_starts(ivs_backend):
    signals.worker_process_init.send(sender="celery@test")  # a prefork child, after the fork

    assert ivs_backend == ["ivs"]
    assert get_video_backend()._client is not None


class Consumer:
    """What a worker sends worker_ready with, as far as the warm-up looks."""

    def __init__(self, pool):
        self.pool = pool


def test_a_thread_pool_worker_builds_it_and_a_prefork_main_process_does_not(ivs_backend):
    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    signals.worker_ready.send(sender=Consumer(PreforkPool.__new__(PreforkPool)))
    assert ivs_backend == []  # its pool processes run the tasks, and warm up themselves

    signals.worker_ready.send(sender=Consumer(ThreadPool.__new__(ThreadPool)))
    assert ivs_backend == ["ivs"]
