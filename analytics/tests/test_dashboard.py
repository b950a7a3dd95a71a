"""The studio's analytics: a show's figures (viewers, highlights with what sold while each was on
screen, orders, conversion), who may see them, the CSV exports and the list of shows."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from analytics import services
from analytics.selectors import show_figures
from analytics.tests.helpers import T0, heartbeat, send
from catalog.models import Variant
from commerce.tests.orders import place_order
from events import services as event_services
from events.tests.factories import LiveEventFactory

pytestmark = pytest.mark.django_db
S = 1000


def body_of(response) -> str:
    """A streamed CSV's text, read as the ASGI server reads it (async chunks)."""
    from asgiref.sync import async_to_sync

    async def read():
        return [chunk async for chunk in response.streaming_content]

    return b"".join(async_to_sync(read)()).decode().lstrip("\ufeff")


@pytest.fixture
def show(live_event, host, settings):
    """The live show with its lipstick featured, watched by two viewers (both shown the card, one
    clicks and adds it), and one paid order of two lipsticks bought while it was on screen."""
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    product = live_event.products.get()
    highlight = event_services.feature_product(event=live_event, product=product, by=host)
    target = {"event": live_event.pk}
    card = {"at": T0, "highlightId": highlight.pk}
    send("id:ann", target, seq=0, items=[heartbeat(), {"type": "impression", **card}])
    send(
        "id:ben",
        target,
        seq=0,
        items=[heartbeat(), {"type": "impression", **card}, {"type": "click", **card}],
    )
    send(
        "id:ben",
        target,
        seq=1,
        now=T0 + 15 * S,
        items=[heartbeat(at=T0 + 15 * S), {"type": "add_to_cart", **card}],
    )
    services.flush_buffer()
    variant = Variant.objects.get(product=product, is_default=True)
    place_order(variant, quantity=2, event=live_event)
    yield live_event, highlight, variant
    get_payment_backend.cache_clear()


def test_highlight_figures_count_viewers_and_what_sold_while_it_was_on_screen(show):
    event, highlight, variant = show
    figures = show_figures(event)
    (row,) = figures.highlights
    assert (row.highlight, row.impressions, row.clicks, row.adds, row.orders, row.units) == (
        highlight,
        2,
        1,
        1,
        1,
        2,
    )
    assert row.revenue == {variant.product.currency: variant.product.price * 2}
    assert row.click_rate == "50%"
    assert (figures.unique_viewers, figures.sales.orders, figures.sales.buyers, figures.conversion) == (
        2,
        1,
        1,
        "50.0%",
    )
    assert figures.sales.top_products[0]["units"] == 2


def test_a_card_event_for_another_shows_highlight_is_dropped(live_event, host):
    other = LiveEventFactory(organization=live_event.organization, status="live")
    product = live_event.products.get()
    highlight = event_services.feature_product(event=live_event, product=product, by=host)
    outcome = send(
        "id:zed", {"event": other.pk}, seq=0, items=[{"type": "click", "at": T0, "highlightId": highlight.pk}]
    )
    assert outcome.dropped == {"unknown_moment": 1}


def test_the_show_page_gives_hosts_the_numbers(show, host_client):
    event = show[0]
    response = host_client.get(reverse("analytics:show", args=[event.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stat="unique-viewers">2<' in html
    assert 'data-stat="orders">1<' in html
    assert "<svg" in html and "Rose lipstick" in html
    assert 'data-live="true"' in html
    fragment = host_client.get(reverse("analytics:show", args=[event.pk]) + "?fragment=1")
    assert b"<html" not in fragment.content and b'data-stat="peak"' in fragment.content


def test_moderators_and_other_brands_get_no_analytics(show, client, moderator, other_brand):
    event = show[0]
    url = reverse("analytics:show", args=[event.pk])
    client.force_login(moderator)
    assert client.get(url).status_code == 403
    assert client.get(reverse("analytics:list")).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(url).status_code == 404


def test_csv_exports_of_the_show_and_the_list(show, host_client):
    event = show[0]
    response = host_client.get(reverse("analytics:show-export", args=[event.pk, "highlights"]))
    rows = body_of(response).splitlines()
    assert rows[0].startswith("featured_at,product,impressions,clicks")
    assert ",Rose lipstick,2,1,50%,1,1,2," in rows[1]
    assert host_client.get(reverse("analytics:show-export", args=[event.pk, "nope"])).status_code == 404
    listing = host_client.get(reverse("analytics:list-export"))
    text = body_of(listing)
    assert "Spring drop" in text


def test_the_list_sorts_and_filters_by_date(show, host_client):
    response = host_client.get(reverse("analytics:list") + "?sort=-viewers&from=2000-01-01&to=2000-01-02")
    assert response.status_code == 200 and b"No shows in this period" in response.content
    response = host_client.get(reverse("analytics:list") + "?sort=viewers")
    assert b"Spring drop" in response.content and b"2 live" in response.content
    assert b"Revenue per show (" in response.content  # in the currency the shows sold in
    # nonsense in the filters is ignored, never an error page
    assert host_client.get(reverse("analytics:list") + "?sort=%27;drop&from=x").status_code == 200


def test_revenue_is_summed_per_currency():
    from analytics.selectors import money

    assert money({"USD": Decimal("10"), "EUR": Decimal("5.5")}) == "€5.50 + $10.00"


def test_the_json_endpoint_gives_the_same_figures_to_hosts_only(show, client, host, moderator, other_brand):
    event, highlight, variant = show
    url = reverse("analytics:api-show", args=[event.pk])
    assert client.get(url).status_code == 403  # not signed in
    client.force_login(host)
    data = client.get(url).json()
    assert (data["unique_viewers"], data["orders"], data["conversion"]) == (2, 1, "50.0%")
    assert data["revenue"] == {variant.product.currency: f"{variant.product.price * 2:.2f}"}
    (row,) = data["highlights"]
    assert (row["id"], row["impressions"], row["clicks"], row["adds_to_cart"]) == (highlight.pk, 2, 1, 1)
    assert (
        data["live"]["unique_viewers"] == 2
        and data["live"]["curve"][0]["viewers"] == 2
        and data["top_products"][0]["units"] == 2
    )
    client.force_login(moderator)
    assert client.get(url).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(url).status_code == 404


def test_the_json_endpoint_is_in_the_openapi_schema(client):
    response = client.get("/api/schema/")
    assert b"/api/analytics/shows/{id}/" in response.content and b"show_analytics" in response.content


def test_watch_times_read_short_and_long_shows_are_sampled():
    from analytics.studio import _sampled
    from analytics.templatetags.analytics_beacon import watch_time

    assert [watch_time(s) for s in (0, 45, 911, 7500)] == ["0s", "45s", "15m 11s", "2h 05m"]
    minutes = list(range(120))
    sampled = _sampled(minutes)
    assert sampled[0] == 0 and sampled[-1] == 119 and len(sampled) <= 41
    assert _sampled(minutes[:30]) == minutes[:30]
