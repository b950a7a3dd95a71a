"""The embeddable player in a real browser, the way a shop embeds it: the debug-only demo shop
page on http://localhost:<port> loads /embed.js from http://127.0.0.1:<port> (another origin),
which frames the show. Proves the frame loads and sizes itself, messages flow both ways (a featured
product reaches the shop's page; the shop's commands reach the player), messages from any other
window or origin are ignored on both sides, "my own cart" hands the SKU to the shop's page, the
mini-player and full screen layouts, and that a site not on the brand's list is refused by
frame-ancestors. One server for the module's test, to keep it quick."""

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from embed.models import EmbedSettings
from events import services
from events.models import EventProduct, LiveEvent
from events.tests.factories import LiveEventFactory
from recordings.services.replays import announce_replay_on_commit
from recordings.tests.test_replay_views import ready_recording
from tests.asgi_server import running_asgi_server
from tests.conftest import wait_for_function_without_eval as wait_in
from tests.media import free_port

DEADLINE_MS = 30_000  # generous: a busy 2-core machine runs the server, Chromium and the test
PHONE = {"width": 390, "height": 844}
READY = "() => (window.demoShop?.events || []).some((e) => e.type === 'ready')"


def as_the_host(service, **kwargs):
    """A service call from another thread with its own connection (Django refuses ORM calls in
    this thread while Playwright's event loop runs)."""

    def call():
        try:
            return service(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def make_show(brand, title):
    event = LiveEventFactory(
        id=10**9 + secrets.randbelow(10**9),  # Redis channels are shared with concurrent runs
        organization=brand,
        title=title,
        scheduled_start=timezone.now() + timedelta(hours=2),
    )
    rows = [("Ridgeline Shell Jacket", "189.00"), ("Merino Wool Beanie", "29.00")]
    products = [
        ProductFactory(
            organization=brand,
            sku=f"NW-{n}-{secrets.token_hex(2)}",
            name=name,
            price=Decimal(price),
            stock=10,
        )
        for n, (name, price) in enumerate(rows)
    ]
    for position, product in enumerate(products):
        EventProduct.objects.create(event=event, product=product, position=position)
    return event, products


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def shows(port):
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    host = member(brand)
    event, products = make_show(brand, "Spring Trail Gear Live")
    EmbedSettings.objects.create(
        organization=brand, allowed_origins=f"http://localhost:{port}", own_cart=True
    )
    # A brand whose list names another site only: the demo shop may not frame it.
    other = OrganizationFactory(name="Globex", slug=f"globex-{secrets.token_hex(3)}")
    refused, _ = make_show(other, "Globex Live")
    EmbedSettings.objects.create(organization=other, allowed_origins="https://shop.globex.example")
    return event, products, host, refused


@pytest.fixture
def ended(shows):
    """A show of the same brand that ended, its replay not ready yet."""
    event = LiveEventFactory(
        id=10**9 + secrets.randbelow(10**9),
        organization=shows[0].organization,
        title="Autumn Layers Live",
        status=LiveEvent.Status.ENDED,
    )
    return event


@pytest.fixture
def asgi_server(shows, port, tmp_path):
    with running_asgi_server(tmp_path, port=port) as server:
        yield server


def shop_events(page, type_):
    return page.evaluate("(t) => window.demoShop.events.filter((e) => e.type === t)", type_)


def wait_for_event(page, type_, count=1):
    """Poll until the shop's page has heard ``count`` events of ``type_``; the last one."""
    page.wait_for_function(
        "([t, n]) => window.demoShop.events.filter((e) => e.type === t).length >= n",
        arg=[type_, count],
        timeout=DEADLINE_MS,
    )
    return shop_events(page, type_)[-1]


def in_lineup(frame, product, inside=""):
    return frame.locator(f'#lineup .lineup-item[data-product-id="{product.pk}"] {inside}'.strip())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shop_embeds_a_show_and_talks_to_it(shows, port, asgi_server, page, artifacts_dir):
    from playwright.sync_api import expect

    event, (jacket, beanie), host, refused = shows
    liveshop, shop = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    errors, console = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: console.append(message.text))

    # The shop's page (localhost) frames the show from Liveshop's origin (127.0.0.1).
    page.goto(f"{shop}/embed/demo-shop/?event={event.organization.slug}/{event.slug}")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    frame = page.frame(url=re.compile(r"/embed/e/"))
    assert frame.url.startswith(f"{liveshop}/embed/e/{event.organization.slug}/{event.slug}/#parent=")
    ready = shop_events(page, "ready")[0]
    assert (ready["v"], ready["event"], ready["ownCart"]) == (
        1,
        f"{event.organization.slug}/{event.slug}",
        True,
    )
    assert frame.evaluate("window.liveshopEmbed.parentOrigin") == shop
    wait_in(frame, "window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)

    # The frame takes its content's height (no inner scroll bar), without Liveshop's top bar.
    expect(page.locator(".liveshop-embed iframe")).to_have_count(1)
    assert frame.locator(".topbar").count() == 0
    page.wait_for_function(
        "() => document.querySelector('.liveshop-embed iframe').style.height !== '640px'", timeout=DEADLINE_MS
    )
    inner = frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
    outer = page.evaluate("parseFloat(document.querySelector('.liveshop-embed iframe').style.height)")
    assert abs(inner - outer) <= 2

    # Player -> shop: the host features a product; the shop's page hears "product.shown".
    as_the_host(services.feature_product, event=event, product=jacket, by=host)
    shown = wait_for_event(page, "product.shown")["product"]
    assert (shown["id"], shown["sku"], shown["name"]) == (jacket.pk, jacket.sku, jacket.name)
    assert shown["price"] == "189.00"

    # Shop -> player: commands, answered.
    page.evaluate("(sku) => document.querySelector('.liveshop-embed').liveshop.openProduct(sku)", beanie.sku)
    expect(in_lineup(frame, beanie)).to_have_class(re.compile("is-opened"))
    assert wait_for_event(page, "product.opened")["product"]["sku"] == beanie.sku
    page.get_by_role("button", name="Pause").click()
    wait_in(frame, "window.liveshopEmbed.commands.includes('pause')", timeout=DEADLINE_MS)

    # Anything not from the parent window at the parent's origin is ignored by the player ...
    before = frame.evaluate("window.liveshopEmbed.commands.length")
    forged = "{liveshop: 'embed', v: 1, type: 'command', command: 'openProduct', productId: id}"
    frame.evaluate(f"(id) => window.postMessage({forged}, '*')", jacket.pk)
    wait_in(frame, "window.liveshopEmbed.ignored >= 1", timeout=DEADLINE_MS)
    assert frame.evaluate("window.liveshopEmbed.commands.length") == before
    expect(in_lineup(frame, jacket)).not_to_have_class(re.compile("is-opened"))
    # ... and by the shop's loader: a message that is not from Liveshop's frame does nothing.
    forged = "{liveshop: 'embed', v: 1, type: 'cart.add', ownCart: true, sku: 'FORGED'}"
    page.evaluate(f"() => window.postMessage({forged}, '*')")
    # Messages are handled in order: once a round trip sent after it is back, it was handled.
    page.evaluate("(id) => document.querySelector('.liveshop-embed').liveshop.openProduct(id)", jacket.pk)
    assert wait_for_event(page, "product.opened", count=2)["product"]["id"] == jacket.pk
    assert shop_events(page, "cart.add") == []

    # "My own cart": Add to cart hands the SKU to the shop's page; Liveshop's cart stays empty.
    in_lineup(frame, beanie, '[data-action="add-to-cart"]').click()
    page.wait_for_function("() => window.demoShop.cart.length === 1", timeout=DEADLINE_MS)
    added = shop_events(page, "cart.add")[-1]
    assert (added["ownCart"], added["sku"], added["quantity"]) == (True, beanie.sku, 1)
    expect(page.locator("#shop-cart-count")).to_have_text("1")
    assert frame.evaluate("window.liveshopShop.cart?.count ?? 0") == 0
    # A product link in the lineup is "product.clicked".
    in_lineup(frame, jacket, ".lineup-name").click()
    assert wait_for_event(page, "product.clicked")["product"]["sku"] == jacket.sku

    # Playing and scrolled past: a mini-player in the corner; closed, it goes back in place.
    frame.evaluate("document.getElementById('video').dispatchEvent(new Event('playing'))")  # no stream here
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    iframe = page.locator(".liveshop-embed iframe")
    expect(iframe).to_have_css("position", "fixed", timeout=DEADLINE_MS)
    assert frame.evaluate("document.documentElement.dataset.embedLayout") == "mini"
    box = iframe.bounding_box()
    assert box["width"] <= 320 and box["x"] + box["width"] <= 1280 - 15
    page.screenshot(path=artifacts_dir / "embed-mini-player.png")
    page.get_by_role("button", name="Close the mini player").click()
    expect(iframe).not_to_have_css("position", "fixed")

    # Full screen on request (a phone's first tap does the same).
    page.evaluate("window.scrollTo(0, 0)")
    frame.get_by_role("button", name="Full screen").click()
    expect(iframe).to_have_css("position", "fixed")
    assert iframe.bounding_box()["height"] == 800
    frame.get_by_role("button", name="Leave full screen").click()
    expect(iframe).not_to_have_css("position", "fixed")
    page.screenshot(path=artifacts_dir / "embed-demo-shop.png", full_page=True)

    # The brand's show list in the frame: a show picked there plays in the same frame.
    page.goto(f"{shop}/embed/demo-shop/?brand={event.organization.slug}&view=shows")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    shows_frame = page.frame(url=re.compile(r"/embed/b/"))
    shows_frame.get_by_role("link", name=event.title, exact=True).click()
    wait_for_event(page, "ready", count=2)
    assert shop_events(page, "ready")[-1]["event"] == f"{event.organization.slug}/{event.slug}"
    assert page.frame(url=re.compile(r"/embed/e/")) is not None

    # On a phone, the first tap on the player gives it the whole screen.
    phone = page.context.browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    phone.on("console", lambda message: console.append(message.text))
    try:
        mobile = phone.new_page()
        mobile.goto(f"{shop}/embed/demo-shop/?event={event.organization.slug}/{event.slug}")
        wait_in(mobile, READY, timeout=DEADLINE_MS)
        mobile.frame(url=re.compile(r"/embed/e/")).locator("#player").tap()
        iframe = mobile.locator(".liveshop-embed iframe")
        expect(iframe).to_have_css("position", "fixed", timeout=DEADLINE_MS)
        assert iframe.bounding_box()["width"] == PHONE["width"]
        mobile.screenshot(path=artifacts_dir / "embed-phone-full-screen.png")
    finally:
        phone.close()

    # A brand whose list does not name this site: the browser refuses the frame (frame-ancestors),
    # and the shop's page offers the show on Liveshop instead.
    page.goto(f"{shop}/embed/demo-shop/?event={refused.organization.slug}/{refused.slug}")
    expect(page.get_by_role("link", name="Watch the show on Liveshop")).to_be_visible(timeout=DEADLINE_MS)
    assert shop_events(page, "ready") == []
    # Told apart from an unreachable Liveshop (no load within 15 s): the frame loaded, refused.
    assert [e["reason"] for e in shop_events(page, "error")] == [
        "The player was refused: is this site on the brand's embed list?"
    ]
    refusals = [text for text in console if "frame-ancestors" in text]
    assert refusals and "https://shop.globex.example" in refusals[0]
    expected = [text for text in page.context.csp_violations if "frame-ancestors" in text]
    for text in expected:  # the refusal this test asked for, not a page breaking its policy
        page.context.csp_violations.remove(text)
    assert errors == []


def replay_becomes_ready(event):
    """What ingestion does when the show's recording is ready: the row, then the announcement."""
    from django.db import transaction

    with transaction.atomic():
        announce_replay_on_commit(ready_recording(event))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_ended_show_moves_to_its_replay_as_soon_as_it_is_ready(shows, ended, port, asgi_server, page):
    from playwright.sync_api import expect

    shop = f"http://localhost:{port}"
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The ended show's own page: no replay yet; then the socket says it is ready, and it is offered.
    viewer = page.context.new_page()
    viewer.goto(f"http://127.0.0.1:{port}/e/{ended.organization.slug}/{ended.slug}/")
    viewer.wait_for_function("window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    link = viewer.get_by_role("link", name="Watch the replay")
    expect(link).to_be_hidden()
    # In a shop's frame too: the same page, which moves to the replay by itself.
    page.goto(f"{shop}/embed/demo-shop/?event={ended.organization.slug}/{ended.slug}")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    frame = page.frame(url=re.compile(r"/embed/e/"))
    wait_in(frame, "window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)

    as_the_host(replay_becomes_ready, event=ended)

    expect(link).to_be_visible(timeout=DEADLINE_MS)  # no reload
    expect(link).to_have_attribute("href", f"/e/{ended.organization.slug}/{ended.slug}/replay/")
    expect(viewer.locator("#ended-note")).to_contain_text("The replay shows every product")
    wait_for_event(page, "ready", count=2)
    assert page.frame(url=re.compile(r"/embed/e/[^/]+/[^/]+/replay/")) is not None
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_german_shopper_reads_the_shop_the_loader_and_the_player_in_german(shows, port, asgi_server, page):
    """The demo shop, the loader's own words (the frame's title, the link offered when the player
    does not load) and the player's in a German browser (Accept-Language and navigator: de-DE)."""
    from playwright.sync_api import expect

    event, _, _, refused = shows
    shop = f"http://localhost:{port}"
    german = page.context.browser.new_context(locale="de-DE")
    try:
        tab = german.new_page()
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{shop}/embed/demo-shop/?event={event.organization.slug}/{event.slug}")
        wait_in(tab, READY, timeout=DEADLINE_MS)

        assert tab.evaluate("document.documentElement.lang") == "de"
        expect(tab.get_by_role("heading", level=1)).to_have_text("Live aus unserem Studio")
        expect(tab.get_by_role("button", name="Pause", exact=True)).to_be_visible()
        iframe = tab.locator(".liveshop-embed iframe")
        expect(iframe).to_have_attribute("title", "Live-Shopping-Show")
        frame = tab.frame(url=re.compile(r"/embed/e/"))
        frame.get_by_role("button", name="Vollbild", exact=True).click()
        # The frame has the whole screen before the next click, as a shopper would see it: a click
        # aimed while the loader still moves it once missed the button on a busy CI machine.
        expect(iframe).to_have_css("position", "fixed", timeout=DEADLINE_MS)
        wait_in(
            tab,
            "() => { const r = document.querySelector('.liveshop-embed iframe').getBoundingClientRect();"
            " return r.top === 0 && r.height === innerHeight; }",
            timeout=DEADLINE_MS,
        )
        frame.get_by_role("button", name="Vollbild beenden").click()
        expect(frame.get_by_role("button", name="Vollbild", exact=True)).to_be_visible(timeout=DEADLINE_MS)
        expect(iframe).not_to_have_css("position", "fixed")

        tab.goto(f"{shop}/embed/demo-shop/?event={refused.organization.slug}/{refused.slug}")
        expect(tab.get_by_role("link", name="Show auf Liveshop ansehen")).to_be_visible(timeout=DEADLINE_MS)
        assert errors == []
    finally:
        german.close()
