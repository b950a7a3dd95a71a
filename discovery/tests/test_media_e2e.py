"""Discovery through the real local video pipeline: ffmpeg publishes a video that shows two grocery
products one after the other to ``manage.py media_server`` (nginx-rtmp, whose callbacks take the
event live on this test's live server); the sampler reads the media server's RTMP show
application with ffmpeg and a host console's studio socket (the real consumer, delivery through
Redis) gets the suggestions, in the order the products were shown, then "stopped" once the
stream ends. Skips without nginx, nginx-rtmp or ffmpeg."""

import asyncio
import json
import subprocess
import threading

import cv2
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, connections
from django.utils import timezone

from discovery import index, sampler, synthetic
from events import services
from events.models import LiveEvent
from liveshop import crypto
from liveshop.asgi import application
from tests import media
from tests.test_media_e2e import local_backend  # noqa: F401 (a fixture; media_server: the run's shared one)

pytestmark = [pytest.mark.media, pytest.mark.django_db(transaction=True)]


class ConsoleSocket(threading.Thread):
    """A host console's studio socket, read in its own thread and event loop (the sampler and the
    media server's callbacks run in threads of this process) until ``done(self)`` holds or
    ``deadline`` seconds pass. ``frames`` is what it received; ``ready`` is set once connected."""

    def __init__(self, event_id: int, user, *, done, deadline: float):
        super().__init__(daemon=True)
        self.path, self.user = f"/ws/studio/events/{event_id}/", user
        self.done, self.deadline = done, deadline
        self.frames: list[dict] = []
        self.ready = threading.Event()

    def run(self):
        try:
            asyncio.run(self.listen())
        finally:
            connection.close()

    async def listen(self):
        communicator = WebsocketCommunicator(
            application, self.path, headers=[(b"origin", b"http://localhost")]
        )
        communicator.scope["client"] = ("203.0.113.31", 1)
        communicator.scope["user"] = self.user
        connected, _ = await communicator.connect(timeout=30)
        assert connected
        self.ready.set()
        loop = asyncio.get_running_loop()
        end = loop.time() + self.deadline
        # One long receive at a time: a timed-out receive cancels the consumer.
        while not self.done(self) and loop.time() < end:
            self.frames.append(json.loads(await communicator.receive_from(timeout=end - loop.time())))
        await communicator.disconnect()
        await database_sync_to_async(connections.close_all)()  # the consumer's, in its executor thread

    def suggested(self) -> list[str]:
        return [f["product"]["name"] for f in list(self.frames) if f["type"] == "discovery_suggestion"]

    def stopped(self) -> bool:
        return any(f["type"] == "discovery_status" and f["state"] == "stopped" for f in list(self.frames))


def show_video(tmp_path, photos) -> str:
    """4 s of an empty scene, 10 s with the oat yoghurt, 10 s with the apple juice (H.264, 2 s GOP):
    each product stays long enough to be seen even when a busy machine starts the sampler late
    (the detector needs a few samples, one a second; 16 s each cost the run 12 s of waiting).
    5 frames a second, ultrafast: the sampler takes one a second, and at 30 fps with veryfast the
    encoding alone took 137 s of this test at load 30 (now a few seconds)."""
    inputs = []
    for name, product, seconds in (("empty", None, 4), ("oat", "Oatly-Natural-Oatghurt", 10),
                                   ("juice", "Tropicana-Apple-Juice", 10)):  # fmt: skip
        scene = synthetic.background(960, 540, seed=len(inputs))  # the width the sampler reads at
        if product:
            synthetic.composite(
                scene, photos[product], seed=3, height_fraction=0.55, angle=8, perspective=0.08
            )
        cv2.imwrite(str(tmp_path / f"{name}.png"), scene)
        inputs += ["-loop", "1", "-framerate", "5", "-t", str(seconds), "-i", str(tmp_path / f"{name}.png")]
    path = tmp_path / "show.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *inputs,
         "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0", "-c:v", "libx264", "-preset", "ultrafast",
         "-tune", "stillimage", "-pix_fmt", "yuv420p", "-g", "10", "-r", "5", str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return str(path)


def test_streaming_a_show_suggests_its_products_in_order_on_the_console(
    media_server,
    photos,
    grocery,
    brand,
    host,
    settings,
    tmp_path,
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
    console = ConsoleSocket(
        event.pk, host, done=lambda socket: len(socket.suggested()) >= 2 and socket.stopped(), deadline=300
    )
    console.start()
    assert console.ready.wait(60), "the console's socket did not connect"
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

    thread = threading.Thread(target=sample, daemon=True)
    try:
        media.wait_for(
            lambda: LiveEvent.objects.get(pk=event.pk).is_live,
            timeout=60,
            what=f"live\n{media_server.output()}",
        )
        thread.start()
        media.wait_for(lambda: len(console.suggested()) >= 2, timeout=120, what="two suggestions")
        assert console.suggested()[:2] == ["Oatly Natural Oatghurt", "Tropicana Apple Juice"]
    finally:
        media.stop(publisher)  # the rest of the video shows nothing new: end the stream now
    media.wait_for(lambda: not thread.is_alive(), timeout=90, what="the sampler to stop after the stream")
    console.join(30)
    assert console.stopped(), "the console did not hear that the detector stopped"
    assert results[0].reason == "not live" and results[0].frames >= 4
