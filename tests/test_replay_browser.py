"""The replay page in a real browser against a real ASGI server: a real HLS VOD made by ffmpeg
(12 s test pattern, 2 s segments) in the recordings storage on disk, played by hls.js from our
static files. The product card follows the video's time in both seek directions, and the
chapters seek to their products."""

import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from catalog.services import attach_product_image
from catalog.tests.factories import ProductFactory
from commerce import stock
from demo.brand import product_card_png
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveEventFactory
from recordings.models import ProductCue, Recording
from tests.asgi_server import start_asgi_server

DEADLINE_MS = 20_000  # generous: a busy 2-core CI machine runs the server, Chromium and ffmpeg
PHONE = {"width": 390, "height": 844}
DURATION_S = 12


def make_hls_vod(folder) -> None:
    """A 12 s, 2 s-segment HLS VOD (H.264 + AAC) with a master playlist, in IVS's layout."""
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=duration={DURATION_S}:size=640x360:rate=25",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION_S}",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(folder / "%v" / "seg%03d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", "v:0,a:0,name:360p",
        str(folder / "%v" / "playlist.m3u8"),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=120)


@pytest.fixture
def recordings_on_disk(settings, media_on_disk):
    """The "recordings" storage on disk where the test server serves it: its settings keep the
    in-memory storage, whose URLs are MEDIA_URL + name, and it serves MEDIA_URL from MEDIA_ROOT."""
    on_disk = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": media_on_disk, "base_url": settings.MEDIA_URL},
    }
    settings.STORAGES = {**settings.STORAGES, "recordings": on_disk}
    return storages["recordings"]


@pytest.fixture
def replay(recordings_on_disk, media_on_disk):
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    editor = member(brand)
    products = []
    rows = [
        ("NW-JKT-001", "Ridgeline Waterproof Shell Jacket", "189.00", ("#1f4e5f", "#3fa7a3")),
        ("NW-FLC-002", "Alpine Grid Fleece Pullover", "79.00", ("#b6462f", "#f2a541")),
        ("NW-BPK-003", "Trailhead 28L Daypack", "119.00", ("#2d3a4a", "#6c8ead")),
    ]
    for sku, name, price, colors in rows:
        product = ProductFactory(
            organization=brand,
            sku=sku,
            name=name,
            price=Decimal(price),
            stock=10,
            description="Waterproof, breathable and packs into its own pocket.",
            external_url=f"https://shop.example.com/{sku.lower()}",
        )
        attach_product_image(
            product=product, content=product_card_png(name, colors), filename=f"{sku}.png", by=editor
        )
        products.append(product)
    event = LiveEventFactory(
        organization=brand,
        title="Spring Trail Gear Live",
        status=LiveEvent.Status.ENDED,
        scheduled_start=timezone.now() - timedelta(hours=2),
    )
    for position, product in enumerate(products):
        EventProduct.objects.create(event=event, product=product, position=position)
    prefix = f"replays/{event.pk}/1"
    make_hls_vod(Path(recordings_on_disk.path(f"{prefix}/media/hls")))
    recording = Recording.objects.create(
        organization=brand,
        event=event,
        status=Recording.Status.READY,
        started_at=timezone.now() - timedelta(hours=2),
        duration_ms=DURATION_S * 1000,
        cdn_prefix=prefix,
        master_path=f"{prefix}/media/hls/master.m3u8",
        renditions=[
            {"name": "360p", "resolution": "640x360", "playlist": f"{prefix}/media/hls/360p/playlist.m3u8"}
        ],
    )
    jacket, fleece = products[:2]
    ProductCue.objects.create(recording=recording, product=jacket, start_ms=3_000, end_ms=6_000)
    ProductCue.objects.create(recording=recording, product=fleece, start_ms=8_000)
    return event, recording, products


@pytest.fixture
def asgi_server(replay, media_on_disk, tmp_path):
    server = start_asgi_server(tmp_path, env={"DJANGO_MEDIA_ROOT": str(media_on_disk)})
    yield server
    server.stop()


def in_a_thread(query):
    """Run an ORM query in another thread (Django refuses ORM calls in this one while
    Playwright's event loop is open) and close its connection afterwards."""

    def call():
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def load_replay(page, longer_than: float = 0, timeout: int = 2 * DEADLINE_MS) -> None:
    """Press play (muted: headless autoplay policy) and pause again, and wait for the video's
    metadata: the replay page loads hls.js and the video only once the viewer asks (replay.js).
    ``page`` may be a frame."""
    page.evaluate(
        "() => { const v = document.getElementById('video');"
        " v.muted = true; v.play().catch(() => {}); v.pause(); }"
    )
    page.wait_for_function(
        "d => { const v = document.getElementById('video'); return v.readyState >= 1 && v.duration > d; }",
        arg=longer_than,
        timeout=timeout,
    )


def seek(page, seconds: float) -> None:
    """Seek the way the player's scrubber does, and wait until the frame there is decoded."""
    page.evaluate("t => { document.getElementById('video').currentTime = t; }", seconds)
    page.wait_for_function(
        """t => { const v = document.getElementById('video');
                  return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) < 0.05; }""",
        arg=seconds,
        timeout=DEADLINE_MS,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_replay_shows_each_card_at_its_cue_in_both_seek_directions(replay, asgi_server, page, artifacts_dir):
    from playwright.sync_api import expect

    event, recording, (jacket, fleece, _) = replay
    path = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    media = []  # what the page asked for of the video
    page.on("request", lambda request: media.append(request.url) if "/media/" in request.url else None)

    # The ended live page leads to the replay.
    page.goto(f"{asgi_server.url}{reverse('viewer:watch', args=[event.organization.slug, event.slug])}")
    replay_link = page.get_by_role("link", name="Watch the replay")
    expect(replay_link).to_be_visible()
    page.screenshot(path=artifacts_dir / "replay-ended-page.png", full_page=True)
    replay_link.click()
    page.wait_for_url(f"{asgi_server.url}{path}")

    # Nothing of the player loads before the viewer asks: no hls.js, no playlist, no segment.
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.Hls") == "undefined"
    assert [url for url in media if ".m3u8" in url or ".ts" in url] == []
    load_replay(page, longer_than=11)
    assert page.evaluate("typeof window.Hls") == "function"  # hls.js comes from our static files
    card = page.locator("#product-card")
    expect(card).to_be_hidden()
    expect(page.locator("#slot-empty")).to_be_visible()
    expect(page.locator("#chapters .chapter")).to_have_count(2)

    seek(page, 9)
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-product-id", str(fleece.pk))
    expect(card.locator(".card-name")).to_have_text(fleece.name)
    expect(card.locator(".card-price")).to_have_text("$79.00")
    buy = card.get_by_role("link", name="Buy now")
    expect(buy).to_have_attribute(
        "href", f"{fleece.external_url}?utm_source=liveshop&utm_medium=replay&utm_campaign={event.slug}"
    )
    qr = card.locator(".card-qr img")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    expect(page.locator(f'#lineup .lineup-item[data-product-id="{fleece.pk}"]')).to_have_class(
        "lineup-item is-featured"
    )
    page.screenshot(path=artifacts_dir / "replay-desktop-9s.png", full_page=True)

    seek(page, 4)  # backwards, into the first cue
    expect(card).to_have_attribute("data-product-id", str(jacket.pk))
    expect(card.locator(".card-name")).to_have_text(jacket.name)
    seek(page, 7)  # the jacket's cue ended at 6 s; the fleece's starts at 8 s
    expect(card).to_be_hidden()
    seek(page, 1)  # before any cue
    expect(card).to_be_hidden()
    expect(page.locator("#slot-empty")).to_be_visible()
    assert page.evaluate("window.liveshop.card.productId") is None

    # A chapter seeks to its product and plays from there.
    chapter = page.locator(f'#chapters .chapter[data-product-id="{fleece.pk}"]')
    expect(chapter.locator(".chapter-time")).to_have_text("0:08")
    page.evaluate("document.getElementById('video').muted = true")  # headless autoplay policy
    chapter.click()
    expect(card).to_have_attribute("data-product-id", str(fleece.pk))
    expect(chapter).to_have_attribute("aria-current", "true")
    page.wait_for_function(
        "() => { const v = document.getElementById('video'); return !v.seeking && v.currentTime >= 8; }",
        timeout=DEADLINE_MS,
    )
    assert page.evaluate("document.getElementById('video').currentTime") < DURATION_S

    # Playing across a cue: the card changes within a frame or two of its moment.
    page.evaluate("document.getElementById('video').pause()")
    seek(page, 2)
    expect(card).to_be_hidden()
    page.evaluate("document.getElementById('video').play()")
    expect(card).to_have_attribute("data-product-id", str(jacket.pk), timeout=DEADLINE_MS)
    shown_at = page.evaluate("window.liveshop.card.mediaTime")
    assert 3.0 <= shown_at <= 3.5, shown_at
    page.evaluate("document.getElementById('video').pause()")
    page.screenshot(path=artifacts_dir / "replay-desktop-playing.png", full_page=True)

    page.set_viewport_size(PHONE)
    seek(page, 9)
    expect(card).to_have_attribute("data-product-id", str(fleece.pk))
    page.screenshot(path=artifacts_dir / "replay-phone-9s.png", full_page=True)

    assert in_a_thread(lambda: Recording.objects.get(pk=recording.pk).replay_views) == 1

    # A sale elsewhere reaches the page over its read-only stock socket (viewer/replay_socket.js).
    page.wait_for_function("() => window.liveshopStock.socket === 'open'", timeout=DEADLINE_MS)
    in_a_thread(lambda: sell_out(jacket))
    page.wait_for_function(
        "id => window.liveshopStock.frames.some(f => f.products.some(p => p.id === id && !p.inStock))",
        arg=jacket.pk,
        timeout=DEADLINE_MS,
    )
    assert errors == []


def sell_out(product) -> None:
    """Take a product's whole stock as checkout does (its viewers hear of it after commit)."""
    variant = product.variants.get()
    with transaction.atomic():
        assert stock.take(variant.pk, variant.stock)
