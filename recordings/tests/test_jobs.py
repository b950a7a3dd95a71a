"""Recording jobs that outlive their worker (recordings.services.jobs): the Celery settings that
deliver a killed worker's task again, the lease that makes a repeated transcode finish once, ffmpeg
dying with its worker, temporary folders removed, the periodic check of stuck jobs and the studio's
Retry button. The same against a real worker that is SIGKILLed: test_worker_resilience.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from recordings import tasks
from recordings.models import Recording
from recordings.services import jobs, transcode
from tests.media import wait_for

pytestmark = pytest.mark.django_db

Status = Recording.Status


@pytest.fixture(scope="module")
def sample_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "sample.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Job folders in this test's own temporary folder (other runs may share the machine's)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def queued(monkeypatch):
    """The transcode and ingestion tasks queued (after commit), instead of run."""
    calls = []
    monkeypatch.setattr(tasks.transcode_upload_task, "delay", lambda *a: calls.append(("transcode", *a)))
    monkeypatch.setattr(tasks.ingest_recording_task, "delay", lambda *a: calls.append(("ingest", *a)))
    return calls


def make_upload(brand, sample_video=None, **fields) -> Recording:
    recording = Recording(organization=brand, backend="upload", title="Spring", slug=f"v{time.time_ns()}")
    if sample_video is not None:
        recording.upload.save("show.mp4", ContentFile(sample_video.read_bytes()), save=False)
    for name, value in fields.items():
        setattr(recording, name, value)
    recording.save()
    return recording


def job_folders(recording_id: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{jobs.FOLDER_PREFIX}{recording_id}-*"))


def expire(recording: Recording) -> None:
    Recording.objects.filter(pk=recording.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# Celery settings ------------------------------------------------------------------------------


def test_celery_redelivers_a_task_whose_worker_died_and_not_one_still_running():
    from liveshop.celery import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # Redis hands an unacknowledged message out again after the visibility timeout: past the
    # longest task, or a running transcode would be delivered twice.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit


def test_beat_runs_the_stale_job_check():
    from liveshop.celery import app

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["recordings-check-stale-jobs"]
    assert entry["task"] == tasks.check_stale_jobs_task.name
    assert entry["task"] in app.tasks
    assert 0 < entry["schedule"] <= 300


# The lease --------------------------------------------------------------------------------------


def test_a_second_delivery_while_an_attempt_holds_the_job_does_no_work(brand, sample_video, monkeypatch):
    video = make_upload(brand, sample_video)
    lease = jobs.claim(recording_id=video.pk)
    monkeypatch.setattr(transcode, "run_ffmpeg", lambda *a, **k: pytest.fail("a duplicate transcoded"))

    assert tasks.transcode_upload_task.apply(args=(video.pk,)).get() == "processing"

    video.refresh_from_db()
    assert (video.status, video.attempts, video.lease_owner) == ("processing", 1, lease.owner)


def test_a_ready_or_failed_video_is_not_transcoded_again(brand, sample_video, monkeypatch):
    monkeypatch.setattr(transcode, "run_ffmpeg", lambda *a, **k: pytest.fail("transcoded again"))
    for status in ("ready", "failed"):
        video = make_upload(brand, sample_video, status=status, attempts=1)
        assert transcode.transcode_upload(recording_id=video.pk).status == status
        video.refresh_from_db()
        assert video.attempts == 1


def test_a_job_whose_lease_ran_out_is_taken_over_once_and_the_old_attempt_stores_nothing(brand, sample_video):
    video = make_upload(brand, sample_video)
    stale = jobs.claim(recording_id=video.pk)
    expire(video)

    video = transcode.transcode_upload(recording_id=video.pk)

    assert (video.status, video.progress, video.attempts) == ("ready", 100, 2), video.failure_reason
    assert (video.lease_owner, video.lease_expires_at) == ("", None)
    with pytest.raises(jobs.LeaseLost):
        stale.beat(force=True)
    with pytest.raises(jobs.LeaseLost):
        jobs.finish(stale, status=Status.FAILED, failure_reason="late")
    video.refresh_from_db()
    assert (video.status, video.failure_reason) == ("ready", "")


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(brand):
    video = make_upload(
        brand,
        status=Status.PROCESSING,
        attempts=1,
        lease_owner=f"{socket.gethostname()}:{dead_pid()}:abc",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert jobs.is_stale(video)
    assert jobs.claim(recording_id=video.pk).attempt == 2

    alive = make_upload(
        brand,
        status=Status.PROCESSING,
        lease_owner=f"{socket.gethostname()}:{os.getpid()}:abc",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    elsewhere = make_upload(
        brand,
        status=Status.PROCESSING,
        lease_owner=f"another-host:{dead_pid()}:abc",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert jobs.claim(recording_id=alive.pk) is None
    assert jobs.claim(recording_id=elsewhere.pk) is None


def test_a_video_that_keeps_killing_its_worker_fails_instead_of_being_redelivered_for_ever(brand, settings):
    settings.RECORDINGS_JOB_MAX_ATTEMPTS = 3
    video = make_upload(
        brand, status=Status.PROCESSING, attempts=3, lease_owner=f"{socket.gethostname()}:{dead_pid()}:abc"
    )

    assert tasks.transcode_upload_task.apply(args=(video.pk,)).get() == "failed"

    video.refresh_from_db()
    assert (video.attempts, video.lease_owner) == (3, "")
    assert "stopped unexpectedly 3 times" in video.failure_reason


def test_only_uploads_are_transcoded(brand):
    from events.tests.factories import LiveEventFactory

    event = LiveEventFactory(organization=brand)
    recording = Recording.objects.create(
        organization=brand, event=event, backend="ivs", status=Status.PENDING
    )

    assert jobs.claim(recording_id=recording.pk) is None
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("pending", 0)


def test_progress_extends_the_lease(brand, settings):
    settings.RECORDINGS_JOB_LEASE_SECONDS = 60
    video = make_upload(brand)
    lease = jobs.claim(recording_id=video.pk)
    Recording.objects.filter(pk=video.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=2))

    lease.beat(progress=40)

    video.refresh_from_db()
    assert video.progress == 40
    assert video.lease_expires_at > timezone.now() + timedelta(seconds=50)


def test_a_transcode_extends_its_lease_while_ffmpeg_reports_progress(brand, sample_video, monkeypatch):
    video = make_upload(brand, sample_video)
    beats = []
    real_beat = jobs.Lease.beat

    def beat(self, **kwargs):
        real_beat(self, **kwargs)
        beats.append(Recording.objects.values_list("lease_expires_at", flat=True).get(pk=video.pk))

    monkeypatch.setattr(jobs.Lease, "beat", beat)
    transcode.transcode_upload(recording_id=video.pk)

    assert len(beats) >= 3
    assert beats == sorted(beats)


# ffmpeg and temporary folders -----------------------------------------------------------------


def test_a_child_started_with_die_with_parent_dies_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from liveshop.processes import die_with_parent_hook\n"
            "child = subprocess.Popen(['sleep', '60'], preexec_fn=die_with_parent_hook())\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    wait_for(lambda: not _running(child), timeout=10, what="the orphaned child to die")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_ffmpeg_is_stopped_and_the_folder_removed_when_the_task_fails_mid_transcode(
    brand, sample_video, monkeypatch
):
    video = make_upload(brand, sample_video)
    started = []
    real_popen = subprocess.Popen

    class Recorded(real_popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    def lost(*args, **kwargs):
        raise jobs.LeaseLost("taken over")

    monkeypatch.setattr(subprocess, "Popen", Recorded)  # liveshop.media starts ffmpeg
    monkeypatch.setattr(transcode, "_progress_writer", lambda lease, **k: lost)

    transcode.transcode_upload(recording_id=video.pk)

    assert started and all(p.poll() is not None for p in started)
    assert job_folders(video.pk) == []


def test_a_failed_transcode_removes_its_folder(brand, sample_video, monkeypatch):
    video = make_upload(brand, sample_video)
    real = transcode.ffmpeg_command
    monkeypatch.setattr(
        transcode, "ffmpeg_command", lambda *a: [*real(*a)[:-1], "-hls_time", "x", real(*a)[-1]]
    )

    video = transcode.transcode_upload(recording_id=video.pk)

    assert video.status == "failed" and video.failure_reason.startswith("The video could not be processed")
    assert (video.lease_owner, video.attempts) == ("", 1)
    assert job_folders(video.pk) == []


def test_a_killed_attempts_folder_is_removed_when_the_job_runs_again(brand, sample_video):
    video = make_upload(brand, sample_video, status=Status.PROCESSING, attempts=1)
    leftover = Path(tempfile.gettempdir()) / f"{jobs.FOLDER_PREFIX}{video.pk}-1-{dead_pid()}"
    (leftover / "hls").mkdir(parents=True)
    (leftover / "hls" / "segment_0000.ts").write_bytes(b"x" * 1000)

    assert transcode.transcode_upload(recording_id=video.pk).status == "ready"

    assert job_folders(video.pk) == []


# The periodic check ---------------------------------------------------------------------------


def test_the_check_requeues_a_stuck_transcode_then_fails_it_with_a_reason(
    brand, queued, settings, django_capture_on_commit_callbacks
):
    settings.RECORDINGS_JOB_MAX_ATTEMPTS = 3
    video = make_upload(brand, status=Status.PROCESSING, attempts=1, progress=10, lease_owner="gone:1:x")
    expire(video)
    working = make_upload(brand)
    jobs.claim(recording_id=working.pk)

    with django_capture_on_commit_callbacks(execute=True):
        result = jobs.check_stale_jobs()

    assert (result.requeued, result.failed) == ([video.pk], [])
    assert queued == [("transcode", video.pk)]
    video.refresh_from_db()
    assert (video.status, video.lease_owner, video.attempts) == ("pending", "", 1)

    Recording.objects.filter(pk=video.pk).update(
        status=Status.PROCESSING, attempts=3, lease_owner="gone:1:x", lease_expires_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = jobs.check_stale_jobs()

    assert (result.requeued, result.failed) == ([], [video.pk])
    assert len(queued) == 1
    video.refresh_from_db()
    assert video.status == "failed"
    assert "stopped unexpectedly 3 times" in video.failure_reason and "Retry" in video.failure_reason
    working.refresh_from_db()
    assert (working.status, working.attempts) == ("processing", 1)


def test_the_check_requeues_a_copying_recording_no_process_ingests(
    queued, django_capture_on_commit_callbacks
):
    from events.tests.factories import LiveEventFactory

    event = LiveEventFactory()
    recording = Recording.objects.create(
        organization=event.organization,
        event=event,
        backend="ivs",
        status=Status.COPYING,
        source_bucket="ivs-bucket",
        source_prefix="ivs/v1/1/chan/2026/12/3/13/0/rec",
    )
    Recording.objects.filter(pk=recording.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        result = jobs.check_stale_jobs()

    assert result.requeued == [recording.pk]
    assert queued == [("ingest", "ivs-bucket", "ivs/v1/1/chan/2026/12/3/13/0/rec")]
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("copying", 1)
    # Just requeued: not stuck again until the lease's time has passed.
    assert jobs.check_stale_jobs().requeued == []


def test_the_check_leaves_an_ingestion_that_holds_its_lock(queued):
    from django.db import connection

    from events.tests.factories import LiveEventFactory
    from recordings.services.ingest import LOCK_NAMESPACE

    event = LiveEventFactory()
    recording = Recording.objects.create(
        organization=event.organization, event=event, backend="ivs", status=Status.COPYING,
        source_bucket="b", source_prefix="ivs/v1/1/chan/2026/12/3/13/0/rec",
    )  # fmt: skip
    Recording.objects.filter(pk=recording.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    other = connection.copy()  # another session holds the lock, as a live ingestion does
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, recording.pk])
        assert jobs.check_stale_jobs().requeued == []
    finally:
        other.close()
    assert queued == []


def test_the_check_removes_leftover_folders_but_not_a_live_attempts(brand):
    dead = make_upload(brand, status=Status.FAILED, attempts=1)
    live = make_upload(brand)
    lease = jobs.claim(recording_id=live.pk)
    leftover = Path(tempfile.gettempdir()) / f"{jobs.FOLDER_PREFIX}{dead.pk}-1-{dead_pid()}"
    working = Path(tempfile.gettempdir()) / f"{jobs.FOLDER_PREFIX}{live.pk}-{lease.attempt}-{os.getpid()}"
    for folder in (leftover, working):
        folder.mkdir(exist_ok=True)
    try:
        call_command("check_stale_jobs", stdout=open(os.devnull, "w"))  # noqa: SIM115
        assert not leftover.exists()
        assert working.exists()
    finally:
        for folder in (leftover, working):
            if folder.exists():
                folder.rmdir()


# Retry ------------------------------------------------------------------------------------------


@pytest.fixture
def failed(brand):
    return make_upload(
        brand, status=Status.FAILED, attempts=3, failure_reason=jobs.STUCK_UPLOAD.format(attempts=3)
    )


def test_a_failed_video_shows_its_reason_and_a_retry_button(client, brand, failed):
    client.force_login(member(brand, role=Membership.Role.HOST))

    page = client.get(reverse("videos:detail", args=[failed.pk])).content.decode()

    assert "stopped unexpectedly 3 times" in page
    assert f'action="{reverse("videos:retry", args=[failed.pk])}"' in page and ">Retry</button>" in page


def test_retry_requeues_the_transcode(client, brand, failed, queued, django_capture_on_commit_callbacks):
    client.force_login(member(brand, role=Membership.Role.HOST))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("videos:retry", args=[failed.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("videos:detail", args=[failed.pk])
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.failure_reason, failed.progress) == ("pending", 0, "", 0)
    assert queued == [("transcode", failed.pk)]


def test_retry_is_for_failed_videos_and_editors_of_the_brand(
    client, brand, failed, queued, django_capture_on_commit_callbacks
):
    client.force_login(member(brand, role=Membership.Role.MODERATOR))
    assert client.post(reverse("videos:retry", args=[failed.pk])).status_code == 403
    client.force_login(member(OrganizationFactory(), role=Membership.Role.OWNER))
    assert client.post(reverse("videos:retry", args=[failed.pk])).status_code == 404
    client.force_login(member(brand, role=Membership.Role.HOST))
    assert client.get(reverse("videos:retry", args=[failed.pk])).status_code == 405

    ready = make_upload(brand, status=Status.READY)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("videos:retry", args=[ready.pk]))
    ready.refresh_from_db()
    assert ready.status == "ready" and queued == []
