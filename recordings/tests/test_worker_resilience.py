"""A transcode survives its worker being SIGKILLed, against a real ``celery -A liveshop worker``
(with its embedded beat), the run's throwaway Redis as broker, this test's database and real
ffmpeg: killed once in its pool child (requeued at once, reject on worker lost) and once as a whole
process group (a crashed container: the periodic check requeues it), the video ends ready exactly
once, with one set of outputs, no ffmpeg left running and no temporary folder left behind.

It runs a worker for about a minute; the lease and the check are unit-tested in test_jobs.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import redis
from celery import Celery

from accounts.tests.factories import OrganizationFactory
from recordings.models import Recording
from recordings.playlists import parse_master, parse_media
from recordings.services import jobs
from tests import celery_worker
from tests.media import ROOT, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed"),
]

VIDEO_SECONDS = 30


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill_group(self) -> None:
        """SIGKILL the worker, its pool children and its beat at once, as a crashed container."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def start_worker(directory: Path, name: str, env: dict[str, str]) -> Worker:
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "liveshop", "worker", "-B", "-n", f"{name}@%h",
             "--concurrency", "2", "-l", "info", "-s", str(directory / f"{name}-beat"),
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Worker(process, log)


def broker_url() -> str:
    """The run's Redis, in a database of its own (nothing else in the run queues there)."""
    return celery_worker.broker_url(15)


def make_video(path: Path, *, seconds: float = VIDEO_SECONDS, size: str = "1280x720", rate: int = 25) -> None:
    path.parent.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", str(rate), "-pix_fmt", "yuv420p", "-c:a", "aac",
         str(path)],
        check=True,
    )  # fmt: skip


def job(pk: int) -> Recording:
    return Recording.objects.get(pk=pk)


def ffmpeg_of(pk: int, attempt: int) -> tuple[int, psutil.Process]:
    """The pool child that holds the job's lease for ``attempt`` and its ffmpeg, once running."""

    def found():
        video = job(pk)
        if video.attempts != attempt or video.progress < 10 or not video.lease_owner:
            return None
        pid = int(video.lease_owner.split(":")[1])
        try:
            children = [c for c in psutil.Process(pid).children() if c.name() == "ffmpeg"]
        except psutil.NoSuchProcess:
            return None
        return (pid, children[0]) if children else None

    return wait_for(found, timeout=180, interval=0.2, what=f"attempt {attempt} to transcode past 10 %")


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_env(media: Path, scratch: Path, broker: str) -> dict[str, str]:
    return celery_worker.worker_env(
        broker,
        VIDEO_BACKEND="fake",
        DJANGO_MEDIA_ROOT=str(media),
        TMPDIR=str(scratch),
        LIVESHOP_RECORDINGS_JOB_LEASE_SECONDS="20",
        LIVESHOP_RECORDINGS_STALE_CHECK_SECONDS="1",
    )


def pending_video(media: Path, **options) -> Recording:
    brand = OrganizationFactory()
    name = f"uploads/{brand.pk}/show.mp4"
    make_video(media / name, **options)
    return Recording.objects.create(
        organization=brand, backend="upload", title="Show", slug="show", upload=name, status="pending"
    )


def test_a_transcode_killed_with_its_worker_finishes_exactly_once(tmp_path):
    media, scratch = tmp_path / "media", tmp_path / "tmp"
    scratch.mkdir()
    video = pending_video(media)
    broker = broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = worker_env(media, scratch, broker)
    workers = [start_worker(tmp_path, "first", env)]
    try:
        sender = Celery("sender", broker=broker, set_as_current=False)  # never the tasks' app
        sender.send_task("recordings.tasks.transcode_upload_task", args=[video.pk])
        sender.close()

        # 1. The pool child running the transcode is killed: ffmpeg dies with it, and the worker
        #    requeues the message at once; the new child takes over the dead child's lease.
        child, ffmpeg = ffmpeg_of(video.pk, attempt=1)
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: gone(ffmpeg), timeout=10, what="the killed child's ffmpeg to die")
        started = time.monotonic()
        _, ffmpeg = ffmpeg_of(video.pk, attempt=2)
        requeued_in = time.monotonic() - started
        # The worker notices its lost child on its own schedule: wait for it before the group dies
        # (the periodic check may have started attempt 2 first; a CI run killed it before it wrote).
        wait_for(
            lambda: "WorkerLostError" in workers[0].output(),
            timeout=60,
            what="the worker to report its child",
        )
        assert not list(scratch.glob(f"{jobs.FOLDER_PREFIX}{video.pk}-1-*"))

        # 2. The whole worker dies (a crashed container): the message stays unacknowledged in
        #    Redis; a new worker's periodic check finds the stale job and runs it again.
        workers[0].kill_group()
        killed = time.monotonic()
        wait_for(lambda: gone(ffmpeg), timeout=10, what="the killed worker's ffmpeg to die")
        assert list(scratch.glob(f"{jobs.FOLDER_PREFIX}{video.pk}-2-*"))  # what the kill left
        workers.append(start_worker(tmp_path, "second", env))
        wait_for(lambda: job(video.pk).attempts == 3, timeout=120, what="the check to run the job again")
        restarted_in = time.monotonic() - killed
        wait_for(
            lambda: job(video.pk).status in ("ready", "failed"),
            timeout=300,
            interval=0.25,
            what="the video to be ready",
        )
        recovered_in = time.monotonic() - killed
        assert job(video.pk).status == "ready", tail(workers)
        # The attempt removes its working folder after its commit: let it before the group dies.
        wait_for(
            lambda: not list(scratch.glob(f"{jobs.FOLDER_PREFIX}*")),
            timeout=60,
            what="the finished attempt to remove its working folder",
        )
    finally:
        for worker in workers:
            worker.kill_group()

    video = job(video.pk)
    logs = "".join(w.output() for w in workers)
    assert (video.status, video.progress, video.failure_reason) == ("ready", 100, ""), tail(workers)
    # Exactly once: the third attempt finished (a second run of it would be attempt 4) and ended
    # its lease. Not counted from the pool children's "Video transcoded" lines: in whole-suite
    # runs the second worker's children stopped reaching its log while they kept working (seen
    # twice, never in this test alone or with recordings/tests; cause not found).
    assert (video.attempts, video.lease_owner) == (3, "")
    assert len(re.findall(r"Video transcoded", logs)) <= 1
    assert "WorkerLostError" in workers[0].output()
    assert_one_set_of_outputs(media / "recordings", video)
    assert list(scratch.glob(f"{jobs.FOLDER_PREFIX}*")) == []
    assert not [
        p for p in psutil.process_iter(["name", "cmdline"]) if str(media) in " ".join(p.info["cmdline"] or [])
    ]
    print(
        f"\nchild killed -> attempt 2 past 10 %: {requeued_in:.1f} s; worker killed -> attempt 3 "
        f"started: {restarted_in:.1f} s, ready: {recovered_in:.1f} s"
    )


def tail(workers: list[Worker]) -> str:
    """The end of each worker's log, for a failure message."""
    return "\n".join(f"--- {w.log.name}\n{w.output()[-2500:]}" for w in workers)


def assert_one_set_of_outputs(root: Path, video: Recording) -> None:
    assert video.cdn_prefix.startswith("private/")  # uploaded videos are private media
    folder = root / video.cdn_prefix
    stored = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    expected = {"master.m3u8", "thumbnail.jpg"}
    for variant in parse_master((folder / "master.m3u8").read_text()):
        expected.add(variant.uri)
        base = variant.uri.rsplit("/", 1)[0]
        playlist = parse_media((folder / variant.uri).read_text())
        expected |= {f"{base}/{segment.uri}" for segment in playlist.segments}
    assert stored == expected
    assert video.master_path == f"{video.cdn_prefix}/master.m3u8"


def test_a_chunked_transcode_killed_with_its_worker_goes_on_from_its_finished_pieces(tmp_path):
    """16 s in pieces of 2 s on a worker of two pool children (the video's attempt and a
    helper taking pieces in parallel); the whole worker is SIGKILLed once some pieces are done:
    a new worker's periodic check runs the job again, which skips the split and those pieces."""
    from recordings.models import TranscodePiece

    media, scratch = tmp_path / "media", tmp_path / "tmp"
    scratch.mkdir()
    video = pending_video(media, seconds=16, size="320x240", rate=10)
    broker = broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = {
        **worker_env(media, scratch, broker),
        "LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS": "3",
        "LIVESHOP_TRANSCODE_PIECE_SECONDS": "2",
    }
    workers = [start_worker(tmp_path, "first", env)]
    try:
        sender = Celery("sender", broker=broker, set_as_current=False)  # never the tasks' app
        sender.send_task("recordings.tasks.transcode_upload_task", args=[video.pk])
        sender.close()

        def some_done():
            done = TranscodePiece.objects.filter(recording_id=video.pk, status="done").count()
            return 2 <= done < TranscodePiece.objects.filter(recording_id=video.pk).count()

        wait_for(some_done, timeout=240, interval=0.1, what="two pieces to be done")
        workers[0].kill_group()
        done = {p.index for p in TranscodePiece.objects.filter(recording_id=video.pk, status="done")}
        video = job(video.pk)
        folder = media / "recordings" / video.cdn_prefix
        finished = {
            path: path.stat().st_mtime_ns
            for path in folder.rglob("p*_segment_*.ts")
            if int(path.name[1:5]) in done
        }
        assert finished and video.status == "processing"

        workers.append(start_worker(tmp_path, "second", env))
        wait_for(
            lambda: job(video.pk).status in ("ready", "failed"), timeout=300, interval=0.25, what="ready"
        )
        wait_for(
            lambda: not list(scratch.glob(f"{jobs.FOLDER_PREFIX}*")),
            timeout=60,
            what="the attempts to remove their working folders",
        )
    finally:
        for worker in workers:
            worker.kill_group()

    video = job(video.pk)
    assert (video.status, video.failure_reason, video.attempts) == ("ready", "", 2), tail(workers)
    # Neither split again (that would redo every piece) nor redone: the same files, untouched.
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())
    assert_one_set_of_outputs(media / "recordings", video)
    assert abs(video.duration_ms - 16000) <= 300
    assert not TranscodePiece.objects.filter(recording_id=video.pk).exists()
