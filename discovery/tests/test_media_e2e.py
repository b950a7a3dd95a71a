"""Discovery through the real local video pipeline: ffmpeg publishes a video that shows two
grocery products one after the other to ``manage.py media_server`` (nginx-rtmp, whose callbacks
take the event live on this test's live server); the sampler reads the media server's HLS with
ffmpeg and the host consoles get the suggestions, in the order the products were shown; the
sampler stops when the stream ends. Skips without nginx, nginx-rtmp or ffmpeg."""

import subprocess
import threading

import cv2
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from discovery import index, sampler, synthetic
from events import services
from events.models import LiveEvent
from liveshop import crypto
from liveshop.video import get_video_backend
from tests import media

pytestmark = [pytest.mark.media, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def media_server(live_server, tmp_path_factory):
    reason = media.missing_tools()
    if reason:
        pytest.skip(reason)
    server = media.start_media_server(
        tmp_path_factory.mktemp("media-server"),
        callback_url=live_server.url.replace("localhost", "127.0.0.1"),
        env={"DJANGO_SECRET_KEY": django_settings.SECRET_KEY},
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def local_backend(settings, media_server):
    settings.VIDEO_BACKEND = "local"
    settings.MEDIA_SERVER_HOST = "127.0.0.1"
    settings.MEDIA_SERVER_RTMP_PORT = media_server.rtmp_port
    settings.MEDIA_SERVER_HTTP_PORT = media_server.http_port
    settings.MEDIA_SERVER_PUBLIC_URL = media_server.public_url
    settings.MEDIA_SERVER_DIR = media_server.directory
    get_video_backend.cache_clear()
    yield get_video_backend()
    get_video_backend.cache_clear()


def suggested(broadcasts) -> list[str]:
    return [m["payload"]["product"]["name"] for m in broadcasts if m["type"] == "discovery.suggestion"]


def show_video(tmp_path, photos) -> str:
    """4 s of an empty scene, 16 s with the oat yoghurt, 16 s with the apple juice (H.264, 2 s GOP):
    each product stays long enough to be seen even when a busy machine starts the sampler late."""
    inputs = []
    for name, product, seconds in (("empty", None, 4), ("oat", "Oatly-Natural-Oatghurt", 16),
                                   ("juice", "Tropicana-Apple-Juice", 16)):  # fmt: skip
        scene = synthetic.background(1280, 720, seed=len(inputs))
        if product:
            synthetic.composite(
                scene, photos[product], seed=3, height_fraction=0.55, angle=8, perspective=0.08
            )
        cv2.imwrite(str(tmp_path / f"{name}.png"), scene)
        inputs += ["-loop", "1", "-framerate", "30", "-t", str(seconds), "-i", str(tmp_path / f"{name}.png")]
    path = tmp_path / "show.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *inputs,
         "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", "-g", "60", "-r", "30", str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return str(path)


def test_streaming_a_show_suggests_its_products_in_order_on_the_console(
    media_server, photos, grocery, brand, host, broadcasts, settings, tmp_path
):
    settings.DISCOVERY_BACKEND = "local"
    from discovery.detectors import get_detector

    get_detector.cache_clear()
    for product in grocery.values():  # here, not only through Celery: earlier tests of a whole
        index.index_product(product_id=product.pk)  # run can leave its app non-eager
    index.clear_cache()
    event = services.create_event(
        organization=brand, title="Grocery live", scheduled_start=timezone.now(), by=host,
        products=[grocery["Oatly-Natural-Oatghurt"], grocery["Tropicana-Apple-Juice"]],
    )  # fmt: skip
    video = show_video(tmp_path, photos)
    key = crypto.decrypt(event.stream_key_encrypted)
    publisher = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", video,
         "-c", "copy", "-f", "flv", media_server.ingest(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results = []

    def sample():
        try:
            results.append(sampler.run_sampler(event.pk))
        finally:
            connection.close()

    try:
        media.wait_for(
            lambda: LiveEvent.objects.get(pk=event.pk).is_live,
            timeout=60,
            what=f"live\n{media_server.output()}",
        )
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        media.wait_for(lambda: len(suggested(broadcasts)) >= 2, timeout=120, what="two suggestions")
        assert suggested(broadcasts)[:2] == ["Oatly Natural Oatghurt", "Tropicana Apple Juice"]
        assert all(m["audience"] == "studio" for m in broadcasts if m["type"].startswith("discovery"))
        media.wait_for(lambda: publisher.poll() is not None, timeout=120, what="the video to end")
        media.wait_for(lambda: not thread.is_alive(), timeout=90, what="the sampler to stop after the stream")
    finally:
        media.stop(publisher)
    assert results[0].reason == "not live" and results[0].frames >= 10
