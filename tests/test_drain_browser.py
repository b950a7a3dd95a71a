"""A deploy during a show, in a real browser behind a real balancer: nginx in front of two
docker/start-web processes. The viewer's socket is on the first; it gets SIGTERM (as a rolling
deploy stops it); the page (static/js/lib/socket.js) takes the "reconnect" frame, opens a socket
that nginx sends to the second server, and lets the old one go: the card stays on screen, the
"reconnecting" note never shows, and a product featured afterwards arrives."""

from __future__ import annotations

import signal

import pytest

from events import services
from liveshop.tests.test_drain import start_web
from tests.balancer import nginx_binary, start_balancer
from tests.media import free_port, stop, wait_for
from tests.test_viewer_browser import DEADLINE_MS, as_the_host, show  # noqa: F401 (fixture)

NGINX = nginx_binary()


@pytest.mark.browser
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
@pytest.mark.django_db(transaction=True)
def test_a_deploy_moves_the_viewer_keeping_the_card(show, media_on_disk, tmp_path, page):  # noqa: F811
    from playwright.sync_api import expect

    event, products, host = show
    env = {"DJANGO_MEDIA_ROOT": str(media_on_disk), "LIVESHOP_DRAIN_SECONDS": "3"}
    first, first_port = start_web(tmp_path, **env)
    second_port = free_port()  # not up yet: nginx sends everything to the first
    balancer, port = start_balancer(tmp_path, first_port, second_port)
    second = None
    try:
        highlight = as_the_host(services.feature_product, event=event, product=products[0], by=host)
        page.goto(f"http://127.0.0.1:{port}/e/{event.organization.slug}/{event.slug}/")
        page.wait_for_function("window.liveshop && window.liveshop.socket === 'open'", timeout=DEADLINE_MS)
        card = page.locator("#product-card")
        expect(card).to_have_attribute("data-highlight-id", str(highlight.pk), timeout=DEADLINE_MS)
        page.evaluate(
            """() => {
              const note = document.getElementById('socket-note');
              window.noteShown = false;
              new MutationObserver(() => { if (!note.hidden) window.noteShown = true; })
                .observe(note, {attributes: true});
            }"""
        )

        second, _ = start_web(tmp_path, second_port, **env)
        first.send_signal(signal.SIGTERM)  # a rolling deploy stops the first server
        wait_for(lambda: first.poll() is not None, timeout=60, what="the first server to drain and exit")
        # The card never left, and the page is live on the second server.
        expect(card).to_have_attribute("data-highlight-id", str(highlight.pk))
        expect(card).to_be_visible()
        nxt = as_the_host(services.feature_product, event=event, product=products[1], by=host)
        expect(card).to_have_attribute("data-highlight-id", str(nxt.pk), timeout=DEADLINE_MS)
        assert page.evaluate("window.liveshop.socket") == "open"
        assert page.evaluate("window.noteShown") is False  # no "reconnecting": a planned move
        second_log = next(tmp_path.glob(f"web-{second_port}.log")).read_text()
        assert f"/ws/events/{event.pk}/" in second_log
    finally:
        stop(balancer)
        stop(first)
        if second is not None:
            stop(second)
