"""Liveshop's cart in a shop's embed frame (commerce.embed_api, commerce.cart_tokens): the cart
API behind a cart token in a header instead of the session and the CSRF cookie, which a frame on
another site never gets. Every client here enforces CSRF checks, as browsers' requests do."""

import json

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import OrganizationFactory, UserFactory
from commerce.cart_tokens import SALT
from commerce.models import Cart, Order
from commerce.payments.test import SUCCEED_CARD
from commerce.tests.test_shop_pages import shop_config
from commerce.tests.test_views import ADDRESS
from embed.models import EmbedSettings

pytestmark = pytest.mark.django_db

HEADER = "HTTP_X_LIVESHOP_CART"


def frame_client() -> Client:
    """A browser's requests from the embed frame: CSRF enforced, and no cookie ever sent back."""
    return Client(enforce_csrf_checks=True)


def call(client, name, brand=None, data=None, *, token=None, args=(), **extra):
    """GET (``data`` None) or POST JSON to the embed cart API route ``name``, with ``token`` in
    the X-Liveshop-Cart header (None: no header)."""
    url = reverse(f"commerce:{name}", args=[brand.slug, *args] if brand is not None else args)
    headers = {HEADER: token} if token is not None else {}
    if data is None:
        return client.get(url, **headers, **extra)
    return client.post(url, json.dumps(data), content_type="application/json", **headers, **extra)


def new_cart(client, brand, variant) -> str:
    """Add ``variant`` to a new cart in the frame; the cart token the answer gives."""
    answer = call(client, "embed-cart-add", brand, {"variant_id": variant.pk}, token="new")
    assert answer.status_code == 201, answer.json()
    return answer.json()["cartToken"]


def test_a_shopper_in_a_frame_adds_checks_out_and_pays_with_no_cookie(brand, make_variant, payment_backend):
    variant = make_variant(stock=3, price="15.00")
    client = frame_client()

    empty = call(client, "embed-cart", brand, token="new")
    assert (empty.status_code, empty.json()["cartToken"], empty.json()["count"]) == (200, "new", 0)
    assert "csrfToken" not in empty.json() and "no-store" in empty["Cache-Control"]
    added = call(client, "embed-cart-add", brand, {"variant_id": variant.pk, "quantity": 2}, token="new")
    assert added.status_code == 201, added.json()
    token = added.json()["cartToken"]
    cart = Cart.objects.get()
    assert signing.loads(token, salt=SALT) == {"o": brand.pk, "c": cart.pk} and cart.user is None
    again = call(client, "embed-cart", brand, token=token).json()
    assert [(line["variantId"], line["quantity"]) for line in again["lines"]] == [(variant.pk, 2)]
    started = call(client, "embed-checkout", brand, {"email": "shopper@example.com", **ADDRESS}, token=token)
    assert started.status_code == 201, started.json()
    order = started.json()
    pay = {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD}
    paid = call(client, "embed-test-payment", None, pay, token=token, args=[order["token"]])

    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert Order.objects.get().cart_id == cart.pk
    assert call(client, "embed-cart", brand, token=token).json()["count"] == 0  # the paid lines left
    assert not client.cookies  # neither a session nor a CSRF cookie was ever set


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "This request carries no cart token (the X-Liveshop-Cart header)."),
        ("", "This request carries no cart token (the X-Liveshop-Cart header)."),
        ("forged:token:value", "This cart token is not valid."),
    ],
)
def test_a_missing_or_forged_token_is_refused_with_the_reason(brand, make_variant, token, reason):
    client = frame_client()
    variant = make_variant()

    for answer in (
        call(client, "embed-cart", brand, token=token),
        call(client, "embed-cart-add", brand, {"variant_id": variant.pk}, token=token),
        call(client, "embed-checkout", brand, {"email": "a@example.com", **ADDRESS}, token=token),
    ):
        assert (answer.status_code, answer.json()) == (403, {"error": reason, "cartToken": "new"})
    assert not Cart.objects.exists()


def test_a_tampered_or_expired_token_is_refused(brand, make_variant, settings):
    client = frame_client()
    token = new_cart(client, brand, make_variant())
    cart = Cart.objects.get()
    other = Cart.objects.create(organization=brand)
    body, _, signature = token.rpartition(":")
    _, _, stamp = body.rpartition(":")
    forged = signing.b64_encode(json.dumps({"o": brand.pk, "c": other.pk}).encode()).decode()

    tampered = call(client, "embed-cart", brand, token=f"{forged}:{stamp}:{signature}")
    settings.SESSION_COOKIE_AGE = -1
    expired = call(client, "embed-cart", brand, token=token)

    assert (tampered.status_code, tampered.json()["error"]) == (403, "This cart token is not valid.")
    assert (expired.status_code, expired.json()["error"]) == (
        403,
        "This cart token has expired: a new cart starts.",
    )
    assert cart.lines.count() == 1 and not other.lines.exists()


def test_a_token_for_another_brands_cart_is_refused(brand, make_variant):
    client = frame_client()
    rival = OrganizationFactory(slug="rival")
    rival_variant = make_variant(organization=rival)
    token = new_cart(client, rival, rival_variant)
    rival_cart = Cart.objects.get()

    answers = [
        call(client, "embed-cart", brand, token=token),
        call(client, "embed-cart-add", brand, {"variant_id": make_variant().pk}, token=token),
        call(client, "embed-cart-line", brand, {"quantity": 0}, token=token, args=[rival_variant.pk]),
        call(client, "embed-checkout", brand, {"email": "a@example.com", **ADDRESS}, token=token),
    ]

    for answer in answers:
        assert (answer.status_code, answer.json()) == (
            403,
            {"error": "This cart token is for another shop's cart.", "cartToken": "new"},
        )
    assert list(Cart.objects.all()) == [rival_cart] and rival_cart.lines.get().quantity == 1


def test_only_the_cart_that_checked_out_may_pay_for_its_order(brand, make_variant, payment_backend):
    buyer, stranger = frame_client(), frame_client()
    token = new_cart(buyer, brand, make_variant())
    order = call(buyer, "embed-checkout", brand, {"email": "a@example.com", **ADDRESS}, token=token).json()
    other = new_cart(stranger, brand, make_variant())
    pay = {"client_secret": order["payment"]["clientSecret"], "card_number": SUCCEED_CARD}

    for wrong in (other, "new"):
        answer = call(stranger, "embed-test-payment", None, pay, token=wrong, args=[order["token"]])
        assert (answer.status_code, answer.json()) == (403, {"error": "This order is not of your cart."})
    assert Order.objects.get(token=order["token"]).status == "pending"


def test_a_cross_origin_request_is_refused_even_with_a_token(brand, make_variant):
    client = frame_client()

    answer = call(
        client,
        "embed-cart-add",
        brand,
        {"variant_id": make_variant().pk},
        token="new",
        HTTP_ORIGIN="https://evil.example",
    )
    same = call(
        client,
        "embed-cart-add",
        brand,
        {"variant_id": make_variant().pk},
        token="new",
        HTTP_ORIGIN="http://testserver",
    )

    assert answer.status_code == 403 and "Cross-origin" in answer.json()["error"]
    assert same.status_code == 201


def test_the_frame_never_acts_for_a_signed_in_session(brand, make_variant):
    """Cookies that do reach the API (a same-site shop) are not used: the token's cart, never the
    signed-in user's."""
    user = UserFactory()
    client = frame_client()
    client.force_login(user)
    own = Cart.objects.create(organization=brand, user=user)

    answer = call(client, "embed-cart-add", brand, {"variant_id": make_variant().pk}, token="new")

    assert answer.status_code == 201
    assert not own.lines.exists() and Cart.objects.get(lines__isnull=False).user is None


def test_the_normal_cart_api_keeps_its_csrf_check_with_a_cart_token(brand, make_variant):
    client = frame_client()
    token = new_cart(client, brand, make_variant())

    answer = client.post(
        reverse("commerce:cart-add", args=[brand.slug]),
        json.dumps({"variant_id": make_variant().pk}),
        content_type="application/json",
        **{HEADER: token},
    )

    assert answer.status_code == 403 and b"CSRF" in answer.content


def test_the_embed_page_names_the_embed_cart_api_and_the_watch_page_does_not(event):
    EmbedSettings.objects.create(organization=event.organization, allowed_origins="https://shop.example")
    slug = event.organization.slug

    embedded = shop_config(Client().get(reverse("embed:watch", args=[slug, event.slug])))
    page = shop_config(Client().get(reverse("viewer:watch", args=[slug, event.slug])))

    assert embedded["cartToken"] is True
    assert (embedded["cartUrl"], embedded["addUrl"], embedded["checkoutUrl"]) == (
        f"/api/embed/shop/{slug}/cart/",
        f"/api/embed/shop/{slug}/cart/lines/",
        f"/api/embed/shop/{slug}/checkout/",
    )
    assert (
        embedded["testPaymentUrl"] == "/api/embed/orders/00000000-0000-0000-0000-000000000000/test-payment/"
    )
    assert page["cartToken"] is False and page["cartUrl"] == f"/api/shop/{slug}/cart/"
