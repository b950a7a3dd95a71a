"""How many statements the shop's hot requests send to the database (bench/checkout.py measures
what they cost). Each count is what the request needs; a test fails when a redundant read comes
back (the brand or its shipping countries per request, the cart read twice, the order re-read
after its payment, a savepoint around the payment event). The test's own transaction turns the
services' BEGIN/COMMIT into SAVEPOINT/RELEASE: those are left out of the counts."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commerce.models import Order, ShopSettings
from commerce.payments.test import SUCCEED_CARD
from events.models import EventProduct
from events.tests.factories import LiveNowEventFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "full_name": "Ada",
    "address_line1": "1 Rue",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "FR",
}


def statements(client, url, data) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        answer = client.post(url, json.dumps(data), content_type="application/json")
    sql = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split(" ", 1)[0] not in ("SAVEPOINT", "RELEASE")
    ]
    return answer, sql


def tables(sql: list[str]) -> list[str]:
    """Each SELECT as the table it reads (not its subqueries': a variant's brand low-stock default
    is one, catalog.thresholds), every other statement as its verb."""
    return [
        _top_level(s).split(" FROM ")[1].split()[0].strip('"') if s.startswith("SELECT") else s.split()[0]
        for s in sql
    ]


def _top_level(statement: str) -> str:
    while (inner := re.sub(r"\([^()]*\)", "", statement)) != statement:
        statement = inner
    return statement


@pytest.fixture
def shop(brand, make_variant, payment_backend):
    """A brand shipping to FR with a live show selling one variant (the bench's setting)."""
    ShopSettings.objects.create(organization=brand, shipping_countries=["FR"])
    event = LiveNowEventFactory(organization=brand)
    variant = make_variant(stock=100)
    EventProduct.objects.create(event=event, product=variant.product, position=1)
    return event, variant


def buy(client, brand, event, variant) -> dict[str, list[str]]:
    """One order as a viewer on the live show makes it: add to cart, check out, pay."""
    sql = {}
    added, sql["add"] = statements(
        client,
        reverse("commerce:cart-add", args=[brand.slug]),
        {"variant_id": variant.pk, "event_id": event.pk},
    )
    assert added.status_code == 201, added.content
    started, sql["checkout"] = statements(
        client, reverse("commerce:checkout", args=[brand.slug]), {"email": "ada@example.com", **ADDRESS}
    )
    assert started.status_code == 201, started.content
    order = started.json()
    paid, sql["pay"] = statements(
        client,
        reverse("commerce:test-payment", args=[order["token"]]),
        {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD},
    )
    assert paid.json()["status"] == "paid"
    return sql


def test_an_order_on_the_live_show_takes_26_statements_with_no_read_twice(client, brand, shop):
    event, variant = shop
    buy(client, brand, event, variant)  # the first: the session and the cart are made

    sql = buy(client, brand, event, variant)

    assert tables(sql["add"]) == [
        "events_liveevent",  # the show, that the viewer may watch it
        "django_session",  # the cart's id (no brand, no shipping countries: commerce.selectors.shop)
        "commerce_cart",  # read and locked in one statement
        "catalog_variant",
        "commerce_cartline",  # once, for the currency, the line and the answer
        "events_highlight",  # the highlight on screen, without its product
        "commerce_flashdeal",  # once, for the limit and the answer's prices
        "INSERT",
    ]
    assert tables(sql["checkout"]) == [
        "django_session",
        "commerce_cart",  # read and locked in one statement
        "commerce_order",  # a pending order of the cart, to replace
        "commerce_cartline",
        "commerce_flashdeal",
        "INSERT",  # the order
        "INSERT",  # its lines, in one statement
        "INSERT",  # their reservations, in one statement
        "UPDATE",  # the stock
        "UPDATE",  # the payment's id, after the provider (answer from memory: no order line read)
    ]
    assert tables(sql["pay"]) == [
        "commerce_order",
        "INSERT",  # the payment event, once (ON CONFLICT: no savepoint)
        "commerce_order",  # locked
        "UPDATE",  # reservations committed
        "UPDATE",  # the order paid
        "DELETE",  # its lines leave the cart
        "UPDATE",  # the event's outcome
        "commerce_orderline",  # the answer (the order not read again)
    ]
    assert sum(map(len, sql.values())) == 26


def test_a_shop_with_many_lines_checks_out_in_the_same_number_of_statements_but_the_stock(
    client, brand, shop, make_variant
):
    event, variant = shop
    others = [make_variant(stock=5) for _ in range(4)]
    for other in others:
        statements(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": other.pk})
    buy(client, brand, event, variant)
    for other in others:
        statements(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": other.pk})
    statements(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": variant.pk})

    started, sql = statements(
        client, reverse("commerce:checkout", args=[brand.slug]), {"email": "ada@example.com", **ADDRESS}
    )

    assert started.status_code == 201 and len(started.json()["lines"]) == 5
    # One stock UPDATE per variant; the lines and reservations in bulk; no line added on the live
    # show this time, so no deals to read.
    assert len(sql) == 9 + 4


def test_the_shops_brand_and_countries_are_read_again_when_they_change(client, brand, shop):
    url = reverse("commerce:cart", args=[brand.slug])
    assert client.get(url).json()["shippingCountries"] == ["FR"]

    settings_ = ShopSettings.objects.get(organization=brand)
    settings_.shipping_countries = ["DE", "FR"]
    settings_.save()

    assert client.get(url).json()["shippingCountries"] == ["FR", "DE"]  # sorted by name
    brand.slug = "acme-renamed"
    brand.save()
    assert client.get(url).status_code == 404
    assert client.get(reverse("commerce:cart", args=["acme-renamed"])).status_code == 200


def test_the_variant_and_the_show_are_read_by_id_without_sorting(client, brand, shop):
    """A lookup by id needs no ORDER BY: Variant's default ordering (product, then brand name)
    joined accounts_organization into every add to cart."""
    event, variant = shop
    buy(client, brand, event, variant)

    sql = buy(client, brand, event, variant)

    variant_read, event_read = (
        next(s for s in sql["add"] if _top_level(s).split(" FROM ")[1].startswith(f'"{table}"'))
        for table in ("catalog_variant", "events_liveevent")
    )
    assert "accounts_organization" not in variant_read
    assert '"catalog_product"."name"' not in variant_read.split("ORDER BY")[-1]
    assert "scheduled_start" not in event_read.split("ORDER BY")[-1]


def test_paying_publishes_one_task_whose_worker_queues_the_confirmation_and_the_purchases(
    client, brand, shop, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    """Each Celery message costs the paying request a publish to Redis (~1 ms of its CPU): it sends
    one, and the worker queues the two that follow a sale (eager here: run at once, nested)."""
    from celery.app.task import Task

    published, queued_by_the_worker, depth = [], [], [0]
    apply_async = Task.apply_async

    def recording(self, *args, **kwargs):
        (queued_by_the_worker if depth[0] else published).append((self.name, args[0]))
        depth[0] += 1
        try:
            return apply_async(self, *args, **kwargs)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(Task, "apply_async", recording)
    event, variant = shop

    with django_capture_on_commit_callbacks(execute=True):
        buy(client, brand, event, variant)

    order = Order.objects.get()
    assert published == [("commerce.tasks.order_paid_task", (order.pk,))]
    assert sorted(queued_by_the_worker) == [
        ("analytics.tasks.record_purchases_task", (order.pk,)),
        ("commerce.tasks.send_order_confirmation_task", (order.pk,)),
    ]
    assert len(mailoutbox) == 1  # the confirmation, sent
