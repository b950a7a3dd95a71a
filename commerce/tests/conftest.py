from decimal import Decimal

import pytest

from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce.models import Cart


@pytest.fixture
def payment_backend(settings):
    """The local test provider, fresh."""
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    yield get_payment_backend()
    get_payment_backend.cache_clear()


@pytest.fixture
def make_variant(brand):
    """make_variant(stock=10, price="20.00", currency="USD", organization=brand): a product's
    default variant."""

    def make(*, stock=10, price="20.00", currency="USD", organization=None, **product_fields):
        product = ProductFactory(
            organization=organization or brand,
            price=Decimal(price),
            currency=currency,
            stock=stock,
            **product_fields,
        )
        return Variant.objects.get(product=product, is_default=True)

    return make


@pytest.fixture
def cart(brand):
    return Cart.objects.create(organization=brand)
