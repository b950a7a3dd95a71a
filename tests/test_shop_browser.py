"""The viewer shop on a live show, end to end: real nginx-rtmp and ffmpeg, a real ASGI server
(uvicorn) on the test database and Redis, the test payment provider (PAYMENT_BACKEND=test, through
the same webhook handling as a real provider's), and Chromium.

One show, one server, two viewers: a desktop viewer adds the featured product from the card and
a size of another from the lineup (the option sheet), checks out in the panel over the player,
pays with the success card, and sees the confirmation while the live video keeps playing (never
reloaded: currentTime only grows); a phone
viewer sees the stock drop on its card, then pays with a card that is declined, sees the reason,
and nothing stays reserved; its checkout of more than is left answers the 409's reason.

With PAYMENT_BACKEND=stripe (a second server whose Stripe API is a local fake, Stripe.js served
by the test for js.stripe.com): the Payment Element mounts with the order's client secret, the
confirmation waits for Stripe's signed webhook, never for the page.
Screenshots: test-artifacts/shop-*.png."""

import json
import re
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce.models import Order, ShopSettings, StockReservation
from events import services as events
from events.models import EventProduct
from events.tests.factories import LiveEventFactory
from liveshop import crypto
from tests import media
from tests import test_console_browser as console
from tests.asgi_server import start_asgi_server
from tests.conftest import REPORT_CSP_VIOLATIONS, is_csp_violation
from tests.test_live_browser import PLAYING
from tests.test_viewer_browser import as_the_host

live_stack = console.live_stack

DEADLINE_MS = 45_000  # a busy 2-core machine runs nginx, ffmpeg, the server and two Chromium pages
PHONE = {"width": 390, "height": 844}
STOCK = 5
CAMERA = "document.getElementById('video').currentTime"


def in_a_thread(query):
    """ORM reads from another thread (Playwright's loop runs in this one), connection closed."""
    return as_the_host(query)


@pytest.fixture
def shop_show(live_stack, settings):
    """The console's show (brand acme, three products) shipping to three countries, with its
    first product featured and STOCK of it left (at or under the low-stock threshold)."""
    show = console._make_show(settings)
    event, products = show["event"], show["products"]
    ShopSettings.objects.create(organization=event.organization, shipping_countries=["FR", "GB", "US"])
    featured = products[0]
    Variant.objects.filter(product=featured, is_default=True).update(stock=STOCK, low_stock_threshold=10)
    cream = products[1]  # two sizes: the lineup's Add asks which
    Variant.objects.create(
        organization=cream.organization,
        product=cream,
        sku="ACME-2-50",
        label="50 ml",
        price_override=49,
        stock=3,
    )
    events.feature_product(
        event=event, product=featured, by=get_user_model().objects.get(username="console-host")
    )
    return {**show, "featured": featured, "url": f"{live_stack[0]}/e/{event.organization.slug}/{event.slug}/"}


def checkout(page, *, name: str, country: str = "FR"):
    """From the open cart to the payment step: the details form, as a buyer types it."""
    panel = page.locator("#shop-panel")
    panel.get_by_role("button", name="Checkout").click()
    form = panel.locator(".checkout-form")
    form.get_by_label("E-mail").fill("buyer@example.com")
    form.get_by_label("Full name").fill(name)
    form.get_by_label("Address", exact=True).fill("1 Market Street")
    form.get_by_label("Postal code").fill("69001")
    form.get_by_label("Town or city").fill("Lyon")
    form.get_by_label("Country").select_option(country)
    form.get_by_role("button", name="Continue to payment").click()
    return panel.locator(".pay-form")


def new_viewer(browser, url: str, errors: list[str], **options):
    """A viewer in a context of its own (its own session and cart); its CSP violations count as
    errors, as the page fixture's do."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.set_default_timeout(DEADLINE_MS)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on("console", lambda message: is_csp_violation(message.text) and errors.append(message.text))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return context, page


@pytest.mark.browser
@pytest.mark.media
@pytest.mark.django_db(transaction=True)
def test_a_viewer_buys_the_featured_product_while_the_show_plays_and_a_decline_reserves_nothing(
    live_stack, shop_show, page, artifacts_dir, monkeypatch
):
    from playwright.sync_api import expect

    _, server = live_stack
    event, featured = shop_show["event"], shop_show["featured"]
    key = crypto.decrypt(event.stream_key_encrypted)
    errors: list[str] = []
    browser = page.context.browser
    buyer_context, buyer = new_viewer(browser, shop_show["url"], errors)
    phone_context, phone = new_viewer(
        browser, shop_show["url"], errors, viewport=PHONE, is_mobile=True, has_touch=True
    )
    encoder = media.publish(server.ingest(key), seconds=240)
    try:
        for viewer in (buyer, phone):
            viewer.wait_for_function(PLAYING, timeout=60_000)
        card = buyer.locator("#product-card")
        expect(card.locator(".card-name")).to_have_text(featured.name)
        expect(card.locator(".card-stock")).to_have_text(f"Only {STOCK} left")

        # Add from the card: the cart button counts it; the video plays on.
        started_at = buyer.evaluate(CAMERA)
        card.get_by_role("button", name=f"Add to cart: {featured.name}").click()
        cart_button = buyer.locator("#cart-button")
        expect(cart_button.locator(".cart-count")).to_have_text("1")
        expect(buyer.locator("#shop-toast")).to_contain_text(f"{featured.name} is in your cart.")
        # And the night cream from the lineup, whose two sizes the option sheet offers.
        buyer.locator("#lineup .lineup-item").nth(1).get_by_role(
            "button", name="Add to cart: Night cream"
        ).click()
        panel = buyer.locator("#shop-panel")
        expect(panel.get_by_role("heading", name="Choose an option")).to_be_visible()
        panel.get_by_role("button", name="50 ml $49.00 Only 3 left").click()
        expect(cart_button.locator(".cart-count")).to_have_text("2")
        expect(panel).to_be_hidden()
        cart_button.click()
        expect(panel.locator(".cart-line")).to_have_count(2)
        expect(panel.locator(".cart-name")).to_have_text([featured.name, "Night cream"])
        expect(panel.locator(".cart-variant")).to_have_text("50 ml")
        expect(panel.locator(".shop-total strong")).to_have_text("$73.00")
        buyer.screenshot(path=artifacts_dir / "shop-desktop-cart.png")

        pay = checkout(buyer, name="Ada Lovelace")
        pay.get_by_label("Card number").fill("4242 4242 4242 4242")
        buyer.screenshot(path=artifacts_dir / "shop-desktop-payment.png")
        pay.get_by_role("button", name="Pay $73.00").click()

        done = panel.locator(".confirmation")
        expect(done).to_be_visible()
        expect(done.get_by_role("heading")).to_have_text("Thank you, Ada!")
        expect(done).to_contain_text("A confirmation is on its way to buyer@example.com.")
        buyer.screenshot(path=artifacts_dir / "shop-desktop-confirmation.png")
        # The same page and video all along: the live video kept playing under the panel.
        buyer.wait_for_function(f"{CAMERA} > {started_at + 1}")
        assert buyer.evaluate("!document.getElementById('video').paused")
        assert buyer.evaluate("performance.getEntriesByType('navigation').length") == 1
        token = buyer.evaluate("window.liveshopShop.order.token")
        order = in_a_thread(lambda: Order.objects.get(token=token))
        assert (order.status, str(order.total), order.full_name, order.country) == (
            "paid",
            "73.00",
            "Ada Lovelace",
            "FR",
        )
        order_page = done.get_by_role("link", name="View your order")
        assert order_page.get_attribute("href") == f"/orders/{token}/"

        # The phone viewer's card says one fewer left, pushed over its socket.
        phone_card = phone.locator("#product-card")
        expect(phone_card.locator(".card-stock")).to_have_text(f"Only {STOCK - 1} left", timeout=DEADLINE_MS)
        phone.screenshot(path=artifacts_dir / "shop-phone-page.png", full_page=True)

        # The phone viewer pays with a card that is declined: the reason, and nothing reserved.
        phone_card.get_by_role("button", name=f"Add to cart: {featured.name}").click()
        phone.locator("#cart-button").click()
        pay = checkout(phone, name="Grace Hopper", country="GB")
        pay.get_by_label("Card number").fill("4000 0000 0000 0002")
        phone.screenshot(path=artifacts_dir / "shop-phone-payment.png")
        pay.get_by_role("button", name="Pay $24.00").click()
        expect(pay.locator(".shop-error")).to_contain_text("Your card was declined.")
        phone.screenshot(path=artifacts_dir / "shop-phone-declined.png")
        declined = phone.evaluate("window.liveshopShop.order.token")

        def stock_and_reservations():
            failed = Order.objects.get(token=declined)
            active = StockReservation.objects.filter(order=failed, status=StockReservation.Status.ACTIVE)
            variant = Variant.objects.get(product=featured, is_default=True)
            return failed.status, active.count(), variant.stock

        assert in_a_thread(stock_and_reservations) == ("failed", 0, STOCK - 1)

        # More of the 50 ml cream than is left (3, after the buyer's 1: 2): the checkout answers
        # 409 with the reason, reserves nothing, and the cart stays as it was.
        phone.get_by_role("button", name="Close").click()
        phone.locator("#lineup .lineup-item").nth(1).get_by_role(
            "button", name="Add to cart: Night cream"
        ).click()
        phone.get_by_role("button", name="50 ml $49.00").click()
        phone.locator("#cart-button").click()
        cream_line = phone.locator(".cart-line").nth(1)
        for quantity in ("2", "3"):
            cream_line.get_by_role("button", name="One Night cream more").click()
            expect(cream_line.locator(".qty-value")).to_have_text(quantity)
        phone.get_by_role("button", name="Checkout").click()
        phone.get_by_role("button", name="Continue to payment").click()  # the details are still there
        expect(phone.locator("[data-field=details-error]")).to_have_text(
            "Sold out: Night cream has no stock left for this quantity."
        )
        phone.screenshot(path=artifacts_dir / "shop-phone-sold-out.png")

        def stocks():
            lipstick = Variant.objects.get(product=featured, is_default=True)
            return [lipstick.stock, Variant.objects.get(sku="ACME-2-50").stock]

        assert in_a_thread(stocks) == [STOCK - 1, 2]
        assert errors == []
    finally:
        media.stop(encoder)
        buyer_context.close()
        phone_context.close()
        # Closing this thread's connection runs no query, but Playwright's loop may still count as
        # running in this thread on a busy machine, and Django then refuses the call.
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        connections.close_all()


# The Payment Element ---------------------------------------------------------------------

# Stripe.js as the page sees it: Stripe(key).elements({clientSecret}).create("payment").mount(el)
# (an iframe from js.stripe.com, as the real element is) and confirmPayment(); served by the test
# for https://js.stripe.com, so the page's Content-Security-Policy is what lets it load.
STRIPE_JS_STUB = """
window.Stripe = (key) => {
  window.__stripe = { key, confirmed: null };
  return {
    elements: ({ clientSecret }) => {
      window.__stripe.clientSecret = clientSecret;
      return { create: () => ({ mount: (el) => {
        const frame = document.createElement("iframe");
        frame.src = "https://js.stripe.com/v3/elements-inner-payment.html";
        frame.title = "Secure payment input frame";
        el.append(frame);
      } }) };
    },
    confirmPayment: async ({ confirmParams, redirect }) => {
      window.__stripe.confirmed = { returnUrl: confirmParams.return_url, redirect };
      return {};
    },
  };
};
"""


class FakeStripeApi:
    """Stripe's API for one PaymentIntent, on a local port: it records what it was asked."""

    def __init__(self):
        import http.server
        import threading
        from urllib.parse import parse_qs

        self.requests = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"] or 0)).decode()
                form = {key: values[0] for key, values in parse_qs(body).items()}
                api.requests.append((self.path, form, self.headers.get("Idempotency-Key")))
                intent = {
                    "id": "pi_shop_1",
                    "object": "payment_intent",
                    "amount": int(form.get("amount", 0)),
                    "currency": form.get("currency", "usd"),
                    "client_secret": "pi_shop_1_secret_test",
                    "status": "canceled" if self.path.endswith("/cancel") else "requires_payment_method",
                    "metadata": {"order": form.get("metadata[order]", "")},
                }
                answer = json.dumps(intent).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def stripe_shop(media_on_disk, tmp_path):
    """A scheduled show with its product featured, and a server on PAYMENT_BACKEND=stripe whose
    Stripe API is FakeStripeApi (tests/shop_stripe_settings.py)."""
    brand = OrganizationFactory(name="Acme", slug=f"acme-{secrets.token_hex(3)}")
    host = member(brand, role=Membership.Role.HOST)
    product = ProductFactory(organization=brand, name="Rose lipstick", price=Decimal("24.00"))
    event = LiveEventFactory(
        id=10**9 + secrets.randbelow(10**9),
        organization=brand,
        scheduled_start=timezone.now() + timedelta(hours=2),
    )
    EventProduct.objects.create(event=event, product=product, position=0)
    events.feature_product(event=event, product=product, by=host)
    api = FakeStripeApi()
    server = start_asgi_server(tmp_path, env=stripe_env(api))
    yield {"server": server, "api": api, "url": f"{server.url}/e/{brand.slug}/{event.slug}/"}
    server.stop()
    api.stop()


STRIPE_WEBHOOK_SECRET = "whsec_shop_browser"


def stripe_env(api: FakeStripeApi) -> dict[str, str]:
    """A test server's environment for PAYMENT_BACKEND=stripe against ``api``."""
    return {
        "DJANGO_SETTINGS_MODULE": "tests.shop_stripe_settings",
        "LIVESHOP_TEST_STRIPE_API": api.url,
        "PAYMENT_BACKEND": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_offline",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_offline",
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
    }


def deliver_stripe_event(server, event_type: str, intent: dict) -> dict:
    """POST a Stripe event to the server's webhook, signed as Stripe signs it."""
    import http.client

    import stripe

    body = json.dumps({"id": f"evt_{secrets.token_hex(6)}", "object": "event", "type": event_type,
                       "data": {"object": intent}})  # fmt: skip
    header = stripe.WebhookSignature.generate_signature_header(
        body, STRIPE_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Stripe-Signature": header}
        connection.request("POST", "/payments/webhook/", body=body.encode(), headers=headers)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_payment_element_pays_and_the_webhook_confirms_the_order(stripe_shop, page, artifacts_dir):
    from playwright.sync_api import expect

    api = stripe_shop["api"]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("https://js.stripe.com/v3/", lambda route: route.fulfill(
        body=STRIPE_JS_STUB, content_type="application/javascript"))  # fmt: skip
    page.route("https://js.stripe.com/v3/elements-inner-payment.html", lambda route: route.fulfill(
        body="<!doctype html><p>Card number</p>", content_type="text/html"))  # fmt: skip
    # A busy server: the page's first GET of the cart (it brings the CSRF token) is held until the
    # viewer has clicked "Add to cart"; the add waits for it rather than being refused.
    held = []
    first_cart = re.compile(r"/api/shop/[^/]+/cart/$")
    page.route(first_cart, lambda route: route.continue_() if held else held.append(route))
    page.goto(stripe_shop["url"])
    page.wait_for_function("window.liveshopShop !== undefined")
    assert len(held) == 1

    page.locator("#product-card").get_by_role("button", name="Add to cart: Rose lipstick").click()
    held[0].continue_()
    expect(page.locator("#cart-button .cart-count")).to_have_text("1")
    assert page.evaluate("window.liveshopShop.cartAnswers") == 2
    page.locator("#cart-button").click()
    expect(page.locator("#shop-panel .cart-line")).to_have_count(1)
    pay = checkout(page, name="Ada Lovelace")
    expect(pay.locator("iframe[title='Secure payment input frame']")).to_be_attached()
    assert page.evaluate("[window.__stripe.key, window.__stripe.clientSecret]") == [
        "pk_test_offline",
        "pi_shop_1_secret_test",
    ]
    [(path, form, idempotency_key)] = api.requests
    token = page.evaluate("window.liveshopShop.order.token")
    assert (path, form["amount"], form["currency"], form["metadata[order]"]) == (
        "/v1/payment_intents",
        "2400",
        "usd",
        token,
    )
    assert idempotency_key == f"order-{token}"
    page.screenshot(path=artifacts_dir / "shop-stripe-payment.png")

    pay.get_by_role("button", name="Pay $24.00").click()
    page.wait_for_function("window.__stripe.confirmed !== null")
    assert page.evaluate("window.__stripe.confirmed") == {
        "returnUrl": f"{stripe_shop['server'].url}/orders/{token}/",
        "redirect": "if_required",
    }
    # The order is paid by Stripe's webhook alone; the page waits for it.
    expect(page.locator(".confirmation")).to_be_hidden()
    intent = {"id": "pi_shop_1", "object": "payment_intent", "amount": 2400, "currency": "usd",
              "metadata": {"order": token}}  # fmt: skip
    assert deliver_stripe_event(stripe_shop["server"], "payment_intent.succeeded", intent) == {
        "outcome": "paid"
    }
    expect(page.locator(".confirmation")).to_be_visible()
    expect(page.locator(".confirmation h3")).to_have_text("Thank you, Ada!")
    page.screenshot(path=artifacts_dir / "shop-stripe-confirmation.png")
    assert errors == []
