"""The viewer page when the server's side breaks, in a real browser: Redis restarted under the
server (the page says it is reconnecting, then shows the product featured meanwhile), and a
server that goes silent (frozen: the page notices the missing heartbeats and reconnects)."""

import os
import signal

import pytest

from events import realtime, services
from tests.asgi_server import start_asgi_server
from tests.chaos import RedisServer
from tests.test_viewer_browser import DEADLINE_MS, as_the_host, show  # noqa: F401 (fixture)


def logged_in(user) -> str:
    """A session cookie value for ``user`` (as after the login form)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def own_redis(settings):
    """A Redis of this test's own, for the server and for this process's publishing."""
    server = RedisServer().start()
    settings.REDIS_URL = server.url
    realtime.publishing._redis.cache_clear()
    yield server
    server.stop()
    realtime.publishing._redis.cache_clear()


@pytest.fixture
def server(show, own_redis, media_on_disk, tmp_path):  # noqa: F811 (show is the fixture above)
    env = {
        "DJANGO_MEDIA_ROOT": str(media_on_disk),
        "REDIS_URL": own_redis.url,
        "LIVESHOP_WS_HEARTBEAT_SECONDS": "1",
    }
    server = start_asgi_server(tmp_path, env=env)
    yield server
    server.stop()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_rides_out_a_redis_restart_and_a_silent_server(show, own_redis, server, page, artifacts_dir):  # noqa: F811
    from playwright.sync_api import expect

    event, products, host = show
    note = page.locator("#socket-note")
    card = page.locator("#product-card")
    page.goto(f"{server.url}/e/{event.organization.slug}/{event.slug}/")
    page.wait_for_function("window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    expect(note).to_be_hidden()
    console = page.context.new_page()  # the host's console, in another tab
    session = as_the_host(lambda: logged_in(host))
    console.context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    console.goto(f"{server.url}/studio/events/{event.slug}/")
    connection = console.locator("#console-connection")
    expect(connection).to_have_attribute("data-state", "live", timeout=DEADLINE_MS)

    own_redis.stop()
    expect(note).to_be_visible(timeout=DEADLINE_MS)
    expect(connection).to_contain_text("paused", timeout=DEADLINE_MS)
    page.screenshot(path=artifacts_dir / "viewer-feed-reconnecting.png")
    highlight = as_the_host(services.feature_product, event=event, product=products[1], by=host)
    own_redis.start()
    expect(card).to_have_attribute("data-highlight-id", str(highlight.pk), timeout=DEADLINE_MS)
    expect(note).to_be_hidden()
    alert = console.locator("#console-alert")
    expect(alert).to_contain_text("were interrupted for", timeout=DEADLINE_MS)
    expect(alert).to_contain_text("1 highlight featured then reached viewers")
    expect(connection).to_have_attribute("data-state", "live")
    console.screenshot(path=artifacts_dir / "console-delivery-restored.png", full_page=True)
    console.close()

    os.kill(server.process.pid, signal.SIGSTOP)  # the socket stays open; nothing more arrives
    try:
        page.wait_for_function("window.liveshop.socket === 'reconnecting'", timeout=DEADLINE_MS)
        expect(note).to_be_visible()
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    page.wait_for_function("window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
    expect(note).to_be_hidden()
    expect(card).to_have_attribute("data-highlight-id", str(highlight.pk))
