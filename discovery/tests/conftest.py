import cv2
import pytest

from catalog import services as catalog_services
from catalog.tests.factories import ProductFactory
from discovery import index, synthetic
from discovery.detectors import get_detector


@pytest.fixture
def photos():
    """The six grocery products' photos, BGR, by name."""
    return {name: cv2.imread(str(path)) for name, path in synthetic.grocery_photos().items()}


@pytest.fixture
def fake_detector(settings):
    settings.DISCOVERY_BACKEND = "fake"
    get_detector.cache_clear()
    yield get_detector()
    get_detector.cache_clear()


@pytest.fixture
def local_detector(settings):
    settings.DISCOVERY_BACKEND = "local"
    get_detector.cache_clear()
    index.clear_cache()
    yield get_detector()
    get_detector.cache_clear()
    index.clear_cache()


@pytest.fixture
def grocery(brand, host, django_capture_on_commit_callbacks):
    """The six grocery products of ``brand``, each with its photo attached through the catalogue
    service (which indexes it, through discovery's receiver and eager Celery), by name."""
    products = {}
    for name, path in synthetic.grocery_photos().items():
        product = ProductFactory(organization=brand, name=name.replace("-", " "), sku=name.upper()[:30])
        with django_capture_on_commit_callbacks(execute=True):
            catalog_services.attach_product_image(
                product=product, content=path.read_bytes(), filename=path.name, by=host
            )
        products[name] = product
    return products
