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


def test_a_new_products_stock_is_its_default_variants(client, brand):
    client.force_login(member(brand))
    data = {
        "organization": brand.pk,
        "sku": "CAP",
        "name": "Cap",
        "price": "9.00",
        "currency": "USD",
        "stock": "5",
        "is_active": "on",
        "_save": "Save",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:catalog_product_add"), data)

    assert response.status_code == 302
    variant = Variant.objects.get(product__sku="CAP")
    assert (variant.sku, variant.stock, variant.is_default) == ("CAP", 5, True)


def test_a_product_may_not_take_a_variants_sku(client, brand):
    product = ProductFactory(organization=brand, sku="TEE")
    Variant.objects.create(organization=brand, product=product, sku="TEE-XL", label="XL")
    other = ProductFactory(organization=brand, sku="MUG", name="Mug")
    client.force_login(member(brand))

    response = client.post(
        reverse("admin:catalog_product_change", args=[other.pk]), {**change_data(other), "sku": "TEE-XL"}
    )

    assert response.status_code == 200
    assert "is the SKU of a variant of" in response.text
    other.refresh_from_db()
    assert other.sku == "MUG"


def test_the_changelist_shows_stock_across_active_variants(client, brand):
    product = ProductFactory(organization=brand, sku="TEE", stock=3)
    Variant.objects.create(organization=brand, product=product, sku="TEE-XL", label="XL", stock=4)
    Variant.objects.create(organization=brand, product=product, sku="TEE-XS", stock=50, is_active=False)
    client.force_login(member(brand))

    response = client.get(reverse("admin:catalog_product_changelist"))

    assert response.context["cl"].result_list[0].stock_total == 7
