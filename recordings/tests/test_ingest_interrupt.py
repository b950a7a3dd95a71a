"""Stopping an ingestion: the copy engine's cancellation, and ``manage.py ingest_recording``
stopped by a real SIGINT or SIGTERM in the middle of its copy. The command runs in a subprocess
(test settings, this test's database) against a moto S3 server in this process, whose
CopyObject is counted per destination key."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import boto3
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import S3Backend, s3_backends

from events.tests.factories import LiveEventFactory
from liveshop import objectstore
from recordings.models import Recording
from recordings.services import ingest
from recordings.services.ingest import LOCK_NAMESPACE
from recordings.tests.conftest import CDN, CHANNEL_ARN, REGION, SOURCE, STARTED_AT
from recordings.tests.recording_tree import RecordingSpec, write_recording
from tests.asgi_server import database_url
from tests.media import ROOT, free_port, wait_for

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def items(n: int) -> list[objectstore.CopyItem]:
    return [
        objectstore.CopyItem(source=objectstore.StoredObject(f"s/{i}", 10, ""), key=f"d/{i}", params={})
        for i in range(n)
    ]


def test_a_cancelled_copy_stops_between_objects_and_counts_what_finished():
    cancel = objectstore.Cancellation()
    copied = []

    def copy(item):
        copied.append(item.key)
        if len(copied) == 50:
            cancel.set()
        return item.source.size

    started = time.monotonic()
    with pytest.raises(objectstore.CopyCancelled) as raised:
        objectstore.run_copies(items(10_000), copy, concurrency=8, cancel=cancel)

    assert time.monotonic() - started < objectstore.CANCEL_GRACE + 1
    assert 50 <= raised.value.done == len(copied) < 100  # the copies started, at most the window
    assert (raised.value.total, raised.value.running, cancel.watchers) == (10_000, 0, 0)


def test_a_cancelled_copy_does_not_wait_long_for_a_stuck_request():
    cancel, release = objectstore.Cancellation(), threading.Event()

    def copy(item):
        if item.key == "d/3":
            cancel.set()
            release.wait(30)  # a request that hangs
        return item.source.size

    started = time.monotonic()
    with pytest.raises(objectstore.CopyCancelled) as raised:
        objectstore.run_copies(items(100), copy, concurrency=4, cancel=cancel)
    waited = time.monotonic() - started
    release.set()

    assert objectstore.CANCEL_GRACE - 0.1 < waited < objectstore.CANCEL_GRACE + 1
    assert raised.value.running == 1


def test_keyboard_interrupt_in_the_waiting_thread_stops_the_copy_too():
    calls = []

    def progress(p):
        calls.append(p)
        if p.done == 20:
            raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        objectstore.run_copies(items(5_000), lambda item: item.source.size, concurrency=8, progress=progress)

    assert time.monotonic() - started < objectstore.CANCEL_GRACE + 1
    assert calls[-1].done < 100


def lock_held(recording: Recording) -> bool:
    """Whether any session holds the recording's ingestion lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
            [LOCK_NAMESPACE, recording.pk],
        )
        return cursor.fetchone()[0] > 0


def test_a_signal_outside_the_copy_marks_the_recording_interrupted(
    s3, spec, recording_tree, show, monkeypatch, capsys
):
    """SIGTERM while the playlists are read (no copy threads yet): one line, the recording failed
    as interrupted, its lock free, and the next run makes it ready."""
    read_media = ingest.read_media

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        return read_media(*args, **kwargs)

    monkeypatch.setattr(ingest, "read_media", interrupted)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exited:
        call_command("ingest_recording", "--bucket", SOURCE, "--prefix", spec.prefix)

    assert exited.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err.splitlines() == [
        f"s3://{SOURCE}/{spec.prefix}: Interrupted before the replay was ready; ingesting it again "
        "resumes it (SIGTERM)"
    ]
    recording = Recording.objects.get(source_bucket=SOURCE)
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason.startswith("Interrupted before the replay was ready")
    assert not lock_held(recording)
    assert signal.getsignal(signal.SIGTERM) == handler  # the command's handler is gone

    monkeypatch.setattr(ingest, "read_media", read_media)
    call_command("ingest_recording", "--bucket", SOURCE, "--prefix", spec.prefix, verbosity=0)
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason) == (Recording.Status.READY, "")


@pytest.fixture
def moto_server(monkeypatch):
    """A moto S3 server on a free port with the source and CDN buckets; yields its endpoint
    and the CopyObject count per key of the CDN bucket."""
    from moto.server import ThreadedMotoServer

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    copies, lock = Counter(), threading.Lock()
    real = S3Backend.copy_object

    def counted(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs):
        result = real(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        if dest_bucket_name == CDN:
            with lock:
                copies[dest_key_name] += 1
        return result

    monkeypatch.setattr(S3Backend, "copy_object", counted)
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)  # a line a request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        for bucket in (SOURCE, CDN):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield endpoint, copies
    finally:
        server.stop()
        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].reset()


def start_ingestion(endpoint: str, prefix: str, log) -> subprocess.Popen:
    environment = {
        **os.environ,
        **CREDENTIALS,
        "DJANGO_SETTINGS_MODULE": "liveshop.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_RECORDINGS_BUCKET_NAME": CDN,
        "IVS_RECORDINGS_BUCKET_NAME": SOURCE,
        "LIVESHOP_RECORDINGS_COPY_CONCURRENCY": "32",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "ingest_recording", "--bucket", SOURCE, "--prefix", prefix]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_copy_stops_at_once_and_a_rerun_copies_the_rest_once(moto_server, sent, tmp_path):
    endpoint, copies = moto_server
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    # 5 minutes of 1-second segments in 4 renditions: ~1,200 objects (the signal comes after 300).
    spec = RecordingSpec(
        channel_arn=CHANNEL_ARN, started_at=STARTED_AT, streams=[(0.0, 300.0)], segment_seconds=1
    )
    objects = write_recording(lambda key, body: backend.put_object(SOURCE, key, body), spec)
    total = sum(1 for key in objects if not key.startswith("events/"))
    LiveEventFactory(channel_id=CHANNEL_ARN, backend="ivs")
    first = tmp_path / "first.out"

    with first.open("wb") as log:
        process = start_ingestion(endpoint, spec.prefix, log)
    try:
        wait_for(lambda: sum(copies.values()) >= 300 or process.poll() is not None, timeout=90, what="copies")
        assert process.poll() is None, first.read_text()
        process.send_signal(sent)
        signalled = time.monotonic()
        process.wait(timeout=15)
        stopped_in = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = first.read_text()
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("copying ")]
    assert stopped_in < 5, output
    assert process.returncode == 128 + sent, output
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert "Interrupted with" in lines[0] and lines[0].endswith(f"({sent.name})"), output
    copied_before = sum(copies.values())
    assert 300 <= copied_before < total
    recording = Recording.objects.get(source_bucket=SOURCE)
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason.startswith("Interrupted with")
    assert not lock_held(recording)

    second = tmp_path / "second.out"
    with second.open("wb") as log:
        rerun = start_ingestion(endpoint, spec.prefix, log)
    try:
        rerun.wait(timeout=180)
    finally:
        if rerun.poll() is None:
            rerun.kill()
            rerun.wait()

    output = second.read_text()
    assert rerun.returncode == 0, output
    assert f"{total - copied_before} copied now, {copied_before} already there" in output
    assert len(copies) == total
    assert set(copies.values()) == {1}  # every object copied exactly once over both runs
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason, recording.objects_copied) == ("ready", "", total)
