"""The viewer page in a real browser, against a real ASGI server (websockets included): the host
features a product and every open page shows it; a page opened later shows it at once; clearing
takes it down. The event is scheduled (no video), so cards show as soon as they arrive."""

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from catalog.services import attach_product_image
from catalog.tests.factories import ProductFactory
from demo.brand import product_card_png
from events import services
from events.models import EventProduct
from events.tests.factories import LiveEventFactory
from tests.asgi_server import start_asgi_server

DEADLINE_MS = 20_000  # generous: a busy 2-core CI machine runs the server, Chromium and the test
PHONE = {"width": 390, "height": 844}


def as_the_host(service, **kwargs):
    """Call a service the way the host console's request would: in another thread, with its own
    database connection, closed afterwards (Django refuses ORM calls in this thread while
    Playwright's event loop is open, and an open connection would keep the test database from
    being dropped)."""

    def call():
        try:
            return service(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def show(media_on_disk):
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    host = member(brand)
    rows = [
        ("NW-JKT-001", "Ridgeline Waterproof Shell Jacket", "189.00", ("#1f4e5f", "#3fa7a3")),
        ("NW-FLC-002", "Alpine Grid Fleece Pullover", "79.00", ("#b6462f", "#f2a541")),
        ("NW-BPK-003", "Trailhead 28L Daypack", "119.00", ("#2d3a4a", "#6c8ead")),
        ("NW-BNE-006", "Merino Wool Beanie", "29.00", ("#6d2e46", "#d5a6bd")),
    ]
    products = []
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
            product=product, content=product_card_png(name, colors), filename=f"{sku}.png", by=host
        )
        products.append(product)
    # A random id: Redis pub/sub channels are shared by everything using the server (every
    # database number), so a concurrent test run's event 1 must not be this one.
    event = LiveEventFactory(
        id=10**9 + secrets.randbelow(10**9),
        organization=brand,
        title="Spring Trail Gear Live",
        scheduled_start=timezone.now() + timedelta(hours=2, minutes=5),
    )
    for position, product in enumerate(products):
        EventProduct.objects.create(event=event, product=product, position=position)
    return event, products, host


@pytest.fixture
def asgi_server(show, media_on_disk, tmp_path):
    server = start_asgi_server(tmp_path, env={"DJANGO_MEDIA_ROOT": str(media_on_disk)})
    yield server
    server.stop()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_viewers_see_the_featured_product_live_and_on_arrival(show, asgi_server, page, artifacts_dir):
    from playwright.sync_api import expect

    event, products, host = show
    jacket, fleece = products[:2]
    url = f"{asgi_server.url}/e/{event.organization.slug}/{event.slug}/"
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(url)
    card = page.locator("#product-card")
    expect(page.locator("#player")).to_have_attribute("data-screen", "scheduled")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^02:0[45]:\d\d$"))
    expect(card).to_be_hidden()
    expect(page.locator("#lineup .lineup-item")).to_have_count(4)
    page.wait_for_function("window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    assert page.evaluate("typeof window.Hls") == "function"  # hls.js comes from our static files

    highlight = as_the_host(services.feature_product, event=event, product=jacket, by=host)

    expect(card).to_have_attribute("data-product-id", str(jacket.pk), timeout=DEADLINE_MS)
    expect(card).to_have_attribute("data-highlight-id", str(highlight.pk))
    expect(card).to_be_visible()
    expect(card.locator(".card-name")).to_have_text(jacket.name)
    expect(card.locator(".card-price")).to_have_text("$189.00")
    buy = card.get_by_role("link", name="Buy now")
    expect(buy).to_have_attribute("href", f"{jacket.external_url}?utm_source=liveshop&utm_medium=live"
                                          f"&utm_campaign={event.slug}")  # fmt: skip
    expect(buy).to_have_attribute("target", "_blank")
    qr = card.locator(".card-qr img")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    expect(page.locator(f'#lineup .lineup-item[data-product-id="{jacket.pk}"]')).to_have_class(
        "lineup-item is-featured"
    )
    assert page.evaluate("window.liveshop.card.highlightId") == highlight.pk
    page.screenshot(path=artifacts_dir / "viewer-desktop-featured.png", full_page=True)

    # In-band cues (as the IVS player hands them over) for an older highlight or another event
    # never replace the card.
    for cue in (
        {
            "v": 1,
            "type": "product",
            "eventId": event.pk,
            "highlightId": highlight.pk - 1,
            "productId": fleece.pk,
        },
        {"v": 1, "type": "clear", "eventId": event.pk + 1, "highlightId": highlight.pk + 1},
    ):
        page.evaluate("cue => window.liveshop.cue(JSON.stringify(cue))", cue)
    assert page.evaluate("window.liveshop.card.productId") == jacket.pk
    expect(card).to_be_visible()

    # A late joiner, on a phone: the card is there on arrival (from the page, then the snapshot).
    phone_context = page.context.browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        phone = phone_context.new_page()
        phone.on("pageerror", lambda error: errors.append(str(error)))
        phone.goto(url)
        phone_card = phone.locator("#product-card")
        assert phone_card.get_attribute("data-product-id") == str(jacket.pk)  # no waiting
        expect(phone_card).to_be_visible()
        phone.wait_for_function("window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
        phone.screenshot(path=artifacts_dir / "viewer-phone-featured.png", full_page=True)

        as_the_host(services.clear_highlight, event=event, by=host)

        for viewer in (page, phone):
            expect(viewer.locator("#product-card")).to_be_hidden(timeout=DEADLINE_MS)
            expect(viewer.locator("#product-card")).to_have_attribute("data-product-id", "")
            expect(viewer.locator("#slot-empty")).to_be_visible()
        phone.screenshot(path=artifacts_dir / "viewer-phone-cleared.png", full_page=True)

        # The host changes the lineup: every page shows the new one.
        as_the_host(services.set_lineup, event=event, products=[fleece, jacket], by=host)
        for viewer in (page, phone):
            expect(viewer.locator("#lineup .lineup-item")).to_have_count(2, timeout=DEADLINE_MS)
            expect(viewer.locator("#lineup .lineup-name").first).to_have_text(fleece.name)
    finally:
        phone_context.close()
    page.screenshot(path=artifacts_dir / "viewer-desktop-cleared.png", full_page=True)
    assert errors == []
