"""The studio's order pages (commerce.studio) with the test client, real PostgreSQL and the test
payment provider: lists, a show's and a video's sales, CSV export, cancel and refund buttons,
and who may see any of it."""

import csv
import io
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import member
from catalog.models import Product, Variant
from commerce.models import Order
from commerce.payments import PaymentBackendError
from commerce.tests.orders import pay, place_order, start_order
from events import services as event_services
from liveshop import csvexport
from recordings.models import Recording

pytestmark = pytest.mark.django_db
Status = Order.Status


@pytest.fixture
def lipstick(event):
    """The event's lineup product (Rose lipstick), its default variant priced 20.00 USD."""
    product = event.lineup.get().product
    Product.objects.filter(pk=product.pk).update(price=Decimal("20.00"), currency="USD")
    Variant.objects.filter(product=product).update(stock=10)
    return Variant.objects.select_related("product").get(product=product)


async def read_chunks(response) -> list[bytes]:
    """A streamed response's body, as the ASGI server reads it (chunk by chunk, async)."""
    return [chunk async for chunk in response.streaming_content]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_orders_page_lists_the_brands_orders_with_buyers_lines_and_totals_per_currency(
    host_client, payment_backend, make_variant, other_brand
):
    mug = make_variant(price="12.50", name="Mug")
    paid = place_order(mug, quantity=2, email="ann@example.com")
    pending, _ = start_order(make_variant(price="9.00", currency="EUR", name="Tote"), email="bo@example.com")
    theirs = place_order(make_variant(organization=other_brand), email="theirs@example.com")

    response = host_client.get(reverse("orders:list"))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"#{paid.pk}" in page and f"#{pending.pk}" in page and f"#{theirs.pk}" not in page
    assert "ann@example.com" in page and "theirs@example.com" not in page
    assert "2 \N{MULTIPLICATION SIGN} Mug" in page
    assert "$25.00" in page and "paid in 1 order" in page  # USD total
    assert "€0.00" in page and "1 awaiting payment" in page  # EUR kept apart
    assert response["Cache-Control"].startswith("max-age=0")


def test_filters_narrow_the_list_by_status_and_show(
    host_client, payment_backend, event, lipstick, make_variant
):
    in_show = place_order(lipstick, event=event, email="live@example.com")
    elsewhere = place_order(make_variant(), email="elsewhere@example.com")
    start_order(make_variant(), email="pending@example.com")

    shown = host_client.get(reverse("orders:list"), {"show": f"event:{event.pk}"}).content.decode()
    paid = host_client.get(reverse("orders:list"), {"status": "paid"}).content.decode()
    junk = host_client.get(reverse("orders:list"), {"status": "nonsense", "show": "event:x"})

    assert f"#{in_show.pk}" in shown and f"#{elsewhere.pk}" not in shown
    assert (
        "live@example.com" in paid and "elsewhere@example.com" in paid and "pending@example.com" not in paid
    )
    assert junk.status_code == 200 and "pending@example.com" in junk.content.decode()


def test_a_shows_page_says_what_sold_while_each_product_was_featured(
    host_client, payment_backend, event, lipstick, host, make_variant
):
    event_services.feature_product(event=event, product=lipstick.product, by=host)
    place_order(lipstick, quantity=3, event=event)
    mug = make_variant(price="5.00", name="Mug")
    event.lineup.create(product=mug.product, position=2)
    event_services.feature_product(event=event, product=mug.product, by=host)
    place_order(mug, event=event)
    start_order(mug, event=event)  # not paid: not counted
    other = place_order(make_variant(), email="not-in-show@example.com")

    response = host_client.get(reverse("orders:event", args=[event.pk]))

    page = response.content.decode()
    assert response.status_code == 200 and "Spring drop" in page
    moments = [(m.label, m.units, m.revenue_display) for m in response.context["moments"]]
    assert moments == [("Rose lipstick", 3, "$60.00"), ("Mug", 1, "$5.00")]
    assert "Live: Spring drop · during Rose lipstick" in page
    assert f"#{other.pk}" not in page


def test_a_videos_page_lists_orders_added_on_its_replay(host_client, payment_backend, brand, make_variant):
    video = Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Autumn lookbook",
        slug="autumn",
        status=Recording.Status.READY,
        published_at=timezone.now(),
    )
    order = place_order(make_variant(name="Scarf"), recording=video)

    response = host_client.get(reverse("orders:video", args=[video.pk]))

    assert f"#{order.pk}" in response.content.decode()
    assert "Replay: Autumn lookbook" in response.content.decode()
    assert [(m.label, m.units) for m in response.context["moments"]] == [("Between products", 1)]


def test_the_csv_export_has_a_row_per_line_and_defuses_formulas(
    host_client, payment_backend, make_variant, monkeypatch
):
    order = place_order(make_variant(price="20.00", name='=HYPERLINK("http://x")'), quantity=2)
    Order.objects.filter(pk=order.pk).update(full_name="+1 call me", country="FR")
    place_order(make_variant(), email="second@example.com")
    monkeypatch.setattr(csvexport, "ROWS_PER_CHUNK", 1)

    response = host_client.get(reverse("orders:export"), {"status": "paid"})

    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    chunks = async_to_sync(read_chunks)(response)
    header, *rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(chunks) == 3  # the header, then each row as it is read
    row = next(row for row in rows if row[0] == str(order.pk))
    record = dict(zip(header, row, strict=True))
    assert record["item"] == '\'=HYPERLINK("http://x")' and record["name"] == "'+1 call me"
    assert (record["order"], record["quantity"], record["line_total"], record["order_total"]) == (
        str(order.pk),
        "2",
        "40.00",
        "40.00",
    )


def test_refund_button_refunds_through_the_provider_and_restocks(host_client, payment_backend, make_variant):
    mug = make_variant(stock=4, price="20.00")
    order = place_order(mug, quantity=2, email="ann@example.com")
    detail = host_client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'data-confirm="Refund $40.00 to ann@example.com?' in detail

    response = host_client.post(reverse("orders:refund", args=[order.pk]), follow=True)

    order.refresh_from_db()
    mug.refresh_from_db()
    assert (order.status, mug.stock) == (Status.REFUNDED, 4) and order.refund_id.startswith("tpre_")
    assert messages_of(response) == ["Refunded $40.00 to ann@example.com; the items are back in stock."]
    assert order.refund_id in response.content.decode()


def test_what_the_provider_or_the_order_refuses_is_a_message_not_an_error_page(
    host_client, payment_backend, make_variant
):
    unpaid_at_provider, _ = start_order(make_variant())
    Order.objects.filter(pk=unpaid_at_provider.pk).update(status=Status.PAID)
    paid = place_order(make_variant())

    refused = host_client.post(reverse("orders:refund", args=[unpaid_at_provider.pk]), follow=True)
    not_cancelable = host_client.post(reverse("orders:cancel", args=[paid.pk]), follow=True)

    assert refused.status_code == not_cancelable.status_code == 200
    assert messages_of(refused) == ["Only a payment that succeeded can be refunded."]
    assert "Refund it instead" in messages_of(not_cancelable)[0]
    assert set(Order.objects.values_list("status", flat=True)) == {Status.PAID}


def test_cancel_button_calls_off_the_payment_and_releases_the_stock(
    host_client, payment_backend, make_variant
):
    mug = make_variant(stock=1)
    order, payment = start_order(mug)

    host_client.post(reverse("orders:cancel", args=[order.pk]))

    order.refresh_from_db()
    mug.refresh_from_db()
    assert (order.status, mug.stock) == (Status.CANCELED, 1)
    with pytest.raises(PaymentBackendError, match="canceled"):  # the buyer's late attempt
        pay(order, payment)


def test_order_actions_need_the_csrf_token(host, payment_backend, make_variant):
    order = place_order(make_variant())
    client = Client(enforce_csrf_checks=True)
    client.force_login(host)

    assert client.post(reverse("orders:refund", args=[order.pk])).status_code == 403
    assert Order.objects.get(pk=order.pk).status == Status.PAID


def test_moderators_get_403_and_other_brands_404_and_anonymous_the_log_in_page(
    client, moderator, payment_backend, make_variant, event, other_brand
):
    order = place_order(make_variant())
    pages = [
        reverse("orders:list"),
        reverse("orders:export"),
        reverse("orders:detail", args=[order.pk]),
        reverse("orders:event", args=[event.pk]),
    ]
    actions = [reverse("orders:refund", args=[order.pk]), reverse("orders:cancel", args=[order.pk])]

    assert all(client.get(url).status_code == 302 for url in pages)
    client.force_login(moderator)
    assert [client.get(url).status_code for url in pages] == [403] * 4
    assert [client.post(url).status_code for url in actions] == [403] * 2
    assert "Orders</a>" not in client.get(reverse("events:list")).content.decode()
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert [client.get(url).status_code for url in pages[2:]] == [404] * 2
    assert [client.post(url).status_code for url in actions] == [404] * 2
    assert f"#{order.pk}" not in client.get(pages[0]).content.decode()
    assert Order.objects.get(pk=order.pk).status == Status.PAID
    assert Decimal(order.total) == Decimal("20.00")


def test_a_variant_with_orders_cannot_be_deleted_in_the_studio_catalogue(host_client, payment_backend, brand):
    from catalog.tests.factories import ProductFactory
    from catalog.tests.test_studio_catalog import form_data

    product = ProductFactory(organization=brand, sku="SHIRT")
    sold = Variant.objects.create(organization=brand, product=product, sku="SHIRT-M", label="M", stock=3)
    place_order(sold)
    url = reverse("products:edit", args=[product.pk])

    response = host_client.post(url, form_data(host_client, product, **{"variants-1-DELETE": "on"}))

    assert response.status_code == 400
    assert "M: has orders, so take it off sale instead of deleting it." in response.content.decode()
    assert Variant.objects.filter(pk=sold.pk).exists()


def test_the_event_page_links_to_its_orders_for_those_who_manage_them(client, host, moderator, event):
    orders_url = reverse("orders:event", args=[event.pk])

    client.force_login(host)
    assert orders_url in client.get(event.get_absolute_url()).content.decode()
    client.force_login(moderator)
    assert orders_url not in client.get(event.get_absolute_url()).content.decode()


def test_the_orders_page_reads_in_the_same_few_queries_however_many_orders(
    host_client, payment_backend, event, lipstick, host
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    event_services.feature_product(event=event, product=lipstick.product, by=host)

    def queries_for_the_page():
        with CaptureQueriesContext(connection) as captured:
            assert host_client.get(reverse("orders:list")).status_code == 200
        return len(captured)

    place_order(lipstick, event=event)
    few = queries_for_the_page()
    for _ in range(4):
        place_order(lipstick, event=event)

    assert queries_for_the_page() == few


def test_someone_in_two_brands_filters_orders_by_brand(
    client, host, payment_backend, make_variant, other_brand
):
    from accounts.tests.factories import MembershipFactory

    MembershipFactory(organization=other_brand, user=host, role=Membership.Role.OWNER)
    ours = place_order(make_variant(), email="acme-buyer@example.com")
    theirs = place_order(make_variant(organization=other_brand), email="globex-buyer@example.com")
    client.force_login(host)

    everything = client.get(reverse("orders:list")).content.decode()
    globex = client.get(reverse("orders:list"), {"brand": str(other_brand.pk)}).content.decode()

    assert f"#{ours.pk}" in everything and f"#{theirs.pk}" in everything and "Globex" in everything
    assert "globex-buyer@example.com" in globex and "acme-buyer@example.com" not in globex


def test_a_partial_refund_from_the_order_page_gives_part_back_and_the_full_refund_the_rest(
    host_client, payment_backend, make_variant
):
    mug = make_variant(stock=4, price="20.00")
    order = place_order(mug, quantity=2, email="ann@example.com")
    url = reverse("orders:refund-part", args=[order.pk])

    bad = [host_client.post(url, {"amount": text}, follow=True) for text in ("five", "40", "0.001", "")]
    part = host_client.post(url, {"amount": "7,50"}, follow=True)

    assert [messages_of(r)[0].split(" ")[0] for r in bad] == ["“five”", "A", "0.001", "“”"]
    assert messages_of(part) == ["Refunded $7.50 to ann@example.com; the order stays paid."]
    order.refresh_from_db()
    mug.refresh_from_db()
    assert (order.status, order.refunded_total, mug.stock) == (Status.PAID, Decimal("7.50"), 2)
    page = part.content.decode()
    assert "Refunded in part" in page and "Refund $32.50" in page

    rest = host_client.post(reverse("orders:refund", args=[order.pk]), follow=True)
    assert messages_of(rest) == ["Refunded $32.50 to ann@example.com; the items are back in stock."]
