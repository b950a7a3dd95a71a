"""The local index: built when a product image is attached, rebuilt when it changes, dropped
when it is removed; the per-process index follows."""

import pytest

from catalog import services as catalog_services
from discovery import index
from discovery.models import ProductFeatures

pytestmark = pytest.mark.django_db


def test_attaching_an_image_indexes_the_product(grocery):
    milk = grocery["Arla-Standard-Milk"]
    entry = ProductFeatures.objects.get(product=milk)
    assert entry.source == milk.image.name and entry.count > 100
    assert len(bytes(entry.descriptors)) == entry.count * 32
    assert len(bytes(entry.points)) == entry.count * 8


def test_a_changed_image_rebuilds_and_an_unchanged_one_does_not(
    grocery, host, django_capture_on_commit_callbacks
):
    milk, juice = grocery["Arla-Standard-Milk"], grocery["Tropicana-Apple-Juice"]
    before = ProductFeatures.objects.get(product=milk)
    assert index.index_product(product_id=milk.pk).built_at == before.built_at  # idempotent
    juice_bytes = juice.image.open("rb").read()
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.attach_product_image(product=milk, content=juice_bytes, filename="new.jpg", by=host)
    after = ProductFeatures.objects.get(product=milk)
    assert after.source == milk.image.name != before.source
    assert after.digest == ProductFeatures.objects.get(product=juice).digest != before.digest


def test_removing_the_image_drops_the_entry_and_the_brand_index_follows(
    grocery, brand, host, django_capture_on_commit_callbacks
):
    index.clear_cache()
    milk = grocery["Arla-Standard-Milk"]
    assert milk.pk in index.catalogue_index(brand.pk).features
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.remove_product_image(product=milk, by=host)
    assert not ProductFeatures.objects.filter(product=milk).exists()
    assert milk.pk not in index.catalogue_index(brand.pk).features
    assert len(index.catalogue_index(brand.pk)) == 5


def test_an_unreadable_image_leaves_no_entry(brand):
    from django.core.files.base import ContentFile

    from catalog.tests.factories import ProductFactory

    product = ProductFactory(organization=brand)
    product.image.save("broken.jpg", ContentFile(b"not an image"), save=False)
    product.save()
    assert index.index_product(product_id=product.pk) is None
    assert not ProductFeatures.objects.filter(product=product).exists()
