import pytest
from django.urls import reverse

from accounts.tests.factories import member
from catalog.models import Variant
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def change_data(product, *rows):
    """The product's change form with the variants inline's ``rows`` (new ones have no id)."""
    data = {
        "organization": product.organization_id,
        "sku": product.sku,
        "name": product.name,
        "price": str(product.price),
        "currency": product.currency,
        "stock": str(product.stock),
        "is_active": "on",
        "_save": "Save",
        "variants-TOTAL_FORMS": str(len(rows)),
        "variants-INITIAL_FORMS": "0",
    }
    for index, row in enumerate(rows):
        data |= {f"variants-{index}-{field}": value for field, value in row.items()}
        data[f"variants-{index}-product"] = product.pk
        data[f"variants-{index}-is_active"] = "on"
    return data


def test_a_host_adds_a_variant_inline(client, brand):
    product = ProductFactory(organization=brand, sku="TEE")
    client.force_login(member(brand))

    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        change_data(product, {"label": "XL", "sku": "TEE-XL", "stock": "4", "price_override": "25.00"}),
    )

    assert response.status_code == 302
    variant = Variant.objects.get(sku="TEE-XL")
    assert (variant.product, variant.organization, variant.stock, variant.is_default) == (
        product,
        brand,
        4,
        False,
    )


@pytest.mark.parametrize("sku", ["TEE", "MUG"])
def test_a_variant_sku_the_brand_uses_already_is_refused_in_the_form(client, brand, sku):
    product = ProductFactory(organization=brand, sku="TEE")
    ProductFactory(organization=brand, sku="MUG")
    client.force_login(member(brand))

    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        change_data(product, {"label": "XL", "sku": sku, "stock": "4"}),
    )

    assert response.status_code == 200
    assert "Another variant of this brand has this SKU." in response.text
    assert product.variants.count() == 1
