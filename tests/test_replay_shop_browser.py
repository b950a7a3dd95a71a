"""Buying on a replay in a real browser (issue 14): the replay page's card adds the product on
screen at the viewer's position in the video, the cart, checkout and the test provider's payment
run in the panel over the player while the video keeps playing (never reloaded), and the paid
order's line is attributed to the video, as a replay, and to the product cue on screen.
The replay's HLS, server and fixtures are tests/test_replay_browser.py's.
Screenshots: test-artifacts/replay-shop-*.png."""

import pytest
from django.urls import reverse

from commerce.models import Order
from recordings.models import ProductCue
from tests import test_replay_browser as replays
from tests.test_replay_browser import DEADLINE_MS, in_a_thread, load_replay, seek
from tests.test_shop_browser import checkout

# The replay test's fixtures: its HLS video on disk, brand, products, cues and server.
recordings_on_disk, replay, asgi_server = replays.recordings_on_disk, replays.replay, replays.asgi_server

CAMERA = "document.getElementById('video').currentTime"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_viewer_buys_the_product_on_screen_in_a_replay_while_it_plays(
    replay, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, recording, (_, fleece, _) = replay
    page.set_default_timeout(DEADLINE_MS * 2)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    path = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    page.goto(f"{asgi_server.url}{path}")
    load_replay(page)

    seek(page, 9)  # the fleece's cue (from 8 s)
    card = page.locator("#product-card")
    expect(card).to_have_attribute("data-product-id", str(fleece.pk))
    card.get_by_role("button", name=f"Add to cart: {fleece.name}").click()
    cart_button = page.locator("#cart-button")
    expect(cart_button.locator(".cart-count")).to_have_text("1")

    page.evaluate("document.getElementById('video').muted = true")  # headless autoplay policy
    page.evaluate("document.getElementById('video').play()")
    cart_button.click()
    panel = page.locator("#shop-panel")
    expect(panel.locator(".cart-name")).to_have_text([fleece.name])
    expect(panel.locator(".shop-total strong")).to_have_text("$79.00")
    page.screenshot(path=artifacts_dir / "replay-shop-cart.png")
    pay = checkout(page, name="Ada Lovelace")
    pay.get_by_label("Card number").fill("4242 4242 4242 4242")
    started_at = page.evaluate(CAMERA)
    pay.get_by_role("button", name="Pay $79.00").click()

    done = panel.locator(".confirmation")
    expect(done.get_by_role("heading")).to_have_text("Thank you, Ada!")
    page.screenshot(path=artifacts_dir / "replay-shop-confirmation.png")
    # The same page and video all along (a 12 s video: it may have reached its end meanwhile).
    page.wait_for_function(
        f"() => {CAMERA} > {started_at} || document.getElementById('video').ended",
        timeout=DEADLINE_MS * 2,
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    token = page.evaluate("window.liveshopShop.order.token")

    def paid_line():
        order = Order.objects.get(token=token)
        line = order.lines.get()
        return order.status, line.source, line.recording_id, line.event_id, line.cue_id

    cue = in_a_thread(lambda: ProductCue.objects.get(recording=recording, product=fleece).pk)
    assert in_a_thread(paid_line) == ("paid", "replay", recording.pk, event.pk, cue)
    assert errors == []
