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


ADDRESS = {
    "full_name": "Ada Buyer",
    "address_line1": "1 Market Street",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "FR",
}


def published_video(brand, **fields):
    """A brand's uploaded video, ready and published (its page is public)."""
    from django.utils import timezone

    from recordings.models import Recording

    return Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Spring",
        slug="spring",
        status=Recording.Status.READY,
        published_at=timezone.now(),
        **fields,
    )


def checkout(client, brand, email="buyer@example.com", **fields):
    return post(
        client, reverse("commerce:checkout", args=[brand.slug]), {"email": email, **ADDRESS, **fields}
    )


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
    assert checkout(client, brand, email="nope").json()["fields"]["email"] == "Enter a valid email address."
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

    from commerce.models import CartLine
    from recordings.models import Recording

    video = published_video(brand)
    draft = Recording.objects.create(
        organization=brand, backend=Recording.Backend.UPLOAD, title="Draft", slug="draft"
    )

    assert add(client, brand, make_variant(), recording_id=video.pk).status_code == 201
    assert add(client, brand, make_variant(), recording_id=draft.pk).json()["error"] == "No such video."
    line = CartLine.objects.get()
    assert (line.recording, line.event, line.source) == (video, None, "replay")


def test_checkout_refuses_bad_details_field_by_field_and_reserves_nothing(
    client, brand, make_variant, payment_backend
):
    from commerce.models import ShopSettings

    ShopSettings.objects.create(organization=brand, shipping_countries=["FR", "DE"])
    variant = make_variant(stock=1)
    add(client, brand, variant)

    answer = checkout(client, brand, email="nope", full_name="", country="US", city=7)

    assert answer.status_code == 400
    assert answer.json()["fields"] == {
        "email": "Enter a valid email address.",
        "full_name": "Enter your name.",
        "city": "Enter your town or city.",
        "country": "This shop does not ship to that country (choose one from the list).",
    }
    variant.refresh_from_db()
    assert (variant.stock, Order.objects.count()) == (1, 0)
    cart = client.get(reverse("commerce:cart", args=[brand.slug])).json()
    assert cart["shippingCountries"] == ["FR", "DE"]  # sorted by name: France, Germany


def test_the_order_keeps_the_shipping_address_and_the_order_page_shows_it_uncached(
    client, brand, make_variant, payment_backend
):
    add(client, brand, make_variant(price="12.50", currency="EUR"), quantity=2)
    order = checkout(client, brand, address_line2="Flat 3", region="Rhône").json()

    assert order["shipping"] == {
        "name": "Ada Buyer",
        "lines": ["1 Market Street", "Flat 3", "69001 Lyon", "Rhône", "France"],
    }
    page = Client().get(reverse("commerce:order-page", args=[order["token"]]))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"] and page["X-Robots-Tag"] == "noindex, nofollow"
    assert b"Ada Buyer" in page.content and "€25.00".encode() in page.content
    assert Client().get(reverse("commerce:order-page", args=[uuid.uuid4()])).status_code == 404


def test_cart_lines_change_quantity_and_are_removed_with_zero(client, brand, make_variant):
    first, second = make_variant(price="3.00"), make_variant(price="4.00")
    add(client, brand, first)
    add(client, brand, second)
    url = reverse("commerce:cart-line", args=[brand.slug, first.pk])

    assert post(client, url, {"quantity": 5}).json()["total"] == "19.00"
    cart = post(client, reverse("commerce:cart-line", args=[brand.slug, second.pk]), {"quantity": 0}).json()
    assert [(line["variantId"], line["quantity"]) for line in cart["lines"]] == [(first.pk, 5)]
    assert (cart["count"], cart["total"]) == (5, "15.00")
    assert post(client, url, {"quantity": -1}).status_code == 400
    assert post(client, url, {"quantity": 100}).status_code == 400
    gone = post(client, reverse("commerce:cart-line", args=[brand.slug, second.pk]), {"quantity": 1})
    assert gone.status_code == 404


def test_the_cart_hands_out_the_csrf_token_the_shops_posts_carry(brand, make_variant):
    client = Client(enforce_csrf_checks=True)

    cart = client.get(reverse("commerce:cart", args=[brand.slug]))

    assert "no-store" in cart["Cache-Control"]
    token = cart.json()["csrfToken"]
    url = reverse("commerce:cart-add", args=[brand.slug])
    assert post(client, url, {"variant_id": make_variant().pk}, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_a_line_added_on_a_replay_is_attributed_to_the_cue_on_screen(client, brand, make_variant):

    from commerce.models import CartLine
    from recordings.models import ProductCue

    video = published_video(brand)
    first, second = make_variant(), make_variant()
    cues = [
        ProductCue.objects.create(recording=video, product=first.product, start_ms=1000),
        ProductCue.objects.create(recording=video, product=second.product, start_ms=5000, end_ms=8000),
    ]

    add(client, brand, first, recording_id=video.pk, position_ms=4999)
    add(client, brand, second, recording_id=video.pk, position_ms=9000)

    assert [line.cue for line in CartLine.objects.order_by("id")] == [cues[0], None]
    assert add(client, brand, first, recording_id=video.pk, position_ms=-1).status_code == 400


def test_a_product_without_options_is_added_by_its_id_and_one_with_options_needs_a_choice(
    client, brand, make_variant
):
    from catalog.models import Variant

    plain = make_variant(price="5.00")
    sized = make_variant()
    Variant.objects.create(organization=brand, product=sized.product, sku="SIZED-L", label="L", stock=3)
    url = reverse("commerce:cart-add", args=[brand.slug])

    assert post(client, url, {"product_id": plain.product_id}).json()["lines"][0]["variantId"] == plain.pk
    answer = post(client, url, {"product_id": sized.product_id})
    assert answer.status_code == 400
    assert answer.json()["error"] == "Choose an option of this product: variant_id is required."


def test_a_brand_chooses_its_shipping_countries_in_the_admin_and_sees_only_its_own(
    client, brand, other_brand, owner
):
    from commerce.models import ShopSettings

    ShopSettings.objects.create(organization=other_brand, shipping_countries=["US"])
    client.force_login(owner)
    add_url = reverse("admin:commerce_shopsettings_add")

    refused = client.post(add_url, {"organization": other_brand.pk, "shipping_countries": ["FR"]})
    saved = client.post(add_url, {"organization": brand.pk, "shipping_countries": ["FR", "DE"]})

    assert refused.status_code == 200 and "organization" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert ShopSettings.objects.get(organization=brand).shipping_countries == ["FR", "DE"]
    listed = client.get(reverse("admin:commerce_shopsettings_changelist")).context["cl"].result_list
    assert [settings.organization for settings in listed] == [brand]
    cart = client.get(reverse("commerce:cart", args=[brand.slug])).json()
    assert cart["shippingCountries"] == ["FR", "DE"]
