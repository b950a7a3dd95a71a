"""A brand's low-stock default (commerce.ShopSettings.low_stock_threshold): set once in the
studio or the admin, it is every variant's "only N left" threshold unless the variant sets its
own, and cards read it without a query per card. Real PostgreSQL, the test client."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.models import Product, Variant
from commerce.models import ShopSettings
from events import payloads

pytestmark = pytest.mark.django_db


def cards(*products):
    """The cards of ``products`` as the viewer pages build them: one query for the products and
    one for their variants."""
    loaded = Product.objects.filter(pk__in=[p.pk for p in products]).prefetch_related("variants")
    return {card["id"]: card for card in (payloads.card(p, buy_url="") for p in loaded.order_by("pk"))}


def test_a_brands_low_stock_default_applies_to_variants_without_their_own(make_variant, brand, other_brand):
    six, own, theirs = (
        make_variant(stock=6),
        make_variant(stock=6),
        make_variant(stock=6, organization=other_brand),
    )
    Variant.objects.filter(pk=own.pk).update(low_stock_threshold=8)
    assert {c["id"]: c["left"] for c in cards(six.product, own.product, theirs.product).values()} == {
        six.product_id: 6,  # the site's default, 10
        own.product_id: 6,
        theirs.product_id: 6,
    }

    ShopSettings.objects.create(organization=brand, low_stock_threshold=5)

    shown = cards(six.product, own.product, theirs.product)
    assert shown[six.product_id]["left"] is None  # 6 is over the brand's 5
    assert shown[six.product_id]["variants"][0]["left"] is None
    assert shown[own.product_id]["left"] == 6  # the variant's own 8 wins
    assert shown[theirs.product_id]["left"] == 6  # another brand keeps 10
    ShopSettings.objects.filter(organization=brand).get().delete()
    assert cards(six.product)[six.product_id]["left"] == 6


def test_zero_means_never_say_how_many_are_left(make_variant, brand):
    variant = make_variant(stock=1)
    ShopSettings.objects.create(organization=brand, low_stock_threshold=0)

    assert cards(variant.product)[variant.product_id]["left"] is None
    assert cards(variant.product)[variant.product_id]["inStock"] is True


def test_cards_read_the_brand_default_without_a_query_per_card(
    make_variant, brand, other_brand, django_assert_num_queries
):
    ShopSettings.objects.create(organization=brand, low_stock_threshold=3)
    products = [make_variant(stock=2).product for _ in range(8)]
    products += [make_variant(stock=2, organization=other_brand).product for _ in range(4)]
    cards(*products)  # each process reads each brand's default once, then keeps it

    with django_assert_num_queries(2):  # the products, their variants: nothing per card or brand
        shown = cards(*products)

    assert all(card["left"] == 2 for card in shown.values())


def test_the_studio_sets_the_low_stock_default_and_the_cards_follow(host_client, make_variant, brand):
    variant = make_variant(stock=4)
    url = reverse("orders:shop")

    page = host_client.get(url)
    saved = host_client.post(f"{url}?brand={brand.slug}", {"low_stock_threshold": "3"})

    assert page.status_code == 200 and "Low stock" in page.content.decode()
    assert saved.status_code == 302
    assert ShopSettings.objects.get(organization=brand).low_stock_threshold == 3
    assert cards(variant.product)[variant.product_id]["left"] is None  # 4 is over 3
    assert 'value="3"' in host_client.get(url).content.decode()

    host_client.post(f"{url}?brand={brand.slug}", {"low_stock_threshold": ""})  # back to the site's 10
    assert ShopSettings.objects.get(organization=brand).low_stock_threshold is None
    assert cards(variant.product)[variant.product_id]["left"] == 4


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("-1", "Enter 0 or more"),
        ("10001", "Enter at most 10,000"),
        ("lots", "Enter a whole number"),
        ("2.5", "Enter a whole number"),
    ],
)
def test_the_studio_refuses_a_low_stock_default_that_is_not_a_count(host_client, brand, value, error):
    ShopSettings.objects.create(organization=brand, low_stock_threshold=7)

    response = host_client.post(
        f"{reverse('orders:shop')}?brand={brand.slug}", {"low_stock_threshold": value}
    )

    assert response.status_code == 400 and error in response.content.decode()
    assert ShopSettings.objects.get(organization=brand).low_stock_threshold == 7


def test_only_the_brands_owners_and_hosts_change_its_shop_settings(client, brand, other_brand, moderator):
    url = reverse("orders:shop")
    client.force_login(moderator)
    assert client.post(f"{url}?brand={brand.slug}", {"low_stock_threshold": "1"}).status_code == 403
    assert client.get(url).status_code == 403

    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.post(f"{url}?brand={brand.slug}", {"low_stock_threshold": "1"}).status_code == 404
    assert not ShopSettings.objects.filter(organization=brand).exists()


def test_a_member_of_two_brands_picks_one_first(client, brand, other_brand, owner):
    member_of_both = owner
    Membership.objects.create(user=member_of_both, organization=other_brand, role=Membership.Role.OWNER)
    client.force_login(member_of_both)

    picker = client.get(reverse("orders:shop")).content.decode()

    assert f"?brand={brand.slug}" in picker and f"?brand={other_brand.slug}" in picker


def test_the_admin_sets_the_low_stock_default_and_refuses_too_high_a_one(client, brand, owner):
    client.force_login(owner)
    add_url = reverse("admin:commerce_shopsettings_add")

    refused = client.post(add_url, {"organization": brand.pk, "low_stock_threshold": "10001"})
    saved = client.post(add_url, {"organization": brand.pk, "low_stock_threshold": "4"})

    assert "low_stock_threshold" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert ShopSettings.objects.get(organization=brand).low_stock_threshold == 4
    listed = client.get(reverse("admin:commerce_shopsettings_changelist")).content.decode()
    assert "Low-stock default" in listed


def test_a_variant_loaded_another_way_reads_its_brands_default_once(
    make_variant, brand, django_assert_num_queries
):
    variant = make_variant(stock=4)
    ShopSettings.objects.create(organization=brand, low_stock_threshold=3)
    bare, again = (Variant._base_manager.get(pk=variant.pk) for _ in range(2))  # as order_line.variant is

    with django_assert_num_queries(1):  # then kept by this process (commerce.selectors)
        assert (bare.left, bare.threshold, again.threshold) == (None, 3, 3)
