"""The studio's catalogue (catalog.studio): the products list and a product's edit page with its
variants, with the test client and real PostgreSQL. Every SKU clash is a form error."""

from decimal import Decimal

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.models import Product, Variant
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt(brand):
    """A product with its default variant (stock 10) and a size M variant (stock 4)."""
    product = ProductFactory(organization=brand, name="Shirt", sku="SHIRT", price=Decimal("30.00"))
    Variant.objects.create(
        organization=brand,
        product=product,
        sku="SHIRT-M",
        label="M",
        options={"size": "M"},
        stock=4,
        position=1,
    )
    return product


def edit_url(product):
    return reverse("products:edit", args=[product.pk])


def form_data(client, product, **changes):
    """What the edit page would post unchanged (drawn now), with ``changes`` by field name:
    ``{"name": ...}`` for the product, ``{"variants-1-sku": ...}`` for a variant row."""
    context = client.get(edit_url(product)).context
    data = {}
    for form in (context["form"], *context["formset"], context["formset"].management_form):
        for field in form:
            value = field.field.prepare_value(field.value())
            if isinstance(value, bool):
                value = "on" if value else ""
            data[field.html_name] = "" if value is None else value
            if field.field.show_hidden_initial:
                data[field.html_initial_name] = data[field.html_name]
    data = {name: value for name, value in data.items() if value != ""}
    return {**data, **changes}


def variants_of(product):
    return list(
        product.variants.order_by("-is_default", "position", "id").values_list("sku", "label", "stock")
    )


def test_the_products_list_shows_the_brands_products_with_their_stock(host_client, shirt, other_brand):
    ProductFactory(organization=other_brand, name="Their hat")

    page = host_client.get(reverse("products:list")).content.decode()

    assert "Shirt" in page and "Their hat" not in page
    assert ">14<" in page  # 10 + 4 units on sale
    assert edit_url(shirt) in page
    assert 'aria-current="page">Products</a>' in page


def test_the_edit_page_saves_the_product_and_its_variants_and_adds_one(host_client, shirt):
    data = form_data(
        host_client,
        shirt,
        name="Linen shirt",
        **{
            "variants-1-label": "Medium",
            "variants-1-options": "size=M, colour=white",
            "variants-1-price_override": "32.50",
        },
        **{
            "variants-2-label": "L",
            "variants-2-sku": "SHIRT-L",
            "variants-2-stock": "7",
            "variants-2-is_active": "on",
        },
    )

    response = host_client.post(edit_url(shirt), data)

    assert response.status_code == 302
    shirt.refresh_from_db()
    medium = shirt.variants.get(sku="SHIRT-M")
    assert shirt.name == "Linen shirt"
    assert (medium.label, medium.options, medium.price_override) == (
        "Medium",
        {"size": "M", "colour": "white"},
        Decimal("32.50"),
    )
    assert variants_of(shirt) == [("SHIRT", "", 10), ("SHIRT-M", "Medium", 4), ("SHIRT-L", "L", 7)]


def test_a_new_product_sku_moves_its_default_variant_too(host_client, shirt):
    host_client.post(edit_url(shirt), form_data(host_client, shirt, sku="SHIRT-2"))

    assert variants_of(shirt)[0] == ("SHIRT-2", "", 10)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sku": "HAT"}, "sku"),  # another product's
        ({"sku": "HAT-RED"}, "sku"),  # another product's variant (the known gap)
        ({"sku": "SHIRT-M"}, "sku"),  # its own variant's
        ({"variants-1-sku": "HAT"}, "variants-1-sku"),
        ({"variants-1-sku": "HAT-RED"}, "variants-1-sku"),
        ({"variants-1-sku": "SHIRT"}, "variants-1-sku"),  # the product's own
        ({"variants-2-sku": "SHIRT-M", "variants-2-stock": "1"}, "variants-2-sku"),  # a row above
    ],
    ids=[
        "product-other-product",
        "product-other-variant",
        "product-own-variant",
        "variant-other-product",
        "variant-other-variant",
        "variant-product",
        "variant-twice",
    ],
)
def test_sku_clashes_within_the_brand_are_form_errors_and_nothing_is_saved(
    host_client, shirt, brand, changes, field
):
    hat = ProductFactory(organization=brand, name="Hat", sku="HAT")
    Variant.objects.create(organization=brand, product=hat, sku="HAT-RED", label="Red")
    before = variants_of(shirt)

    response = host_client.post(edit_url(shirt), form_data(host_client, shirt, name="Renamed", **changes))

    assert response.status_code == 400
    form = (
        response.context["form"]
        if "-" not in field
        else response.context["formset"].forms[int(field.split("-")[1])]
    )
    assert form.errors[field.rsplit("-", 1)[-1]]
    assert Product.objects.get(pk=shirt.pk).name == "Shirt" and variants_of(shirt) == before


def test_another_brand_may_use_the_same_sku(host_client, shirt, other_brand):
    ProductFactory(organization=other_brand, sku="SHIRT-XL")

    data = form_data(
        host_client,
        shirt,
        **{"variants-2-sku": "SHIRT-XL", "variants-2-label": "XL", "variants-2-stock": "1"},
    )

    assert host_client.post(edit_url(shirt), data).status_code == 302


def test_a_stock_change_adds_to_what_is_there_now_and_an_untouched_stock_keeps_sales(host_client, shirt):
    drawn = form_data(host_client, shirt)  # the page shows 10 and 4
    Variant.objects.filter(product=shirt).update(stock=F("stock") - 2)  # two of each sold meanwhile

    host_client.post(edit_url(shirt), {**drawn, "variants-0-stock": "15"})  # the brand adds 5 to the default

    assert [stock for *_, stock in variants_of(shirt)] == [13, 2]


def test_a_variant_is_deleted_but_never_the_default_one(host_client, shirt):
    deleted = host_client.post(edit_url(shirt), form_data(host_client, shirt, **{"variants-1-DELETE": "on"}))
    forged = host_client.post(edit_url(shirt), form_data(host_client, shirt, **{"variants-0-DELETE": "on"}))

    assert deleted.status_code == forged.status_code == 302
    assert variants_of(shirt) == [("SHIRT", "", 10)]


def test_bad_options_and_negative_stock_are_field_errors(host_client, shirt):
    data = form_data(host_client, shirt, **{"variants-1-options": "size", "variants-1-stock": "-1"})

    response = host_client.post(edit_url(shirt), data)

    errors = response.context["formset"].forms[1].errors
    assert response.status_code == 400 and set(errors) == {"options", "stock"}


def test_moderators_get_403_other_brands_404_and_posts_need_csrf(client, shirt, moderator, other_brand, host):
    client.force_login(moderator)
    assert client.get(edit_url(shirt)).status_code == 403
    assert "Products</a>" not in client.get(reverse("events:list")).content.decode()
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(edit_url(shirt)).status_code == 404
    assert client.post(edit_url(shirt), {"name": "Mine"}).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(host)
    assert strict.post(edit_url(shirt), {"name": "No token"}).status_code == 403
    assert Product.objects.get(pk=shirt.pk).name == "Shirt"
