"""GET /api/recommendations/<brand>/<product>/: the related row's cards, for any viewer of the
brand's pages; bad input is a 4xx with a reason."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from recommendations.learning import Model
from recommendations.models import TrainedModel

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
