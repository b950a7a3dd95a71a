from decimal import Decimal

import factory

from accounts.tests.factories import OrganizationFactory
from catalog.models import Product


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    organization = factory.SubFactory(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("19.99")
    currency = "USD"
    stock = 10
