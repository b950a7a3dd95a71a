"""Purchases per viewer: the checkout carries the viewer id the player's beacons count by (the
signed-in user, else the first-party cookie's id), and a paid order's lines become that viewer's
``purchase`` interactions after the payment's commit, once; conversion counts buyers as viewers."""

import json
import time

import pytest
from django.urls import reverse

from analytics import ingest, services
from analytics.models import Source, ViewerInteraction, WatchMinute
from analytics.selectors import show_figures
from analytics.tests.helpers import beacon, heartbeat
from commerce.models import Order
from commerce.payments.test import SUCCEED_CARD
from commerce.tests.orders import place_order
from events import services as event_services
from liveshop import viewer_id

pytestmark = pytest.mark.django_db
ADDRESS = {
    "full_name": "Ann",
    "address_line1": "1 Rue",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "FR",
}


@pytest.fixture(autouse=True)
def _test_payment_provider(settings):
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    yield
    get_payment_backend.cache_clear()


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def watch(client, event, seq=0) -> None:
    """One heartbeat from ``client``'s player, as beacon.js sends it (a first one without the
    cookie is answered with the cookie and a retry)."""
    now = int(time.time() * 1000)
    payload = beacon({"event": event.pk}, seq=seq, sent_at=now, items=[heartbeat(at=now)])
    answer = client.post("/api/analytics/beacon/", json.dumps(payload), content_type="text/plain")
    if answer.json().get("retry"):
        payload["retry"] = True
        answer = client.post("/api/analytics/beacon/", json.dumps(payload), content_type="text/plain")
    assert answer.json()["stored"] == 1


def buy(client, event, *, email="ann@example.com") -> Order:
    """Add the show's product on the show, check out and pay with the test card, as the viewer
    page does; the payment's after-commit work runs (the test's transaction never commits)."""
    brand, product = event.organization, event.products.get()
    added = post_json(
        client,
        reverse("commerce:cart-add", args=[brand.slug]),
        {"product_id": product.pk, "event_id": event.pk},
    )
    assert added.status_code == 201, added.content
    started = post_json(client, reverse("commerce:checkout", args=[brand.slug]), {"email": email, **ADDRESS})
    assert started.status_code == 201, started.content
    order = started.json()
    paid = post_json(
        client,
        reverse("commerce:test-payment", args=[order["token"]]),
        {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD},
    )
    assert paid.json()["status"] == "paid"
    return Order.objects.get(token=order["token"])


def test_a_viewers_order_on_the_show_is_their_purchase_and_conversion_counts_viewers(
    client, live_event, host, django_capture_on_commit_callbacks
):
    highlight = event_services.feature_product(event=live_event, product=live_event.products.get(), by=host)
    watch(client, live_event)
    services.flush_buffer()
    watcher = WatchMinute.objects.get().viewer

    with django_capture_on_commit_callbacks(execute=True):
        order = buy(client, live_event)
    with django_capture_on_commit_callbacks(execute=True):
        buy(client, live_event, email="ann.other@example.com")  # the same viewer, another e-mail

    assert order.viewer == watcher  # the checkout counted the buyer as the beacons count the viewer
    purchase = ViewerInteraction.objects.get(kind=ViewerInteraction.Kind.PURCHASE)
    assert (purchase.viewer, purchase.stream, purchase.source, purchase.product, purchase.highlight) == (
        watcher,
        f"live:{live_event.pk}",
        Source.LIVE,
        live_event.products.get(),
        highlight,
    )
    assert purchase.count == 2 and purchase.user is None  # one per order line, two orders
    figures = show_figures(live_event)
    assert (figures.sales.orders, figures.sales.buyers, figures.unique_viewers) == (2, 1, 1)
    assert figures.conversion == "100.0%"  # one viewer who bought, not two e-mails


def test_recording_a_paid_order_again_adds_nothing(client, live_event, django_capture_on_commit_callbacks):
    watch(client, live_event)
    with django_capture_on_commit_callbacks(execute=True):
        order = buy(client, live_event)

    assert services.record_purchases(order_id=order.pk) == 0  # a retried task
    assert ViewerInteraction.objects.get(kind="purchase").count == 1


def test_a_signed_in_buyer_is_counted_as_the_user_the_beacons_count(client, live_event, django_user_model):
    ann = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    client.force_login(ann)

    order = buy(client, live_event)

    assert order.viewer == ingest.Viewer(f"u:{ann.pk}", ann).id == viewer_id.counting_id(f"u:{ann.pk}")


def test_an_order_without_a_viewer_or_a_show_records_no_purchase(
    client, live_event, make_variant_of_brand, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cookieless = buy(client, live_event)  # a client that never sent a beacon: no cookie
        shop_page = place_order(make_variant_of_brand)  # added on the shop's page: no stream

    assert cookieless.viewer == "" and shop_page.viewer == ""
    Order.objects.filter(pk=shop_page.pk).update(viewer="a" * 32)
    assert services.record_purchases(order_id=shop_page.pk) == 0
    assert not ViewerInteraction.objects.exists()


@pytest.fixture
def make_variant_of_brand(brand):
    from catalog.models import Variant
    from catalog.tests.factories import ProductFactory

    return Variant.objects.get(product=ProductFactory(organization=brand, name="Mug"))


def test_an_embed_frames_order_is_counted_as_its_beacons_count_it(
    live_event, django_capture_on_commit_callbacks
):
    """A shop's embed frame never keeps our cookie: its beacons are counted by its address (the
    retry without a cookie), and its checkout (a cart token, no cookie) by the same id, so the
    order is the frame viewer's purchase."""
    from django.test import Client

    frame = Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")
    now = int(time.time() * 1000)
    payload = beacon({"event": live_event.pk}, seq=0, sent_at=now, items=[heartbeat(at=now)])
    for retry in (False, True):
        payload["retry"] = retry
        answer = frame.post("/api/analytics/beacon/", json.dumps(payload), content_type="text/plain")
        frame.cookies.clear()  # the frame's browser keeps no cookie of ours
    assert answer.json()["stored"] == 1
    services.flush_buffer()
    watcher = WatchMinute.objects.get().viewer

    def call(name, args, data, token):
        url = reverse(f"commerce:{name}", args=args)
        return frame.post(url, json.dumps(data), content_type="application/json", HTTP_X_LIVESHOP_CART=token)

    brand, product = live_event.organization, live_event.products.get()
    added = call("embed-cart-add", [brand.slug], {"product_id": product.pk, "event_id": live_event.pk}, "new")
    token = added.json()["cartToken"]
    started = call("embed-checkout", [brand.slug], {"email": "ann@example.com", **ADDRESS}, token).json()
    with django_capture_on_commit_callbacks(execute=True):
        paid = call(
            "embed-test-payment",
            [started["token"]],
            {"client_secret": started["payment"]["clientSecret"], "card_number": SUCCEED_CARD},
            token,
        )
    assert paid.json()["status"] == "paid"

    order = Order.objects.get(token=started["token"])
    assert order.viewer == watcher != ""
    assert ViewerInteraction.objects.get(kind=ViewerInteraction.Kind.PURCHASE).viewer == watcher
    other = Client(REMOTE_ADDR="203.0.113.9")  # another address: another viewer
    other_cart = reverse("commerce:embed-cart-add", args=[brand.slug])
    other_token = other.post(
        other_cart,
        json.dumps({"product_id": product.pk}),
        content_type="application/json",
        HTTP_X_LIVESHOP_CART="new",
    ).json()["cartToken"]
    another = other.post(
        reverse("commerce:embed-checkout", args=[brand.slug]),
        json.dumps({"email": "bo@example.com", **ADDRESS}),
        content_type="application/json",
        HTTP_X_LIVESHOP_CART=other_token,
    )
    assert Order.objects.get(token=another.json()["token"]).viewer not in ("", watcher)
