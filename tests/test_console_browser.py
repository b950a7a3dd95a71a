"""The host console end to end: a real ASGI server (HTTP and the studio websocket) in a subprocess
on the test database, driven by Chromium with the keyboard and the mouse."""

import concurrent.futures
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from commerce import stock
from events import services
from events.models import Highlight
from liveshop import crypto
from liveshop.video import get_video_backend
from tests import media
from tests.asgi_server import running_asgi_server

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_MS = 20_000


def run_asgi_server(directory: Path, port: int, **env: str):
    """The tests' ASGI server (tests.asgi_server) on ``port`` with the local video backend (the
    fake one lives in one process's memory); yields its URL while the block runs."""
    return running_asgi_server(directory, port=port, env={"VIDEO_BACKEND": "local", **env})


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    """An ASGI server subprocess; yields its URL."""
    with run_asgi_server(tmp_path, media.free_port()) as server:
        yield server.url


# Keeps the page's websockets reachable from the test, to drop one.
KEEP_SOCKETS = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


def _make_show(settings) -> dict:
    """A scheduled event on the local backend with a 3-product lineup, and its host's session."""
    settings.VIDEO_BACKEND = "local"
    get_video_backend.cache_clear()
    brand = OrganizationFactory(name="Acme", slug="acme")
    host = member(brand, role=Membership.Role.HOST, username="console-host")
    products = [
        ProductFactory(organization=brand, name=name, sku=f"ACME-{i}", price=price)
        for i, (name, price) in enumerate([("Rose lipstick", 24), ("Night cream", 39), ("Silk scarf", 59)], 1)
    ]
    event = services.create_event(
        organization=brand,
        title="Spring drop",
        scheduled_start=timezone.now() + timedelta(days=1),
        by=host,
        products=products,
        description="Our spring collection, live.",
    )
    event.organization = brand  # get_absolute_url names the brand; no query once Playwright runs
    client = Client()
    client.force_login(host)
    return {"event": event, "products": products, "session": client.cookies["sessionid"].value}


@pytest.fixture
def show(asgi_server, settings):
    yield _make_show(settings)
    get_video_backend.cache_clear()


@pytest.fixture
def live_stack(transactional_db, settings, tmp_path, shared_media_server):
    """The run's shared media server (nginx-rtmp) calling back, during the test, an ASGI server
    subprocess that knows its ports; yields (server URL, media server)."""
    server = shared_media_server
    port = media.free_port()
    media_env = {
        "LIVESHOP_MEDIA_SERVER_HOST": "127.0.0.1",
        "LIVESHOP_MEDIA_SERVER_RTMP_PORT": str(server.rtmp_port),
        "LIVESHOP_MEDIA_SERVER_HTTP_PORT": str(server.http_port),
        "LIVESHOP_MEDIA_SERVER_PUBLIC_URL": server.public_url,
        "LIVESHOP_MEDIA_SERVER_DIR": str(server.directory),
    }
    settings.MEDIA_SERVER_RTMP_PORT, settings.MEDIA_SERVER_HTTP_PORT = server.rtmp_port, server.http_port
    settings.MEDIA_SERVER_PUBLIC_URL, settings.MEDIA_SERVER_DIR = server.public_url, server.directory
    try:
        with (
            server.calling_back(f"http://127.0.0.1:{port}"),
            run_asgi_server(tmp_path, port, DJANGO_SECRET_KEY=settings.SECRET_KEY, **media_env) as web,
        ):
            yield web.url, server
    finally:
        get_video_backend.cache_clear()


@pytest.fixture
def live_show(live_stack, settings):
    return _make_show(settings)


def _log_in(page, base_url: str, session: str) -> None:
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
    page.set_default_timeout(DEADLINE_MS)


def _highlights(event_id: int) -> list[tuple[str | None, str]]:
    """The event's highlights, oldest first, read in another thread (Playwright's loop runs here)."""

    def read():
        try:
            rows = Highlight.objects.filter(event_id=event_id).select_related("product").order_by("id")
            return [(h.product.name if h.product else None, h.cue_state) for h in rows]
        finally:
            connection.close()  # this thread's own connection: it must not outlive the test database

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(read).result()


def _sell(product, quantity: int) -> None:
    """Take ``quantity`` of the product's stock as checkout does, in another thread."""

    def sell():
        try:
            with transaction.atomic():
                assert stock.take(product.variants.get().pk, quantity)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(sell).result()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_host_features_with_the_keyboard_and_clears_with_a_click(asgi_server, show, page, artifacts_dir):
    from playwright.sync_api import expect

    event, products = show["event"], show["products"]
    _log_in(page, asgi_server, show["session"])
    page.add_init_script(KEEP_SOCKETS)
    page.goto(f"{asgi_server}{event.get_absolute_url()}")

    # The studio socket connected and its snapshot arrived.
    connection_state = page.locator("#console-connection")
    expect(connection_state).to_have_attribute("data-state", "live")
    # A dropped socket comes back by itself (backoff) and starts over from a snapshot.
    page.evaluate("window.__sockets.at(-1).close()")
    expect(connection_state).to_have_attribute("data-state", "retry")
    expect(connection_state).to_have_attribute("data-state", "live")
    assert page.evaluate("window.__sockets.length") == 2
    cards = page.locator(".product-card")
    history = page.locator("#history-list .history-row")
    expect(cards).to_have_count(3)
    expect(history).to_have_count(0)

    # A second console (a co-host) follows through the websocket alone.
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator("#console-connection")).to_have_attribute("data-state", "live")
    page.bring_to_front()

    page.keyboard.press("2")

    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(products[1].name)
    expect(history.first.locator(".cue")).to_have_text("Not live (card only)")
    expect(cards.nth(1)).to_have_class("product-card is-current")
    expect(page.locator("#on-screen-body")).to_contain_text(products[1].name)
    expect(other.locator("#history-list .history-row")).to_have_count(1)
    expect(other.locator("#history-list .cue")).to_have_text("Not live (card only)")
    expect(other.locator(".product-card").nth(1)).to_have_class("product-card is-current")

    # Keys typed into a field are not shortcuts.
    page.locator("body").evaluate(
        "body => { const i = document.createElement('input'); i.id = 'scratch'; body.prepend(i); }"
    )
    page.locator("#scratch").press("3")
    page.locator("#scratch").evaluate("input => input.remove()")

    # A double click on a Feature button features once.
    cards.nth(2).get_by_role("button", name="Feature").dblclick()
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text(products[2].name)
    expect(cards.nth(2)).to_have_class("product-card is-current")
    expect(page.locator(".product-card.is-current")).to_have_count(1)

    page.get_by_role("button", name="Clear card").click()

    expect(history).to_have_count(3)
    expect(history.first).to_contain_text("Card cleared")
    expect(history.first.locator(".cue")).to_have_text("Not live (card only)")
    expect(page.locator(".product-card.is-current")).to_have_count(0)
    expect(page.locator("#on-screen-body")).to_contain_text("Nothing")
    expect(page.locator("#console-alert")).to_be_hidden()
    expect(other.locator("#history-list .history-row").first).to_contain_text("Card cleared")
    expect(other.locator(".product-card.is-current")).to_have_count(0)
    other.close()

    assert _highlights(event.pk) == [
        (products[1].name, "not_live"),
        (products[2].name, "not_live"),
        (None, "not_live"),
    ]

    # Sales elsewhere: each lineup product's stock follows live (the studio socket's stock_levels).
    chip = cards.nth(0).locator(".stock-chip")
    expect(chip).to_have_text("10 left")  # at the default low-stock threshold
    _sell(products[0], 8)
    expect(chip).to_have_text("2 left")
    _sell(products[0], 2)
    expect(chip).to_have_text("Sold out")
    expect(chip).to_have_class("stock-chip is-sold-out")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top of the shot
    page.screenshot(path=artifacts_dir / "console.png", full_page=True)
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    page.screenshot(path=artifacts_dir / "console-tablet.png", full_page=True)


@pytest.mark.browser
@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_the_console_follows_the_stream_live_with_a_playing_preview(
    live_stack, live_show, page, artifacts_dir
):
    from playwright.sync_api import expect

    base_url, server = live_stack
    event, products = live_show["event"], live_show["products"]
    _log_in(page, base_url, live_show["session"])
    page.goto(f"{base_url}{event.get_absolute_url()}")
    expect(page.locator("#console-connection")).to_have_attribute("data-state", "live")
    badge = page.locator("#event-status .status")
    expect(badge).to_have_text("Scheduled")

    encoder = media.publish(server.ingest(crypto.decrypt(event.stream_key_encrypted)), seconds=120)
    try:
        # Nobody reloads: the stream_state frame turns the page live and starts the preview.
        expect(badge).to_have_text("Live", timeout=30_000)
        expect(page.locator("#preview-player")).to_have_attribute("data-state", "playing", timeout=30_000)
        expect(page.locator("#stat-health")).to_have_text("Video arriving")

        page.keyboard.press("1")

        row = page.locator("#history-list .history-row").first
        expect(row).to_contain_text(products[0].name)
        expect(row).to_contain_text("into the stream")
        expect(row.locator(".cue")).to_have_text("Sent")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=artifacts_dir / "console-live.png", full_page=True)
    finally:
        media.stop(encoder)

    expect(badge).to_have_text("Ended", timeout=30_000)
    expect(page.locator("#preview-message")).to_have_text("The stream has ended.")
    expect(page.locator(".feature-button").first).to_be_hidden()
