import io
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.tests.factories import OrganizationFactory
from catalog.exceptions import ImportFailed
from catalog.models import Product, Variant
from catalog.services import import_products_as_operator
from catalog.tests.factories import ProductFactory
from tests.migrations import leaf, migrate

HEADER = "sku,name,price,stock,variant,variant_sku,variant_price\n"


def run_import(organization, text: str):
    return import_products_as_operator(organization=organization, rows=io.BytesIO(text.encode()))


def import_errors(organization, text: str) -> list[str]:
    with pytest.raises(ImportFailed) as failure:
        run_import(organization, text)
    return [str(error) for error in failure.value.errors]


@pytest.mark.django_db
def test_import_without_a_variant_column_gives_each_product_its_default_variant():
    brand = OrganizationFactory()

    run_import(brand, "sku,name,price,stock\nMUG,Mug,12.00,7\n")

    variant = Variant.objects.get(product__sku="MUG")
    assert (variant.sku, variant.stock, variant.is_default, variant.price) == (
        "MUG",
        7,
        True,
        Decimal("12.00"),
    )


@pytest.mark.django_db
def test_import_with_variants_creates_them_under_one_product_and_is_idempotent():
    brand = OrganizationFactory()
    text = HEADER + "TEE,Tee,20.00,0,,,\nTEE,Tee,20.00,3,S,TEE-S,\nTEE,,,5,XL,TEE-XL,22.50\n"

    run_import(brand, text)
    run_import(brand, text)

    product = Product.objects.get(organization=brand, sku="TEE")
    rows = list(product.variants.values_list("sku", "label", "stock", "price_override", "is_default"))
    assert rows == [
        ("TEE", "", 0, None, True),
        ("TEE-S", "S", 3, None, False),
        ("TEE-XL", "XL", 5, Decimal("22.50"), False),
    ]


@pytest.mark.django_db
def test_import_refuses_bad_variant_rows_by_line_and_writes_nothing():
    brand = OrganizationFactory()
    ProductFactory(organization=brand, sku="OTHER", name="Other")
    text = (
        HEADER
        + "TEE,Tee,20.00,0,,,\n"
        + "TEE,Tee,20.00,3,S,,\n"
        + "TEE,Tee,20.00,3,M,OTHER,\n"
        + "TEE,Tee,20.00,-1,L,TEE-L,\n"
        + "TEE,T-shirt,20.00,1,XL,TEE-XL,\n"
    )

    errors = import_errors(brand, text)

    assert errors == [
        "line 3: variant_sku: a row with a variant needs its own SKU.",
        "line 4: variant_sku: “OTHER” belongs to Other (OTHER).",
        "line 5: stock: Ensure this value is greater than or equal to 0.",
        "line 6: name: differs from line 2 (a product's variants share its columns).",
    ]
    assert not Product.objects.filter(sku="TEE").exists()


@pytest.mark.django_db
def test_a_variant_sku_is_unique_within_the_brand_not_across_brands():
    brand, other = OrganizationFactory(), OrganizationFactory()
    ProductFactory(organization=other, sku="SHARED")

    run_import(brand, HEADER + "TEE,Tee,20.00,0,,,\nTEE,Tee,20.00,3,S,SHARED,\n")

    assert Variant.objects.filter(sku="SHARED").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_gives_existing_products_a_default_variant_with_their_sku_and_stock():
    executor = MigrationExecutor(connection)
    executor.migrate([("catalog", "0003_product_external_url_web_only")])
    old_apps = executor.loader.project_state([("catalog", "0003_product_external_url_web_only")]).apps
    Organization = old_apps.get_model("accounts", "Organization")
    OldProduct = old_apps.get_model("catalog", "Product")
    brand = Organization.objects.create(name="Old", slug="old")
    OldProduct.objects.create(organization=brand, sku="OLD-1", name="Old", price=Decimal("5.00"), stock=4)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    variant = Variant.objects.select_related("product").get(product__sku="OLD-1")
    assert (variant.sku, variant.stock, variant.is_default, variant.is_active) == ("OLD-1", 4, True, True)
    assert variant.organization_id == variant.product.organization_id
    assert variant.price == Decimal("5.00")


@pytest.mark.django_db(transaction=True)
def test_product_stock_moves_to_the_default_variant_and_back():
    before = [("catalog", "0005_default_variants")]
    old_apps = migrate(before)
    Organization = old_apps.get_model("accounts", "Organization")
    OldProduct = old_apps.get_model("catalog", "Product")
    OldVariant = old_apps.get_model("catalog", "Variant")
    brand = Organization.objects.create(name="Old", slug="old")
    sold = OldProduct.objects.create(organization=brand, sku="SOLD", name="Sold", price=1, stock=5)
    # Checkout sold 2 from the default variant; Product.stock never knew.
    OldVariant.objects.create(organization=brand, product=sold, sku="SOLD", stock=3, is_default=True)
    OldVariant.objects.create(organization=brand, product=sold, sku="SOLD-XL", label="XL", stock=6)
    OldProduct.objects.create(organization=brand, sku="BARE", name="Bare", price=1, stock=7)

    migrate(leaf())

    stocks = dict(Variant.objects.filter(organization_id=brand.pk).values_list("sku", "stock"))
    assert stocks == {"SOLD": 3, "SOLD-XL": 6, "BARE": 7}
    assert Variant.objects.get(sku="BARE").is_default
    assert not any(field.name == "stock" for field in Product._meta.get_fields())

    old_apps = migrate(before)
    products = old_apps.get_model("catalog", "Product").objects.filter(organization_id=brand.pk)
    assert dict(products.values_list("sku", "stock")) == {"SOLD": 3, "BARE": 7}
    migrate(leaf())


@pytest.mark.django_db
def test_a_stock_only_change_counts_as_an_update_and_lands_on_the_default_variant():
    brand = OrganizationFactory()
    ProductFactory(organization=brand, sku="MUG", name="Mug", price=Decimal("12.00"), stock=7)

    result = run_import(brand, "sku,name,price,stock\nMUG,Mug,12.00,3\n")

    assert (result.updated, result.unchanged) == (1, 0)
    assert Product.objects.get(sku="MUG").variants.get().stock == 3
    assert run_import(brand, "sku,name,price,stock\nMUG,Mug,12.00,3\n").unchanged == 1


@pytest.mark.django_db
def test_a_product_sku_that_a_variant_holds_is_refused_by_line():
    brand = OrganizationFactory()
    run_import(brand, HEADER + "TEE,Tee,20.00,,Red / M,TEE-RED-M,\n")

    errors = import_errors(brand, "sku,name,price\nMUG,Mug,5.00\nTEE-RED-M,Other,5.00\n")

    assert errors == ["line 3: sku: “TEE-RED-M” is the SKU of a variant of Tee."]
    assert not Product.objects.filter(sku="MUG").exists()
