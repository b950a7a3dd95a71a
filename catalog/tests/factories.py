from decimal import Decimal

import factory

from accounts.tests.factories import OrganizationFactory
from catalog.models import Product
from catalog.variants import ensure_default_variant


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("19.99")
    currency = "USD"

    @factory.post_generation
    def stock(product, create, extracted, **kwargs):
        """Every product has its default variant, as the import and the admin make it, holding
        the product's stock: ``ProductFactory(stock=3)`` (10 when not given)."""
        if create:
            ensure_default_variant(product=product, stock=10 if extracted is None else extracted)
