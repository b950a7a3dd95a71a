"""An uploaded video's analytics page (/studio/analytics/videos/<id>/): its figures from known
beacons and orders (viewers, watch time, how far viewers got, each cue's impressions, clicks,
adds, orders and revenue), the link from the video's studio page, and who may see it."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership
from accounts.tests.factories import member
from analytics import formatting, services
from analytics.selectors import video_figures
from analytics.tests.helpers import T0, heartbeat, send
from analytics.tests.test_dashboard import body_of
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from commerce.tests.orders import place_order
from recordings.models import ProductCue, Recording

pytestmark = pytest.mark.django_db
S = 1000


@pytest.fixture
def payments_(settings):
    from commerce.payments import get_payment_backend

    settings.PAYMENT_BACKEND = "test"
    get_payment_backend.cache_clear()
    yield
    get_payment_backend.cache_clear()


@pytest.fixture
def lookbook(brand, payments_):
    """A published 100 s video with two cues (a scarf from 0 to 40 s, a hat from 40 s), watched
    by two viewers: Ann to 30 s, shown the scarf; Ben to 90 s, shown both, clicking the scarf and
    adding it to his cart. One paid order of two scarves added at 10 s (the scarf's cue)."""
    video = Recording.objects.create(
        organization=brand,
        backend=Recording.Backend.UPLOAD,
        title="Autumn lookbook",
        slug="autumn",
        status=Recording.Status.READY,
        published_at=timezone.now(),
        master_path="videos/autumn/master.m3u8",
        duration_ms=100 * S,
    )
    scarf = ProductFactory(organization=brand, name="Wool scarf", price=Decimal("20.00"))
    hat = ProductFactory(organization=brand, name="Felt hat", price=Decimal("35.00"))
    scarf_cue = ProductCue.objects.create(recording=video, product=scarf, start_ms=0, end_ms=40 * S)
    hat_cue = ProductCue.objects.create(recording=video, product=hat, start_ms=40 * S)
    target = {"recording": video.pk}
    shown = {"type": "impression", "at": T0, "cueId": scarf_cue.pk}
    send("id:ann", target, seq=0, items=[heartbeat(positionMs=30 * S), shown])
    send(
        "id:ben",
        target,
        seq=0,
        items=[heartbeat(positionMs=30 * S), shown, {"type": "click", "at": T0, "cueId": scarf_cue.pk}],
    )
    later = T0 + 15 * S
    send(
        "id:ben",
        target,
        seq=1,
        now=later,
        items=[
            heartbeat(at=later, positionMs=90 * S),
            {"type": "add_to_cart", "at": later, "cueId": scarf_cue.pk},
            {"type": "impression", "at": later, "cueId": hat_cue.pk},
        ],
    )
    services.flush_buffer()
    place_order(Variant.objects.get(product=scarf), quantity=2, recording=video, position_ms=10 * S)
    return video, scarf_cue, hat_cue


def test_the_videos_figures_come_from_its_viewers_beacons_and_orders(lookbook):
    video, scarf_cue, hat_cue = lookbook

    f = video_figures(video)

    assert (f.viewing.unique_viewers, f.viewing.watch_ms, f.viewing.peak) == (2, 45 * S, 2)
    # how far viewers got, by 10 % of the video: both past 30 %, only Ben past 40 % (to 90 %)
    assert dict(f.viewing.retention) == {
        0: 2,
        10: 2,
        20: 2,
        30: 2,
        40: 1,
        50: 1,
        60: 1,
        70: 1,
        80: 1,
        90: 1,
        100: 0,
    }
    scarf, hat = f.cues
    assert (scarf.cue, scarf.impressions, scarf.clicks, scarf.adds, scarf.orders, scarf.units) == (
        scarf_cue,
        2,
        1,
        1,
        1,
        2,
    )
    assert scarf.revenue == {"USD": Decimal("40.00")} and scarf.click_rate == "50%"
    assert (hat.cue, hat.impressions, hat.clicks, hat.orders, hat.revenue) == (hat_cue, 1, 0, 0, {})
    assert (f.sales.orders, f.sales.buyers, f.conversion) == (1, 1, "50.0%")
    assert f.sales.top_products[0]["name"] == "Wool scarf" and f.sales.top_products[0]["units"] == 2


def test_the_page_shows_the_figures_and_the_videos_studio_page_links_to_it(lookbook, host_client):
    video = lookbook[0]
    url = reverse("analytics:video", args=[video.pk])

    html = host_client.get(url).content.decode()

    assert 'data-stat="unique-viewers">2<' in html and 'data-stat="orders">1<' in html
    assert 'data-stat="conversion">50.0%<' in html and 'data-stat="revenue">$40.00<' in html
    assert 'id="cue-' in html and "Wool scarf" in html and "Felt hat" in html
    assert html.count('<svg class="chart"') == 3  # viewers per minute, drop-off, watch time
    studio_page = host_client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert f'href="{url}"' in studio_page


def test_a_video_without_cues_links_its_timeline_editor_and_lists_its_cues_by_moment(lookbook, host_client):
    video, scarf_cue, hat_cue = lookbook
    html = host_client.get(reverse("analytics:video", args=[video.pk])).content.decode()
    assert f'<tr id="cue-{scarf_cue.pk}" class="highlight-row"><td>0:00</td><td>Wool scarf</td>' in html
    assert f'<tr id="cue-{hat_cue.pk}" class="highlight-row"><td>0:40</td><td>Felt hat</td>' in html

    ProductCue.objects.filter(recording=video).delete()
    html = host_client.get(reverse("analytics:video", args=[video.pk])).content.decode()

    editor = reverse("videos:detail", args=[video.pk])
    assert f'place them in the <a href="{editor}">timeline editor</a>' in html  # a link, not escaped text


def test_numbers_and_money_follow_the_language_and_keep_the_currency(lookbook, host_client):
    video = lookbook[0]

    html = host_client.get(reverse("analytics:video", args=[video.pk]), HTTP_ACCEPT_LANGUAGE="de").content

    page = html.decode()
    assert 'data-stat="revenue">40,00\xa0$<' in page and 'data-stat="conversion">50,0%<' in page
    with translation.override("de"):  # grouping and decimals are the locale's and the currency's
        assert formatting.number(1234) == "1.234" and formatting.price(Decimal("1234"), "JPY") == "1.234\xa0¥"
        assert formatting.money({"USD": Decimal("10"), "EUR": Decimal("5.5")}) == "5,50\xa0€ + 10,00\xa0$"


def test_another_brands_staff_get_404_and_moderators_403(lookbook, client, moderator, other_brand, event):
    video = lookbook[0]
    url = reverse("analytics:video", args=[video.pk])
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(url).status_code == 404
    assert client.get(reverse("analytics:video-export", args=[video.pk, "cues"])).status_code == 404
    client.force_login(moderator)
    assert client.get(url).status_code == 403
    assert f'href="{url}"' not in client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    # an event's replay has its figures on the show's page, not here
    replay = Recording.objects.create(organization=video.organization, event=event, status="ready")
    client.force_login(member(video.organization, role=Membership.Role.OWNER))
    assert client.get(reverse("analytics:video", args=[replay.pk])).status_code == 404


def test_csv_exports_of_the_videos_tables(lookbook, host_client):
    video = lookbook[0]
    rows = body_of(host_client.get(reverse("analytics:video-export", args=[video.pk, "cues"]))).splitlines()
    assert rows[0] == "starts_s,product,impressions,clicks,click_rate,adds_to_cart,orders,units,revenue"
    assert rows[1] == "0.0,Wool scarf,2,1,50%,1,1,2,$40.00"
    viewers = body_of(host_client.get(reverse("analytics:video-export", args=[video.pk, "viewers"])))
    assert viewers.splitlines()[1].endswith(",2")
    assert host_client.get(reverse("analytics:video-export", args=[video.pk, "nope"])).status_code == 404


def test_the_json_endpoint_gives_the_videos_figures_to_its_brands_hosts(
    lookbook, client, host, moderator, other_brand
):
    video, scarf_cue, _ = lookbook
    url = reverse("analytics:api-video", args=[video.pk])
    client.force_login(host)
    data = client.get(url).json()
    assert (data["video"], data["orders"], data["buyers"], data["conversion"]) == (video.pk, 1, 1, "50.0%")
    assert data["viewing"]["unique_viewers"] == 2 and data["revenue"] == {"USD": "40.00"}
    assert (data["cues"][0]["id"], data["cues"][0]["impressions"], data["cues"][0]["adds_to_cart"]) == (
        scarf_cue.pk,
        2,
        1,
    )
    client.force_login(moderator)
    assert client.get(url).status_code == 403
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(url).status_code == 404
    assert b"/api/analytics/videos/{id}/" in client.get("/api/schema/").content


def test_the_analytics_list_links_each_uploaded_video(lookbook, host_client):
    video = lookbook[0]
    html = host_client.get(reverse("analytics:list")).content.decode()
    assert f'href="{reverse("analytics:video", args=[video.pk])}">Autumn lookbook<' in html
    assert "$40.00" in html


def test_times_are_the_brands_clock(lookbook, host_client, brand):
    brand.time_zone = "Asia/Tokyo"
    brand.save(update_fields=["time_zone"])
    video = lookbook[0]

    html = host_client.get(reverse("analytics:video", args=[video.pk])).content.decode()

    # the viewers watched at 08:00 UTC (helpers.T0): 17:00 in Tokyo, in the peak card and the chart
    assert "15 Jan, 17:00" in html and ">17:00</text>" in html and "08:00" not in html
