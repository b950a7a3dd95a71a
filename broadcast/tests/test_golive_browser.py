"""Going live from the console's browser, end to end in local mode: Chromium's fake camera and
microphone, the publish socket on a real ASGI server (uvicorn), the real ffmpeg relay, nginx-rtmp
and its callbacks. The host turns the camera on and starts; the event goes live through the same
stream-state path as any encoder; the featured product's QR code, composited into the video,
decodes from a frame of the HLS output to exactly its buy link; a dropped connection comes back
by itself; Stop ends the show and the relay's ffmpeg is gone. Also the device errors."""

from __future__ import annotations

import concurrent.futures
import subprocess
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events import services as event_services
from events.models import LiveEvent
from events.payloads import buy_url
from liveshop.video import get_video_backend
from tests import conftest as browser_conftest
from tests import media
from tests import test_console_browser as console

live_stack = console.live_stack
asgi_server = console.asgi_server
artifacts_dir = browser_conftest.artifacts_dir

DEADLINE_MS = 60_000  # a busy 2-core machine runs nginx, ffmpeg twice, uvicorn and Chromium
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def make_show(settings) -> dict:
    """A scheduled local-mode event whose lineup products have buy links, and its host's session."""
    settings.VIDEO_BACKEND = "local"
    get_video_backend.cache_clear()
    brand = OrganizationFactory(name="Acme", slug="acme")
    host = member(brand, role=Membership.Role.HOST, username="golive-host")
    products = [
        ProductFactory(
            organization=brand, name=name, sku=f"GL-{i}", external_url=f"https://shop.example/p/{i}"
        )
        for i, name in enumerate(["Rose lipstick", "Night cream"], 1)
    ]
    event = event_services.create_event(
        organization=brand,
        title="Browser show",
        scheduled_start=timezone.now() + timedelta(days=1),
        by=host,
        products=products,
    )
    event.organization = brand  # no query once Playwright's loop runs
    client = Client()
    client.force_login(host)
    links = {product.pk: buy_url(product, event) for product in products}
    return {
        "event": event,
        "products": products,
        "links": links,
        "session": client.cookies["sessionid"].value,
    }


@pytest.fixture
def golive_show(live_stack, settings):
    yield make_show(settings)
    get_video_backend.cache_clear()


@pytest.fixture
def scheduled_show(asgi_server, settings):
    yield make_show(settings)
    get_video_backend.cache_clear()


@pytest.fixture
def golive_page(request):
    """Chromium with a fake camera and microphone, allowed without a prompt; collects page errors
    and fails on Content-Security-Policy violations, like tests/conftest.py's page."""
    if not browser_conftest.CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import Page, sync_playwright

    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(Page, "wait_for_function", browser_conftest.wait_for_function_without_eval)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(browser_conftest.CHROMIUM),
            headless=True,
            args=[*browser_conftest.CHROMIUM_ARGS, *getattr(request, "param", MEDIA_FLAGS)],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(DEADLINE_MS)
        context.add_init_script(browser_conftest.REPORT_CSP_VIOLATIONS)
        violations, errors = [], []
        context.on(
            "console",
            lambda m: violations.append(m.text) if browser_conftest.is_csp_violation(m.text) else None,
        )
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        try:
            yield page
        finally:
            context.close()
            browser.close()
        if violations:
            pytest.fail("Content-Security-Policy violations:\n" + "\n".join(dict.fromkeys(violations)))


def in_thread(function):
    """Run an ORM read outside Playwright's event loop (its own connection, closed after)."""

    def run():
        try:
            return function()
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def status_of(event_id: int) -> str:
    return in_thread(lambda: LiveEvent.objects.get(pk=event_id).status)


def relays(rtmp_port: int) -> list[psutil.Process]:
    """The relay ffmpeg processes publishing to this test's media server."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "ffmpeg" and "pipe:0" in cmdline and f":{rtmp_port}/live/" in cmdline:
            found.append(process)
    return found


def qr_in_hls(playlist_url: str, directory: Path) -> list[str]:
    """The QR codes in the newest frame ffmpeg can pull from the live HLS output."""
    import zxingcpp
    from PIL import Image

    frame = directory / "frame.png"
    frame.unlink(missing_ok=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-live_start_index", "-1",
         "-i", playlist_url, "-frames:v", "1", str(frame)],
        timeout=30, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if not frame.exists():
        return []
    return [result.text for result in zxingcpp.read_barcodes(Image.open(frame))]


def wait_for_state(page, *states: str) -> None:
    states_js = ",".join(f"'{s}'" for s in states)
    page.wait_for_function(f"[{states_js}].includes(window.liveshopGoLive && window.liveshopGoLive.name)")


@pytest.mark.browser
@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_a_host_goes_live_from_the_browser_with_the_featured_products_qr_code_in_the_video(
    live_stack, golive_show, golive_page, tmp_path, artifacts_dir
):
    from playwright.sync_api import expect

    base_url, server = live_stack
    event, products, links = golive_show["event"], golive_show["products"], golive_show["links"]
    page = golive_page
    page.context.add_cookies([{"name": "sessionid", "value": golive_show["session"], "url": base_url}])
    page.goto(f"{base_url}{event.get_absolute_url()}")
    expect(page.locator("#console-connection")).to_have_attribute("data-state", "live")
    playlist = f"{server.public_url}/hls/{event.channel_id}/index.m3u8"

    page.select_option("#golive-preset", "360p")
    page.click("#golive-devices")
    wait_for_state(page, "ready")
    page.click("#golive-start")
    wait_for_state(page, "live")

    # Live through nginx's on_publish and the one stream-state handler, as any encoder.
    media.wait_for(lambda: status_of(event.pk) == "live", timeout=60, what="the event to go live")
    hls_path = f"/hls/{event.channel_id}/index.m3u8"
    media.wait_for(
        lambda: media.http_get(server.http_port, hls_path)[0] == 200, timeout=60, what="the playlist"
    )
    assert len(relays(server.rtmp_port)) == 1
    # Chromium records H.264 with a keyframe every 0.5 s (local.js): the relay copies it, no x264.
    assert "copy" in relays(server.rtmp_port)[0].cmdline()

    # Feature a product: its QR code, in the video itself, decodes to its buy link.
    page.locator(".product-card").nth(1).get_by_role("button", name="Feature").click()
    page.wait_for_function(f"window.liveshopGoLive.productId === {products[1].pk}")
    media.wait_for(lambda: links[products[1].pk] in qr_in_hls(playlist, tmp_path), timeout=90, interval=1,
                   what="the featured product's QR code in the HLS output")  # fmt: skip
    (artifacts_dir / "golive-hls-frame.png").write_bytes((tmp_path / "frame.png").read_bytes())
    # Clear takes it out of the video.
    page.get_by_role("button", name="Clear card").click()
    page.wait_for_function("window.liveshopGoLive.productId === null")
    media.wait_for(lambda: qr_in_hls(playlist, tmp_path) == [], timeout=90, interval=1, what="no QR code")

    # A dropped connection comes back by itself (a new stream, as an encoder reconnecting).
    page.evaluate("window.liveshopGoLive.publisher.dropConnection()")
    wait_for_state(page, "retry", "connecting")
    wait_for_state(page, "live")
    media.wait_for(lambda: status_of(event.pk) == "live", timeout=60, what="live again after the reconnect")
    media.wait_for(
        lambda: len(relays(server.rtmp_port)) == 1, timeout=30, what="one relay after the reconnect"
    )

    # Stop ends the show and its ffmpeg.
    page.click("#golive-stop")
    wait_for_state(page, "stopped")
    media.wait_for(lambda: status_of(event.pk) == "ended", timeout=60, what="the event to end")
    media.wait_for(lambda: relays(server.rtmp_port) == [], timeout=30, what="the relay's ffmpeg to exit")
    assert page.errors == []


DEVICE_ERRORS = {
    "NotAllowedError": "was not allowed to use the camera or microphone",
    "NotFoundError": "No camera or microphone was found",
    "NotReadableError": "in use by another program",
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", list(DEVICE_ERRORS))
def test_camera_errors_are_explained(asgi_server, scheduled_show, golive_page, error):
    from playwright.sync_api import expect

    show, page = scheduled_show, golive_page
    # The browser's own answer for a denied permission, a missing or a busy device.
    page.add_init_script(
        f"navigator.mediaDevices.getUserMedia = async () => {{ throw new DOMException('no', '{error}'); }};"
    )
    page.context.add_cookies([{"name": "sessionid", "value": show["session"], "url": asgi_server}])
    page.goto(f"{asgi_server}{show['event'].get_absolute_url()}")

    page.click("#golive-devices")

    expect(page.locator("#golive-error")).to_contain_text(DEVICE_ERRORS[error])
    expect(page.locator("#golive-start")).to_be_disabled()


# The Web Broadcast SDK's surface golive/ivs.js uses, recording what the page gives it (the real
# SDK would need an IVS channel: its script is answered with this stand-in).
IVS_SDK_STUB = """
window.__ivs = { created: [], started: [], videos: [], audios: [], stopped: 0 };
window.IVSBroadcastClient = {
  STANDARD_LANDSCAPE: { maxResolution: { width: 1280, height: 720 } },
  BASIC_LANDSCAPE: { maxResolution: { width: 852, height: 480 } },
  BroadcastClientEvents: { CONNECTION_STATE_CHANGE: "connectionStateChange", ERROR: "clientError" },
  ConnectionState: { CONNECTED: "connected", FAILED: "failed", DISCONNECTED: "disconnected" },
  create(config) {
    const handlers = {};
    window.__ivs.created.push({ streamConfig: config.streamConfig, ingestEndpoint: config.ingestEndpoint });
    return {
      on(name, callback) { handlers[name] = callback; },
      async addVideoInputDevice(stream, name) {
        const track = stream.getVideoTracks()[0];
        window.__ivs.videos.push({ name, kind: track.kind, state: track.readyState });
      },
      async addAudioInputDevice(stream, name) { window.__ivs.audios.push(name); },
      async startBroadcast(key, endpoint) {
        window.__ivs.started.push({ key, endpoint });
        setTimeout(() => handlers.connectionStateChange("connected"), 10);
      },
      stopBroadcast() { window.__ivs.stopped += 1; },
    };
  },
};
"""
IVS_KEY = "sk_us-west-2_ivsbrowserkey"


@pytest.fixture
def ivs_show(asgi_server, settings):
    """A scheduled IVS event (its key stored: the tests' server runs the local video backend)."""
    from events.tests.factories import LiveEventFactory
    from liveshop import crypto

    settings.IVS_CHANNEL_TYPE = "STANDARD"
    event = LiveEventFactory(
        backend="ivs",
        ingest_url="rtmps://abc123.global-contribute.live-video.net:443/app/",
        stream_key_encrypted=crypto.encrypt(IVS_KEY),
        stream_key_digest=crypto.digest(IVS_KEY),
    )
    host = member(event.organization, role=Membership.Role.HOST)
    client = Client()
    client.force_login(host)
    event.get_absolute_url()  # reads the brand now: no query once Playwright's loop runs
    return {"event": event, "session": client.cookies["sessionid"].value}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ivs_mode_fetches_the_key_by_post_just_before_starting(asgi_server, ivs_show, golive_page):
    page = golive_page
    sdk = []  # the SDK's script, asked for
    page.route(
        "**/vendor/ivs-broadcast/*",
        lambda route: (
            sdk.append(route.request.url) or route.fulfill(body=IVS_SDK_STUB, content_type="text/javascript")
        ),
    )
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "ivs-key" in r.url else None)
    page.context.add_cookies([{"name": "sessionid", "value": ivs_show["session"], "url": asgi_server}])
    page.goto(f"{asgi_server}{ivs_show['event'].get_absolute_url()}")

    assert IVS_KEY not in page.content()
    page.wait_for_load_state("networkidle")
    assert sdk == []  # the console loads without the SDK: only going live from here needs it
    page.click("#golive-devices")
    wait_for_state(page, "ready")
    page.wait_for_function("() => Boolean(window.IVSBroadcastClient)")  # asked for with the camera
    assert len(sdk) == 1
    assert posts == []  # not before Start
    page.click("#golive-start")
    wait_for_state(page, "live")

    ivs = page.evaluate("window.__ivs")
    assert len(posts) == 1
    assert ivs["created"] == [
        {
            "streamConfig": {"maxResolution": {"width": 1280, "height": 720}},
            "ingestEndpoint": "abc123.global-contribute.live-video.net",
        }
    ]
    assert ivs["started"] == [{"key": IVS_KEY, "endpoint": "abc123.global-contribute.live-video.net"}]
    assert ivs["videos"] == [{"name": "camera", "kind": "video", "state": "live"}]  # the composited track
    assert ivs["audios"] == ["mic"]
    page.click("#golive-stop")
    wait_for_state(page, "stopped")
    assert page.evaluate("window.__ivs.stopped") >= 1
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("golive_page", [["--use-fake-device-for-media-stream"]], indirect=True)
def test_a_camera_permission_the_browser_refuses_is_explained(asgi_server, scheduled_show, golive_page):
    """Chromium's own answer: no --use-fake-ui-for-media-stream and no permission granted, so its
    prompt is dismissed (headless) and getUserMedia rejects with NotAllowedError."""
    from playwright.sync_api import expect

    page = golive_page
    page.context.add_cookies([{"name": "sessionid", "value": scheduled_show["session"], "url": asgi_server}])
    page.goto(f"{asgi_server}{scheduled_show['event'].get_absolute_url()}")

    page.click("#golive-devices")

    expect(page.locator("#golive-error")).to_contain_text(DEVICE_ERRORS["NotAllowedError"])
    expect(page.locator("#golive-browser")).to_have_attribute("data-state", "error")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ivs_mode_with_the_real_sdk_runs_under_the_pages_policy_up_to_the_network(
    asgi_server, ivs_show, golive_page
):
    """The Amazon IVS Web Broadcast SDK as we serve it (not a stand-in), as far as this machine
    can take it: it loads from our static files, takes the composited camera and the microphone
    and starts broadcasting to the channel's ingest endpoint, all under the console's
    Content-Security-Policy (workers from 'self' only: the fixture fails on any violation) and
    without an uncaught error; the ingest cannot be reached here (the route refuses it), and the
    host is told the connection is being retried. (It found the page's policy refusing the SDK's
    blob worker and its WebRTC offer to port 4443: liveshop/csp.py's IVS_BROADCAST_SOURCES.)"""
    from playwright.sync_api import expect

    page = golive_page
    ingest = []  # the SDK's requests to IVS
    page.route(
        "**/*live-video.net*/**",
        lambda route: ingest.append(route.request.url) or route.abort("addressunreachable"),
    )
    page.context.add_cookies([{"name": "sessionid", "value": ivs_show["session"], "url": asgi_server}])
    page.goto(f"{asgi_server}{ivs_show['event'].get_absolute_url()}")
    page.click("#golive-devices")
    wait_for_state(page, "ready")
    page.wait_for_function("() => Boolean(window.IVSBroadcastClient && window.IVSBroadcastClient.create)")
    page.click("#golive-start")

    wait_for_state(page, "retry")
    expect(page.locator("#golive-browser")).to_contain_text("retrying")
    # It got as far as offering its WebRTC session to the channel's ingest (the key's endpoint).
    assert any(url.startswith("https://abc123.") for url in ingest), ingest
    assert IVS_KEY not in page.content()
    page.click("#golive-stop")
    wait_for_state(page, "stopped")
    assert page.errors == []
