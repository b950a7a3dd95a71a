"""The card's stock and variants (events.payloads.card): what viewers see ("only N left", sold
out, the variant picker's data), read in a fixed number of queries whatever the lineup's size."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from events import selectors
from events.models import EventProduct, Highlight, LiveEvent
from events.payloads import stock_payload
from events.tests.factories import LiveEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(brand):
    """An event of ``brand`` with an empty lineup."""
    return LiveEventFactory(organization=brand)


def add(event, **fields):
    product = ProductFactory(organization=event.organization, **fields)
    EventProduct.objects.create(event=event, product=product, position=event.lineup.count())
    return product


def variant(product, sku, **fields):
    return Variant.objects.create(organization=product.organization, product=product, sku=sku, **fields)


def details(event):
    return selectors.stream_details(event, user=None, viewer_page="http://testserver/")


def test_the_card_lists_active_variants_default_first_with_prices_and_what_is_left(event):
    tee = add(event, sku="TEE", price=Decimal("20.00"), stock=0)
    tee.variants.update(low_stock_threshold=2)
    variant(tee, "TEE-L", label="L", options={"size": "L"}, stock=3, position=2)
    variant(
        tee, "TEE-M", label="M", options={"size": "M"}, stock=2, price_override=Decimal("22.50"), position=1
    )
    variant(tee, "TEE-XS", label="XS", stock=9, is_active=False)

    card = details(event)["lineup"][0]

    assert (card["inStock"], card["left"], card["deal"]) == (True, None, None)  # 5 left: over the default's 2
    ids = {v.sku: v.pk for v in tee.variants.all()}
    assert card["variants"] == [
        {
            "id": ids["TEE"],
            "label": "",
            "options": {},
            "sku": "TEE",
            "price": "20.00",
            "inStock": False,
            "left": None,
        },
        {
            "id": ids["TEE-M"],
            "label": "M",
            "options": {"size": "M"},
            "sku": "TEE-M",
            "price": "22.50",
            "inStock": True,
            "left": 2,
        },
        {
            "id": ids["TEE-L"],
            "label": "L",
            "options": {"size": "L"},
            "sku": "TEE-L",
            "price": "20.00",
            "inStock": True,
            "left": 3,
        },
    ]


@pytest.mark.parametrize(
    ("stock", "in_stock", "left"), [(25, True, None), (10, True, 10), (1, True, 1), (0, False, None)]
)
def test_a_plain_product_is_low_at_the_brand_default_and_sold_out_at_zero(event, stock, in_stock, left):
    add(event, stock=stock)

    card = details(event)["lineup"][0]

    assert (card["inStock"], card["left"]) == (in_stock, left)
    assert (card["variants"][0]["inStock"], card["variants"][0]["left"]) == (in_stock, left)


def test_the_stock_frame_carries_no_exact_count_unless_asked(event):
    product = add(event, stock=25)

    public = stock_payload(product)

    assert public == {
        "id": product.pk,
        "inStock": True,
        "left": None,
        "variants": [{"id": product.variants.get().pk, "inStock": True, "left": None}],
    }
    assert stock_payload(product, exact=True)["stock"] == 25


def test_stream_details_reads_the_lineups_variants_in_fixed_queries(event, host):
    first = add(event, stock=3)
    Highlight.objects.create(event=event, product=first, featured_by=host)
    with CaptureQueriesContext(connection) as one:
        details(event)
    for n in range(4):
        variant(add(event), f"EXTRA-{n}", label="XL")

    with CaptureQueriesContext(connection) as five:
        lineup = details(event)["lineup"]

    assert len(lineup) == 5 and all(len(card["variants"]) in (1, 2) for card in lineup)
    assert len(five) == len(one) <= 5  # highlight + its variants, lineup + its variants


def test_stock_goes_to_open_events_showing_the_product_and_to_its_brand(event, host, brand):
    in_lineup = add(event, stock=3)
    featured_only = ProductFactory(organization=brand, stock=0)
    Highlight.objects.create(event=event, product=featured_only, featured_by=host)
    ended = LiveEventFactory(organization=brand, status=LiveEvent.Status.ENDED)
    EventProduct.objects.create(event=ended, product=in_lineup)

    audiences = selectors.stock_audiences({in_lineup.pk, featured_only.pk})

    assert list(audiences.events) == [event.pk]  # not the ended one
    assert {entry["public"]["id"] for entry in audiences.events[event.pk]} == {in_lineup.pk, featured_only.pk}
    assert {entry["public"]["id"] for entry in audiences.brands[brand.pk]} == {in_lineup.pk, featured_only.pk}
    exact = {entry["exact"]["id"]: entry["exact"]["stock"] for entry in audiences.brands[brand.pk]}
    assert exact == {in_lineup.pk: 3, featured_only.pk: 0}
