"""GET /api/recommendations/<brand>/<product>/: the related row's cards, for any viewer of the
brand's pages; bad input is a 4xx with a reason."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce import services as commerce
from commerce.models import Cart
from recommendations.learning import Model
from recommendations.models import TrainedModel
from recommendations.services import RELATED

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(brand):
    mug, tea, hat = (ProductFactory(organization=brand, name=n) for n in ("mug", "tea", "hat"))
    model = Model(neighbours={str(mug.pk): [(str(tea.pk), 0.9)]}, popular=[str(hat.pk), str(tea.pk)])
    TrainedModel.objects.create(
        organization=brand, trained_at="2026-12-01T00:00Z", interactions=10, products=1, data=model.to_json()
    )
    return mug, tea, hat


def related(client, brand, product_id, **query):
    return client.get(reverse("recommendations:related", args=[brand.slug, product_id]), query)


def test_cards_of_the_related_products(client, brand, products):
    mug, tea, _ = products
    answer = related(client, brand, mug.pk, medium="replay", campaign="spring-show")
    assert answer.status_code == 200
    cards = answer.json()["products"]
    assert [card["name"] for card in cards] == ["tea", "hat"]
    assert cards[0]["variants"][0]["id"] == Variant.objects.get(product=tea).pk  # Add to cart works
    assert "private" in answer["Cache-Control"]


def test_a_signed_in_viewer_gets_their_own_answer(brand, products):
    viewer = Client()
    viewer.force_login(UserFactory(is_staff=False))
    answer = related(viewer, brand, products[0].pk)
    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("query", "reason"),
    [({"medium": "tv"}, "medium"), ({"campaign": "<script>"}, "campaign")],
)
def test_bad_query_is_400_with_a_reason(client, brand, products, query, reason):
    answer = related(client, brand, products[0].pk, **query)
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_another_brands_or_an_inactive_product_is_404(client, brand, other_brand, products):
    foreign = ProductFactory(organization=other_brand)
    assert related(client, brand, foreign.pk).status_code == 404
    products[0].is_active = False
    products[0].save()
    assert related(client, brand, products[0].pk).status_code == 404


def test_the_live_page_carries_the_row(client, event):
    page = client.get(reverse("viewer:watch", args=[event.organization.slug, event.slug]))
    assert page.status_code == 200
    assert b'id="related-config"' in page.content and b"js/viewer/related.js" in page.content


def test_a_signed_in_viewers_row_leaves_out_what_they_bought_in_three_queries(brand, products, settings):
    """The local model relates the same products for everyone: a signed-in viewer's row is the
    shared answer less what they bought (one query), after their session and user."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from commerce.payments import get_payment_backend
    from recommendations.tests.test_services import buy

    mug, tea, _ = products
    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    buyer = UserFactory(is_staff=False)
    buy(buyer, tea)
    related(Client(), brand, mug.pk)  # the shared answer, as an anonymous viewer leaves it
    viewer = Client()
    viewer.force_login(buyer)
    with CaptureQueriesContext(connection) as queries:
        answer = related(viewer, brand, mug.pk)
    assert [card["name"] for card in answer.json()["products"]] == ["hat"]
    assert len(queries) == 3, [query["sql"][:80] for query in queries.captured_queries]
    assert [card["name"] for card in related(Client(), brand, mug.pk).json()["products"]] == ["tea", "hat"]
    get_payment_backend.cache_clear()


def test_the_shared_answer_with_its_spares_reads_no_session(brand, products):
    """``?shared=1``: what a signed-in viewer's page asks per card (without cookies): everyone's
    answer, nothing left out, whoever asks, and no session or user read even when one is sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mug, *_ = products
    viewer = Client()
    viewer.force_login(UserFactory(is_staff=False))
    related(Client(), brand, mug.pk, shared="1")  # the shared answer, built once
    with CaptureQueriesContext(connection) as queries:
        answer = related(viewer, brand, mug.pk, shared="1")
    body = answer.json()
    assert [card["name"] for card in body["products"]] == ["tea", "hat"]
    assert (body["size"], body["more"]) == (RELATED, False)  # two of twelve: nothing more to find
    assert len(queries) == 0 and "no-store" not in answer["Cache-Control"]


def test_what_a_viewer_bought_from_the_brand(brand, other_brand, products, settings):
    """GET /api/recommendations/<brand>/bought/: the brand's products in the viewer's paid orders;
    nobody else's, no other brand's, nothing unpaid; an anonymous viewer's is empty."""
    from commerce.payments import get_payment_backend
    from recommendations.tests.test_services import buy

    mug, tea, hat = products
    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    buyer, other = UserFactory(is_staff=False), UserFactory(is_staff=False)
    buy(buyer, tea, mug)
    buy(other, hat)
    buy(buyer, ProductFactory(organization=other_brand))
    cart, _ = Cart.objects.get_or_create(organization=brand, user=buyer)  # an order never paid
    hat_variant = Variant.objects.get(product=hat, is_default=True)
    commerce.add_to_cart(cart=cart, variant_id=hat_variant.pk, quantity=1)
    pending, _ = commerce.start_checkout(cart=cart, email=buyer.email, user=buyer)
    assert pending.status == "pending"
    url = reverse("recommendations:bought", args=[brand.slug])
    viewer = Client()
    viewer.force_login(buyer)

    answer = viewer.get(url)

    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"
    assert answer.json() == {"productIds": sorted([mug.pk, tea.pk])}
    assert Client().get(url).json() == {"productIds": []}
    get_payment_backend.cache_clear()


def test_a_signed_in_viewers_page_filters_the_shared_row_itself(client, event):
    """The related row's config: an anonymous (shared) page says nobody is signed in; a signed-in
    viewer's own page says so and where to ask what they bought."""
    import json
    import re

    def config(page):
        found = re.search(rb'id="related-config" type="application/json">(.*?)</script>', page.content)
        return json.loads(found.group(1))

    url = reverse("viewer:watch", args=[event.organization.slug, event.slug])
    anonymous = config(client.get(url))
    client.force_login(UserFactory(is_staff=False))
    signed_in = config(client.get(url))

    assert (anonymous["signedIn"], signed_in["signedIn"]) == (False, True)
    assert signed_in["boughtUrl"] == reverse("recommendations:bought", args=[event.organization.slug])
    assert signed_in["perViewer"] is False  # the local model: the same related products for all
