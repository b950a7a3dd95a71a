"""The local media server restarted mid-show, for real: ``manage.py media_server`` supervises
nginx-rtmp, whose callbacks (and the supervisor's reset) reach this test's live server; ffmpeg
publishes with a reconnect loop, as OBS does; nginx is killed with SIGKILL.

nginx then sends no publish_done, so only the supervisor's reset takes the event offline; the
encoder reconnects to the restarted nginx and the event goes live again on a new stream, as IVS
reports a reconnect; both parts (one FLV each) become one replay, as IVS merges reconnects within
its recording reconnect window. Timings are printed (``pytest -s``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services
from events.local_streams import PUBLISHER_GONE, SERVER_STOPPED
from events.models import LiveEvent
from liveshop import crypto
from liveshop.video import get_video_backend
from recordings.models import Recording
from recordings.playlists import parse_media
from tests import media

pytestmark = [pytest.mark.media, pytest.mark.django_db(transaction=True)]

Status = LiveEvent.Status
PART_1_SECONDS = 4  # streamed before nginx is killed
PART_2_SECONDS = 4  # streamed after the encoder reconnects, then it stops on its own
RECONNECT_DELAY = 0.5  # the encoder's wait before it publishes again (OBS: a setting)
CUE_TOLERANCE_MS = 1_000


class ReconnectingEncoder(threading.Thread):
    """ffmpeg publishing to ``url`` and publishing again whenever it fails (nginx gone, or not
    back yet), as an encoder with automatic reconnect does; the first run lasts until it is
    cut, later ones ``seconds``. Stops after a run that ends cleanly."""

    def __init__(self, url: str, *, seconds: float):
        super().__init__(daemon=True)
        self.url, self.seconds = url, seconds
        self.runs: list[int] = []  # exit codes
        self.process: subprocess.Popen | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        seconds = 120
        while not self.stopped.is_set():
            self.process = media.publish(self.url, seconds=seconds)
            self.runs.append(self.process.wait())
            if self.runs[-1] == 0:
                return
            seconds = self.seconds
            self.stopped.wait(RECONNECT_DELAY)

    def stop(self) -> None:
        self.stopped.set()
        if self.process is not None:
            media.stop(self.process)
        self.join(timeout=15)


@pytest.fixture
def media_server(live_server, tmp_path):
    reason = media.missing_tools()
    if reason:
        pytest.skip(reason)
    directory = tmp_path / "media-server"
    directory.mkdir()
    server = media.start_media_server(
        directory,
        callback_url=live_server.url.replace("localhost", "127.0.0.1"),  # nginx would try ::1 first
        env={"DJANGO_SECRET_KEY": django_settings.SECRET_KEY},  # the callback secret derives from it
    )
    yield server
    server.stop()
    kill_group(server)


def start_again(server: media.MediaServer, live_server) -> None:
    """``manage.py media_server`` once more in ``server``'s folder and on its ports (as the demo's
    or a container's restart does); ``server`` then stands for it."""
    old_master = nginx_master(server)
    with server.log.open("ab") as out:
        server.process = subprocess.Popen(
            [sys.executable, "manage.py", "media_server"],
            cwd=media.ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "liveshop.settings.test"),
                "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
                "LIVESHOP_MEDIA_SERVER_HOST": "127.0.0.1",
                "LIVESHOP_MEDIA_SERVER_RTMP_PORT": str(server.rtmp_port),
                "LIVESHOP_MEDIA_SERVER_HTTP_PORT": str(server.http_port),
                "LIVESHOP_MEDIA_SERVER_PUBLIC_URL": server.public_url,
                "LIVESHOP_MEDIA_SERVER_CALLBACK_URL": live_server.url.replace("localhost", "127.0.0.1"),
                "LIVESHOP_MEDIA_SERVER_DIR": str(server.directory),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    media.wait_for(
        lambda: (
            server.process.poll() is not None
            or (nginx_master(server) != old_master and media.http_get(server.http_port, "/stat")[0] == 200)
        ),
        what="the new nginx's /stat",
    )
    assert server.process.poll() is None, server.output()


def nginx_processes(server) -> set[int]:
    """The pids of nginx's master and workers (its process group, the master's pid)."""
    group = nginx_master(server)
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            pids.add(int(stat.parent.name))
    return pids


def kill_group(server) -> None:
    """Whatever a failed test left of nginx (after a clean stop: nothing)."""
    master = nginx_master(server)
    if master is not None:
        with contextlib.suppress(OSError):
            os.killpg(master, signal.SIGKILL)


@pytest.fixture(autouse=True)
def local_mode(settings, media_server, tmp_path):
    """The live server (this process) on the local backend and the media server's folder, with
    replays written to a FileSystemStorage (ingestion runs in it: eager Celery)."""
    settings.VIDEO_BACKEND = "local"
    settings.MEDIA_SERVER_HOST = "127.0.0.1"
    settings.MEDIA_SERVER_RTMP_PORT = media_server.rtmp_port
    settings.MEDIA_SERVER_HTTP_PORT = media_server.http_port
    settings.MEDIA_SERVER_PUBLIC_URL = media_server.public_url
    settings.MEDIA_SERVER_DIR = media_server.directory
    settings.RECORDINGS_CDN_PREFIX = "replays"
    settings.AWS_RECORDINGS_BUCKET_NAME = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "replays", "base_url": "/media/recordings/"},
        },
    }
    get_video_backend.cache_clear()
    yield
    get_video_backend.cache_clear()


def nginx_master(server) -> int | None:
    try:
        return int((server.directory / "nginx.pid").read_text())
    except (OSError, ValueError):  # being written
        return None


def status(event) -> str:
    return LiveEvent.objects.values_list("status", flat=True).get(pk=event.pk)


def new_show():
    host = member(OrganizationFactory())
    organization = host.memberships.get().organization
    products = ProductFactory.create_batch(2, organization=organization)
    event = services.create_event(
        organization=organization,
        title="Spring drop",
        scheduled_start=timezone.now(),
        by=host,
        products=products,
    )
    return host, event, products


def streamed(session, seconds: float):
    media.wait_for(
        lambda: timezone.now() - session.started_at >= timedelta(seconds=seconds),
        what=f"{seconds} s of stream",
    )


def live_session(event, what: str):
    return media.wait_for(
        lambda: status(event) == Status.LIVE and event.sessions.filter(ended_at=None).first(),
        timeout=60,
        what=what,
    )


def test_nginx_killed_mid_show_goes_offline_then_live_and_the_replay_has_both_parts(media_server):
    host, event, (jacket, fleece) = new_show()
    key = crypto.decrypt(event.stream_key_encrypted)
    encoder = ReconnectingEncoder(media_server.ingest(key), seconds=PART_2_SECONDS)

    def diagnostics() -> str:
        return f"\nencoder runs: {encoder.runs}\n--- media server ---\n{media_server.output()}"

    encoder.start()
    try:
        first = media.wait_for(
            lambda: status(event) == Status.LIVE and event.sessions.filter(ended_at=None).first(),
            timeout=60,
            what=f"the event to go live{diagnostics()}",
        )
        streamed(first, 1.5)
        services.feature_product(event=event, product=jacket, by=host)
        streamed(first, PART_1_SECONDS)
        master = nginx_master(media_server)

        os.kill(master, signal.SIGKILL)
        killed = time.monotonic()

        media.wait_for(lambda: status(event) == Status.ENDED, timeout=30, what=f"offline{diagnostics()}")
        offline_after = time.monotonic() - killed
        second = media.wait_for(
            lambda: status(event) == Status.LIVE and event.sessions.filter(ended_at=None).first(),
            timeout=60,
            what=f"the encoder's reconnect to go live{diagnostics()}",
        )
        live_after = time.monotonic() - killed
        assert nginx_master(media_server) != master
        first.refresh_from_db()
        assert first.end_reason == SERVER_STOPPED and second.pk != first.pk
        gap = second.started_at - first.ended_at
        streamed(second, 1.5)
        services.feature_product(event=event, product=fleece, by=host)
        media.wait_for(
            lambda: not encoder.is_alive(), timeout=60, what=f"the encoder to finish{diagnostics()}"
        )
    finally:
        encoder.stop()
    assert encoder.runs[0] != 0 and encoder.runs[-1] == 0, diagnostics()
    media.wait_for(lambda: status(event) == Status.ENDED, timeout=30, what="the end of the show")

    recording = media.wait_for(
        lambda: _merged_recording(event), timeout=90, what=f"one ready recording of both parts{diagnostics()}"
    )
    print(
        f"\nnginx killed -> event offline: {offline_after:.2f} s; -> live again: {live_after:.2f} s "
        f"(gap between the streams {gap.total_seconds():.2f} s); encoder runs {encoder.runs}"
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert Recording.objects.filter(event=event).count() == 1
    assert recording.stream_ids == [first.stream_id, second.stream_id]
    assert recording.session_id == "rs-" + first.stream_id.removeprefix("st-")
    assert set(recording.sessions.all()) == {first, second}
    part_1_ms = (first.ended_at - first.started_at).total_seconds() * 1000
    part_2_ms = (second.ended_at - second.started_at).total_seconds() * 1000
    assert abs(recording.duration_ms - (part_1_ms + part_2_ms)) < 2_000, (part_1_ms, part_2_ms)
    playlist_path = Path(storages["recordings"].path(recording.renditions[0]["playlist"]))
    playlist = parse_media(playlist_path.read_text())
    [boundary] = [s for s in playlist.segments if s.discontinuity]
    assert abs(boundary.position_ms - part_1_ms) < 1_500
    assert abs(boundary.program_date_time - second.started_at) < timedelta(milliseconds=1)
    cues = {cue.product_id: cue for cue in recording.cues.all()}
    assert abs(cues[jacket.pk].start_ms - 1_500) <= CUE_TOLERANCE_MS
    assert abs(cues[fleece.pk].start_ms - (boundary.position_ms + 1_500)) <= CUE_TOLERANCE_MS
    assert cues[jacket.pk].end_ms == cues[fleece.pk].start_ms


def _merged_recording(event) -> Recording | None:
    """The event's recording once ready with both parts (its sessions are set, with its cues,
    in the transaction that completes an ingestion)."""
    recording = Recording.objects.filter(event=event, status=Recording.Status.READY).first()
    return recording if recording is not None and recording.sessions.count() == 2 else None


def test_media_server_killed_and_started_again_ends_the_show_then_takes_the_reconnect(
    media_server, live_server
):
    _, event, _ = new_show()
    key = crypto.decrypt(event.stream_key_encrypted)
    encoder = ReconnectingEncoder(media_server.ingest(key), seconds=PART_2_SECONDS)

    def diagnostics() -> str:
        return f"\nencoder runs: {encoder.runs}\n--- media server ---\n{media_server.output()}"

    encoder.start()
    try:
        first = live_session(event, f"the event to go live{diagnostics()}")
        streamed(first, PART_1_SECONDS)
        old_nginx = nginx_processes(media_server)

        media_server.process.kill()  # the supervisor: nginx's master dies with it, not its workers
        media_server.process.wait()
        media.wait_for(lambda: nginx_master(media_server) not in nginx_processes(media_server))
        assert status(event) == Status.LIVE  # the encoder still publishes into nginx's worker

        restarted = time.monotonic()
        start_again(media_server, live_server)

        media.wait_for(lambda: status(event) == Status.ENDED, timeout=30, what=f"offline{diagnostics()}")
        offline_after = time.monotonic() - restarted
        second = live_session(event, f"the encoder's reconnect to go live{diagnostics()}")
        live_after = time.monotonic() - restarted
        assert not old_nginx & nginx_processes(media_server)
        media.wait_for(
            lambda: not encoder.is_alive(), timeout=60, what=f"the encoder to finish{diagnostics()}"
        )
    finally:
        encoder.stop()
    print(
        f"\nmedia_server run again -> event offline: {offline_after:.2f} s; -> live again: "
        f"{live_after:.2f} s; encoder runs {encoder.runs}"
    )
    recording = media.wait_for(
        lambda: _merged_recording(event), timeout=90, what=f"one ready recording of both parts{diagnostics()}"
    )
    first.refresh_from_db()
    assert first.end_reason == SERVER_STOPPED
    assert recording.stream_ids == [first.stream_id, second.stream_id]


def nginx_worker(server) -> int:
    for pid in nginx_processes(server):
        with contextlib.suppress(OSError):
            if b"worker process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    raise AssertionError(f"No nginx worker:\n{server.output()}")


def test_a_crashed_nginx_worker_drops_the_stream_and_the_reconnect_goes_live(media_server):
    """nginx's master replaces a worker that died, but the publishers it carried are gone with no
    publish_done: the supervisor sees their streams leave nginx's /stat (or come back younger)."""
    _, event, _ = new_show()
    key = crypto.decrypt(event.stream_key_encrypted)
    encoder = ReconnectingEncoder(media_server.ingest(key), seconds=PART_2_SECONDS)

    def diagnostics() -> str:
        return f"\nencoder runs: {encoder.runs}\n--- media server ---\n{media_server.output()}"

    encoder.start()
    try:
        first = live_session(event, f"the event to go live{diagnostics()}")
        streamed(first, PART_1_SECONDS)
        master = nginx_master(media_server)

        os.kill(nginx_worker(media_server), signal.SIGKILL)
        killed = time.monotonic()

        media.wait_for(
            lambda: event.sessions.get(pk=first.pk).ended_at, timeout=30, what=f"the end{diagnostics()}"
        )
        ended_after = time.monotonic() - killed
        second = live_session(event, f"the encoder's reconnect to go live{diagnostics()}")
        assert second.pk != first.pk and nginx_master(media_server) == master
        media.wait_for(
            lambda: not encoder.is_alive(), timeout=60, what=f"the encoder to finish{diagnostics()}"
        )
    finally:
        encoder.stop()
    print(f"\nnginx worker killed -> first stream ended: {ended_after:.2f} s; encoder runs {encoder.runs}")
    first.refresh_from_db()
    assert first.end_reason == PUBLISHER_GONE
    recording = media.wait_for(
        lambda: _merged_recording(event), timeout=90, what=f"one ready recording of both parts{diagnostics()}"
    )
    assert recording.stream_ids == [first.stream_id, second.stream_id]


def test_stopping_the_media_server_ends_the_show_it_carried(media_server):
    """nginx sends no publish_done when it shuts down (SIGTERM, as Ctrl-C or a deploy does):
    the supervisor's last reset ends the stream."""
    _, event, _ = new_show()
    encoder = media.publish(media_server.ingest(crypto.decrypt(event.stream_key_encrypted)), seconds=60)
    try:
        session = live_session(event, f"the event to go live\n{media_server.output()}")
        streamed(session, 1)

        media_server.stop()

        assert encoder.wait(timeout=15) != 0
        session.refresh_from_db()
        assert status(event) == Status.ENDED and session.end_reason == SERVER_STOPPED
        assert media_server.process.returncode == 0 and not nginx_processes(media_server)
    finally:
        media.stop(encoder)
