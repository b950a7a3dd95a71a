"""The shop's JSON API in the OpenAPI schema (commerce.openapi) says what the views answer."""

import json

import pytest
from django.urls import reverse

from commerce.payments.test import SUCCEED_CARD

pytestmark = pytest.mark.django_db

ADDRESS = {
    "full_name": "Ada",
    "address_line1": "1 Rue",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "FR",
}


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def keys(schema: dict, components: dict) -> set[str]:
    if "$ref" in schema:
        return keys(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "allOf" in schema:
        return set().union(*(keys(part, components) for part in schema["allOf"]))
    return set(schema["properties"])


def test_the_schema_declares_the_shop_endpoints_and_their_answers_have_the_declared_fields(
    client, brand, make_variant, payment_backend
):
    schema = client.get(reverse("viewer:schema"), {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    variant = make_variant(stock=3)

    added = post(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": variant.pk})
    refused = post(client, reverse("commerce:cart-add", args=[brand.slug]), {"variant_id": 10**9})
    started = post(
        client, reverse("commerce:checkout", args=[brand.slug]), {"email": "a@example.com", **ADDRESS}
    )
    order = client.get(reverse("commerce:order", args=[started.json()["token"]])).json()

    add = paths["/api/shop/{brand_slug}/cart/lines/"]["post"]
    assert set(add["responses"]) == {"201", "400", "403", "404", "409"}
    assert keys(add["responses"]["201"]["content"]["application/json"]["schema"], components) == set(
        added.json()
    )
    line = added.json()["lines"][0]
    assert set(line) == keys(components["CartLine"], components)
    assert set(refused.json()) <= keys(components["ShopError"], components)
    checkout = paths["/api/shop/{brand_slug}/checkout/"]["post"]
    assert keys(checkout["responses"]["201"]["content"]["application/json"]["schema"], components) == set(
        started.json()
    )
    assert set(started.json()["payment"]) == {"backend", "clientSecret"}
    assert keys(components["Order"], components) == set(order)
    assert set(order["lines"][0]) == keys(components["OrderLine"], components)
    assert set(components["CheckoutDetails"]["properties"]) >= set(ADDRESS) | {"email"}
    assert {"/api/shop/{brand_slug}/cart/", "/api/orders/{token}/"} <= set(paths)
    assert SUCCEED_CARD  # the test provider's pay endpoint is for the demo and tests: not in the schema
    assert "/api/orders/{token}/test-payment/" not in paths


def test_the_schema_declares_the_embed_frames_cart_api_with_its_token(brand, make_variant, payment_backend):
    """The same cart API in a shop's embed frame (commerce.embed_api): its paths, the cart token
    header, and answers with the declared fields (the cart's token instead of a CSRF token)."""
    from commerce.tests.test_embed_cart import call, frame_client

    client = frame_client()
    schema = client.get(reverse("viewer:schema"), {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    variant = make_variant(stock=3)

    added = call(client, "embed-cart-add", brand, {"variant_id": variant.pk}, token="new")
    token = added.json()["cartToken"]
    refused = call(client, "embed-cart", brand, token="forged")
    started = call(client, "embed-checkout", brand, {"email": "a@example.com", **ADDRESS}, token=token)
    assert (added.status_code, refused.status_code, started.status_code) == (201, 403, 201)

    add = paths["/api/embed/shop/{brand_slug}/cart/lines/"]["post"]
    assert add["tags"] == ["embed"] and set(add["responses"]) == {"201", "400", "403", "404", "409"}
    header = [parameter for parameter in add["parameters"] if parameter["name"] == "X-Liveshop-Cart"]
    assert [(parameter["in"], parameter["required"]) for parameter in header] == [("header", True)]
    assert keys(add["responses"]["201"]["content"]["application/json"]["schema"], components) == set(
        added.json()
    )
    assert "csrfToken" not in added.json()
    assert set(refused.json()) <= keys(components["ShopError"], components)
    assert refused.json()["cartToken"] == "new"
    checkout = paths["/api/embed/shop/{brand_slug}/checkout/"]["post"]
    assert keys(checkout["responses"]["201"]["content"]["application/json"]["schema"], components) == set(
        started.json()
    )
    assert {
        "/api/embed/shop/{brand_slug}/cart/",
        "/api/embed/shop/{brand_slug}/cart/lines/{variant_id}/",
    } <= set(paths)
    assert "/api/embed/orders/{token}/test-payment/" not in paths  # the test provider's: not in the schema
