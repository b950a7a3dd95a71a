import json
import time
import uuid

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from commerce.models import Order
from commerce.payments import get_payment_backend
from commerce.payments.test import DECLINE_CARD, SECOND_STEP_CARD, SUCCEED_CARD

pytestmark = pytest.mark.django_db


def post(client, url, data, **extra):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


def add(client, brand, variant, **fields):
    return post(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": variant.pk, **fields})


def checkout(client, brand, email="buyer@example.com"):
    return post(client, reverse("commerce:checkout", args=[brand.slug]), {"email": email})


def test_a_viewer_adds_to_cart_checks_out_and_pays_with_the_test_card(
    client, brand, make_variant, payment_backend
):
    variant = make_variant(stock=2, price="15.00")

    assert add(client, brand, variant, quantity=2, unit_price="0.01").status_code == 201
    cart = client.get(reverse("commerce:cart", args=[brand.slug])).json()
    assert (cart["total"], cart["currency"], cart["lines"][0]["quantity"]) == ("30.00", "USD", 2)
    started = checkout(client, brand)
    assert started.status_code == 201
    order = started.json()
    assert (order["total"], order["status"]) == ("30.00", "pending")
    paid = post(
        client,
        reverse("commerce:test-payment", args=[order["token"]]),
        {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD},
    )

    assert paid.json()["status"] == "paid"
    assert client.get(reverse("commerce:order", args=[order["token"]])).json()["status"] == "paid"


def test_a_declined_card_shows_the_reason_and_reserves_nothing(client, brand, make_variant, payment_backend):
    variant = make_variant(stock=1)
    add(client, brand, variant)
    order = checkout(client, brand).json()

    answer = post(
        client,
        reverse("commerce:test-payment", args=[order["token"]]),
        {"client_secret": order["payment"]["clientSecret"], "card_number": DECLINE_CARD},
    ).json()

    assert (answer["status"], answer["reason"]) == ("failed", "Your card was declined.")
    variant.refresh_from_db()
    assert variant.stock == 1


def test_a_card_needing_a_second_step_pays_after_it(client, brand, make_variant, payment_backend):
    add(client, brand, make_variant())
    order = checkout(client, brand).json()
    url = reverse("commerce:test-payment", args=[order["token"]])
    pay = {"client_secret": order["payment"]["clientSecret"], "card_number": SECOND_STEP_CARD}

    first = post(client, url, pay).json()
    second = post(client, url, {**pay, "authenticated": True}).json()

    assert (first["payment"]["status"], first["status"]) == ("requires_action", "pending")
    assert second["status"] == "paid"


def test_the_loser_of_the_last_item_gets_409_sold_out(brand, make_variant, payment_backend):
    variant = make_variant(stock=1)
    first, second = Client(), Client()
    add(first, brand, variant)
    add(second, brand, variant)

    assert checkout(first, brand).status_code == 201
    lost = checkout(second, brand)

    assert lost.status_code == 409
    assert lost.json()["soldOut"] is True and "Sold out" in lost.json()["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"variant_id": "7"}', "variant_id must be"),
        (b'{"variant_id": 1, "quantity": 0}', "quantity must be"),
        (b'{"variant_id": 1, "quantity": 1e400}', "quantity must be"),
        (b'{"variant_id": NaN}', "not JSON"),
        (b'{"variant_id": 1, "event_id": true}', "event_id must be"),
        (b"{}", "variant_id is required"),
    ],
)
def test_bad_input_is_a_400_with_a_reason(client, brand, body, reason):
    answer = post(client, reverse("commerce:cart-add", args=[brand.slug]), body)

    assert answer.status_code == 400
    assert reason in answer.json()["error"]


def test_other_brands_variants_unknown_events_and_bad_quantities_are_4xx(
    client, brand, other_brand, make_variant, payment_backend
):
    assert add(client, brand, make_variant(organization=other_brand)).status_code == 404
    assert add(client, brand, make_variant(), event_id=10**9).json()["error"] == "No such event."
    assert add(client, brand, make_variant(), quantity=100).status_code == 400
    assert checkout(client, brand, email="nope").status_code == 400
    assert checkout(Client(), brand).status_code == 409  # empty cart
    assert client.get(reverse("commerce:order", args=[uuid.uuid4()])).status_code == 404


def test_posts_need_the_csrf_token(brand, make_variant):
    client = Client(enforce_csrf_checks=True)

    assert add(client, brand, make_variant()).status_code == 403


def test_the_session_cart_follows_the_viewer_when_they_sign_in(client, brand, make_variant):
    variant = make_variant()
    add(client, brand, variant, quantity=3)
    user = UserFactory()
    user.set_password("pw-for-the-test-1")
    user.save()

    assert client.login(username=user.username, password="pw-for-the-test-1")

    cart = client.get(reverse("commerce:cart", args=[brand.slug])).json()
    assert [(line["variantId"], line["quantity"]) for line in cart["lines"]] == [(variant.pk, 3)]
    assert user.carts.get().organization == brand


def test_the_webhook_refuses_a_bad_signature_with_400_and_a_reason(client, payment_backend):
    answer = client.post(reverse("commerce:payment-webhook"), b"{}", content_type="application/json")

    assert answer.status_code == 400
    assert "Liveshop-Signature" in answer.json()["error"]


def test_stripe_deliveries_through_the_webhook_view_duplicated_and_reordered(
    client, brand, make_variant, settings
):
    settings.PAYMENT_BACKEND, settings.STRIPE_WEBHOOK_SECRET = "stripe", "whsec_view_test"
    get_payment_backend.cache_clear()
    variant = make_variant(stock=3, price="25.99", currency="EUR")
    order = Order.objects.create(
        organization=brand, currency="EUR", total="25.99", payment_backend="stripe", payment_id="pi_9"
    )
    order.lines.create(
        variant=variant, sku=variant.sku, name="x", unit_price="25.99", quantity=1, currency="EUR"
    )

    def deliver(event_id, event_type):
        intent = {"id": "pi_9", "object": "payment_intent", "amount": 2599, "currency": "eur", "metadata": {}}
        body = json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": intent}})
        header = stripe.WebhookSignature.generate_signature_header(
            body, "whsec_view_test", timestamp=int(time.time())
        )
        return client.post(
            reverse("commerce:payment-webhook"),
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        ).json()["outcome"]

    try:
        outcomes = [deliver("evt_ok", "payment_intent.succeeded") for _ in range(10)]
        outcomes.append(deliver("evt_failed", "payment_intent.payment_failed"))
    finally:
        get_payment_backend.cache_clear()

    assert outcomes == ["paid"] + ["duplicate"] * 9 + ["already paid"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_the_test_provider_answers_400_for_a_number_that_is_not_a_test_card(
    client, brand, make_variant, payment_backend
):
    add(client, brand, make_variant())
    order = checkout(client, brand).json()

    answer = post(
        client,
        reverse("commerce:test-payment", args=[order["token"]]),
        {"client_secret": order["payment"]["clientSecret"], "card_number": "1234"},
    )

    assert answer.status_code == 400
    assert "test card" in answer.json()["error"]


def test_the_admin_lists_only_the_brands_own_orders(client, brand, other_brand, host):
    mine = Order.objects.create(organization=brand, currency="USD", total="1.00", payment_backend="test")
    theirs = Order.objects.create(
        organization=other_brand, currency="USD", total="2.00", payment_backend="test"
    )
    client.force_login(host)

    listed = client.get(reverse("admin:commerce_order_changelist")).context["cl"].result_list

    assert list(listed) == [mine]
    assert client.get(reverse("admin:commerce_order_change", args=[theirs.pk])).status_code == 302


def test_a_line_added_on_a_published_video_is_attributed_to_it_as_replay(client, brand, make_variant):
    from django.utils import timezone

    from commerce.models import CartLine
    from recordings.models import Recording

    video = Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring",
        slug="spring",
        status=Recording.Status.READY,
        published_at=timezone.now(),
    )
    draft = Recording.objects.create(
        organization=brand, backend=Recording.Backend.UPLOAD, title="Draft", slug="draft"
    )

    assert add(client, brand, make_variant(), recording_id=video.pk).status_code == 201
    assert add(client, brand, make_variant(), recording_id=draft.pk).json()["error"] == "No such video."
    line = CartLine.objects.get()
    assert (line.recording, line.event, line.source) == (video, None, "replay")
