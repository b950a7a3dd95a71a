"""Liveshop's own cart inside a shop's frame on another site, in Chromium: the debug demo shop on
http://localhost:<port> frames the show from http://127.0.0.1:<port> (another site: no cookie of
Liveshop's reaches the frame). The shopper adds to the cart, checks out and pays with the test
provider inside the frame, through the embed cart API and its cart token (commerce.embed_api);
the shop's page hears ``cart.add`` and ``checkout.done`` over postMessage."""

import re
import secrets

import pytest

from accounts.tests.factories import OrganizationFactory, member
from commerce.models import Order, ShopSettings
from embed.models import EmbedSettings
from tests.asgi_server import running_asgi_server
from tests.media import free_port
from tests.test_embed_browser import (
    DEADLINE_MS,
    READY,
    as_the_host,
    in_lineup,
    make_show,
    shop_events,
    wait_for_event,
)
from tests.test_shop_browser import checkout

# The normal cart API from inside the frame: its CSRF cookie never arrives, so the POST is refused.
FORGE = (
    "(name) => history.replaceState(null, '', location.hash.replace(RegExp(`${name}=[^&]*`), `${name}=x`))"
)
NORMAL_API_POST = """async (brand) => {
  const cart = await (await fetch(`/api/shop/${brand}/cart/`, { credentials: "same-origin" })).json();
  const response = await fetch(`/api/shop/${brand}/cart/lines/`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": cart.csrfToken },
    body: JSON.stringify({ product_id: 1 }),
  });
  return [response.status, await response.text()];
}"""


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def shop(port):
    """A brand whose embed list names the demo shop's site, with Liveshop's cart (not its own)."""
    brand = OrganizationFactory(name="Northwind Outfitters", slug=f"northwind-{secrets.token_hex(3)}")
    event, products = make_show(brand, "Spring Trail Gear Live")
    EmbedSettings.objects.create(organization=brand, allowed_origins=f"http://localhost:{port}")
    ShopSettings.objects.create(organization=brand, shipping_countries=["FR", "GB", "US"])
    member(brand)
    return event, products


@pytest.fixture
def asgi_server(shop, port, tmp_path):
    with running_asgi_server(tmp_path, port=port) as server:
        yield server


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shopper_buys_with_liveshops_cart_inside_a_frame_on_another_site(
    shop, port, asgi_server, page, artifacts_dir
):
    from playwright.sync_api import expect

    event, (jacket, beanie) = shop
    brand = event.organization.slug
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"http://localhost:{port}/embed/demo-shop/?event={brand}/{event.slug}")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    frame = page.frame(url=re.compile(r"/embed/e/"))
    assert frame.url.startswith(f"http://127.0.0.1:{port}/embed/e/")
    assert shop_events(page, "ready")[0]["ownCart"] is False

    # Why the frame needs its own credential: the session's cart API refuses it (no CSRF cookie).
    status, body = frame.evaluate(NORMAL_API_POST, brand)
    assert status == 403 and "CSRF" in body

    # Add to cart in the frame: Liveshop's cart has it, and the shop's page hears cart.add.
    in_lineup(frame, beanie, '[data-action="add-to-cart"]').click()
    added = wait_for_event(page, "cart.add")
    assert (added["ownCart"], added["sku"], added["quantity"]) == (False, beanie.sku, 1)
    cart_button = frame.locator("#cart-button")
    expect(cart_button.locator(".cart-count")).to_have_text("1")
    # The token outlives a reload of the frame: it is in the frame's URL fragment (this browser
    # refuses storage to a frame on another site), which the shop's page cannot read.
    assert f"cart-{brand}=" in frame.url
    assert "cart-" not in page.evaluate("document.querySelector('.liveshop-embed iframe').src")
    frame.evaluate("setTimeout(() => window.location.reload(), 0)")
    wait_for_event(page, "ready", count=2)
    frame = page.frame(url=re.compile(r"/embed/e/"))
    cart_button = frame.locator("#cart-button")
    expect(cart_button.locator(".cart-count")).to_have_text("1")
    in_lineup(frame, jacket, '[data-action="add-to-cart"]').click()
    expect(cart_button.locator(".cart-count")).to_have_text("2")
    assert wait_for_event(page, "cart.add", count=2)["sku"] == jacket.sku

    # Check out and pay with the test provider, in the frame.
    cart_button.click()
    panel = frame.locator("#shop-panel")
    expect(panel.locator(".cart-line")).to_have_count(2)
    pay = checkout(frame, name="Ada Lovelace")
    pay.get_by_label("Card number").fill("4242 4242 4242 4242")
    pay.get_by_role("button", name="Pay $218.00").click()
    confirmation = panel.locator(".confirmation")
    expect(confirmation).to_be_visible()
    expect(confirmation.get_by_role("heading")).to_have_text("Thank you, Ada!")
    page.locator(".liveshop-embed iframe").screenshot(path=artifacts_dir / "embed-cart-paid.png")

    # The shop's page hears checkout.done with the order (no token, e-mail or address).
    done = wait_for_event(page, "checkout.done")["order"]
    assert (done["status"], done["currency"], done["total"]) == ("paid", "USD", "218.00")
    assert sorted(line["sku"] for line in done["lines"]) == sorted([beanie.sku, jacket.sku])
    assert "email" not in done and "token" not in done
    token = frame.evaluate("window.liveshopShop.order.token")
    order = as_the_host(lambda: Order.objects.select_related("cart").get(token=token))
    assert (order.status, order.email, order.cart.user_id) == ("paid", "buyer@example.com", None)
    # A token the server refuses (expired, forged) starts a new cart instead of failing.
    frame.evaluate(FORGE, f"cart-{brand}")
    frame.evaluate("setTimeout(() => window.location.reload(), 0)")
    wait_for_event(page, "ready", count=3)
    in_lineup(frame, beanie, '[data-action="add-to-cart"]').click()
    expect(frame.locator("#cart-button .cart-count")).to_have_text("1")
    assert f"cart-{brand}=x" not in frame.url
    # No cookie of Liveshop's was needed (nor kept) for the frame's site.
    assert [
        c["name"]
        for c in page.context.cookies(f"http://127.0.0.1:{port}")
        if c["name"] in ("sessionid", "csrftoken")
    ] == []
    assert errors == []


@pytest.fixture
def stripe_server(shop, port, tmp_path):
    """The same brand on a server whose payments are Stripe's (its API a local fake)."""
    from tests.test_shop_browser import FakeStripeApi, stripe_env

    api = FakeStripeApi()
    try:
        with running_asgi_server(tmp_path, port=port, env=stripe_env(api)) as server:
            yield server, api
    finally:
        api.stop()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_stripes_payment_element_pays_inside_a_frame_on_another_site(shop, port, stripe_server, page):
    """With PAYMENT_BACKEND=stripe, the frame's checkout mounts the Payment Element (Stripe.js
    from js.stripe.com, allowed by the embed page's CSP) with the order's client secret; Stripe's
    signed webhook pays the order and the frame, then the shop's page, hear of it."""
    from playwright.sync_api import expect

    from tests.test_shop_browser import STRIPE_JS_STUB, deliver_stripe_event

    server, api = stripe_server
    event, (_, beanie) = shop
    brand = event.organization.slug
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("https://js.stripe.com/v3/", lambda route: route.fulfill(
        body=STRIPE_JS_STUB, content_type="application/javascript"))  # fmt: skip
    page.route("https://js.stripe.com/v3/elements-inner-payment.html", lambda route: route.fulfill(
        body="<!doctype html><p>Card number</p>", content_type="text/html"))  # fmt: skip
    page.goto(f"http://localhost:{port}/embed/demo-shop/?event={brand}/{event.slug}")
    page.wait_for_function(READY, timeout=DEADLINE_MS)
    frame = page.frame(url=re.compile(r"/embed/e/"))

    in_lineup(frame, beanie, '[data-action="add-to-cart"]').click()
    # The cart opens with the line in it (opened while the add is in flight, it would be empty).
    expect(frame.locator("#cart-button .cart-count")).to_have_text("1", timeout=DEADLINE_MS)
    frame.locator("#cart-button").click()
    expect(frame.locator("#shop-panel .cart-line")).to_have_count(1, timeout=DEADLINE_MS)
    pay = checkout(frame, name="Ada Lovelace")
    expect(pay.locator("iframe[title='Secure payment input frame']")).to_be_attached(timeout=DEADLINE_MS)
    token = frame.evaluate("window.liveshopShop.order.token")
    assert frame.evaluate("[window.__stripe.key, window.__stripe.clientSecret]") == [
        "pk_test_offline",
        "pi_shop_1_secret_test",
    ]
    [(path, form, _)] = api.requests
    assert (path, form["metadata[order]"]) == ("/v1/payment_intents", token)

    pay.get_by_role("button", name=re.compile(r"^Pay ")).click()
    frame.wait_for_function("window.__stripe.confirmed !== null", timeout=DEADLINE_MS)
    assert frame.evaluate("window.__stripe.confirmed.redirect") == "if_required"
    expect(frame.locator(".confirmation")).to_be_hidden()  # paid by the webhook alone
    intent = {"id": "pi_shop_1", "object": "payment_intent", "amount": int(form["amount"]),
              "currency": form["currency"], "metadata": {"order": token}}  # fmt: skip
    assert deliver_stripe_event(server, "payment_intent.succeeded", intent) == {"outcome": "paid"}
    expect(frame.locator(".confirmation")).to_be_visible(timeout=DEADLINE_MS)
    assert wait_for_event(page, "checkout.done")["order"]["status"] == "paid"
    order = as_the_host(lambda: Order.objects.select_related("cart").get(token=token))
    assert (order.status, order.payment_backend, order.cart.user_id) == ("paid", "stripe", None)
    assert errors == []
