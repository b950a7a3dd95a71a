"""The timeline editor in Chromium: a real uploaded video (ffmpeg test pattern, transcoded to HLS
by the service), played with hls.js from the live server; the host seeks, places two cues with
"Add cue here", saves, finds them in the database and again after a reload, publishes, and the
video's public page shows each card at its time."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import connections
from django.test import Client

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from recordings.models import ProductCue, Recording
from recordings.services.transcode import transcode_upload
from tests.test_replay_browser import load_replay

DEADLINE_MS = 30_000  # generous: two shared cores run the server, Chromium and other tests
TOLERANCE_MS = 500


def in_another_thread(function):
    """Run ORM code while Playwright's event loop owns this thread (Django refuses it here)."""

    def call():
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def video(media_on_disk, settings, tmp_path_factory):
    """A ready 8-second uploaded video with HLS under MEDIA_ROOT (the live server serves it)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media_on_disk / "recordings", "base_url": "/media/recordings/"},
        },
    }
    source = tmp_path_factory.mktemp("source") / "show.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=8",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(source)],
        check=True,
    )  # fmt: skip
    brand = OrganizationFactory(name="Northwind", slug="northwind")
    host = member(brand, role=Membership.Role.HOST)
    products = [
        ProductFactory(organization=brand, name="Ridgeline Shell Jacket"),
        ProductFactory(organization=brand, name="Trailhead Daypack"),
    ]
    recording = Recording(organization=brand, backend="upload", title="Trail gear", slug="trail-gear")
    recording.upload.save("show.mp4", ContentFile(source.read_bytes()), save=False)
    recording.save()
    recording = transcode_upload(recording_id=recording.pk)
    assert recording.status == "ready", recording.failure_reason
    client = Client()
    client.force_login(host)
    return recording, products, client.cookies[django_settings.SESSION_COOKIE_NAME].value


def seek(page, seconds: float) -> None:
    page.evaluate(
        """(seconds) => new Promise((resolve) => {
             const video = document.getElementById("editor-video");
             video.addEventListener("seeked", resolve, { once: true });
             video.currentTime = seconds;
           })""",
        seconds,
    )


def add_cue(page, product, seconds: float) -> None:
    seek(page, seconds)
    page.click(f".product-choice[data-product-id='{product.pk}']")
    page.click("#add-cue")


@pytest.mark.browser
def test_the_editor_places_two_cues_and_saves_them(live_server, video, page, artifacts_dir):
    recording, (jacket, daypack), session = video
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    url = f"{live_server.url}/studio/videos/{recording.pk}/"
    page.goto(url)
    page.wait_for_function(
        "document.getElementById('editor-video').readyState >= 1", timeout=DEADLINE_MS
    )  # hls.js has the playlist and the first segment's metadata

    add_cue(page, jacket, 1.5)
    add_cue(page, daypack, 5.0)
    page.wait_for_function("document.querySelectorAll('#cue-rows tr').length === 2")
    assert page.locator(".timeline-block").count() == 2
    page.click("#save-cues")
    page.wait_for_function(
        "document.getElementById('save-state').textContent.startsWith('Saved 2 cues')", timeout=DEADLINE_MS
    )
    page.screenshot(path=str(artifacts_dir / "timeline-editor.png"), full_page=True)

    cues = in_another_thread(
        lambda: list(
            ProductCue.objects.filter(recording_id=recording.pk).values_list("product_id", "start_ms")
        )
    )
    assert [product for product, _ in cues] == [jacket.pk, daypack.pk]
    assert abs(cues[0][1] - 1500) <= TOLERANCE_MS and abs(cues[1][1] - 5000) <= TOLERANCE_MS

    page.reload()
    page.wait_for_function("document.querySelectorAll('#cue-rows tr').length === 2")
    starts = page.locator("#cue-rows .cue-start").evaluate_all("inputs => inputs.map((i) => i.value)")
    assert starts == [f"0:{cues[0][1] / 1000:04.1f}", f"0:{cues[1][1] / 1000:04.1f}"]
    names = page.locator("#cue-rows select").evaluate_all("selects => selects.map((s) => s.value)")
    assert names == [str(jacket.pk), str(daypack.pk)]

    # Published, the video's public page shows each card at its time, whichever way one seeks.
    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector(".chip-published", timeout=DEADLINE_MS)
    viewer_context = page.context.browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        viewer = viewer_context.new_page()
        viewer.goto(f"{live_server.url}/v/northwind/trail-gear/")  # the fixture's brand and video
        load_replay(viewer, longer_than=7)
        card = viewer.locator("#product-card")
        for at, expected in ((6.0, daypack), (2.5, jacket), (0.5, None), (5.5, daypack)):
            seek_viewer(viewer, at)
            if expected is None:
                hidden = "document.getElementById('product-card').hidden"
                viewer.wait_for_function(hidden, timeout=DEADLINE_MS)
            else:
                viewer.wait_for_function(
                    f"document.getElementById('product-card').dataset.productId === '{expected.pk}'",
                    timeout=DEADLINE_MS,
                )
                assert card.is_visible()
        viewer.screenshot(path=str(artifacts_dir / "video-page-published.png"), full_page=True)
    finally:
        viewer_context.close()


def seek_viewer(page, seconds: float) -> None:
    """Seek the public video page's player and wait until the frame there is decoded."""
    page.evaluate("t => { document.getElementById('video').currentTime = t; }", seconds)
    page.wait_for_function(
        """t => { const v = document.getElementById('video');
                  return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) < 0.05; }""",
        arg=seconds,
        timeout=DEADLINE_MS,
    )


@pytest.mark.browser
def test_uploading_from_the_page_leads_to_the_ready_video(live_server, video, page, artifacts_dir, tmp_path):
    """upload.js sends the file with a progress bar; the server checks and transcodes it (Celery
    is eager here) and the page moves on to the video; a garbage file gets the form's error."""
    recording, _, session = video
    cookie = {"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}
    page.context.add_cookies([cookie])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 5000)

    page.goto(f"{live_server.url}/studio/videos/new/")
    page.set_input_files("input[type=file]", str(garbage))
    page.click("[data-role=submit]")
    page.wait_for_selector("[data-role=errors]:not([hidden])", timeout=DEADLINE_MS)
    assert "not a readable video" in page.inner_text("[data-role=errors]")

    source = recording.upload.path
    page.set_input_files("input[type=file]", source)
    page.fill("input[name=title]", "Second show")
    page.screenshot(path=str(artifacts_dir / "video-upload.png"), full_page=True)
    page.click("[data-role=submit]")
    page.wait_for_url(f"{live_server.url}/studio/videos/*/", timeout=60_000)
    page.wait_for_selector("#editor-video", timeout=DEADLINE_MS)
    assert page.inner_text("h1") == "Second show"

    page.goto(f"{live_server.url}/studio/videos/")
    assert page.locator(".video-row").count() == 2
    page.screenshot(path=str(artifacts_dir / "video-list.png"), full_page=True)
