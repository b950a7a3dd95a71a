"""The per-event sampler: started when the event goes live (on a worker, never in the web
process), runs while it is live, reopens the stream when it drops, stops when the event ends;
and the real ffmpeg frame source on an HLS stream of a video that shows a product."""

import shutil
import subprocess

import cv2
import pytest

from discovery import receivers, sampler, synthetic, tasks
from discovery.detectors.base import Detection
from discovery.detectors.local import CatalogueIndex, extract, frame_features, match
from events.models import LiveEvent

pytestmark = pytest.mark.django_db

FRAME = synthetic.background(seed=1)


@pytest.fixture
def live(event, django_capture_on_commit_callbacks):
    event.status = LiveEvent.Status.LIVE
    event.save(update_fields=["status"])
    return event


def end(event):
    event.status = LiveEvent.Status.ENDED
    event.save(update_fields=["status"])


def test_the_sampler_runs_while_live_and_stops_when_the_event_ends(live, fake_detector, broadcasts):
    lipstick = live.products.get()
    fake_detector.answers = [[Detection(lipstick.pk, 0.9, (0, 0, 0.5, 0.5), True)]]
    urls = []

    def source(url, stop):
        urls.append(url)
        for n in range(100):
            if n == 3:
                end(live)
            if stop():
                return
            yield FRAME

    result = sampler.run_sampler(live.pk, source=source)
    assert (result.frames, result.reason) == (3, "not live")
    assert urls == [live.playback_url]
    statuses = [m["payload"] for m in broadcasts if m["type"] == "discovery.status"]
    assert statuses[0]["state"] == "waiting"  # the consoles know a sampler is opening the stream
    assert statuses[-1]["state"] == "stopped"
    assert statuses[2]["state"] == "running" and statuses[2]["result"][0]["name"] == "Rose lipstick"
    assert [m["type"] for m in broadcasts].count("discovery.suggestion") == 1


def test_the_sampler_reopens_a_dropped_stream_while_the_event_stays_live(live, fake_detector, monkeypatch):
    monkeypatch.setattr(sampler, "RESTART_PAUSE", 0.01)
    opened = []

    def source(url, stop):
        opened.append(url)
        if len(opened) == 3:
            end(live)
        for frame in (FRAME, FRAME):  # then the stream drops (ffmpeg exits)
            if stop():
                return
            yield frame

    result = sampler.run_sampler(live.pk, source=source)
    assert len(opened) == 3 and result.frames == 4 and result.reason == "not live"


def test_one_sampler_per_event_and_none_when_switched_off(live, host, fake_detector):
    from django.core.cache import cache

    from discovery import services

    cache.add(sampler.lock_key(live.pk), "1", 30)
    try:
        assert (
            sampler.run_sampler(live.pk, source=lambda url, stop: iter([FRAME])).reason == "already running"
        )
    finally:
        cache.delete(sampler.lock_key(live.pk))
    services.update_discovery_settings(event=live, by=host, enabled=False, auto_feature=False)
    assert sampler.run_sampler(live.pk, source=lambda url, stop: iter([FRAME])).frames == 0


def test_going_live_queues_the_sampler_on_a_worker_never_in_the_web_process(
    event, settings, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.run_sampler_task, "delay", lambda event_id: queued.append(event_id))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    event.title = "Renamed"
    with django_capture_on_commit_callbacks(execute=True):
        event.save(update_fields=["title"])  # not a status change
        event.status = LiveEvent.Status.LIVE
        event.save(update_fields=["status"])
    assert queued == [event.pk]
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the one-process demo: nothing runs in the web process
    assert receivers.start_sampler(event.pk) is False
    assert queued == [event.pk]


def test_local_events_are_read_from_the_media_servers_own_rtmp_show_app(live, settings):
    live.backend, live.channel_id = "local", "ch-123"
    settings.MEDIA_SERVER_HOST, settings.MEDIA_SERVER_RTMP_PORT = "10.0.0.5", 1936
    assert sampler.source_url(live) == "rtmp://10.0.0.5:1936/show/ch-123"
    command = sampler.ffmpeg_command(sampler.source_url(live), interval=1, width=960)
    assert "-live_start_index" not in command and "nobuffer" in command  # an HLS-only option
    assert "-live_start_index" in sampler.ffmpeg_command(live.playback_url, interval=1, width=960)


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs ffmpeg")
def test_ffmpeg_samples_an_hls_stream_that_shows_a_product(tmp_path, photos):
    """A 4-second HLS (1 s segments) of a scene with the oat yoghurt in it, made by ffmpeg; the
    sampler's ffmpeg decodes one frame a second, in memory, and the detector finds the product."""
    scene = synthetic.background(1280, 720, seed=5)
    synthetic.composite(scene, photos["Oatly-Natural-Oatghurt"], seed=5, height_fraction=0.55, angle=10)
    cv2.imwrite(str(tmp_path / "scene.png"), scene)
    hls = tmp_path / "hls"
    hls.mkdir()
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-loop", "1", "-i", str(tmp_path / "scene.png"),
         "-t", "4", "-r", "10",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "10",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", str(hls / "index.m3u8")],
        check=True, timeout=120,
    )  # fmt: skip
    frames = list(sampler.ffmpeg_frames(str(hls / "index.m3u8"), interval=1, width=640, stop=lambda: False))
    assert 3 <= len(frames) <= 5 and frames[0].shape == (360, 640, 3)
    names = sorted(photos)
    index = CatalogueIndex({i: extract(photos[name]) for i, name in enumerate(names)})
    found = match(index, frame_features(frames[1]))
    assert [pid for pid, _, _ in found] == [names.index("Oatly-Natural-Oatghurt")]
    assert not list(hls.glob("*.png")) and sorted(p.suffix for p in tmp_path.iterdir()) == ["", ".png"]


@pytest.fixture
def handover():
    """sampler.HANDOVER as a shutting-down worker sets it (its signal's receiver); cleared after."""
    yield tasks.hand_over_samplers
    sampler.HANDOVER.clear()


def test_a_worker_shutting_down_hands_its_sampler_over(live, fake_detector, handover, monkeypatch):
    from django.core.cache import cache

    from discovery.tasks import run_sampler_task

    def source(url, stop):
        for n in range(100):
            if n == 2:
                handover(signal=None, sender="discovery@host", sig="SIGTERM", how="Warm", exitcode=0)
            if stop():
                return
            yield FRAME

    result = sampler.run_sampler(live.pk, source=source)
    assert (result.frames, result.reason) == (2, "handover")
    assert cache.get(sampler.lock_key(live.pk)) is None  # another worker's sampler may take the show

    # The task queues the show's sampler again for another worker (the event is still live) ...
    queued = []
    monkeypatch.setattr(run_sampler_task, "delay", lambda event_id: queued.append(event_id))
    monkeypatch.setitem(run_sampler_task.app.conf, "task_always_eager", False)
    assert run_sampler_task.run(live.pk) == "handover" and queued == [live.pk]
    # ... but not in the one-process demo (eager): no other worker would take it.
    monkeypatch.setitem(run_sampler_task.app.conf, "task_always_eager", True)
    assert run_sampler_task.run(live.pk) == "handover" and queued == [live.pk]


def test_a_sampler_waiting_for_a_stalled_stream_hands_over_within_a_poll(handover):
    """ffmpeg connected but no frame coming: the sampler looks at HANDOVER every POLL_SECONDS, so
    it stops within a second of the worker's shutdown, not when ffmpeg gives up on the stalled
    connection (its -rw_timeout, 10 s) or READ_TIMEOUT (15 s)."""
    import socket
    import threading
    import time

    server = socket.create_server(("127.0.0.1", 0))
    url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    handed = []

    def shut_down_once_ffmpeg_connects():
        connection, _ = server.accept()  # ffmpeg is waiting for the stream's first bytes
        handed.append((time.monotonic(), connection))
        handover(signal=None, sender="discovery@host")

    threading.Thread(target=shut_down_once_ffmpeg_connects, daemon=True).start()
    try:
        assert list(sampler.ffmpeg_frames(url, interval=1, width=64, stop=lambda: False)) == []
        stopped = time.monotonic()
        assert handed and stopped - handed[0][0] < 5
    finally:
        for _, connection in handed:
            connection.close()
        server.close()
