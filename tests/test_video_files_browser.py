"""Uploaded videos in Chromium: a phone's portrait video plays in portrait on its public page; the
upload page refuses a file over the size or duration limit before sending it; a failed video is
deleted from the studio and its files are gone from the disk; an upload survives a dropped part
and goes on after a reload."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from recordings.models import Recording
from recordings.services.transcode import transcode_upload
from recordings.tests.upload_media import make_video
from tests.test_replay_browser import load_replay

DEADLINE_MS = 30_000  # two shared cores run the server, Chromium and other tests


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
def studio(media_on_disk, settings, tmp_path_factory):
    """A brand with a published portrait video (transcoded on disk, served by the live server),
    a failed one, and its host's session cookie."""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media_on_disk / "recordings", "base_url": "/media/recordings/"},
        },
    }
    source = make_video(tmp_path_factory.mktemp("source") / "phone.mp4", size="360x640", seconds=2, rate=10)
    brand = OrganizationFactory(name="Northwind", slug="northwind")
    host = member(brand, role=Membership.Role.HOST)
    portrait = Recording(organization=brand, backend="upload", title="Phone clip", slug="phone-clip")
    portrait.upload.save("phone.mp4", ContentFile(source.read_bytes()), save=False)
    portrait.save()
    portrait = transcode_upload(recording_id=portrait.pk)
    assert portrait.status == "ready", portrait.failure_reason
    Recording.objects.filter(pk=portrait.pk).update(published_at=timezone.now())
    failed = Recording(organization=brand, backend="upload", title="Cut off", slug="cut-off")
    failed.upload.save("cut.mp4", ContentFile(source.read_bytes()[:3000]), save=False)
    failed.status, failed.failure_reason = "failed", "The file ends early: it looks cut off."
    failed.save()
    client = Client()
    client.force_login(host)
    return portrait, failed, client.cookies[django_settings.SESSION_COOKIE_NAME].value, source


def test_portrait_plays_in_portrait_and_a_failed_video_is_deleted_with_its_files(
    live_server, studio, media_on_disk, settings, page, artifacts_dir, tmp_path
):
    _, failed, session, source = studio
    upload_file = media_on_disk / failed.upload.name
    assert upload_file.is_file()

    page.goto(f"{live_server.url}/v/northwind/phone-clip/")
    load_replay(page)
    playing = "(v => v.readyState >= 2 && v.videoWidth > 0)(document.getElementById('video'))"
    page.wait_for_function(playing, timeout=DEADLINE_MS)
    width, height = page.evaluate("(v => [v.videoWidth, v.videoHeight])(document.getElementById('video'))")
    box = page.locator("#player").bounding_box()
    assert height > width and box["height"] > box["width"] * 1.5
    page.screenshot(path=str(artifacts_dir / "video-page-portrait.png"), full_page=True)

    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    # The upload page refuses a file over the limit before sending a byte of it.
    settings.LIVESHOP_MAX_UPLOAD_BYTES = 1000
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 5000)
    sent = []
    page.on("request", lambda request: sent.append(request.method))
    page.goto(f"{live_server.url}/studio/videos/new/")
    sent.clear()
    page.set_input_files("input[type=file]", str(big))
    page.click("[data-role=submit]")
    page.wait_for_selector("[data-role=errors]:not([hidden])", timeout=DEADLINE_MS)
    assert "videos may be at most 1000 bytes" in page.inner_text("[data-role=errors]")
    assert "POST" not in sent

    # And a video longer than the duration limit, when the browser can read its length.
    settings.LIVESHOP_MAX_UPLOAD_BYTES, settings.LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = 10**9, 1
    page.goto(f"{live_server.url}/studio/videos/new/")
    sent.clear()
    page.set_input_files("input[type=file]", str(source))
    page.click("[data-role=submit]")
    page.wait_for_selector("[data-role=errors]:not([hidden])", timeout=DEADLINE_MS)
    assert "This video is 2 s long; videos may be at most 1 s." in page.inner_text("[data-role=errors]")
    assert "POST" not in sent

    # The failed video: its page says why in a sentence, and Delete takes it and its files away.
    page.goto(f"{live_server.url}/studio/videos/{failed.pk}/")
    assert page.inner_text("[data-role=reason]") == "The file ends early: it looks cut off."
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete video").click()
    page.wait_for_url(f"{live_server.url}/studio/videos/", timeout=DEADLINE_MS)
    assert "“Cut off” is deleted, with its files." in page.inner_text("main")
    assert not in_another_thread(lambda: Recording.objects.filter(pk=failed.pk).exists())
    assert not upload_file.exists()
    page.screenshot(path=str(artifacts_dir / "videos-after-delete.png"), full_page=True)


@pytest.fixture
def uploader(db):
    """A brand and its host's session cookie (made before Playwright's event loop starts)."""
    brand = OrganizationFactory(name="Northwind", slug="northwind")
    client = Client()
    client.force_login(member(brand, role=Membership.Role.HOST))
    return brand, client.cookies[django_settings.SESSION_COOKIE_NAME].value


def test_an_upload_survives_a_dropped_part_and_goes_on_after_a_reload(
    live_server, media_on_disk, settings, uploader, page, artifacts_dir, tmp_path
):
    """The page sends the file in parts: a part whose connection drops is sent again; when the
    page is reloaded during an upload, choosing the same file sends only the parts still missing."""
    settings.LIVESHOP_UPLOAD_PART_BYTES = 128 * 1024
    settings.LIVESHOP_UPLOAD_PARTS_DIR = parts_dir = tmp_path / "parts"
    source = make_video(tmp_path / "spring.mp4", size="640x480", seconds=2)
    content = source.read_bytes()
    count = -(-len(content) // (128 * 1024))
    assert count >= 4
    brand, session = uploader
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )

    dropped = []

    def flaky(route):  # part 2 drops once; part 4 never gets through (the phone lost its network)
        number = int(route.request.url.rstrip("/").rsplit("/", 1)[1])
        if (number == 2 and not dropped) or number == 4:
            dropped.append(number)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/uploads/*/parts/*/", flaky)
    page.goto(f"{live_server.url}/studio/videos/new/")
    page.set_input_files("input[type=file]", str(source))
    page.fill("input[name=title]", "Spring looks")
    page.click("[data-role=submit]")
    # Every part but the 4th arrives (the 2nd on its second try) while the page keeps trying.
    arrived = lambda: sorted(int(p.name) for p in parts_dir.glob("*/parts/*"))  # noqa: E731
    deadline = time.monotonic() + DEADLINE_MS / 1000
    while arrived() != [n for n in range(1, count + 1) if n != 4] and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert arrived() == [n for n in range(1, count + 1) if n != 4]
    assert dropped.count(2) == 1 and 4 in dropped
    page.wait_for_selector("text=Connection lost", timeout=DEADLINE_MS)

    # The brand reloads the page: it says what was left unfinished; the same file goes on.
    page.reload()  # the old page's requests end with it
    page.unroute("**/uploads/*/parts/*/")
    page.wait_for_selector("[data-role=resume]:not([hidden])", timeout=DEADLINE_MS)
    assert "“spring.mp4” (" in page.inner_text("[data-role=resume]")
    assert "was not finished" in page.inner_text("[data-role=resume]")
    page.screenshot(path=str(artifacts_dir / "upload-resume.png"), full_page=True)
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "PUT" else None)
    page.set_input_files("input[type=file]", str(source))
    assert page.input_value("input[name=title]") == "Spring looks"
    page.click("[data-role=submit]")
    page.wait_for_url(re.compile(r"/studio/videos/\d+/$"), timeout=DEADLINE_MS * 2)

    assert [url.rstrip("/").rsplit("/", 1)[1] for url in sent] == ["4"]
    video = in_another_thread(lambda: Recording.objects.get(organization=brand))
    assert video.title == "Spring looks" and (media_on_disk / video.upload.name).read_bytes() == content
    assert page.evaluate("localStorage.getItem('liveshop.uploads')") == "{}"
    assert not list(parts_dir.glob("*/parts/*"))
    page.goto("about:blank")  # no progress polling while the test database is flushed
