"""Flash deals: the host's show price for one product of a live event (commerce.deals), what the
cart and checkout charge under it (commerce.carts.line_prices) and its limit per customer."""

import json
import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import UserFactory, member
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce import carts, deals, services
from commerce.deals import DealTerms
from commerce.exceptions import DealLimitReached, DealRefused
from commerce.models import Cart, FlashDeal, Order
from commerce.payments.test import SUCCEED_CARD
from events.models import LiveEvent
from events.tests.factories import LiveEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def show(event):
    """The ``event`` fixture, live now (its lineup: Rose lipstick at 20.00 USD)."""
    LiveEvent.objects.filter(pk=event.pk).update(status=LiveEvent.Status.LIVE)
    event.refresh_from_db()
    return event


@pytest.fixture
def product(show):
    product = show.lineup.get().product
    product.price, product.currency = Decimal("20.00"), "USD"
    product.save()
    Variant.objects.filter(product=product).update(stock=50)
    return product


@pytest.fixture
def variant(product):
    return product.variants.get()


def start(show, product, by, minutes=10, **terms):
    return deals.start_deal(event=show, product=product, terms=DealTerms(minutes=minutes, **terms), by=by)


def priced(cart, now=None):
    lines = list(cart.lines.select_related("variant__product"))
    return [(price.unit_price, price.deal) for price in carts.line_prices(lines, now=now)]


def buy(cart, variant, quantity, event, email="buyer@example.com", user=None):
    """Add to the cart on the live show and check out: the pending order (its payment in ``.payment``)."""
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=quantity, event=event)
    order, order.payment = services.start_checkout(cart=cart, email=email, user=user)
    return order


def pay(backend, order):
    delivery = backend.confirm(
        client_secret=order.payment.client_secret,
        reference=str(order.token),
        amount_minor=int(order.total * 100),
        currency=order.currency,
        card_number=SUCCEED_CARD,
    )
    return services.handle_payment_webhook(body=delivery.body, headers=delivery.headers)


def test_a_host_starts_a_deal_and_viewers_and_consoles_are_told_after_commit(
    show, product, host, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deal = start(show, product, host, minutes=5, price=Decimal("14.99"), limit_per_customer=2)

    assert deal.ends_at - deal.starts_at == timedelta(minutes=5)
    card = {
        "price": "14.99",
        "percentOff": None,
        "endsAt": deal.ends_at.isoformat(),
        "limitPerCustomer": 2,
        "variantPrices": {str(product.variants.get().pk): "14.99"},
    }
    viewers, studio = broadcasts
    sent_at = viewers["payload"].pop("now")
    assert (viewers["type"], viewers["payload"]) == (
        "deal",
        {"eventId": show.pk, "productId": product.pk, "deal": card},
    )
    assert deal.starts_at <= datetime.fromisoformat(sent_at) <= timezone.now()
    assert studio["audience"] == "studio" and studio["payload"]["deal"]["id"] == deal.pk
    assert deals.card_deals(show.pk) == {product.pk: card}


def test_the_deal_price_applies_to_lines_added_on_the_live_show_and_reverts_at_ends_at_exactly(
    show, product, variant, host, brand
):
    deal = start(show, product, host, percent_off=25)
    live, elsewhere = Cart.objects.create(organization=brand), Cart.objects.create(organization=brand)
    services.add_to_cart(cart=live, variant_id=variant.pk, event=show)
    services.add_to_cart(cart=elsewhere, variant_id=variant.pk)

    assert priced(live, now=deal.ends_at - timedelta(microseconds=1)) == [(Decimal("15.00"), deal)]
    assert priced(live, now=deal.ends_at) == [(Decimal("20.00"), None)]
    assert priced(elsewhere) == [(Decimal("20.00"), None)]


def test_percent_off_prices_each_variant_to_the_cent_and_a_deal_price_never_raises_one(
    show, product, variant, host, brand
):
    cheap = Variant.objects.create(
        organization=brand,
        product=product,
        sku="ROSE-S",
        label="Small",
        price_override=Decimal("9.99"),
        stock=5,
    )
    cart = Cart.objects.create(organization=brand)
    for each in (variant, cheap):
        services.add_to_cart(cart=cart, variant_id=each.pk, event=show)

    start(show, product, host, percent_off=33)
    assert [price for price, _ in priced(cart)] == [Decimal("13.40"), Decimal("6.69")]
    start(show, product, host, price=Decimal("12.00"))  # replaces the 33 % deal
    assert [price for price, _ in priced(cart)] == [Decimal("12.00"), Decimal("9.99")]


def test_a_percentage_off_a_zero_decimal_currency_rounds_to_its_whole_unit(
    show, product, variant, host, brand
):
    product.price, product.currency = Decimal("1000"), "JPY"
    product.save()
    start(show, product, host, percent_off=33)
    cart = Cart.objects.create(organization=brand)
    services.add_to_cart(cart=cart, variant_id=variant.pk, event=show)

    assert [price for price, _ in priced(cart)] == [Decimal("670")]
    assert deals.card_deals(show.pk)[product.pk]["price"] == "670"


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ({"price": Decimal("0")}, "above 0 and below the normal price"),
        ({"price": Decimal("20.00")}, "below the normal price ($20.00)"),
        ({"price": Decimal("9.999")}, "in whole cents"),
        ({"percent_off": 0}, "1 to 90"),
        ({"percent_off": 91}, "1 to 90"),
        ({"price": Decimal("9"), "percent_off": 10}, "either a deal price or a percentage"),
        ({}, "either a deal price or a percentage"),
        ({"percent_off": 10, "minutes": 0}, "1 to 120 minutes"),
        ({"percent_off": 10, "minutes": 121}, "1 to 120 minutes"),
        ({"percent_off": 10, "limit_per_customer": 0}, "limit per customer is 1 to 99"),
    ],
)
def test_bad_terms_are_refused_with_the_reason(show, product, host, terms, reason):
    with pytest.raises(DealRefused, match=re.escape(reason)):
        start(show, product, host, **{"minutes": 10, **terms})
    assert not FlashDeal.objects.exists()


def test_a_deal_is_for_a_product_of_the_shows_lineup_while_it_is_live(event, show, product, host, brand):
    outside = ProductFactory(organization=brand, price=Decimal("30.00"))
    with pytest.raises(DealRefused, match="product of this show's lineup"):
        start(show, outside, host, percent_off=10)

    LiveEvent.objects.filter(pk=show.pk).update(status=LiveEvent.Status.SCHEDULED)
    with pytest.raises(DealRefused, match="only while the show is live"):
        start(show, product, host, percent_off=10)


def test_only_the_brands_owners_and_hosts_set_and_end_deals(
    show, product, host, owner, moderator, other_brand
):
    stranger = member(other_brand, role=Membership.Role.OWNER)
    for person in (moderator, stranger):
        with pytest.raises(PermissionDenied):
            start(show, product, person, percent_off=10)

    deal = start(show, product, owner, percent_off=10)
    with pytest.raises(PermissionDenied):
        deals.end_deal(deal=deal, by=moderator)
    assert deals.end_deal(deal=deal, by=host).ended_early


def test_a_new_deal_replaces_the_running_one_and_ending_early_restores_the_normal_price(
    show, product, variant, host, brand
):
    cart = Cart.objects.create(organization=brand)
    services.add_to_cart(cart=cart, variant_id=variant.pk, event=show)
    first = start(show, product, host, percent_off=10)
    second = start(show, product, host, price=Decimal("15.00"))

    first.refresh_from_db()
    assert first.ended_early and first.ends_at <= second.starts_at
    assert priced(cart) == [(Decimal("15.00"), second)]
    deals.end_deal(deal=second, by=host)
    assert priced(cart) == [(Decimal("20.00"), None)]
    assert deals.card_deals(show.pk) == {}


def test_checkout_charges_the_servers_deal_price_and_the_order_line_records_the_deal(
    show, product, variant, host, brand, payment_backend
):
    deal = start(show, product, host, price=Decimal("12.50"))
    order = buy(Cart.objects.create(organization=brand), variant, 2, show)

    line = order.lines.get()
    assert (order.total, line.unit_price, line.deal, line.regular_unit_price) == (
        Decimal("25.00"),
        Decimal("12.50"),
        deal,
        Decimal("20.00"),
    )


def test_a_deal_that_ended_before_checkout_means_the_normal_price_and_one_ending_while_paying_changes_nothing(
    show, product, variant, host, brand, payment_backend
):
    deal = start(show, product, host, price=Decimal("12.50"))
    late = Cart.objects.create(organization=brand)
    services.add_to_cart(cart=late, variant_id=variant.pk, event=show)
    paying = buy(Cart.objects.create(organization=brand), variant, 1, show)
    deals.end_deal(deal=deal, by=host)

    order, _ = services.start_checkout(cart=late, email="late@example.com")
    assert (order.total, order.lines.get().deal) == (Decimal("20.00"), None)
    assert pay(payment_backend, paying) == "paid"
    paying.refresh_from_db()
    assert (paying.status, paying.total) == (Order.Status.PAID, Decimal("12.50"))


def test_the_limit_counts_a_guests_paid_and_pending_orders_by_email(
    show, product, variant, host, brand, payment_backend
):
    start(show, product, host, percent_off=20, limit_per_customer=3)
    paid = buy(Cart.objects.create(organization=brand), variant, 2, show, email="Ada@example.com")
    assert pay(payment_backend, paid) == "paid"
    again = Cart.objects.create(organization=brand)

    with pytest.raises(
        DealLimitReached, match=re.escape("limited to 3 per customer. You have 2 at this price already")
    ):
        buy(again, variant, 2, show, email="ada@EXAMPLE.com")
    assert Order.objects.count() == 1
    order, _ = services.start_checkout(cart=again, email="someone.else@example.com")
    assert order.lines.get().unit_price == Decimal("16.00")


def test_the_limit_refuses_a_signed_in_buyers_cart_line_over_it(
    show, product, variant, host, brand, payment_backend
):
    start(show, product, host, price=Decimal("10.00"), limit_per_customer=2)
    buyer = UserFactory()
    cart = Cart.objects.create(organization=brand, user=buyer)
    pending = buy(cart, variant, 1, show, user=buyer)

    with pytest.raises(DealLimitReached, match="Lower the quantity to 2"):
        services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2, event=show)  # 3 in the cart
    services.add_to_cart(
        cart=cart, variant_id=variant.pk, quantity=1, event=show
    )  # 2: its pending order is replaced
    order, order.payment = services.start_checkout(cart=cart, email="x@example.com", user=buyer)
    assert pay(payment_backend, order) == "paid"
    pending.refresh_from_db()
    assert pending.status == Order.Status.CANCELED
    other_cart = Cart.objects.create(organization=brand)
    with pytest.raises(DealLimitReached, match="You have 2 at this price already"):
        buy(other_cart, variant, 1, show, email="x2@example.com", user=buyer)


def test_ending_the_show_ends_its_deals_prices(show, product, variant, host, brand):
    cart = Cart.objects.create(organization=brand)
    services.add_to_cart(cart=cart, variant_id=variant.pk, event=show)
    start(show, product, host, percent_off=50)
    LiveEvent.objects.filter(pk=show.pk).update(
        status=LiveEvent.Status.ENDED, ended_by_host_at=timezone.now()
    )

    assert priced(cart) == [(Decimal("20.00"), None)]


# The console's endpoints (commerce/deal_views.py) --------------------------------------------


def deals_url(show):
    return reverse("commerce:deals", args=[show.pk])


def test_the_console_starts_lists_and_ends_a_deal(client, show, product, host, broadcasts):
    client.force_login(host)
    started = client.post(
        deals_url(show),
        {
            "product_id": product.pk,
            "kind": "percent",
            "percent_off": "20",
            "minutes": "15",
            "limit_per_customer": "",
        },
    )

    assert started.status_code == 201, started.content
    deal = started.json()["deal"]
    assert (deal["price"], deal["percentOff"], deal["limitPerCustomer"], deal["productName"]) == (
        "16.00",
        20,
        None,
        product.name,
    )
    assert [d["id"] for d in client.get(deals_url(show)).json()["deals"]] == [deal["id"]]
    ended = client.post(reverse("commerce:end-deal", args=[show.pk, deal["id"]]))
    assert ended.status_code == 200 and ended.json()["deal"]["ended"]
    assert client.get(deals_url(show)).json()["deals"] == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "percent", "percent_off": "x", "minutes": "10"}, "Percent off: Enter a whole number."),
        ({"kind": "price", "minutes": "10"}, "Give the deal price."),
        ({"kind": "price", "price": "25", "minutes": "10"}, "below the normal price"),
        ({"kind": "percent", "percent_off": "10"}, "Minutes: This field is required."),
        ({"kind": "percent", "percent_off": "10", "minutes": "500"}, "1 to 120 minutes"),
        ({"kind": "bogus", "minutes": "5"}, "Deal: Select a valid choice."),
    ],
)
def test_bad_input_from_the_console_is_a_400_with_the_reason(client, show, product, host, fields, reason):
    client.force_login(host)
    answer = client.post(deals_url(show), {"product_id": product.pk, **fields})

    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert not FlashDeal.objects.exists()


def test_the_console_refuses_moderators_other_brands_and_their_products(
    client, show, product, moderator, other_brand
):
    fields = {"product_id": product.pk, "kind": "percent", "percent_off": "10", "minutes": "5"}
    client.force_login(moderator)
    assert client.post(deals_url(show), fields).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.post(deals_url(show), fields).status_code == 404
    client.force_login(member(show.organization, role=Membership.Role.HOST))
    theirs = ProductFactory(organization=other_brand)
    refused = client.post(deals_url(show), {**fields, "product_id": theirs.pk})
    assert (refused.status_code, refused.json()["error"]) == (
        400,
        "A flash deal is for a product of this show's lineup.",
    )
    assert not FlashDeal.objects.exists()


def test_adding_past_the_limit_on_the_page_is_a_409_with_the_reason(client, show, product, variant, host):
    start(show, product, host, percent_off=10, limit_per_customer=1)
    url = reverse("commerce:cart-add", args=[show.organization.slug])
    body = {"variant_id": variant.pk, "quantity": 2, "event_id": show.pk}

    answer = client.post(url, json.dumps(body), content_type="application/json")

    assert answer.status_code == 409
    assert "limited to 1 per customer" in answer.json()["error"]


def test_the_console_shows_the_deal_controls_to_hosts_only(client, show, product, host, moderator):
    client.force_login(host)
    page = client.get(show.get_absolute_url()).content.decode()
    assert 'id="deal-form"' in page and reverse("commerce:deals", args=[show.pk]) in page
    assert "js/console/deals.js" in page

    client.force_login(moderator)
    assert 'id="deal-form"' not in client.get(show.get_absolute_url()).content.decode()


def test_the_cart_shows_the_deal_price_while_it_runs_and_the_normal_price_after(
    client, show, product, variant, host
):
    deal = start(show, product, host, percent_off=50, limit_per_customer=3)
    brand = show.organization.slug
    body = {"variant_id": variant.pk, "quantity": 2, "event_id": show.pk, "unit_price": "0.01"}
    client.post(reverse("commerce:cart-add", args=[brand]), json.dumps(body), content_type="application/json")

    during = client.get(reverse("commerce:cart", args=[brand])).json()
    line = during["lines"][0]
    assert (line["unitPrice"], line["subtotal"], during["total"]) == ("10.00", "20.00", "20.00")
    assert line["deal"] == {
        "regularPrice": "20.00",
        "percentOff": 50,
        "endsAt": deal.ends_at.isoformat(),
        "limitPerCustomer": 3,
    }
    deals.end_deal(deal=deal, by=host)
    after = client.get(reverse("commerce:cart", args=[brand])).json()
    assert (after["lines"][0]["unitPrice"], after["lines"][0]["deal"], after["total"]) == (
        "20.00",
        None,
        "40.00",
    )


# The product cards viewers get (events.payloads.card's "deal", filled through events.extensions) --


def test_viewers_cards_carry_the_running_deal_in_the_page_data_the_snapshot_and_the_featured_card(
    show, product, host, brand, broadcasts, django_capture_on_commit_callbacks
):
    from events import selectors
    from events import services as event_services

    other = ProductFactory(organization=brand, price=Decimal("50.00"))
    show.lineup.create(product=other, position=1)
    deal = start(show, product, host, price=Decimal("15.00"), limit_per_customer=1)
    card = {
        "price": "15.00",
        "percentOff": None,
        "endsAt": deal.ends_at.isoformat(),
        "limitPerCustomer": 1,
        "variantPrices": {str(product.variants.get().pk): "15.00"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        event_services.feature_product(event=show, product=product, by=host)

    details = selectors.stream_details(show, user=host, viewer_page="/")
    assert [(c["id"], c["deal"]) for c in details["lineup"]] == [(product.pk, card), (other.pk, None)]
    assert details["currentHighlight"]["product"]["deal"] == card
    snapshot = selectors.event_state_snapshot(event_id=show.pk, user=host)
    assert snapshot["highlight"]["product"]["deal"] == card
    featured = [m for m in broadcasts if m["type"] == "product.featured" and "audience" not in m]
    assert featured[-1]["payload"]["product"]["deal"] == card


def test_a_product_featured_after_its_deal_ended_or_before_it_starts_shows_no_deal(
    show, product, host, broadcasts, django_capture_on_commit_callbacks
):
    """Featuring asks whether a deal runs at the click (commerce.deals.card_deal_probe, in the
    featuring state's statement) and reads deals only then: an ended deal, or one that starts
    later, is not on the card."""
    from django.test.utils import CaptureQueriesContext

    from events import services as event_services

    def feature() -> list[str]:
        with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
            event_services.feature_product(event=show, product=product, by=host)
        return [query["sql"] for query in captured.captured_queries]

    deal = start(show, product, host, price=Decimal("15.00"))
    deals.end_deal(deal=deal, by=host)
    ended = feature()
    later = start(show, product, host, percent_off=20)
    FlashDeal.objects.filter(pk=later.pk).update(starts_at=timezone.now() + timedelta(minutes=5))
    event_services.clear_highlight(event=show, by=host)
    not_yet = feature()

    featured = [m for m in broadcasts if m["type"] == "product.featured" and "audience" not in m]
    assert [m["payload"]["product"]["deal"] for m in featured] == [None, None]
    for sql in (ended, not_yet):  # the probe said no deal runs: the card read none
        assert not any('FROM "commerce_flashdeal"' in statement for statement in sql), sql


def test_the_lineups_deals_are_read_in_one_query_whatever_its_length(show, product, host, brand):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events import selectors

    start(show, product, host, percent_off=10)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            selectors.stream_details(show, user=host, viewer_page="/")
        return len(captured)

    few = queries()
    for position in range(1, 6):
        other = ProductFactory(organization=brand)
        show.lineup.create(product=other, position=position)
        start(show, other, host, percent_off=20)
    assert queries() == few


@pytest.mark.django_db(transaction=True)
def test_a_guests_concurrent_checkouts_never_pass_the_limit(
    show, product, variant, host, brand, payment_backend
):
    """Eight carts of one guest check out at once against real PostgreSQL (a thread, connection
    and transaction each): the lock per deal and buyer lets exactly the limit through."""
    start(show, product, host, percent_off=10, limit_per_customer=2)
    carts = [Cart.objects.create(organization=brand) for _ in range(8)]
    for cart in carts:
        services.add_to_cart(cart=cart, variant_id=variant.pk, event=show)
    barrier = threading.Barrier(len(carts))
    results, lock = [], threading.Lock()

    def checkout(index, cart):
        try:
            barrier.wait()
            services.start_checkout(cart=cart, email="Ada@Example.com" if index % 2 else "ada@example.com")
            outcome = "reserved"
        except DealLimitReached:
            outcome = "over the limit"
        except Exception as exc:  # anything else is a bug the assertion shows
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=checkout, args=pair) for pair in enumerate(carts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["over the limit"] * 6 + ["reserved"] * 2
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 2


def test_checkout_over_the_limit_is_a_409_with_the_reason_and_the_summary_shows_the_deal(
    client, show, product, variant, host, brand, payment_backend
):
    from commerce.tests.test_views import add, checkout

    start(show, product, host, price=Decimal("15.00"), limit_per_customer=1)
    buy(Cart.objects.create(organization=brand), variant, 1, show, email="ada@example.com")
    assert add(client, brand, variant, event_id=show.pk).status_code == 201

    refused = checkout(client, brand, email="ADA@example.com")
    assert refused.status_code == 409
    assert "limited to 1 per customer. You have 1 at this price already" in refused.json()["error"]
    summary = checkout(client, brand, email="bea@example.com").json()
    assert (summary["total"], summary["lines"][0]["unitPrice"], summary["lines"][0]["regularUnitPrice"]) == (
        "15.00",
        "15.00",
        "20.00",
    )


def test_the_admin_lists_the_brands_deals_with_the_units_each_sold(
    client, show, product, variant, host, brand, other_brand, payment_backend
):
    deal = start(show, product, host, percent_off=10)
    assert pay(payment_backend, buy(Cart.objects.create(organization=brand), variant, 3, show)) == "paid"
    buy(Cart.objects.create(organization=brand), variant, 1, show, email="pending@example.com")  # not paid
    theirs = ProductFactory(organization=other_brand)
    FlashDeal.objects.create(
        event=LiveEventFactory(organization=other_brand),
        product=theirs,
        percent_off=5,
        starts_at=deal.starts_at,
        ends_at=deal.ends_at,
    )
    client.force_login(host)

    listed = client.get(reverse("admin:commerce_flashdeal_changelist")).context["cl"].result_list

    assert [(d.pk, d.sold_units) for d in listed] == [(deal.pk, 3)]


def test_the_stream_details_api_declares_and_answers_the_deal(client, show, product, host):
    deal = start(show, product, host, percent_off=25, limit_per_customer=2)

    details = client.get(reverse("viewer:stream-details", kwargs={"pk": show.pk})).json()
    schema = client.get(reverse("viewer:schema"), {"format": "json"}).json()

    assert details["lineup"][0]["deal"] == {
        "price": "15.00",
        "percentOff": 25,
        "endsAt": deal.ends_at.isoformat(),
        "limitPerCustomer": 2,
        "variantPrices": {str(product.variants.get().pk): "15.00"},
    }
    assert set(schema["components"]["schemas"]["Deal"]["properties"]) == {
        "price",
        "percentOff",
        "endsAt",
        "limitPerCustomer",
        "variantPrices",
    }


def test_raising_a_cart_lines_quantity_past_the_limit_is_refused_and_lowering_it_is_not(
    show, product, variant, host, brand
):
    start(show, product, host, percent_off=10, limit_per_customer=2)
    cart = Cart.objects.create(organization=brand)
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2, event=show)

    with pytest.raises(DealLimitReached, match="limited to 2 per customer"):
        services.set_cart_line_quantity(cart=cart, variant_id=variant.pk, quantity=3)
    assert services.set_cart_line_quantity(cart=cart, variant_id=variant.pk, quantity=1).quantity == 1


def test_the_cards_deal_prices_each_variant_from_its_own_price(show, product, host, brand):
    from catalog.models import Variant

    Variant.objects.create(
        organization=brand,
        product=product,
        sku="ROSE-XL",
        label="XL",
        price_override=Decimal("30.00"),
        stock=5,
    )
    Variant.objects.create(
        organization=brand,
        product=product,
        sku="ROSE-XS",
        label="XS",
        price_override=Decimal("9.99"),
        stock=5,
    )
    by_sku = {v.sku: str(v.pk) for v in product.variants.all()}
    start(show, product, host, percent_off=25)
    assert deals.card_deals(show.pk)[product.pk]["variantPrices"] == {
        by_sku[product.sku]: "15.00",
        by_sku["ROSE-XL"]: "22.50",
        by_sku["ROSE-XS"]: "7.49",  # 7.4925, to the cent
    }
    start(show, product, host, price=Decimal("12.00"))  # replaces it
    prices = deals.card_deals(show.pk)[product.pk]["variantPrices"]
    assert (prices[by_sku["ROSE-XL"]], prices[by_sku["ROSE-XS"]]) == ("12.00", "9.99")  # never above its own
