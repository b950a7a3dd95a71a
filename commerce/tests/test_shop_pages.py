"""The shop's part of the viewer pages: the shared cached live page holds nothing per viewer,
and only the shop's pages allow Stripe.js, only when Stripe is the provider."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from commerce.models import Order
from commerce.tests.test_views import published_video

pytestmark = pytest.mark.django_db


def watch(event) -> str:
    return reverse("viewer:watch", args=[event.organization.slug, event.slug])


def shop_config(response) -> dict:
    html, opening = response.content.decode(), '<script id="shop-config" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start : html.index("</script>", start)])


def test_the_live_page_carries_the_shop_but_no_token_or_cart(event):
    page = Client().get(watch(event))

    config = shop_config(page)
    assert (config["brand"], config["eventId"], config["recordingId"]) == (
        event.organization.slug,
        event.pk,
        None,
    )
    assert config["cartUrl"] == f"/api/shop/{event.organization.slug}/cart/"
    assert config["payment"] == {"backend": "test", "publishableKey": ""}
    [product] = config["products"]
    assert product["name"] == "Rose lipstick"
    assert b"csrfmiddlewaretoken" not in page.content and "csrftoken" not in page.cookies
    assert b'data-action="add-to-cart"' in page.content
    assert "js.stripe.com" not in page["Content-Security-Policy"]  # the test provider needs none


def test_stripe_js_is_allowed_on_the_shop_pages_only_and_only_with_stripe(event, settings, payment_backend):
    settings.PAYMENT_BACKEND, settings.STRIPE_PUBLISHABLE_KEY = "stripe", "pk_test_123"
    try:
        from commerce.payments import get_payment_backend

        get_payment_backend.cache_clear()
        page = Client().get(watch(event))
        order = Order.objects.create(
            organization=event.organization, currency="USD", total="1.00", payment_backend="stripe"
        )
        order_page = Client().get(reverse("commerce:order-page", args=[order.token]))
    finally:
        get_payment_backend.cache_clear()

    policy = page["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval' https://js.stripe.com" in policy
    assert "frame-src 'self' https://js.stripe.com https://hooks.stripe.com" in policy
    assert shop_config(page)["payment"] == {"backend": "stripe", "publishableKey": "pk_test_123"}
    assert "stripe" not in order_page["Content-Security-Policy"]


def test_a_video_page_carries_the_shop_for_its_video_not_an_event(brand, make_variant):
    from recordings.models import ProductCue

    video = published_video(brand, master_path="videos/spring/master.m3u8")
    variant = make_variant(name="Linen shirt")
    ProductCue.objects.create(recording=video, product=variant.product, start_ms=0)

    config = shop_config(Client().get(reverse("replays:video", args=[brand.slug, "spring"])))

    assert (config["brand"], config["eventId"], config["recordingId"]) == (brand.slug, None, video.pk)
    assert [(product["name"], [v["id"] for v in product["variants"]]) for product in config["products"]] == [
        ("Linen shirt", [variant.pk])
    ]
