from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.tests.factories import OrganizationFactory
from catalog.models import DEFAULT_LOW_STOCK_THRESHOLD, Product, Variant, is_web_url
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_the_database_refuses_negative_stock_from_a_queryset_update():
    variant = ProductFactory(stock=2).variants.get()

    with pytest.raises(IntegrityError, match="variant_stock_not_negative"), transaction.atomic():
        Variant.objects.filter(pk=variant.pk).update(stock=-1)

    variant.refresh_from_db()
    assert variant.stock == 2


def test_the_database_refuses_negative_stock_saved_without_validation():
    variant = ProductFactory(stock=2).variants.get()
    variant.stock = -5

    with pytest.raises(IntegrityError, match="variant_stock_not_negative"), transaction.atomic():
        variant.save(update_fields=["stock"])


@pytest.mark.parametrize(
    ("stock", "threshold", "left"),
    [(10, None, 10), (11, None, None), (0, None, None), (3, 2, None), (2, 2, 2), (1, 0, None)],
)
def test_a_variant_says_how_many_are_left_at_or_under_its_threshold_or_the_brand_default(
    stock, threshold, left
):
    assert DEFAULT_LOW_STOCK_THRESHOLD == 10
    assert Variant(stock=stock, low_stock_threshold=threshold).left == left


def test_the_database_refuses_a_negative_price():
    with pytest.raises(IntegrityError, match="product_price_not_negative"), transaction.atomic():
        ProductFactory(price=Decimal("-0.01"))


def test_a_sku_is_unique_within_a_brand():
    brand = OrganizationFactory()
    ProductFactory(organization=brand, sku="TEE-RED-M")

    with pytest.raises(IntegrityError, match="product_sku_unique_per_brand"), transaction.atomic():
        ProductFactory(organization=brand, sku="TEE-RED-M")


def test_another_brand_may_use_the_same_sku():
    ProductFactory(organization=OrganizationFactory(), sku="TEE-RED-M")
    ProductFactory(organization=OrganizationFactory(), sku="TEE-RED-M")

    assert Product.objects.filter(sku="TEE-RED-M").count() == 2


def test_full_clean_rejects_a_currency_that_is_not_iso_4217():
    product = ProductFactory.build(organization=OrganizationFactory(), currency="EURO")

    with pytest.raises(ValidationError) as error:
        product.full_clean()

    assert "currency" in error.value.message_dict


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://shop.example.com/p",
        "//shop.example.com/p",
    ],
)
def test_a_product_page_must_be_an_http_or_https_url(url):
    product = ProductFactory.build(organization=OrganizationFactory(), external_url=url)

    with pytest.raises(ValidationError) as raised:
        product.full_clean()

    assert raised.value.message_dict["external_url"] == [
        "Enter a web address starting with http:// or https://."
    ]


@pytest.mark.parametrize(
    ("url", "is_link"),
    [
        ("https://shop.example.com/p?c=red", True),
        ("HTTP://shop.example.com/p", True),
        ("", False),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("\tjavascript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("vbscript:msgbox(1)", False),
        ("ftp://shop.example.com/p", False),
        ("https://shop.example.com/a b", False),
        ("https:///nohost", False),
    ],
)
def test_is_web_url(url, is_link):
    assert is_web_url(url) is is_link
