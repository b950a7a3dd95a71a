"""recommend_for: what the model relates, less what a viewer must not be offered; the model is
trained from real orders (through the cart, checkout and the test provider)."""

from __future__ import annotations

import logging

import pytest

from accounts.tests.factories import UserFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce import services as commerce
from commerce.models import Cart
from commerce.tests.orders import pay
from recommendations.models import TrainedModel
from recommendations.services import recommend_for, train_all, train_brand

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _test_payments(settings):
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    yield
    get_payment_backend.cache_clear()


def buy(user, *products):
    cart = Cart.objects.create(organization_id=products[0].organization_id, user=user)
    for product in products:
        variant = Variant.objects.get(product=product, is_default=True)
        commerce.add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
    order, payment = commerce.start_checkout(cart=cart, email=user.email, user=user)
    pay(order, payment)


@pytest.fixture
def shop(brand):
    """A mug bought with a teapot and with cups by six people; a hat bought alone by nine."""
    items = {
        name: ProductFactory(organization=brand, name=name)
        for name in ("mug", "teapot", "cups", "hat", "new")
    }
    for _ in range(6):
        buy(UserFactory(is_staff=False), items["mug"], items["teapot"], items["cups"])
    for _ in range(9):
        buy(UserFactory(is_staff=False), items["hat"])
    train_brand(organization=brand)
    return items


def names(products):
    return [product.name for product in products]


def test_an_abandoned_cart_teaches_too(brand, shop):
    cart = Cart.objects.create(organization=brand)
    commerce.add_to_cart(cart=cart, variant_id=Variant.objects.get(product=shop["new"]).pk, quantity=1)
    assert train_brand(organization=brand).interactions == 6 * 3 + 9 + 1


def test_trained_from_orders_and_carts(brand, shop):
    trained = TrainedModel.objects.get(organization=brand)
    assert trained.interactions == 6 * 3 + 9  # a paid cart is emptied: its lines are the order's
    assert set(names(recommend_for(user=None, product=shop["mug"], n=2))) == {"cups", "teapot"}


def test_related_first_then_popular_never_the_product_itself(shop):
    related = names(recommend_for(user=None, product=shop["mug"], n=4))
    assert set(related[:2]) == {"teapot", "cups"}
    assert related[2] == "hat"  # the most popular product fills the row
    assert "mug" not in related


def test_never_sold_out_inactive_or_bought_already(shop):
    viewer = UserFactory(is_staff=False)
    buy(viewer, shop["teapot"])
    Variant.objects.filter(product=shop["cups"]).update(stock=0)
    shop["hat"].is_active = False
    shop["hat"].save()
    related = names(recommend_for(user=viewer, product=shop["mug"], n=5))
    assert "teapot" not in related and "cups" not in related and "hat" not in related
    assert "teapot" in names(recommend_for(user=None, product=shop["mug"], n=5))  # others still see it


def test_never_another_brands_product(brand, other_brand, shop):
    foreign = ProductFactory(organization=other_brand, name="foreign")
    trained = TrainedModel.objects.get(organization=brand)
    trained.data["neighbours"][str(shop["mug"].pk)].insert(0, [str(foreign.pk), 1.0])
    trained.save()
    from recommendations.backends import get_recommender

    get_recommender().forget()
    assert "foreign" not in names(recommend_for(user=None, product=shop["mug"], n=5))


def test_cold_start_brand_gets_its_newest_products(brand):
    *_, featured = (ProductFactory(organization=brand, name=n) for n in ("first", "second", "featured"))
    assert TrainedModel.objects.filter(organization=brand).count() == 0
    assert names(recommend_for(user=None, product=featured)) == ["second", "first"]


def test_an_unavailable_backend_falls_back_to_popular_and_says_so(settings, shop, caplog):
    from recommendations.backends import get_recommender

    settings.RECOMMENDER_BACKEND = "personalize"
    settings.PERSONALIZE_RELATED_CAMPAIGN_ARN = ""
    get_recommender.cache_clear()
    with caplog.at_level(logging.WARNING, logger="recommendations.services"):
        related = names(recommend_for(user=None, product=shop["mug"], n=2))
    assert related[0] == "hat"
    assert "PERSONALIZE_RELATED_CAMPAIGN_ARN is not set" in caplog.text


def test_train_all_trains_every_brand_with_products(brand, other_brand):
    ProductFactory(organization=brand)
    ProductFactory(organization=other_brand)
    assert train_all() == 2
    assert TrainedModel.objects.count() == 2
