"""A recorded show end to end in local mode: real nginx-rtmp and ffmpeg, a real ASGI server
(uvicorn) on the test database, and Chromium.

ffmpeg publishes ~10 s; the host features one product ~4 s into the stream and another ~7 s in;
the stream ends, so the event ends; nginx's on_record_done reaches the server, which converts the
recording (ffmpeg) and ingests it (eager Celery in the test settings, so in the server process)
into the "recordings" storage on disk that the same server serves. Then a viewer opens the ended
event's page, follows "Watch the replay" and seeks: each card appears at the moment it was
featured, in both seek directions."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from catalog.services import attach_product_image
from catalog.tests.factories import ProductFactory
from demo.brand import product_card_png
from events import services
from events.models import LiveEvent
from liveshop import crypto
from liveshop.video import get_video_backend
from recordings.models import Recording
from tests import media
from tests.asgi_server import running_asgi_server
from tests.test_replay_browser import in_a_thread, load_replay, seek

pytestmark = [pytest.mark.browser, pytest.mark.media]

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_MS = 30_000  # generous: nginx, ffmpeg, the server and Chromium share a busy 2-core machine
STREAM_SECONDS = 10
FEATURE_A_AT = 4.0  # seconds into the stream
FEATURE_B_AT = 7.0
CUE_TOLERANCE_MS = 1_000


@pytest.fixture
def stack(transactional_db, settings, media_on_disk, tmp_path_factory, shared_media_server):
    """The run's shared nginx-rtmp calling back, during the test, the server, which knows its
    ports and serves MEDIA_ROOT (the products' images and the recordings); yields (server URL,
    media server, server log)."""
    server = shared_media_server
    port = media.free_port()
    settings.VIDEO_BACKEND = "local"
    settings.MEDIA_SERVER_RTMP_PORT, settings.MEDIA_SERVER_HTTP_PORT = server.rtmp_port, server.http_port
    settings.MEDIA_SERVER_PUBLIC_URL, settings.MEDIA_SERVER_DIR = server.public_url, server.directory
    get_video_backend.cache_clear()
    try:
        # Both storages on disk under MEDIA_ROOT: "recordings" where the server writes the replays
        # it ingests and serves them from, "default" for the product images the test writes. The
        # test settings keep Celery eager, so on_record_done converts and ingests in the server.
        with (
            server.calling_back(f"http://127.0.0.1:{port}"),
            running_asgi_server(
                tmp_path_factory.mktemp("web"),
                port=port,
                disk_storages=True,
                env={
                    "DJANGO_SECRET_KEY": settings.SECRET_KEY,
                    "DJANGO_MEDIA_ROOT": str(media_on_disk),
                    "DJANGO_SERVE_MEDIA": "true",
                    "VIDEO_BACKEND": "local",
                    "LIVESHOP_MEDIA_SERVER_HOST": "127.0.0.1",
                    "LIVESHOP_MEDIA_SERVER_RTMP_PORT": str(server.rtmp_port),
                    "LIVESHOP_MEDIA_SERVER_HTTP_PORT": str(server.http_port),
                    "LIVESHOP_MEDIA_SERVER_PUBLIC_URL": server.public_url,
                    "LIVESHOP_MEDIA_SERVER_DIR": str(server.directory),
                },
            ) as web,
        ):
            yield web.url, server, web.log
    finally:
        get_video_backend.cache_clear()


@pytest.fixture
def recorded_show(stack, media_on_disk):
    """A show streamed through the media server with two products featured at known moments,
    ended by its stream, and its recording ingested. Runs before the ``page`` fixture: the ORM
    calls here need this thread free of Playwright's event loop."""
    _, server, log = stack
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    host = member(brand)
    products = []
    for sku, name, price, colors in [
        ("NW-JKT-001", "Ridgeline Waterproof Shell Jacket", "189.00", ("#1f4e5f", "#3fa7a3")),
        ("NW-FLC-002", "Alpine Grid Fleece Pullover", "79.00", ("#b6462f", "#f2a541")),
        ("NW-BPK-003", "Trailhead 28L Daypack", "119.00", ("#2d3a4a", "#6c8ead")),
    ]:
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
            product=product, content=product_card_png(name, colors), filename=f"{sku}.png", by=host
        )
        products.append(product)
    event = services.create_event(
        organization=brand,
        title="Spring Trail Gear Live",
        scheduled_start=timezone.now(),
        by=host,
        products=products,
    )
    jacket, fleece = products[:2]

    def diagnostics() -> str:
        app = log.read_text(errors="replace")
        return f"\n--- media server ---\n{server.output()}\n--- app server ---\n{app}"

    timings = {}
    began = time.monotonic()
    key = crypto.decrypt(event.stream_key_encrypted)
    encoder = media.publish(server.ingest(key), seconds=STREAM_SECONDS)
    try:
        session = media.wait_for(
            lambda: event.sessions.filter(started_at__isnull=False).first(),
            timeout=60,
            what=f"the event to go live{diagnostics()}",
        )
        timings["live"] = time.monotonic() - began

        def feature_at(product, seconds: float):
            media.wait_for(
                lambda: timezone.now() - session.started_at >= timedelta(seconds=seconds),
                timeout=60,
                what=f"{seconds} s of stream",
            )
            highlight = services.feature_product(event=event, product=product, by=host)
            return (highlight.created_at - session.started_at).total_seconds() * 1000

        featured_ms = {jacket.pk: feature_at(jacket, FEATURE_A_AT)}
        featured_ms[fleece.pk] = feature_at(fleece, FEATURE_B_AT)
        assert encoder.wait(timeout=90) == 0, encoder.stderr.read()
        timings["streamed"] = time.monotonic() - began
    finally:
        media.stop(encoder)

    media.wait_for(
        lambda: LiveEvent.objects.get(pk=event.pk).status == LiveEvent.Status.ENDED,
        timeout=60,
        what=f"the stream's end to end the event{diagnostics()}",
    )
    recording = media.wait_for(
        lambda: Recording.objects.filter(event=event, status__in=["ready", "failed"]).first(),
        timeout=180,
        what=f"the recording to be ready{diagnostics()}",
    )
    timings["ready"] = time.monotonic() - began
    assert recording.status == Recording.Status.READY, recording.failure_reason
    cues = {cue.product_id: cue for cue in recording.cues.all()}
    event.refresh_from_db()
    # The server wrote the replay into the storage it serves (MEDIA_ROOT/recordings/).
    assert (media_on_disk / "recordings" / recording.master_path).is_file()
    print("timings (s from publishing): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    pairs = (f"{featured_ms[product]:.0f} / {cue.start_ms}" for product, cue in cues.items())
    print("featured at / cue (ms): " + ", ".join(pairs))
    return {
        "event": event,
        "recording": recording,
        "products": products,
        "featured_ms": featured_ms,
        "cues": cues,
        "watch_path": reverse("viewer:watch", args=[brand.slug, event.slug]),
        "replay_path": reverse("replays:event", kwargs={"brand": brand.slug, "slug": event.slug}),
    }


@pytest.mark.django_db(transaction=True)
def test_a_recorded_show_replays_each_card_at_the_moment_it_was_featured(
    stack, recorded_show, page, artifacts_dir
):
    from playwright.sync_api import expect

    base_url = stack[0]
    recording, cues = recorded_show["recording"], recorded_show["cues"]
    jacket, fleece, _ = recorded_show["products"]
    featured_ms = recorded_show["featured_ms"]

    # The recording: the stream's length, both cues where the host featured them.
    assert recording.backend == "local"
    assert (STREAM_SECONDS - 2) * 1000 <= recording.duration_ms <= (STREAM_SECONDS + 2) * 1000
    assert set(cues) == {jacket.pk, fleece.pk}
    for product_id, cue in cues.items():
        assert abs(cue.start_ms - featured_ms[product_id]) <= CUE_TOLERANCE_MS, (cue.start_ms, featured_ms)
    a = cues[jacket.pk].start_ms / 1000
    b = cues[fleece.pk].start_ms / 1000
    assert b - a > 2, (a, b)

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(DEADLINE_MS)

    # The ended event's page leads to the replay.
    page.goto(f"{base_url}{recorded_show['watch_path']}")
    replay_link = page.get_by_role("link", name="Watch the replay")
    expect(replay_link).to_be_visible()
    replay_link.click()
    page.wait_for_url(f"{base_url}{recorded_show['replay_path']}")

    # The recording the server ingested plays, from the storage the same server serves.
    load_replay(page, longer_than=STREAM_SECONDS - 2)
    card = page.locator("#product-card")
    expect(page.locator("#chapters .chapter")).to_have_count(2)

    seek(page, a - 0.5)  # just before the first product was featured: no card yet
    expect(card).to_be_hidden()
    expect(page.locator("#slot-empty")).to_be_visible()

    seek(page, a + 0.5)  # just after: its card
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-product-id", str(jacket.pk))
    expect(card.locator(".card-name")).to_have_text(jacket.name)

    seek(page, b + 0.5)  # past the second one
    expect(card).to_have_attribute("data-product-id", str(fleece.pk))
    expect(card.locator(".card-name")).to_have_text(fleece.name)
    page.screenshot(path=artifacts_dir / "recording-replay.png", full_page=True)

    seek(page, b - 0.5)  # back: the first card again
    expect(card).to_have_attribute("data-product-id", str(jacket.pk))
    seek(page, a - 0.5)
    expect(card).to_be_hidden()

    # Playing across the first moment: the card comes on when the video reaches it.
    page.evaluate("document.getElementById('video').muted = true")  # headless autoplay policy
    seek(page, max(0.0, a - 1.5))
    page.evaluate("document.getElementById('video').play()")
    expect(card).to_have_attribute("data-product-id", str(jacket.pk), timeout=DEADLINE_MS)
    page.evaluate("document.getElementById('video').pause()")
    shown_at = page.evaluate("window.liveshop.card.mediaTime")
    assert a <= shown_at <= a + 0.6, (a, shown_at)
    assert abs(shown_at * 1000 - featured_ms[jacket.pk]) <= CUE_TOLERANCE_MS + 600, (shown_at, featured_ms)

    assert in_a_thread(lambda: Recording.objects.get(pk=recording.pk).replay_views) == 1
    assert errors == []
