"""The Go live panel in the event page, the IVS stream key endpoint and the overlay's QR code."""

import io
import json

import pytest
import zxingcpp
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import Membership
from accounts.tests.factories import OrganizationFactory, member
from catalog.tests.factories import ProductFactory
from events.models import EventProduct
from events.payloads import buy_url
from events.tests.factories import LiveEventFactory
from liveshop import crypto

pytestmark = pytest.mark.django_db

KEY = "sk_local-key-never-in-pages"


def local_show(**fields):
    event = LiveEventFactory(
        backend="local",
        channel_id="ch_views",
        ingest_url="rtmp://127.0.0.1:1935/live/",
        stream_key_encrypted=crypto.encrypt(KEY),
        stream_key_digest=crypto.digest(KEY),
        **fields,
    )
    product = ProductFactory(organization=event.organization, external_url="https://shop.example/p/1")
    EventProduct.objects.create(event=event, product=product)
    return event, product


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def panel_config(response) -> dict | None:
    html = response.content.decode()
    marker = '<script id="golive-config" type="application/json">'
    if marker not in html:
        return None
    return json.loads(html.split(marker, 1)[1].split("</script>", 1)[0])


def test_a_host_gets_the_panel_without_the_stream_key():
    event, _ = local_show()
    host = member(event.organization, role=Membership.Role.HOST)

    response = logged_in(host).get(event.get_absolute_url())

    config = panel_config(response)
    assert config["mode"] == "local" and config["socketPath"] == f"/ws/studio/events/{event.pk}/publish/"
    assert config["ivsKeyUrl"] == ""
    assert [preset["name"] for preset in config["presets"]] == ["720p", "480p", "360p"]
    assert KEY not in response.content.decode()
    assert "Go live from this browser" in response.content.decode()


@pytest.mark.parametrize("status", ["cancelled", "needs_channel"])
def test_no_panel_for_an_event_that_cannot_go_live(status):
    event, _ = local_show(status=status)
    owner = member(event.organization, role=Membership.Role.OWNER)

    assert panel_config(logged_in(owner).get(event.get_absolute_url())) is None


def test_no_panel_for_a_moderator():
    event, _ = local_show()
    moderator = member(event.organization, role=Membership.Role.MODERATOR)

    response = logged_in(moderator).get(event.get_absolute_url())

    assert response.status_code == 200 and panel_config(response) is None


def test_an_ivs_event_gets_the_sdk_presets_of_its_channel_type(settings):
    settings.IVS_CHANNEL_TYPE = "BASIC"
    event = LiveEventFactory(
        backend="ivs", ingest_url="rtmps://abc123.global-contribute.live-video.net:443/app/"
    )
    host = member(event.organization, role=Membership.Role.HOST)

    response = logged_in(host).get(event.get_absolute_url())

    config = panel_config(response)
    assert config["mode"] == "ivs" and config["presets"] == ["BASIC_LANDSCAPE", "BASIC_PORTRAIT"]
    assert config["ivsKeyUrl"] == reverse("broadcast:ivs-key", kwargs={"event_id": event.pk})
    # The SDK's URL, for golive/ivs.js to load when the camera is turned on: not a script of the page.
    html = response.content.decode()
    assert 'data-ivs-sdk="/static/vendor/ivs-broadcast/amazon-ivs-web-broadcast.js"' in html
    assert '<script src="/static/vendor/ivs-broadcast' not in html


def ivs_show(video):
    channel = video.create_channel("acme-1")
    event = LiveEventFactory(
        backend="ivs",
        channel_id=channel.id,
        ingest_url="rtmps://abc123.global-contribute.live-video.net:443/app/",
    )
    return event, channel.stream_key


def test_the_ivs_key_is_posted_to_hosts_only_and_never_cached(video):
    event, key = ivs_show(video)
    host = member(event.organization, role=Membership.Role.HOST)
    url = reverse("broadcast:ivs-key", kwargs={"event_id": event.pk})

    response = logged_in(host).post(url)

    assert response.status_code == 200
    assert response.json() == {"streamKey": key, "ingestEndpoint": "abc123.global-contribute.live-video.net"}
    assert "no-store" in response["Cache-Control"]
    assert logged_in(host).get(url).status_code == 405


def test_the_ivs_key_is_refused_to_others(video):
    event, _ = ivs_show(video)
    url = reverse("broadcast:ivs-key", kwargs={"event_id": event.pk})
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    stranger = member(OrganizationFactory(), role=Membership.Role.OWNER)

    assert logged_in(moderator).post(url).status_code == 403
    assert logged_in(stranger).post(url).status_code == 404
    assert Client().post(url).status_code == 302  # to the login page


def test_the_ivs_key_endpoint_never_gives_a_local_events_key():
    event, _ = local_show()
    host = member(event.organization, role=Membership.Role.HOST)

    response = logged_in(host).post(reverse("broadcast:ivs-key", kwargs={"event_id": event.pk}))

    assert response.status_code == 400
    assert KEY not in response.content.decode()


def test_the_ivs_key_is_refused_for_an_event_its_host_ended(video):
    event, _ = ivs_show(video)
    event.status, event.ended_by_host_at = "ended", event.scheduled_start
    event.save()
    host = member(event.organization, role=Membership.Role.HOST)

    response = logged_in(host).post(reverse("broadcast:ivs-key", kwargs={"event_id": event.pk}))

    assert response.status_code == 409 and "cannot go live again" in response.json()["error"]


def test_the_overlay_qr_code_decodes_to_the_products_buy_link():
    event, product = local_show()
    host = member(event.organization, role=Membership.Role.HOST)

    response = logged_in(host).get(
        reverse("broadcast:qr", kwargs={"event_id": event.pk, "product_id": product.pk})
    )

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert decoded.text == buy_url(product, event)
    assert "utm_campaign=" + event.slug in decoded.text


def test_no_qr_code_outside_the_lineup_or_the_brand():
    event, product = local_show()
    elsewhere = ProductFactory(organization=event.organization, external_url="https://shop.example/p/2")
    host = member(event.organization, role=Membership.Role.HOST)
    stranger = member(OrganizationFactory(), role=Membership.Role.HOST)

    def qr(client, item):
        return client.get(reverse("broadcast:qr", kwargs={"event_id": event.pk, "product_id": item.pk}))

    assert qr(logged_in(host), elsewhere).status_code == 404
    assert qr(logged_in(stranger), product).status_code == 404
