import io
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from PIL import Image

from accounts.models import Membership, Organization
from catalog.models import Product

pytestmark = pytest.mark.django_db

PASSWORD_ENV = {"demo-owner": "LIVESHOP_DEMO_OWNER_PASSWORD", "demo-host": "LIVESHOP_DEMO_HOST_PASSWORD"}
# A summary line: "  demo-host    host       password: <password>   (generated: ...)"
LOGIN_LINE = re.compile(r"^\s+(demo-\S+)\s+\S+\s+password: (\S+)", re.MULTILINE)


@pytest.fixture(autouse=True)
def _no_demo_passwords_in_env(monkeypatch):
    for name in PASSWORD_ENV.values():
        monkeypatch.delenv(name, raising=False)


def seed_demo() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [Organization, get_user_model(), Membership, Product]
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_twice_leaves_the_same_rows():
    seed_demo()
    first = row_counts()
    seed_demo()

    assert row_counts() == first == {"Organization": 1, "User": 2, "Membership": 2, "Product": 8}


def test_seed_demo_creates_staff_owner_and_host_of_northwind():
    seed_demo()

    memberships = Membership.objects.filter(organization__slug="northwind").select_related("user")
    assert {(m.user.username, m.role, m.user.is_staff) for m in memberships} == {
        ("demo-owner", Membership.Role.OWNER, True),
        ("demo-host", Membership.Role.HOST, True),
    }


def test_seed_demo_gives_each_product_an_image_once():
    seed_demo()
    images = dict(Product.objects.values_list("sku", "image"))
    seed_demo()

    assert dict(Product.objects.values_list("sku", "image")) == images
    for product in Product.objects.all():
        assert product.thumbnail
        with product.image.open() as file, Image.open(file) as image:
            assert (image.format, image.size) == ("PNG", (800, 800))


def test_reseeding_redraws_a_card_an_older_seed_drew_and_keeps_the_brands_own_image():
    """Cards drawn before the landscape ("<SKU>.png", text alone: the product detector could not
    find them in the demo show) are drawn again; an image the brand attached stays."""
    from catalog.services import attach_product_image
    from demo.brand import product_card_png

    seed_demo()
    owner = Membership.objects.get(role=Membership.Role.OWNER).user
    old, own = Product.objects.order_by("sku")[:2]
    attach_product_image(
        product=old, content=product_card_png("x", ("#000", "#fff")), filename=f"{old.sku}.png", by=owner
    )
    attach_product_image(
        product=own, content=product_card_png("y", ("#000", "#fff")), filename="studio.png", by=owner
    )
    before = {p.sku: p.image.name for p in (old, own)}
    seed_demo()

    old.refresh_from_db()
    own.refresh_from_db()
    assert old.image.name != before[old.sku] and "landscape" in old.image.name
    assert own.image.name == before[own.sku]


def test_seed_demo_uses_passwords_from_the_environment(monkeypatch):
    monkeypatch.setenv("LIVESHOP_DEMO_OWNER_PASSWORD", "owner-secret-123")
    monkeypatch.setenv("LIVESHOP_DEMO_HOST_PASSWORD", "host-secret-456")

    out = seed_demo()

    assert authenticate(username="demo-owner", password="owner-secret-123")
    assert authenticate(username="demo-host", password="host-secret-456")
    assert "secret" not in out
    assert "from $LIVESHOP_DEMO_HOST_PASSWORD" in out


def test_seed_demo_applies_a_password_set_in_the_environment_later(monkeypatch):
    seed_demo()
    monkeypatch.setenv("LIVESHOP_DEMO_HOST_PASSWORD", "host-secret-456")

    seed_demo()

    assert authenticate(username="demo-host", password="host-secret-456")


def test_seed_demo_prints_a_generated_password_once_and_keeps_it():
    first = seed_demo()
    passwords = dict(LOGIN_LINE.findall(first))
    second = seed_demo()

    assert set(passwords) == {"demo-owner", "demo-host"}
    for username, password in passwords.items():
        assert first.count(password) == 1
        assert password not in second
        assert authenticate(username=username, password=password)
    assert "User demo-host already exists." in second


def test_seed_demo_teaches_the_recommender_the_demo_looks_once():
    from commerce.models import Cart
    from recommendations.services import recommend_for

    seed_demo()
    carts = Cart.objects.count()
    seed_demo()
    assert Cart.objects.count() == carts > 0
    jacket = Product.objects.get(sku="NW-JKT-001")
    related = {product.sku for product in recommend_for(user=None, product=jacket, n=2)}
    assert related == {"NW-FLC-002", "NW-BNE-006"}  # its look, not merely what is popular


def test_demo_products_have_product_pages_so_the_card_shows_buy_and_its_qr(client, settings):
    from events.payloads import card

    settings.DEBUG = True
    seed_demo()
    product = Product.objects.get(sku="NW-JKT-001")

    assert product.external_url.endswith("/demo/products/NW-JKT-001/")
    assert card(product, buy_url=product.external_url)["buyUrl"]  # Buy and the QR code show
    page = client.get("/demo/products/NW-JKT-001/")
    assert page.status_code == 200
    assert b"Ridgeline Waterproof Shell Jacket" in page.content

    settings.DEBUG = False
    assert client.get("/demo/products/NW-JKT-001/").status_code == 404  # never in production


def test_a_product_page_the_brand_set_is_kept_on_reseeding():
    seed_demo()
    Product.objects.filter(sku="NW-BNE-006").update(external_url="https://shop.example.com/beanie")
    seed_demo()

    assert Product.objects.get(sku="NW-BNE-006").external_url == "https://shop.example.com/beanie"


def test_reseeding_says_how_to_reset_the_demo_passwords():
    seed_demo()
    again = seed_demo()

    assert "manage.py changepassword demo-host" in again
    assert "$LIVESHOP_DEMO_OWNER_PASSWORD" in again
