from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from catalog.models import Product
from catalog.services import attach_product_image
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:catalog_product_changelist")
ADD = reverse("admin:catalog_product_add")


def change_url(product):
    return reverse("admin:catalog_product_change", args=[product.pk])


def form_data(product=None, **fields):
    """What the admin's product form posts (the product's current values, then ``fields``)."""
    data = {
        "sku": "NEW-1",
        "name": "New product",
        "description": "",
        "price": "10.00",
        "currency": "USD",
        "stock": "5",
        "external_url": "",
        "is_active": "on",
        "_save": "Save",
        # The variants inline's management form, with no rows (the default variant is made on save).
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
    }
    if product is not None:
        data.update(
            organization=product.organization_id,
            sku=product.sku,
            name=product.name,
            price=str(product.price),
            currency=product.currency,
        )
        del data["stock"]  # the change form has none: the variants inline edits every variant's
    return {**data, **fields}


@pytest.fixture
def brands():
    brand_a = OrganizationFactory(name="Alpha Apparel")
    brand_b = OrganizationFactory(name="Beta Beauty")
    return brand_a, brand_b


@pytest.fixture
def products(brands):
    brand_a, brand_b = brands
    return (
        ProductFactory(organization=brand_a, name="Alpha Hoodie", sku="ALPHA-HOODIE"),
        ProductFactory(organization=brand_b, name="Beta Lipstick", sku="BETA-LIPSTICK"),
    )


def test_host_sees_their_brands_products_and_not_another_brands(client, brands, products):
    ours = products[0]
    client.force_login(member(brands[0], Membership.Role.HOST))

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ours]
    assert "Alpha Hoodie" in response.text
    assert "Beta Lipstick" not in response.text
    assert "Beta Beauty" not in response.text


def test_host_search_does_not_reach_another_brands_products(client, brands, products):
    client.force_login(member(brands[0]))

    response = client.get(CHANGELIST, {"q": "BETA-LIPSTICK"})

    assert list(response.context["cl"].result_list) == []


def test_host_opening_another_brands_product_is_sent_to_the_admin_index(client, brands, products):
    theirs = products[1]
    client.force_login(member(brands[0]))

    response = client.get(change_url(theirs))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    assert "Perhaps it was deleted?" in str(next(iter(get_messages(response.wsgi_request))))
    assert "Beta Lipstick" not in client.get(response.url).text


def test_host_cannot_change_another_brands_product_by_post(client, brands, products):
    theirs = products[1]
    client.force_login(member(brands[0]))

    response = client.post(change_url(theirs), form_data(theirs, name="Hacked", organization=brands[0].pk))

    assert response.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.name, theirs.organization) == ("Beta Lipstick", brands[1])


def test_add_form_offers_only_the_users_brands(client, brands):
    brand_c = OrganizationFactory(name="Gamma Goods")
    host = member(brands[0])
    Membership.objects.create(user=host, organization=brand_c, role=Membership.Role.OWNER)
    client.force_login(host)

    response = client.get(ADD)

    choices = response.context["adminform"].form.fields["organization"].queryset
    assert set(choices) == {brands[0], brand_c}
    assert "Beta Beauty" not in response.text


def test_host_cannot_add_a_product_to_another_brand_with_a_forged_post(client, brands):
    client.force_login(member(brands[0]))

    response = client.post(ADD, form_data(organization=brands[1].pk))

    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not Product.objects.exists()


def test_host_adds_a_product_to_their_brand(client, brands):
    client.force_login(member(brands[0]))

    response = client.post(ADD, form_data(organization=brands[0].pk, price="12.50"))

    assert response.status_code == 302
    product = Product.objects.get(sku="NEW-1")
    assert (product.organization, product.price) == (brands[0], Decimal("12.50"))


def test_moderator_can_view_a_product_but_not_change_it(client, brands, products):
    ours = products[0]
    client.force_login(member(brands[0], Membership.Role.MODERATOR))

    page = client.get(change_url(ours))
    post = client.post(change_url(ours), form_data(ours, name="Renamed"))

    assert page.status_code == 200
    assert "Alpha Hoodie" in page.text
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.text
    assert post.status_code == 403
    ours.refresh_from_db()
    assert ours.name == "Alpha Hoodie"


def test_moderator_gets_no_add_page(client, brands):
    client.force_login(member(brands[0], Membership.Role.MODERATOR))

    assert client.get(ADD).status_code == 403


def test_superuser_sees_every_brands_products(client, products):
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(CHANGELIST)

    assert set(response.context["cl"].result_list) == set(products)


def test_organization_filter_lists_only_the_users_brands(client, brands, products):
    brand_c = OrganizationFactory(name="Gamma Goods")
    ProductFactory(organization=brand_c)
    host = member(brands[0])
    Membership.objects.create(user=host, organization=brand_c, role=Membership.Role.MODERATOR)
    client.force_login(host)

    response = client.get(CHANGELIST)

    (org_filter,) = [
        spec for spec in response.context["cl"].filter_specs if spec.field_path == "organization"
    ]
    assert {name for _, name in org_filter.lookup_choices} == {"Alpha Apparel", "Gamma Goods"}
    assert "Beta Beauty" not in response.text


def test_changelist_shows_the_thumbnail(client, brands, products, make_image):
    ours = products[0]
    attach_product_image(product=ours, content=make_image(), filename="hoodie.png", by=member(brands[0]))
    client.force_login(member(brands[0]))

    response = client.get(CHANGELIST)

    assert f'<img src="{ours.thumbnail.url}"' in response.text


def test_uploading_an_image_in_the_admin_makes_a_thumbnail(client, brands, products, make_image):
    ours = products[0]
    client.force_login(member(brands[0]))
    upload = SimpleUploadedFile("hoodie.png", make_image(size=(640, 960)), content_type="image/png")

    response = client.post(change_url(ours), form_data(ours, image=upload))

    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.image.name.endswith(".png")
    assert (ours.image_width, ours.image_height) == (640, 960)
    assert ours.thumbnail.name.endswith("-thumb.webp")
    _, stored = ours.image.storage.listdir(f"products/{ours.organization_id}")
    assert sorted(stored) == sorted(
        name.rsplit("/", 1)[-1] for name in (ours.image.name, ours.thumbnail.name)
    )
    page = client.get(change_url(ours))
    assert f'<img src="{ours.image.url}"' in page.text
    assert "640 x 960 px" in page.text


def test_adding_a_product_with_an_image_makes_a_thumbnail(client, brands, make_image):
    client.force_login(member(brands[0]))
    upload = SimpleUploadedFile("cap.jpg", make_image(fmt="JPEG"), content_type="image/jpeg")

    client.post(ADD, form_data(organization=brands[0].pk, image=upload))

    product = Product.objects.get(sku="NEW-1")
    assert product.image.name.startswith(f"products/{brands[0].pk}/cap")
    assert product.thumbnail


def test_admin_rejects_an_upload_that_is_not_a_supported_image(client, brands, products, make_image):
    ours = products[0]
    client.force_login(member(brands[0]))
    upload = SimpleUploadedFile("hoodie.png", make_image(fmt="BMP"), content_type="image/png")

    response = client.post(change_url(ours), form_data(ours, image=upload))

    assert response.status_code == 200
    assert "is a BMP image" in str(response.context["adminform"].form.errors["image"])
    ours.refresh_from_db()
    assert not ours.image


def test_clearing_the_image_in_the_admin_removes_the_thumbnail(client, brands, products, make_image):
    ours = products[0]
    attach_product_image(product=ours, content=make_image(), filename="hoodie.png", by=member(brands[0]))
    client.force_login(member(brands[0]))

    response = client.post(change_url(ours), form_data(ours, **{"image-clear": "on"}))

    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.image.name, ours.thumbnail.name, ours.image_width) == ("", "", None)


def test_host_sets_an_external_id_unique_within_the_brand(client, brands, products):
    client.force_login(member(brands[0]))
    ProductFactory(organization=brands[1], external_id="ext-1")  # another brand may use it too

    response = client.post(ADD, form_data(organization=brands[0].pk, external_id="ext-1"))
    assert response.status_code == 302
    assert Product.objects.get(sku="NEW-1").external_id == "ext-1"

    response = client.post(ADD, form_data(organization=brands[0].pk, sku="NEW-2", external_id="ext-1"))
    assert response.status_code == 200
    assert "Another product of this brand has this external id." in str(
        response.context["adminform"].form.errors
    )
    assert not Product.objects.filter(sku="NEW-2").exists()
