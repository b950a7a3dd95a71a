"""Every writer of a variant's stock tells catalog.variants' listeners (events' stock push) after
commit, and only then: the admin's variants inline, the product form, and the import."""

import pytest
from django.urls import reverse

from accounts.tests.factories import OrganizationFactory, member
from catalog import variants
from catalog.exceptions import ImportFailed
from catalog.tests.factories import ProductFactory
from catalog.tests.test_admin_variants import change_data
from catalog.tests.test_variants import run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(monkeypatch):
    """The product ids each commit announced (this test's listener only)."""
    calls: list[set[int]] = []
    monkeypatch.setattr(variants, "_stock_listeners", [calls.append])
    return calls


def test_the_admins_inline_announces_a_stock_edit_after_commit(
    client, brand, heard, django_capture_on_commit_callbacks
):
    product = ProductFactory(organization=brand, sku="TEE", stock=3)
    default = product.variants.get()
    client.force_login(member(brand))
    data = change_data(product, {"id": default.pk, "label": "", "sku": "TEE", "stock": "0"})
    data["variants-INITIAL_FORMS"] = "1"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 302
    default.refresh_from_db()
    assert default.stock == 0
    assert {product.pk} in heard


def test_an_import_announces_the_existing_products_it_restocks_and_nothing_when_it_fails(
    heard, django_capture_on_commit_callbacks
):
    brand = OrganizationFactory()
    mug = ProductFactory(organization=brand, sku="MUG", name="Mug", price="5.00", stock=4)
    ProductFactory(organization=brand, sku="CAP", name="Cap", price="5.00", stock=2)

    with django_capture_on_commit_callbacks(execute=True):
        run_import(brand, "sku,name,price,stock\nMUG,Mug,5.00,9\nCAP,Cap,5.00,2\nNEW,New,1.00,3\n")
    assert heard == [{mug.pk}]

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ImportFailed):
        run_import(brand, "sku,name,price,stock\nMUG,Mug,5.00,1\nBAD,Bad,-1,1\n")
    assert heard == [{mug.pk}]
