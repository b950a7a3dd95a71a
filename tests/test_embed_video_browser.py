"""A brand's published uploaded video in a shop's frame, in Chromium: the debug-only demo shop on
http://localhost:<port> loads /embed.js with ``data-liveshop-video`` from http://127.0.0.1:<port>,
which frames /embed/v/<brand>/<video>/. Proves the frame loads with the brand's picked poster,
the HLS the worker made plays in it, the product card comes up at its cue time and the shop's
page hears ``product.shown`` and, with "my own cart", ``cart.add``. A real transcode (ffmpeg, a
4-second clip) and a real poster pick, like the studio's. The server signs media as with
CloudFront (a key configured): every playlist and segment request from the frame carries the
signed query (recordings.cdn.signed_query), the frame having no cookie of ours."""

import re
import secrets
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from embed.models import EmbedSettings
from recordings.models import ProductCue, Recording
from recordings.services.posters import set_poster
from recordings.services.transcode import POSTER_PREFIX, transcode_upload
from recordings.tests.upload_media import make_video
from tests.asgi_server import running_asgi_server
from tests.media import free_port
from tests.test_replay_browser import load_replay

DEADLINE_MS = 30_000  # a busy 2-core machine runs the server, Chromium, ffmpeg and other tests
CUE_MS = 1_500
READY = "() => (window.demoShop?.events || []).some((e) => e.type === 'ready')"


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def published_video(transactional_db, media_on_disk, settings, port, tmp_path_factory):
    """A brand's uploaded clip, transcoded to HLS on disk, its poster picked at 2 s, a product cue
    at 1.5 s, published; the demo shop's origin on the brand's embed list (own cart)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {  # where the server (disk_storages) serves them from
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media_on_disk / "recordings", "base_url": "/media/recordings/"},
        },
    }
    source = make_video(tmp_path_factory.mktemp("source") / "clip.mp4", size="320x240", seconds=4, rate=10)
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    owner = member(brand, role=Membership.Role.OWNER)
    video = Recording(organization=brand, backend="upload", title="Trail film", slug="trail-film")
    video.upload.save("clip.mp4", ContentFile(source.read_bytes()), save=False)
    video.save()
    video = transcode_upload(recording_id=video.pk)
    assert video.status == "ready", video.failure_reason
    video = set_poster(recording=video, at_ms=2_000, by=owner)
    jacket = ProductFactory(
        organization=brand,
        sku=f"NW-{secrets.token_hex(2)}",
        name="Ridgeline Shell Jacket",
        price=Decimal("189.00"),
    )
    ProductCue.objects.create(recording=video, product=jacket, start_ms=CUE_MS, end_ms=3_500)
    Recording.objects.filter(pk=video.pk).update(published_at=timezone.now())
    EmbedSettings.objects.create(
        organization=brand, allowed_origins=f"http://localhost:{port}", own_cart=True
    )
    assert video.organization == brand  # loaded here: the test's thread runs Playwright's event loop
    return video, jacket


@pytest.fixture
def asgi_server(published_video, media_on_disk, settings, port, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    env = {
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_MEDIA_ROOT": str(media_on_disk),
        "DJANGO_SERVE_MEDIA": "true",
        # Signing on, as with CloudFront (Django still serves the files here and checks each one).
        "AWS_CLOUDFRONT_KEY_ID": "K2JCJMDEHXQW5F",
        "AWS_CLOUDFRONT_KEY": key.decode(),
    }
    with running_asgi_server(tmp_path, port=port, disk_storages=True, env=env):
        yield


def shop_events(page, type_):
    return page.evaluate("(t) => window.demoShop.events.filter((e) => e.type === t)", type_)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shop_embeds_a_published_video_with_its_poster_and_cards(
    published_video, port, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    video, jacket = published_video
    brand = video.organization.slug
    liveshop, shop = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    errors, hls_requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    media = re.compile(r"/media/recordings/.+\.(m3u8|ts|m4s)(\?|$)")
    page.on(
        "request", lambda request: hls_requests.append(request.url) if media.search(request.url) else None
    )

    page.goto(f"{shop}/embed/demo-shop/?video={brand}/{video.slug}")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    frame = page.frame(url=re.compile(r"/embed/v/"))
    assert frame.url.startswith(f"{liveshop}/embed/v/{brand}/{video.slug}/#parent=")
    ready = shop_events(page, "ready")[0]
    assert (ready["video"], ready["videoId"], ready["event"], ready["title"]) == (
        f"{brand}/{video.slug}",
        video.pk,
        None,
        "Trail film",
    )
    assert frame.locator(".topbar").count() == 0

    # The brand's picked poster, loaded from Liveshop's origin inside the frame.
    poster = frame.locator("#video").get_attribute("poster")
    assert poster == video.file_url(video.thumbnails[0]) and POSTER_PREFIX in poster
    size = frame.evaluate(
        "(src) => new Promise((ok, no) => { const i = new Image(); i.onload = () => ok([i.naturalWidth,"
        " i.naturalHeight]); i.onerror = () => no(new Error('poster did not load')); i.src = src; })",
        poster,
    )
    assert size[0] > 0 and size[0] * 3 == size[1] * 4  # a frame of the 4:3 clip

    # The HLS plays in the frame; the card comes up at its cue, and the shop's page hears it.
    load_replay(frame, longer_than=3)
    card = frame.locator("#product-card")
    expect(card).to_be_hidden()
    assert shop_events(page, "product.shown") == []
    frame.evaluate("(() => { const v = document.getElementById('video'); v.muted = true; v.play(); })()")
    expect(card).to_have_attribute("data-product-id", str(jacket.pk), timeout=DEADLINE_MS)
    expect(card).to_be_visible()
    shown_at = frame.evaluate("document.getElementById('video').currentTime")
    assert shown_at >= CUE_MS / 1000 - 0.3, shown_at
    page.wait_for_function(
        "() => window.demoShop.events.some((e) => e.type === 'product.shown')", timeout=DEADLINE_MS
    )
    shown = shop_events(page, "product.shown")[0]["product"]
    assert (shown["id"], shown["sku"], shown["price"]) == (jacket.pk, jacket.sku, "189.00")
    assert any(e["state"] == "playing" for e in shop_events(page, "player.state"))
    # Every playlist and segment was asked for with the signed query.
    assert any(".m3u8" in u for u in hls_requests) and any(".m3u8" not in u for u in hls_requests)
    assert all("Key-Pair-Id=K2JCJMDEHXQW5F" in u and "Signature=" in u for u in hls_requests), hls_requests
    page.screenshot(path=artifacts_dir / "embed-video.png", full_page=True)

    # "My own cart": the card's Add to cart hands the SKU to the shop's page.
    frame.evaluate("document.getElementById('video').pause()")
    card.locator('[data-action="add-to-cart"]').click()
    page.wait_for_function("() => window.demoShop.cart.length === 1", timeout=DEADLINE_MS)
    added = shop_events(page, "cart.add")[-1]
    assert (added["ownCart"], added["sku"], added["quantity"]) == (True, jacket.sku, 1)
    assert errors == []
