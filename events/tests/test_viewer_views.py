"""The viewer page (/e/<brand>/<event>/) and its Buy-link QR codes."""

import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import segno
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from events import services
from events.models import EventProduct, LiveEvent
from events.payloads import buy_url
from events.tests.factories import LiveEventFactory
from liveshop.display import format_price, qr_svg

pytestmark = pytest.mark.django_db

Status = LiveEvent.Status


def make_show(**event_fields):
    event = LiveEventFactory(**event_fields)
    jacket = ProductFactory(
        organization=event.organization,
        name="Ridgeline Shell Jacket",
        price="189.00",
        external_url="https://shop.example.com/jacket",
    )
    beanie = ProductFactory(organization=event.organization, name="Merino Beanie", price="29.00", stock=0)
    EventProduct.objects.create(event=event, product=jacket, position=0)
    EventProduct.objects.create(event=event, product=beanie, position=1)
    return event, jacket, beanie


def watch_url(event):
    return reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def qr_url(event, product):
    kwargs = {"brand": event.organization.slug, "slug": event.slug, "product_id": product.pk}
    return reverse("viewer:qr", kwargs=kwargs)


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="watch-config" type="application/json">') + len(
        '<script id="watch-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_public_event_page_shows_the_player_lineup_and_countdown_to_anyone(client):
    event, jacket, beanie = make_show()

    response = client.get(watch_url(event))

    assert response.status_code == 200
    html = response.content.decode()
    assert event.title in html and event.organization.name in html
    assert 'data-screen="scheduled"' in html
    assert "Ridgeline Shell Jacket" in html and "Merino Beanie" in html
    assert "$189.00" in html and "Sold out" in html
    assert "vendor/hls/hls.light.min.js" in html and "js/viewer.js" in html
    assert '<script type="module" src="/static/js/viewer.js">' in html  # a module: it imports lib/card.js
    assert 'id="product-card"' in html
    config = page_config(response)
    assert config["player"] == "hls"
    assert config["socketPath"] == f"/ws/events/{event.pk}/"
    assert config["playbackUrl"] == event.playback_url
    assert config["detailsUrl"] == reverse("viewer:stream-details", kwargs={"pk": event.pk})
    assert [card["id"] for card in config["lineup"]] == [jacket.pk, beanie.pk]
    assert config["currentHighlight"] is None and config["latestHighlightId"] is None
    assert "no-store" not in response.get("Cache-Control", "")


def test_page_shows_the_current_product_with_buy_link_and_qr_code(client, settings):
    event, jacket, _ = make_show(status=Status.LIVE)
    host = member(event.organization)
    highlight = services.feature_product(event=event, product=jacket, by=host)

    response = client.get(watch_url(event))

    html = response.content.decode()
    assert f'data-highlight-id="{highlight.pk}" data-product-id="{jacket.pk}"' in html
    link = f'href="{buy_url(jacket, event).replace("&", "&amp;")}" target="_blank" rel="noopener"'
    assert link in html
    assert "utm_campaign=" + event.slug in html
    assert f'src="{qr_url(event, jacket)}"' in html
    assert 'data-screen="connecting"' in html
    config = page_config(response)
    assert config["currentHighlight"]["highlightId"] == highlight.pk
    assert config["latestHighlightId"] == highlight.pk


class Links(HTMLParser):
    """The page's <a> elements and the lineup's Buy fields (tag and attributes), outside the
    <template>s the scripts clone."""

    def __init__(self):
        super().__init__()
        self.anchors, self.buy_fields, self.in_template = [], {}, 0
        self.item = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "template":
            self.in_template += 1
        if self.in_template:
            return
        if tag == "li" and "lineup-item" in (attrs.get("class") or ""):
            self.item = attrs["data-product-id"]
        if tag == "a":
            self.anchors.append(attrs)
        if attrs.get("data-field") == "buy" and "lineup-link" in (attrs.get("class") or ""):
            self.buy_fields[self.item] = (tag, attrs)

    def handle_endtag(self, tag):
        if tag == "template":
            self.in_template -= 1


def links_of(response) -> Links:
    parser = Links()
    parser.feed(response.content.decode())
    return parser


@pytest.mark.parametrize("featured", [False, True])
def test_the_lineup_links_each_product_page_from_the_first_paint_and_no_link_is_dead(client, featured):
    """The lineup's Buy links are in the page as served (crawlers and Lighthouse's
    crawlable-anchors read them; the script only keeps them current): a product with a page is a
    link to it, a product without one is no link at all, and no <a> on the page lacks an href,
    with or without a product on the card (but the placeholders named by an id that the scripts
    give one later, as Lighthouse allows: the shop's order link, the replay link)."""
    event, jacket, beanie = make_show(status=Status.LIVE)
    if featured:
        services.feature_product(event=event, product=beanie, by=member(event.organization))

    links = links_of(client.get(watch_url(event)))

    tag, attrs = links.buy_fields[str(jacket.pk)]
    assert tag == "a"
    assert (attrs["href"], attrs["target"], attrs["rel"]) == (buy_url(jacket, event), "_blank", "noopener")
    tag, attrs = links.buy_fields[str(beanie.pk)]
    assert tag == "span" and not {"href", "target", "rel"} & set(attrs)
    dead = [anchor for anchor in links.anchors if not anchor.get("href") and not anchor.get("id")]
    assert links.anchors and dead == []


def test_a_cleared_card_leaves_the_card_hidden_but_remembers_the_newest_highlight(client):
    event, jacket, _ = make_show()
    host = member(event.organization)
    services.feature_product(event=event, product=jacket, by=host)
    cleared = services.clear_highlight(event=event, by=host)

    response = client.get(watch_url(event))

    html = response.content.decode()
    assert 'data-product-id="" hidden' in html
    assert page_config(response)["latestHighlightId"] == cleared.pk


def test_ivs_backend_uses_the_ivs_player_from_our_static_files(client, settings):
    settings.VIDEO_BACKEND = "ivs"
    event, _, _ = make_show(status=Status.LIVE, is_private=False)

    response = client.get(watch_url(event))

    html = response.content.decode()
    assert "vendor/ivs/amazon-ivs-player.min.js" in html and "vendor/hls/" not in html
    config = page_config(response)
    assert config["player"] == "ivs"
    assert config["ivsWorker"] == "/static/vendor/ivs/amazon-ivs-wasmworker.min.js"
    assert config["ivsWasm"] == "/static/vendor/ivs/amazon-ivs-wasmworker.min.wasm"
    assert "player.live-video.net" not in html  # no CDN


def test_ended_event_page_says_so(client):
    event, _, _ = make_show(status=Status.ENDED)

    response = client.get(watch_url(event))

    assert response.status_code == 200
    assert 'data-screen="ended"' in response.content.decode()


def test_scheduled_event_past_its_start_says_starting_soon(client):
    event, _, _ = make_show(scheduled_start=timezone.now() - timedelta(minutes=5))

    assert 'data-screen="waiting"' in client.get(watch_url(event)).content.decode()


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.NEEDS_CHANNEL])
def test_cancelled_and_unprovisioned_events_have_no_page(client, status):
    event, _, _ = make_show(status=status)

    assert client.get(watch_url(event)).status_code == 404


def test_unknown_event_and_brand_mismatch_are_not_found(client):
    event, _, _ = make_show()
    other_brand = OrganizationFactory()

    assert client.get("/e/nobody/nothing/").status_code == 404
    mismatch = reverse("viewer:watch", kwargs={"brand": other_brand.slug, "slug": event.slug})
    assert client.get(mismatch).status_code == 404


def test_private_event_is_not_found_for_anonymous_and_other_brands(client, video):
    event, _, _ = make_show(is_private=True)
    outsider = member(OrganizationFactory(), role=Membership.Role.OWNER)

    assert client.get(watch_url(event)).status_code == 404
    client.force_login(outsider)
    assert client.get(watch_url(event)).status_code == 404


def test_private_event_page_for_the_brand_has_a_signed_url_and_is_never_cached(client, video):
    event, _, _ = make_show(is_private=True)
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    client.force_login(moderator)

    response = client.get(watch_url(event))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    config = page_config(response)
    assert config["playbackUrl"] != event.playback_url
    assert config["playbackUrl"].startswith(event.playback_url)
    (call,) = [kwargs for name, kwargs in video.calls if name == "playback_url_for"]
    assert call == {
        "channel_id": event.channel_id,
        "playback_url": event.playback_url,
        "private": True,
        "viewer_id": f"user-{moderator.pk}",
    }


def test_qr_code_encodes_the_buy_link(client):
    event, jacket, _ = make_show()

    response = client.get(qr_url(event, jacket))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "public" in response["Cache-Control"]
    assert response.content == qr_svg(buy_url(jacket, event))
    assert response.content.startswith(b"<svg")
    expected = segno.make(buy_url(jacket, event), error="m")
    assert f'viewBox="0 0 {expected.symbol_size(scale=1, border=2)[0]}'.encode() in response.content


def test_qr_code_only_for_products_of_the_event_with_a_buy_link(client):
    event, _, beanie = make_show()  # the beanie has no product page
    elsewhere = ProductFactory(organization=event.organization, external_url="https://shop.example.com/x")

    assert client.get(qr_url(event, beanie)).status_code == 404
    assert client.get(qr_url(event, elsewhere)).status_code == 404


NOT_WEB_URLS = [
    "javascript:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html,x",
    "ftp://example.com/p",
]


@pytest.mark.parametrize("url", NOT_WEB_URLS)
def test_a_product_page_saved_without_validation_is_never_a_link(client, url):
    """A Buy link is only ever an http(s) URL: a row written past validation (an old row, a raw
    update) gets no link in the page, its JSON config, the API or a QR code."""
    event, jacket, _ = make_show()
    Product.objects.filter(pk=jacket.pk).update(external_url=url)
    services.feature_product(event=event, product=jacket, by=member(event.organization))

    page = client.get(watch_url(event))
    details = client.get(reverse("viewer:stream-details", kwargs={"pk": event.pk}))

    assert page.status_code == 200 and details.status_code == 200
    for body in (page.content.decode(), details.content.decode()):
        assert url.strip() not in body
    assert page_config(page)["currentHighlight"]["product"]["buyUrl"] == ""
    assert client.get(qr_url(event, jacket)).status_code == 404


def test_qr_code_of_a_private_event_is_for_its_brand_only(client, video):
    event, jacket, _ = make_show(is_private=True)

    assert client.get(qr_url(event, jacket)).status_code == 404
    client.force_login(member(event.organization))
    response = client.get(qr_url(event, jacket))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(("price", "currency", "text"), [("189", "USD", "$189.00"), ("1200", "JPY", "¥1,200"),
                                                         ("9.5", "CHF", "CHF\u00a09.50")])  # fmt: skip
def test_format_price(price, currency, text):
    assert format_price(price, currency) == text


@pytest.mark.parametrize("stores_stream_keys", [True, False], ids=["ivs-like", "local-like"])
def test_no_stream_key_or_ingest_url_in_any_viewer_response(client, video, stores_stream_keys):
    video.stores_stream_keys = stores_stream_keys
    brand = OrganizationFactory()
    host = member(brand)
    product = ProductFactory(organization=brand, external_url="https://shop.example.com/p")
    start = timezone.now() + timedelta(hours=1)
    event = services.create_event(organization=brand, title="Launch", scheduled_start=start, by=host)
    services.set_lineup(event=event, products=[product], by=host)
    services.feature_product(event=event, product=product, by=host)
    event.refresh_from_db()
    secrets = {video.channels[event.channel_id].stream_key, event.ingest_url}
    secrets |= {value for value in (event.stream_key_encrypted, event.stream_key_digest) if value}
    assert all(secrets) and event.ingest_url

    responses = []
    for user in (None, host):  # a host's viewer page is a viewer's page too
        if user:
            client.force_login(user)
        responses += [
            client.get(watch_url(event)),
            client.get(reverse("viewer:stream-details", kwargs={"pk": event.pk})),
            client.get(qr_url(event, product)),
        ]

    for response in responses:
        assert response.status_code == 200
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body
        assert "stream_key" not in body and "ingest" not in body.lower()
