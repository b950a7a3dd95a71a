"""Flash deals in a real browser against a real ASGI server: the host starts a deal from the
console, a viewer's card and lineup item show the deal price and its countdown at once (over the
event socket), a refused deal shows the server's reason, and ending it early brings the normal
price back on the viewer's page: its card's option picker shows each size's deal price, and its
cart line, added at the deal's price, costs the normal price again at once (issue 14)."""

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveNowEventFactory
from tests.asgi_server import start_asgi_server

DEADLINE_MS = 20_000


@pytest.fixture
def show():
    """A live show (no video: nothing to sync the card to) with two products, the first on screen."""
    brand = OrganizationFactory(name="Acme", slug=f"acme-{secrets.token_hex(3)}")
    host = member(brand, role=Membership.Role.HOST, username=f"deal-host-{secrets.token_hex(3)}")
    products = [
        ProductFactory(organization=brand, name=name, sku=f"ACME-{i}", price=Decimal(price), stock=10)
        for i, (name, price) in enumerate([("Rose lipstick", "24.00"), ("Night cream", "39.00")], 1)
    ]
    # A random id: Redis pub/sub is shared with concurrent runs (see test_viewer_browser).
    event = LiveNowEventFactory(
        id=10**9 + secrets.randbelow(10**9), organization=brand, title="Spring drop", playback_url=""
    )
    for position, product in enumerate(products):
        EventProduct.objects.create(event=event, product=product, position=position)
    Variant.objects.create(  # a second size: the card's option picker
        organization=brand,
        product=products[0],
        sku="ACME-1-XL",
        label="XL",
        price_override=Decimal("30.00"),
        stock=5,
    )
    services.feature_product(event=event, product=products[0], by=host)
    client = Client()
    client.force_login(host)
    return event, products, client.cookies["sessionid"].value


@pytest.fixture
def asgi_server(show, tmp_path):
    server = start_asgi_server(tmp_path)
    yield server
    server.stop()


def _deal_ends(event_id):
    def read():
        try:
            return list(LiveEvent.objects.get(pk=event_id).flash_deals.values_list("ended_early", flat=True))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(read).result()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_deal_from_the_console_shows_on_the_viewers_card_and_ends_early(
    show, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, products, session = show
    page.set_default_timeout(DEADLINE_MS)
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": asgi_server.url}])
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    viewer = page
    viewer.goto(f"{asgi_server.url}/e/{event.organization.slug}/{event.slug}/")
    card = viewer.locator("#product-card")
    expect(card).to_have_attribute("data-product-id", str(products[0].pk))
    viewer.wait_for_function("window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    expect(card.locator('[data-field="deal"]')).to_be_hidden()

    console = page.context.new_page()
    console.on("pageerror", lambda error: errors.append(str(error)))
    console.goto(f"{asgi_server.url}{event.get_absolute_url()}")
    expect(console.locator("#console-connection")).to_have_attribute("data-state", "live")
    panel = console.locator("#deals")
    expect(panel.locator("#deal-product")).to_have_value(str(products[0].pk))  # the product on screen

    # A refused deal: the server's reason, nothing started.
    panel.get_by_label("Price", exact=True).check()
    panel.get_by_label("Deal price").fill("30")
    panel.get_by_role("button", name="Start deal").click()
    expect(panel.locator("#deals-alert")).to_contain_text("below the normal price ($24.00)")

    panel.get_by_label("% off").check()
    panel.get_by_label("Percent off").fill("25")
    panel.get_by_label("Minutes").fill("5")
    panel.get_by_label("Limit per customer").fill("2")
    panel.get_by_role("button", name="Start deal").click()

    rows = panel.locator("#deal-list .deal-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Rose lipstick")
    expect(rows.first).to_contain_text("25% off: 18.00 USD · limit 2 per customer")
    expect(rows.first.locator(".deal-countdown")).to_have_text(re.compile(r"^[45]:\d\d$"))
    expect(panel.locator("#deals-alert")).to_be_hidden()
    console.screenshot(path=artifacts_dir / "console-flash-deal.png", full_page=True)

    deal = card.locator('[data-field="deal"]')
    expect(deal).to_be_visible()
    expect(deal.locator(".deal-badge")).to_have_text("\u221225%")
    expect(deal.locator(".deal-price")).to_have_text("$18.00")
    expect(deal.locator(".deal-timer")).to_have_text(re.compile(r"^[45]:\d\d$"))
    expect(deal.locator(".deal-limit")).to_have_text("Limit 2 per customer")
    expect(card).to_have_class(re.compile(r"\bhas-deal\b"))
    item = viewer.locator(f'#lineup .lineup-item[data-product-id="{products[0].pk}"] [data-field="deal"]')
    expect(item).to_be_visible()
    expect(
        viewer.locator(f'#lineup .lineup-item[data-product-id="{products[1].pk}"] [data-field="deal"]')
    ).to_be_hidden()
    viewer.bring_to_front()
    picker = card.locator('select[data-field="variant"] option')
    expect(picker.nth(0)).to_have_text(re.compile(r"^Standard · \$18\.00 deal, was \$24\.00"))
    expect(picker.nth(1)).to_have_text(re.compile(r"^XL · \$22\.50 deal, was \$30\.00"))
    card.get_by_role("button", name="Add to cart: Rose lipstick").click()  # the Standard size
    viewer.wait_for_function("window.liveshopShop.cart?.total === '18.00'", timeout=DEADLINE_MS)
    viewer.screenshot(path=artifacts_dir / "viewer-flash-deal.png", full_page=True)

    console.bring_to_front()
    rows.first.get_by_role("button", name="End now").click()
    expect(rows).to_have_count(0)
    expect(deal).to_be_hidden()
    expect(item).to_be_hidden()
    expect(card).not_to_have_class(re.compile(r"\bhas-deal\b"))
    expect(picker.nth(1)).to_have_text(re.compile(r"^XL · \$30\.00"))
    viewer.wait_for_function("window.liveshopShop.cart?.total === '24.00'", timeout=DEADLINE_MS)
    assert _deal_ends(event.pk) == [True]
    assert errors == []
